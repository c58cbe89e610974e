package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"flowker/internal/audit"
	"flowker/internal/config"
	"flowker/internal/flow"
)

// Authentication and authorization (docs/security.md).
//
// Two steps, so that a path no route matches is a 404 whatever the caller
// sends:
//   - authenticate, middleware on the whole /v1 group, identifies the caller
//     (an API key, a bearer token, or nobody) and puts the actor, its client IP
//     and the request id on the request's context for the audit trail. It
//     rejects nothing.
//   - require(permission) runs first in each /v1 route's own handler chain
//     (secureRouter attaches it at registration) and answers 401 or 403.
//
// Each route carries exactly one permission, found by its method and path
// in routePermissions: no family's guard ever runs for another family's
// route (the reference stacked them, defect D9).

// authenticatedOnly is the "permission" of a route any authenticated caller
// may use (GET /v1/me): a credential is needed, no particular permission.
const authenticatedOnly = "(authenticated)"

// pathAuthenticated is the "permission" of a route whose credential is the
// token in its own path (POST /v1/callbacks/{token}): a callback URL handed
// to one provider for one node of one execution, which that provider
// cannot be given an API key for. No API key or bearer token is asked for; the
// handler's service call checks the token (404 when it is not one Flowker
// signed), and the rate limit applies as on the other /v1 routes.
const pathAuthenticated = "(authenticated by its path)"

// routePermissions gives each /v1 route family its permissions, read for
// GET and HEAD, write for every other method: the first entry whose
// segments prefix the route's path (after /v1) wins; "*" matches any one
// segment (a parameter). The names are config's (config.Permissions).
var routePermissions = []struct {
	segments    []string
	read, write string
}{
	{[]string{"me"}, authenticatedOnly, authenticatedOnly},
	{[]string{"workflows", "*", "executions"}, config.PermExecutionsRead, config.PermExecutionsManage}, // a workflow's executions
	{[]string{"workflows"}, config.PermWorkflowsRead, config.PermWorkflowsManage},
	{[]string{"catalog"}, config.PermCatalogRead, config.PermCatalogRead}, // validating is reading the catalog
	{[]string{"executors"}, config.PermExecutorConfigsRead, config.PermExecutorConfigsManage},
	{[]string{"provider-configurations"}, config.PermProviderConfigsRead, config.PermProviderConfigsManage},
	{[]string{"executions"}, config.PermExecutionsRead, config.PermExecutionsManage},
	{[]string{"dashboards"}, config.PermDashboardsRead, config.PermDashboardsRead},
	{[]string{"audit-events"}, config.PermAuditEventsRead, config.PermAuditEventsRead},
	{[]string{"webhooks"}, config.PermWebhooksExecute, config.PermWebhooksExecute},
	{[]string{"reviews"}, config.PermReviewsRead, config.PermReviewsDecide}, // a group's reviews also need reviews:decide:<group> (reviews.go)
	{[]string{"callbacks"}, pathAuthenticated, pathAuthenticated},
}

// permissionFor returns the permission a /v1 route, its method and path (a
// registration pattern such as /v1/workflows/:id/executions), requires.
func permissionFor(method, path string) (string, bool) {
	segs := strings.FieldsFunc(strings.ToLower(path), func(r rune) bool { return r == '/' })
	if len(segs) == 0 || segs[0] != "v1" {
		return "", false
	}
	segs = segs[1:]
	for _, rp := range routePermissions {
		if len(segs) < len(rp.segments) {
			continue
		}
		match := true
		for i, s := range rp.segments {
			if s != "*" && s != segs[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if method == fiber.MethodGet || method == fiber.MethodHead {
			return rp.read, true
		}
		return rp.write, true
	}
	return "", false
}

// Error codes of authentication and rate limiting.
const (
	codeUnauthorized    = "UNAUTHORIZED" // the reference's code for a bad API key; kept for every 401
	codeForbidden       = "FORBIDDEN"
	codeRateLimited     = "FLK-0010"
	codeAuthUnavailable = "FLK-0011" // the issuer's signing keys cannot be fetched
)

// Actor types recorded in the audit trail (audit.Actor.Type).
const (
	actorAPIKey    = "api_key"
	actorUser      = "user"
	actorAnonymous = "anonymous" // authentication disabled (development)
)

// errAPIKey is the reference's 401, byte for byte.
var errAPIKey = &flow.Error{Kind: flow.KindUnauthorized, Code: codeUnauthorized, Message: "API Key missing or invalid"}

func unauthorized(msg string) *flow.Error {
	return &flow.Error{Kind: flow.KindUnauthorized, Code: codeUnauthorized, Message: msg}
}

// principal is an authenticated caller.
type principal struct {
	actorType, id string
	perms         []string // what its key or token grants (config.Grant): sorted, implied :read included
}

func newPrincipal(actorType, id string, perms []string) *principal {
	return &principal{actorType: actorType, id: id, perms: config.Grant(perms)}
}

// can reports whether the caller holds perm; any caller may use an
// authenticatedOnly route.
func (p *principal) can(perm string) bool {
	return perm == authenticatedOnly || slices.Contains(p.perms, perm)
}

// Locals keys.
const (
	localPrincipal = "flowker.principal"
	localAuthError = "flowker.authError"
)

// authn holds the configured credentials.
type authn struct {
	keys     []hashedKey   // API keys; nil when API_KEY_ENABLED=false
	oidc     *oidcVerifier // nil when AUTH_OIDC_ENABLED=false
	trusted  []netip.Prefix
	missing  *flow.Error // the 401 for a request without credentials
	wwwAuthn string      // WWW-Authenticate on 401s, when bearer tokens are accepted
}

// hashedKey keeps a key's SHA-256 only: every comparison is between two
// 32-byte digests, so its time depends neither on where the presented key
// differs nor on its length.
type hashedKey struct {
	id    string
	sum   [sha256.Size]byte
	perms []string // API_KEY_PERMISSIONS, else every permission
}

func newAuthn(cfg config.Config, oidc *oidcVerifier) *authn {
	n := &authn{oidc: oidc, trusted: cfg.TrustedProxies}
	if cfg.APIKeyEnabled {
		for _, k := range cfg.APIKeys {
			perms := k.Permissions
			if perms == nil {
				perms = config.Permissions()
			}
			n.keys = append(n.keys, hashedKey{id: k.ID, sum: sha256.Sum256([]byte(k.Key)), perms: perms})
		}
	}
	switch {
	case n.keys != nil && oidc != nil:
		n.missing = unauthorized("missing credentials: send X-API-Key or Authorization: Bearer <token>")
	case oidc != nil:
		n.missing = unauthorized("missing bearer token: send Authorization: Bearer <token>")
	default:
		n.missing = errAPIKey
	}
	if oidc != nil {
		n.wwwAuthn = `Bearer realm="flowker"`
	}
	return n
}

func (n *authn) enabled() bool { return n.keys != nil || n.oidc != nil }

// matchKey compares the presented key with every configured key, always all
// of them, and returns the matching key.
func (n *authn) matchKey(presented string) (*hashedKey, bool) {
	sum := sha256.Sum256([]byte(presented))
	found, idx := 0, 0
	for i := range n.keys {
		eq := subtle.ConstantTimeCompare(sum[:], n.keys[i].sum[:])
		idx = subtle.ConstantTimeSelect(eq, i, idx)
		found |= eq
	}
	if found != 1 {
		return nil, false
	}
	return &n.keys[idx], true
}

// identify returns the caller: nil and no error when no credential was sent.
// Only the mechanisms enabled are looked at; sending both is refused, so the
// actor is never ambiguous.
func (n *authn) identify(c *fiber.Ctx) (*principal, error) {
	key := c.Get("X-API-Key")
	bearer := c.Get(fiber.HeaderAuthorization)
	hasKey, hasBearer := n.keys != nil && key != "", n.oidc != nil && bearer != ""
	switch {
	case hasKey && hasBearer:
		return nil, unauthorized("send either X-API-Key or a bearer token, not both")
	case hasKey:
		k, ok := n.matchKey(key)
		if !ok {
			return nil, errAPIKey
		}
		return newPrincipal(actorAPIKey, k.id, k.perms), nil
	case hasBearer:
		return n.oidc.verify(c.UserContext(), bearer)
	}
	return nil, nil //nolint:nilnil // no credential is not an error here; require decides
}

// authenticate identifies the caller of every /v1 request and records who
// and from where on the request's context (audit.WithRequest). It rejects
// nothing: require does, on matched routes only.
func (a *api) authenticate(c *fiber.Ctx) error {
	req := audit.Request{RequestID: requestID(c),
		Actor: audit.Actor{Type: actorAnonymous, ID: actorAnonymous, IP: a.auth.clientIP(c)}}
	if a.auth.enabled() {
		p, err := a.auth.identify(c)
		switch {
		case err != nil:
			c.Locals(localAuthError, err)
		case p != nil:
			c.Locals(localPrincipal, p)
			req.Actor.Type, req.Actor.ID = p.actorType, p.id
		}
	}
	c.SetUserContext(audit.WithRequest(c.UserContext(), req))
	return c.Next()
}

// require answers 401 for a missing or bad credential and 403 for a caller
// without perm.
func (a *api) require(perm string) fiber.Handler {
	forbidden := &flow.Error{Kind: flow.KindForbidden, Code: codeForbidden, Message: "missing permission " + perm}
	return func(c *fiber.Ctx) error {
		if err, _ := c.Locals(localAuthError).(error); err != nil {
			if a.auth.wwwAuthn != "" && flow.KindOf(err) == flow.KindUnauthorized {
				c.Set(fiber.HeaderWWWAuthenticate, a.auth.wwwAuthn+`, error="invalid_token"`)
			}
			return err
		}
		p, _ := c.Locals(localPrincipal).(*principal)
		if p == nil {
			if a.auth.wwwAuthn != "" {
				c.Set(fiber.HeaderWWWAuthenticate, a.auth.wwwAuthn)
			}
			return a.auth.missing
		}
		if !p.can(perm) {
			return forbidden
		}
		return c.Next()
	}
}

// clientIP is the socket peer's address unless the peer is a trusted proxy;
// then X-Forwarded-For is read from the right and the first address not
// itself a trusted proxy is the client (the addresses left of it were
// written by the client and prove nothing). An unparsable entry ends the
// walk at the last trusted hop.
func (n *authn) clientIP(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return ""
	}
	peer = peer.Unmap()
	if !n.isTrusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		hops = append(hops, strings.Split(string(v), ",")...)
	}
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(hops[i])
		if !ok {
			break
		}
		if !n.isTrusted(addr) {
			return addr.String()
		}
		last = addr
	}
	return last.String()
}

func (n *authn) isTrusted(a netip.Addr) bool {
	for _, p := range n.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, with or without a
// port (1.2.3.4:80, [2001:db8::1]:80).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// secureRouter is the /v1 group handed to the route registrations: each
// route it registers gets, in front of its handlers, the rate limit (not on
// webhooks) and the check of its one permission. A /v1 path outside
// routePermissions panics at start, so a new family cannot go unguarded.
type secureRouter struct {
	fiber.Router
	a      *api
	prefix string // the group's full path
}

func (g secureRouter) guard(method, path string, handlers []fiber.Handler) []fiber.Handler {
	full := joinPath(g.prefix, path)
	perm, ok := permissionFor(method, full)
	if !ok {
		panic("httpapi: no permission for route " + full + ": add its family to routePermissions (auth.go)")
	}
	var pre []fiber.Handler
	if g.a.limit != nil && perm != config.PermWebhooksExecute {
		pre = append(pre, g.a.limit)
	}
	if g.a.auth.enabled() && perm != pathAuthenticated {
		pre = append(pre, g.a.require(perm))
	}
	return append(pre, handlers...)
}

func joinPath(prefix, path string) string {
	return strings.TrimRight(prefix, "/") + "/" + strings.TrimLeft(path, "/")
}

func (g secureRouter) Use(args ...any) fiber.Router { g.Router.Use(args...); return g }

func (g secureRouter) Get(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Get(path, g.guard(fiber.MethodGet, path, h)...)
	return g
}

func (g secureRouter) Head(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Head(path, g.guard(fiber.MethodHead, path, h)...)
	return g
}

func (g secureRouter) Post(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Post(path, g.guard(fiber.MethodPost, path, h)...)
	return g
}

func (g secureRouter) Put(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Put(path, g.guard(fiber.MethodPut, path, h)...)
	return g
}

func (g secureRouter) Delete(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Delete(path, g.guard(fiber.MethodDelete, path, h)...)
	return g
}

func (g secureRouter) Connect(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Connect(path, g.guard(fiber.MethodConnect, path, h)...)
	return g
}

func (g secureRouter) Options(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Options(path, g.guard(fiber.MethodOptions, path, h)...)
	return g
}

func (g secureRouter) Trace(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Trace(path, g.guard(fiber.MethodTrace, path, h)...)
	return g
}

func (g secureRouter) Patch(path string, h ...fiber.Handler) fiber.Router {
	g.Router.Patch(path, g.guard(fiber.MethodPatch, path, h)...)
	return g
}

func (g secureRouter) Add(method, path string, h ...fiber.Handler) fiber.Router {
	g.Router.Add(method, path, g.guard(method, path, h)...)
	return g
}

// All registers each method on its own, each with its method's permission.
func (g secureRouter) All(path string, h ...fiber.Handler) fiber.Router {
	for _, method := range fiber.DefaultMethods {
		g.Add(method, path, h...)
	}
	return g
}

func (g secureRouter) Group(prefix string, h ...fiber.Handler) fiber.Router {
	return secureRouter{Router: g.Router.Group(prefix, h...), a: g.a, prefix: joinPath(g.prefix, prefix)}
}

func (g secureRouter) Route(prefix string, fn func(fiber.Router), name ...string) fiber.Router {
	grp := g.Group(prefix)
	if len(name) > 0 {
		grp = grp.Name(name[0])
	}
	fn(grp)
	return grp
}

func (g secureRouter) Name(name string) fiber.Router { g.Router.Name(name); return g }

// Static and Mount would register routes that bypass the guard.
func (g secureRouter) Static(string, string, ...fiber.Static) fiber.Router {
	panic("httpapi: static files are not served under /v1")
}

func (g secureRouter) Mount(string, *fiber.App) fiber.Router {
	panic("httpapi: sub-apps cannot be mounted under /v1 (their routes would bypass authentication)")
}

// loopbackAddress reports whether a listen address (SERVER_ADDRESS) only
// accepts connections from this host.
func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// secureV1 sets up authentication and rate limiting and returns the /v1
// group every management and webhook route must be registered on.
func (a *api) secureV1(app *fiber.App) fiber.Router {
	var oidc *oidcVerifier
	if a.cfg.OIDC.Enabled {
		oidc = newOIDCVerifier(a.cfg.OIDC, a.log)
		app.Hooks().OnShutdown(func() error { oidc.close(); return nil })
	}
	a.auth = newAuthn(a.cfg, oidc)
	if !a.auth.enabled() {
		// A warning when others can reach the port; on a loopback-only
		// address (local development, tests) a note.
		level := zap.WarnLevel
		if loopbackAddress(a.cfg.ServerAddress) {
			level = zap.InfoLevel
		}
		a.log.Log(level, "authentication is disabled: every /v1 route is open to anyone who can reach "+
			"this server; set API_KEY_ENABLED=true or AUTH_OIDC_ENABLED=true outside development (docs/security.md)",
			zap.String("operation", "startup"), zap.String("address", a.cfg.ServerAddress))
	}
	a.limit = a.rateLimiter()
	return secureRouter{Router: app.Group("/v1", a.authenticate), a: a, prefix: "/v1"}
}
