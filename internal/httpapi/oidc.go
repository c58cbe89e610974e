package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"flowker/internal/config"
	"flowker/internal/flow"
)

// OIDC bearer-token verification (docs/security.md).
const (
	tokenLeeway = 60 * time.Second // clock skew allowed on exp, nbf and iat
	// The issuer's keys: fetched once, refreshed every jwksRefresh, and at
	// once when a token names an unknown kid — at most every
	// jwksUnknownKIDEvery, so tokens with made-up kids cannot make us hammer
	// the issuer. A request waits at most jwksWaitMax for such a refresh.
	jwksRefresh         = time.Hour
	jwksUnknownKIDEvery = 30 * time.Second
	jwksWaitMax         = 5 * time.Second
	idpTimeout          = 10 * time.Second // one call to the issuer (discovery, JWKS)
	jwksRetryAfter      = 5 * time.Second  // after a failed first fetch, before trying again
	maxDiscoveryBytes   = 1 << 20
)

// allowedAlgs are the only signature algorithms accepted: asymmetric, so
// the keys we hold can verify but never sign; never "none", never HS*.
var allowedAlgs = []string{"RS256", "ES256"}

var (
	errKeysUnavailable = errors.New("the issuer's signing keys are unavailable")
	errUnknownKey      = errors.New("unknown kid")
	errKeyMismatch     = errors.New("key does not fit the token")
	errAuthUnavailable = &flow.Error{Kind: flow.KindUnavailable, Code: codeAuthUnavailable,
		Message: "bearer tokens cannot be verified now: the issuer's signing keys are unavailable; retry shortly"}
)

// oidcVerifier checks bearer tokens against one issuer's JWKS. The keys are
// loaded on first use (and eagerly in the background at start), so the
// process starts while the issuer is unreachable; tokens then get 503.
type oidcVerifier struct {
	cfg    config.OIDC
	parser *jwt.Parser
	client *http.Client
	log    *zap.Logger
	ctx    context.Context // ends the keyfunc refresh goroutine
	cancel context.CancelFunc

	kf          atomic.Pointer[keyfunc.Keyfunc]
	mu          sync.Mutex         // serialises loading; guards the fields below
	retryAt     time.Time          // no new attempt before
	stopRefresh context.CancelFunc // ends the loaded keyfunc's refresh goroutine
}

func newOIDCVerifier(cfg config.OIDC, log *zap.Logger) *oidcVerifier {
	ctx, cancel := context.WithCancel(context.Background())
	v := &oidcVerifier{
		cfg: cfg,
		parser: jwt.NewParser(jwt.WithValidMethods(allowedAlgs), jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience), jwt.WithLeeway(tokenLeeway), jwt.WithExpirationRequired(),
			jwt.WithIssuedAt()),
		client: &http.Client{Timeout: idpTimeout},
		log:    log,
		ctx:    ctx,
		cancel: cancel,
	}
	go func() { _, _ = v.keys() }() // warm the cache; failures are logged and retried on use
	return v
}

func (v *oidcVerifier) close() { v.cancel() }

// keys returns the JWKS cache, loading it first if need be.
func (v *oidcVerifier) keys() (keyfunc.Keyfunc, error) {
	if kf := v.kf.Load(); kf != nil {
		return *kf, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if kf := v.kf.Load(); kf != nil {
		return *kf, nil
	}
	if time.Now().Before(v.retryAt) {
		return nil, errKeysUnavailable
	}
	kf, err := v.load()
	if err != nil {
		v.retryAt = time.Now().Add(jwksRetryAfter)
		v.log.Warn("loading the OIDC issuer's signing keys failed; bearer tokens get 503 until it succeeds",
			zap.String("operation", "auth.oidc.jwks"), zap.String("oidc.issuer", v.cfg.Issuer),
			zap.String("error.message", err.Error()))
		return nil, errKeysUnavailable
	}
	v.kf.Store(&kf)
	return kf, nil
}

func (v *oidcVerifier) load() (keyfunc.Keyfunc, error) {
	jwksURL := v.cfg.JWKSURL
	if jwksURL == "" {
		u, err := v.discover()
		if err != nil {
			return nil, err
		}
		jwksURL = u
	}
	// keyfunc starts its refresh goroutine before the first fetch: a failed
	// attempt cancels it, a good one lives until close.
	ctx, cancel := context.WithCancel(v.ctx)
	noFirstError := false // a failed first fetch is an error: we retry later
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		Client:                    v.client,
		HTTPTimeout:               idpTimeout,
		NoErrorReturnFirstHTTPReq: &noFirstError,
		RefreshInterval:           jwksRefresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
		RateLimitWaitMax:          jwksWaitMax,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				v.log.Warn("refreshing the OIDC issuer's signing keys failed; the cached keys stay in use",
					zap.String("operation", "auth.oidc.jwks"), zap.String("url", u),
					zap.String("error.message", err.Error()))
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("JWKS %s: %w", jwksURL, err)
	}
	// Keys marked for encryption ("use":"enc") never verify a signature.
	kf, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: kf.Storage(),
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		cancel()
		return nil, err
	}
	v.stopRefresh = cancel // also ended by close, through v.ctx
	return kf, nil
}

// discover reads jwks_uri from the issuer's OpenID configuration, whose
// issuer must be ours exactly (OpenID Connect Discovery §4.3).
func (v *oidcVerifier) discover() (string, error) {
	where := strings.TrimSuffix(v.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(v.ctx, idpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return "", fmt.Errorf("discovery %s: %w", where, err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery %s: status %d", where, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery %s: %w", where, err)
	}
	switch {
	case doc.Issuer != v.cfg.Issuer:
		return "", fmt.Errorf("discovery %s: its issuer %q is not AUTH_OIDC_ISSUER %q", where, doc.Issuer, v.cfg.Issuer)
	case !secureURL(doc.JWKSURI):
		return "", fmt.Errorf("discovery %s: jwks_uri %q is not an https URL", where, doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

// secureURL: https, or http to a loopback host (as config accepts).
func secureURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	return u.Scheme == "http" && (strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()))
}

// verify checks an Authorization header value and returns the token's
// subject and permissions. Its errors say what is wrong, never echoing the
// token or a key.
func (v *oidcVerifier) verify(ctx context.Context, header string) (*principal, error) {
	scheme, raw, _ := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, unauthorized("the Authorization header must be Bearer <token>")
	}
	claims := jwt.MapClaims{}
	token, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kf, err := v.keys()
		if err != nil {
			return nil, err
		}
		key, err := kf.KeyfuncCtx(ctx)(t)
		switch {
		case err == nil:
			return key, nil
		case errors.Unwrap(err) == keyfunc.ErrKeyfunc: //nolint:errorlint // keyfunc's own check of the key against the token
			return nil, errKeyMismatch
		default: // not published, even after a refresh (or a refresh is not due yet)
			return nil, errUnknownKey
		}
	})
	if err != nil {
		return nil, tokenError(token, claims, err)
	}
	sub, _ := claims.GetSubject()
	if sub == "" {
		return nil, unauthorized("bearer token has no subject (sub)")
	}
	perms := claimValues(claims[v.cfg.PermissionsClaim])
	if v.cfg.PermissionsClaim != "scope" {
		perms = append(perms, claimValues(claims["scope"])...)
	}
	return newPrincipal(actorUser, sub, perms), nil
}

// tokenError turns a verification failure into a 401 (or a 503 when the
// keys cannot be had) whose message names the problem.
func tokenError(token *jwt.Token, claims jwt.MapClaims, err error) error {
	msg := "bearer token is invalid"
	switch {
	case errors.Is(err, errKeysUnavailable):
		return errAuthUnavailable
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "bearer token is malformed"
	case token != nil && !algAllowed(token):
		msg = "bearer token algorithm is not accepted (RS256 or ES256 only)"
	case errors.Is(err, errKeyMismatch):
		msg = "bearer token names a key (kid) that is not for its algorithm or not for signatures"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "bearer token is signed with a key the issuer does not publish (unknown kid)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "bearer token signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "bearer token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "bearer token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "bearer token is issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "bearer token lacks a required claim"
		for _, c := range []string{"exp", "iss", "aud"} {
			if _, ok := claims[c]; !ok {
				msg = "bearer token has no " + c + " claim"
				break
			}
		}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "bearer token is from another issuer (iss)"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "bearer token is not meant for this API (aud)"
	}
	return unauthorized(msg)
}

func algAllowed(t *jwt.Token) bool {
	alg, _ := t.Header["alg"].(string)
	return slices.Contains(allowedAlgs, alg)
}

// claimValues reads a permissions claim: a JSON list of strings, or one
// space-separated string (as OAuth's scope).
func claimValues(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
