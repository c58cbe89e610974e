package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/config"
)

// ---- a test identity provider: discovery, JWKS, token minting ----------------

// signer is one key pair the test issuer can sign with.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    any // *rsa.PrivateKey or *ecdsa.PrivateKey
}

func (s signer) jwk() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		return map[string]any{"kty": "RSA", "kid": s.kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PrivateKey:
		pub, err := k.PublicKey.ECDH()
		if err != nil {
			panic(err)
		}
		raw := pub.Bytes() // 0x04 || X || Y
		return map[string]any{"kty": "EC", "kid": s.kid, "use": "sig", "alg": "ES256", "crv": "P-256",
			"x": b64(raw[1:33]), "y": b64(raw[33:65])}
	}
	panic("unknown key type")
}

var testSigners = sync.OnceValue(func() map[string]signer {
	gen := func(kid string, method jwt.SigningMethod, bits int) signer {
		if method == jwt.SigningMethodES256 {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			return signer{kid, method, k}
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return signer{kid, method, k}
	}
	return map[string]signer{
		"rsa1":  gen("rsa1", jwt.SigningMethodRS256, 2048),
		"rsa2":  gen("rsa2", jwt.SigningMethodRS256, 2048),
		"ec1":   gen("ec1", jwt.SigningMethodES256, 0),
		"rogue": gen("rogue", jwt.SigningMethodRS256, 2048), // never published
	}
})

// idp is an OpenID provider on httptest: discovery, a JWKS that tests can
// change (rotation), and hit counters.
type idp struct {
	srv            *httptest.Server
	mu             sync.Mutex
	published      []string        // kids in the JWKS
	encryption     map[string]bool // kids published as "use":"enc"
	issuerInDoc    string          // the discovery document's issuer (default: the server's URL)
	broken         atomic.Bool
	discoveryHits  atomic.Int32
	jwksHits       atomic.Int32
	permsClaimName string
}

func newIDP(t *testing.T, kids ...string) *idp {
	t.Helper()
	p := &idp{published: kids, permsClaimName: "permissions"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		p.discoveryHits.Add(1)
		if p.broken.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		p.mu.Lock()
		iss := p.issuerInDoc
		p.mu.Unlock()
		if iss == "" {
			iss = p.srv.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": p.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksHits.Add(1)
		if p.broken.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		p.mu.Lock()
		keys := []any{}
		for _, kid := range p.published {
			k := testSigners()[kid].jwk()
			if p.encryption[kid] {
				k["use"] = "enc"
			}
			keys = append(keys, k)
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) publish(kids ...string) { p.set(func(p *idp) { p.published = kids }) }

// set changes what the server answers (under its lock).
func (p *idp) set(change func(*idp)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change(p)
}

const testAudience = "flowker-api"

// env is the server configuration trusting this issuer.
func (p *idp) env(extra ...string) map[string]string {
	env := map[string]string{"AUTH_OIDC_ENABLED": "true", "AUTH_OIDC_ISSUER": p.srv.URL,
		"AUTH_OIDC_AUDIENCE": testAudience}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// claims are valid claims for subject alice with perms.
func (p *idp) claims(perms ...string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": p.srv.URL, "aud": testAudience, "sub": "alice",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		p.permsClaimName: perms}
}

// sign makes a token with the signer's key and kid (kid "" leaves it out).
func sign(t *testing.T, s signer, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	raw, err := tok.SignedString(s.key)
	require.NoError(t, err)
	return raw
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// whoami is a test-only route reporting what the auth middleware put on the
// request's context for the audit trail. It carries no permission: it shows
// who the caller is, not whether they may.
func whoami(app *fiber.App) {
	app.Get("/v1/test/whoami", func(c *fiber.Ctx) error {
		r := audit.FromContext(c.UserContext())
		return c.JSON(fiber.Map{"type": r.Actor.Type, "id": r.Actor.ID, "ip": r.Actor.IP, "requestId": r.RequestID})
	})
}

func (h *harness) whoami(headers ...string) map[string]any {
	h.t.Helper()
	return h.expect(h.do("GET", "/v1/test/whoami", nil, headers...), http.StatusOK, "")
}

// expectAuthError asserts a 401/403 in the standard shape with exactly msg.
func (h *harness) expectAuthError(r response, status int, msg string) {
	h.t.Helper()
	code := "UNAUTHORIZED"
	if status == http.StatusForbidden {
		code = "FORBIDDEN"
	}
	body := h.expect(r, status, code)
	require.Equal(h.t, http.StatusText(status), body["title"])
	require.Equal(h.t, msg, body["message"])
}

// ---- API keys ------------------------------------------------------------------

func TestAPIKeysWithIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "s3cret",
		"API_KEYS": "ci:0123456789abcdef,ledger:fedcba9876543210-x"}, whoami)

	for key, id := range map[string]string{"s3cret": "default", "0123456789abcdef": "ci", "fedcba9876543210-x": "ledger"} {
		h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", key), http.StatusOK, "")
		who := h.whoami("X-API-Key", key, "X-Request-Id", "req-"+id)
		require.Equal(t, map[string]any{"type": "api_key", "id": id, "ip": "127.0.0.1", "requestId": "req-" + id}, who)
		require.NotContains(t, who, key)
	}

	reference := `{"code":"UNAUTHORIZED","title":"Unauthorized","message":"API Key missing or invalid"}`
	for _, headers := range [][]string{
		nil,                                    // missing
		{"X-API-Key", ""},                      // empty
		{"X-API-Key", "0123456789abcde"},       // a prefix of a key
		{"X-API-Key", "0123456789abcdefg"},     // a key plus one
		{"X-API-Key", "ci:0123456789abcdef"},   // the id:key pair
		{"X-API-Key", "FEDCBA9876543210-X"},    // case matters
		{"Authorization", "Bearer s3cret"},     // bearer tokens are not accepted without OIDC
		{"Authorization", "s3cret"},            // nor a raw key in Authorization
		{"x-api-key", "wrong", "X-Other", "1"}, // wrong
	} {
		r := h.do("GET", "/v1/workflows", nil, headers...)
		require.Equal(t, http.StatusUnauthorized, r.status, headers)
		require.JSONEq(t, reference, string(r.body), headers)
		require.Empty(t, r.header.Get("WWW-Authenticate"), "no bearer challenge without OIDC")
	}
	// Unauthenticated callers are recorded as anonymous, never as a key.
	require.Equal(t, "anonymous", h.whoami("X-API-Key", "wrong")["type"])

	// Webhooks need the key too (then their own X-Webhook-Token).
	h.expect(h.do("POST", "/v1/webhooks/tx", map[string]any{}), http.StatusUnauthorized, "UNAUTHORIZED")
	h.expect(h.do("POST", "/v1/webhooks/tx", map[string]any{}, "X-API-Key", "s3cret"), http.StatusNotFound, "FLK-0361")
}

func TestUnknownPathsAre404WithoutCredentials(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	for name, env := range map[string]map[string]string{
		"api key": {"API_KEY_ENABLED": "true", "API_KEY": "s3cret"},
		"oidc":    p.env(),
		"both":    p.env("API_KEY_ENABLED", "true", "API_KEY", "s3cret"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, env)
			for _, path := range []string{"/v1/nope", "/v1/workflows/a/b/c/d", "/v1", "/v1/dashboard", "/nope"} {
				h.expect(h.do("GET", path, nil), http.StatusNotFound, "FLK-0003")
				h.expect(h.do("GET", path, nil, "X-API-Key", "wrong"), http.StatusNotFound, "FLK-0003")
				h.expect(h.do("GET", path, nil, bearer("garbage")...), http.StatusNotFound, "FLK-0003")
			}
			for _, path := range []string{"/health", "/health/live", "/health/ready", "/readyz", "/version"} {
				h.expect(h.do("GET", path, nil), http.StatusOK, "")
				h.expect(h.do("GET", path, nil, bearer("garbage")...), http.StatusOK, "")
			}
			// A known route is guarded whatever the case or trailing slash.
			h.expect(h.do("GET", "/V1/Workflows/", nil), http.StatusUnauthorized, "UNAUTHORIZED")
		})
	}
}

// ---- OIDC ------------------------------------------------------------------------

func TestOIDCTokens(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1", "ec1", "rsa2")
	p.set(func(p *idp) { p.encryption = map[string]bool{"rsa2": true} })
	h := newHarness(t, p.env(), whoami)
	s := testSigners()
	rsa1, ec1 := s["rsa1"], s["ec1"]
	good := p.claims("workflows:manage")
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range good {
			c[k] = v
		}
		change(c)
		return c
	}
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }

	t.Run("valid RS256 and ES256", func(t *testing.T) {
		h := h.with(t)
		for _, sg := range []signer{rsa1, ec1} {
			tok := sign(t, sg, sg.kid, good)
			h.expect(h.do("GET", "/v1/workflows", nil, bearer(tok)...), http.StatusOK, "")
			who := h.whoami(bearer(tok)...)
			require.Equal(t, "user", who["type"])
			require.Equal(t, "alice", who["id"])
			require.Equal(t, "127.0.0.1", who["ip"])
		}
		// Without a kid every published key is tried.
		h.expect(h.do("GET", "/v1/workflows", nil, bearer(sign(t, ec1, "", good))...), http.StatusOK, "")
		// "bearer" is case-insensitive (RFC 7235).
		h.expect(h.do("GET", "/v1/workflows", nil, "Authorization", "bearer "+sign(t, rsa1, "rsa1", good)),
			http.StatusOK, "")
		// Within the 60 s clock skew.
		skewed := with(func(c jwt.MapClaims) { c["exp"] = ago(30 * time.Second) })
		h.expect(h.do("GET", "/v1/workflows", nil, bearer(sign(t, rsa1, "rsa1", skewed))...), http.StatusOK, "")
		// An audience list containing ours.
		multi := with(func(c jwt.MapClaims) { c["aud"] = []string{"other", testAudience} })
		h.expect(h.do("GET", "/v1/workflows", nil, bearer(sign(t, rsa1, "rsa1", multi))...), http.StatusOK, "")
	})

	hs256 := func() string { // the classic confusion: HMAC keyed with the published RSA public key
		der, err := x509.MarshalPKIXPublicKey(&rsa1.key.(*rsa.PrivateKey).PublicKey)
		require.NoError(t, err)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, good)
		tok.Header["kid"] = "rsa1"
		raw, err := tok.SignedString(pemKey)
		require.NoError(t, err)
		return raw
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, good)
		tok.Header["kid"] = "rsa1"
		raw, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return raw
	}
	tamper := func() string { // a valid token whose payload is swapped for another subject's
		parts := strings.Split(sign(t, rsa1, "rsa1", good), ".")
		other := strings.Split(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["sub"] = "mallory" })), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}

	for _, tt := range []struct {
		name    string
		headers []string
		msg     string
	}{
		{"missing", nil, "missing bearer token: send Authorization: Bearer <token>"},
		{"empty bearer", []string{"Authorization", "Bearer "}, "the Authorization header must be Bearer <token>"},
		{"basic scheme", []string{"Authorization", "Basic YWxpY2U6cHc="}, "the Authorization header must be Bearer <token>"},
		{"malformed", bearer("not.a.jwt"), "bearer token is malformed"},
		{"expired", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["exp"] = ago(2 * time.Minute) }))),
			"bearer token has expired"},
		{"not yet valid", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) {
			c["nbf"] = time.Now().Add(5 * time.Minute).Unix()
		}))), "bearer token is not valid yet (nbf)"},
		{"issued in the future", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(5 * time.Minute).Unix()
		}))), "bearer token is issued in the future (iat)"},
		{"no expiry", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { delete(c, "exp") }))),
			"bearer token has no exp claim"},
		{"wrong issuer", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))),
			"bearer token is from another issuer (iss)"},
		{"no issuer", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { delete(c, "iss") }))),
			"bearer token has no iss claim"},
		{"wrong audience", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["aud"] = "another-api" }))),
			"bearer token is not meant for this API (aud)"},
		{"no subject", bearer(sign(t, rsa1, "rsa1", with(func(c jwt.MapClaims) { delete(c, "sub") }))),
			"bearer token has no subject (sub)"},
		{"wrong signature: rogue key under a published kid", bearer(sign(t, s["rogue"], "rsa1", good)),
			"bearer token signature is invalid"},
		{"wrong signature: tampered payload", bearer(tamper()), "bearer token signature is invalid"},
		{"wrong signature: no kid, no published key fits", bearer(sign(t, s["rogue"], "", good)),
			"bearer token signature is invalid"},
		{"alg none refused", bearer(none()), "bearer token algorithm is not accepted (RS256 or ES256 only)"},
		{"HS256 with the public key refused", bearer(hs256()), "bearer token algorithm is not accepted (RS256 or ES256 only)"},
		{"ES256 token naming an RSA key", bearer(sign(t, ec1, "rsa1", good)),
			"bearer token names a key (kid) that is not for its algorithm or not for signatures"},
		{"key published for encryption", bearer(sign(t, s["rsa2"], "rsa2", good)),
			"bearer token names a key (kid) that is not for its algorithm or not for signatures"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			r := h.do("GET", "/v1/workflows", nil, tt.headers...)
			h.expectAuthError(r, http.StatusUnauthorized, tt.msg)
			require.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="flowker"`))
			require.Equal(t, "anonymous", h.whoami(tt.headers...)["type"], "a bad token names nobody")
		})
	}

	t.Run("an API key is not a credential when only OIDC is on", func(t *testing.T) {
		h := h.with(t)
		h.expectAuthError(h.do("GET", "/v1/workflows", nil, "X-API-Key", "anything"), http.StatusUnauthorized,
			"missing bearer token: send Authorization: Bearer <token>")
	})

	t.Run("missing permission is 403", func(t *testing.T) {
		h := h.with(t)
		tok := sign(t, rsa1, "rsa1", p.claims("catalog:read", "executions:read"))
		r := h.do("GET", "/v1/workflows", nil, bearer(tok)...)
		require.JSONEq(t, `{"code":"FORBIDDEN","title":"Forbidden","message":"missing permission workflows:read"}`,
			string(r.body))
		require.Equal(t, http.StatusForbidden, r.status)
		h.expectAuthError(h.do("POST", "/v1/workflows/"+"00000000-0000-0000-0000-000000000001"+"/executions",
			map[string]any{}, bearer(tok)...), http.StatusForbidden, "missing permission executions:manage")
		// No permissions claim at all.
		noPerms := with(func(c jwt.MapClaims) { delete(c, "permissions") })
		h.expectAuthError(h.do("GET", "/v1/catalog/executors", nil, bearer(sign(t, rsa1, "rsa1", noPerms))...),
			http.StatusForbidden, "missing permission catalog:read")
	})

	t.Run("permissions from scope", func(t *testing.T) {
		h := h.with(t)
		c := with(func(c jwt.MapClaims) { delete(c, "permissions"); c["scope"] = "openid catalog:read workflows:manage" })
		tok := sign(t, rsa1, "rsa1", c)
		h.expect(h.do("GET", "/v1/workflows", nil, bearer(tok)...), http.StatusOK, "")
		require.Equal(t, http.StatusOK, h.do("GET", "/v1/catalog/executors", nil, bearer(tok)...).status)
		h.expectAuthError(h.do("GET", "/v1/executors", nil, bearer(tok)...), http.StatusForbidden,
			"missing permission executor-configurations:read")
		// permissions as one space-separated string works as well.
		c = with(func(c jwt.MapClaims) { c["permissions"] = "executor-configurations:manage" })
		h.expect(h.do("GET", "/v1/executors", nil, bearer(sign(t, rsa1, "rsa1", c))...), http.StatusOK, "")
	})

	// Last: it spends the issuer's unknown-kid refresh allowance.
	t.Run("unknown kid refreshes the JWKS once, rate-limited", func(t *testing.T) {
		h := h.with(t)
		before := p.jwksHits.Load()
		tok := sign(t, s["rogue"], "rogue", good)
		h.expectAuthError(h.do("GET", "/v1/workflows", nil, bearer(tok)...), http.StatusUnauthorized,
			"bearer token is signed with a key the issuer does not publish (unknown kid)")
		require.Equal(t, before+1, p.jwksHits.Load(), "an unknown kid fetches the JWKS again")
		start := time.Now()
		for range 5 {
			h.expectAuthError(h.do("GET", "/v1/workflows", nil, bearer(sign(t, s["rogue"], "made-up", good))...),
				http.StatusUnauthorized, "bearer token is signed with a key the issuer does not publish (unknown kid)")
		}
		require.Equal(t, before+1, p.jwksHits.Load(), "further unknown kids do not hammer the issuer")
		require.Less(t, time.Since(start), 2*time.Second, "and are refused without waiting")
		h.expect(h.do("GET", "/v1/workflows", nil, bearer(sign(t, rsa1, "rsa1", good))...), http.StatusOK, "")
	})
}

func TestOIDCKeyRotation(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	h := newHarness(t, p.env())
	s := testSigners()
	old := sign(t, s["rsa1"], "rsa1", p.claims("workflows:manage"))
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(old)...), http.StatusOK, "")
	require.Equal(t, int32(1), p.discoveryHits.Load())

	// The issuer rotates: rsa1 is withdrawn, ec1 published. A token with the
	// new kid makes Flowker fetch the JWKS at once.
	p.publish("ec1")
	fresh := sign(t, s["ec1"], "ec1", p.claims("workflows:manage"))
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(fresh)...), http.StatusOK, "")
	// The withdrawn key is gone from the cache too.
	h.expectAuthError(h.do("GET", "/v1/workflows", nil, bearer(old)...), http.StatusUnauthorized,
		"bearer token is signed with a key the issuer does not publish (unknown kid)")
	require.Equal(t, int32(1), p.discoveryHits.Load(), "discovery is read once")
}

func TestOIDCIssuerUnavailable(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	p.broken.Store(true)
	h := newHarness(t, p.env())
	tok := sign(t, testSigners()["rsa1"], "rsa1", p.claims("workflows:manage"))
	r := h.do("GET", "/v1/workflows", nil, bearer(tok)...)
	h.expect(r, http.StatusServiceUnavailable, "FLK-0011")
	require.NotEmpty(t, r.header.Get("Retry-After"))
	// Requests without a token need no keys: still a plain 401.
	h.expect(h.do("GET", "/v1/workflows", nil), http.StatusUnauthorized, "UNAUTHORIZED")

	// A discovery document naming another issuer is not trusted.
	q := newIDP(t, "rsa1")
	q.set(func(p *idp) { p.issuerInDoc = "https://impostor.example" })
	hq := newHarness(t, q.env())
	tok = sign(t, testSigners()["rsa1"], "rsa1", q.claims("workflows:manage"))
	hq.expect(hq.do("GET", "/v1/workflows", nil, bearer(tok)...), http.StatusServiceUnavailable, "FLK-0011")
	require.Zero(t, q.jwksHits.Load())
}

func TestOIDCExplicitJWKSURLAndClaim(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "ec1")
	p.permsClaimName = "https://flowker.example/perms" // a namespaced custom claim
	h := newHarness(t, p.env("AUTH_OIDC_JWKS_URL", p.srv.URL+"/jwks", "AUTH_OIDC_PERMISSIONS_CLAIM", p.permsClaimName))
	tok := sign(t, testSigners()["ec1"], "ec1", p.claims("workflows:manage"))
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(tok)...), http.StatusOK, "")
	require.Zero(t, p.discoveryHits.Load(), "an explicit JWKS URL skips discovery")
	// The default claim name is not read when another is configured.
	c := p.claims()
	c["permissions"] = []string{"workflows:manage"}
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(sign(t, testSigners()["ec1"], "ec1", c))...),
		http.StatusForbidden, "FORBIDDEN")
}

// ---- permissions per route family --------------------------------------------------

// familyPermission is the permission table, written out independently of
// the server's: the one permission a /v1 route needs ("" for GET /v1/me,
// which needs a credential only). Reads (GET, HEAD) of the four managed
// families need their :read permission, other methods :manage.
func familyPermission(method, path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	family := segs[0]
	if family == "workflows" && len(segs) >= 3 && segs[2] == "executions" {
		family = "executions"
	}
	if family == "executors" {
		family = "executor-configurations"
	}
	switch family {
	case "me":
		return ""
	case "callbacks":
		return "(token)" // the token in the path is the credential
	case "reviews":
		if method == "GET" || method == "HEAD" {
			return "reviews:read"
		}
		return "reviews:decide"
	case "workflows", "executions", "provider-configurations", "executor-configurations":
		if method == "GET" || method == "HEAD" {
			return family + ":read"
		}
		return family + ":manage"
	}
	return map[string]string{"catalog": "catalog:read", "dashboards": "dashboards:read",
		"audit-events": "audit-events:read", "webhooks": "webhooks:execute"}[family]
}

var allPermissions = []string{"workflows:read", "workflows:manage", "executions:read", "executions:manage",
	"provider-configurations:read", "provider-configurations:manage", "executor-configurations:read",
	"executor-configurations:manage", "catalog:read", "dashboards:read", "audit-events:read", "webhooks:execute",
	"reviews:read", "reviews:decide", "reviews:decide:*"}

// including is the permission that includes a :read one: its :manage, or
// reviews:decide for reviews:read.
func including(perm string) string {
	if perm == "reviews:read" {
		return "reviews:decide"
	}
	return strings.TrimSuffix(perm, ":read") + ":manage"
}

// allBut is every permission that does not grant perm: neither perm nor,
// for a :read one, the permission that includes it.
func allBut(perm string) []string {
	return slices.DeleteFunc(slices.Clone(allPermissions), func(s string) bool {
		return s == perm || (strings.HasSuffix(perm, ":read") && s == including(perm))
	})
}

// TestOnePermissionPerRoute sends, to every /v1 route the server registers,
// a token holding only that route's permission (it passes), for a read the
// :manage token too (it includes the :read), and a token holding every
// other permission (403 naming the one missing). Under the reference's
// stacked guards a catalog route would also need workflows:manage, an audit
// route all seven.
func TestOnePermissionPerRoute(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, allPermissions, config.Permissions(), "the server knows the same permissions")
	p := newIDP(t, "rsa1")
	h := newHarness(t, p.env())
	rsa1 := testSigners()["rsa1"]
	tokens := map[string]string{"": sign(t, rsa1, "rsa1", p.claims())}
	for _, perm := range allPermissions {
		tokens[perm] = sign(t, rsa1, "rsa1", p.claims(perm))
		tokens["all but "+perm] = sign(t, rsa1, "rsa1", p.claims(allBut(perm)...))
	}
	const id = "00000000-0000-0000-0000-0000000000aa"
	seen := map[string]bool{}
	families := map[string]bool{}
	for _, rt := range h.app.GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/v1/") ||
			!slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, rt.Method) {
			continue
		}
		path := rt.Path
		for _, param := range rt.Params {
			path = strings.Replace(path, ":"+param, id, 1)
		}
		path = strings.ReplaceAll(path, "*", "probe")
		if seen[rt.Method+" "+path] {
			continue
		}
		seen[rt.Method+" "+path] = true
		perm := familyPermission(rt.Method, rt.Path)
		families[perm] = true
		var body any
		if rt.Method != "GET" && rt.Method != "HEAD" && rt.Method != "DELETE" {
			body = map[string]any{}
		}
		if perm == "(token)" { // no credential asked: the fake token is refused by the handler
			h.expect(h.do(rt.Method, path, body), http.StatusNotFound, "FLK-0524")
			continue
		}
		if perm == "" { // a credential, any permission
			require.Equal(t, "/v1/me", rt.Path, "route %s %s belongs to no family", rt.Method, rt.Path)
			require.Equal(t, http.StatusOK, h.do(rt.Method, path, body, bearer(tokens[""])...).status)
			h.expect(h.do(rt.Method, path, body), http.StatusUnauthorized, "UNAUTHORIZED")
			continue
		}
		holders := []string{perm}
		if manage := including(perm); strings.HasSuffix(perm, ":read") && slices.Contains(allPermissions, manage) {
			holders = append(holders, manage)
		}
		for _, holder := range holders {
			r := h.do(rt.Method, path, body, bearer(tokens[holder])...)
			require.NotContains(t, []int{401, 403}, r.status, "%s %s with only %s: %s", rt.Method, rt.Path, holder, r.body)
		}
		r := h.do(rt.Method, path, body, bearer(tokens["all but "+perm])...)
		if rt.Method == "HEAD" { // no body to name the permission
			require.Equal(t, http.StatusForbidden, r.status, "%s %s", rt.Method, rt.Path)
			continue
		}
		h.expectAuthError(r, http.StatusForbidden, "missing permission "+perm)
	}
	t.Logf("%d /v1 routes checked", len(seen))
	require.Greater(t, len(seen), 60)
	for _, perm := range append(slices.Clone(allPermissions), "", "(token)") {
		if perm == "reviews:decide:*" {
			continue // no route of its own: a review group's decisions (reviews_auth_test.go)
		}
		require.True(t, families[perm], "no route checked for %q", perm)
	}

	// And one request per family, by hand.
	for perm, req := range map[string][2]string{
		"workflows:read":                 {"GET", "/v1/workflows"},
		"workflows:manage":               {"GET", "/v1/workflows"},
		"executions:read":                {"GET", "/v1/executions"},
		"catalog:read":                   {"GET", "/v1/catalog/providers"},
		"executor-configurations:read":   {"GET", "/v1/executors"},
		"provider-configurations:read":   {"GET", "/v1/provider-configurations"},
		"provider-configurations:manage": {"GET", "/v1/provider-configurations"},
	} {
		r := h.do(req[0], req[1], nil, bearer(tokens[perm])...)
		require.Equal(t, http.StatusOK, r.status, "%s %s: %s", req[0], req[1], r.body)
	}
	h.expect(h.do("POST", "/v1/workflows/"+id+"/executions", map[string]any{},
		append(bearer(tokens["executions:manage"]), "Idempotency-Key", "k1")...), http.StatusNotFound, "FLK-0100")
	h.expectAuthError(h.do("POST", "/v1/workflows/"+id+"/executions", map[string]any{},
		append(bearer(tokens["executions:read"]), "Idempotency-Key", "k1")...), http.StatusForbidden,
		"missing permission executions:manage")
	h.expect(h.do("POST", "/v1/webhooks/none", map[string]any{}, bearer(tokens["webhooks:execute"])...),
		http.StatusNotFound, "FLK-0361")
}

func TestAPIKeyOrToken(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	h := newHarness(t, p.env("API_KEY_ENABLED", "true", "API_KEYS", "ops:0123456789abcdef"), whoami)
	tok := sign(t, testSigners()["rsa1"], "rsa1", p.claims("workflows:manage"))
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(tok)...), http.StatusOK, "")
	h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "0123456789abcdef"), http.StatusOK, "")
	require.Equal(t, "ops", h.whoami("X-API-Key", "0123456789abcdef")["id"])
	require.Equal(t, "alice", h.whoami(bearer(tok)...)["id"])
	// An API key not in API_KEY_PERMISSIONS holds every permission, a token only its own.
	h.expect(h.do("GET", "/v1/executors", nil, "X-API-Key", "0123456789abcdef"), http.StatusOK, "")
	h.expect(h.do("GET", "/v1/executors", nil, bearer(tok)...), http.StatusForbidden, "FORBIDDEN")

	h.expectAuthError(h.do("GET", "/v1/workflows", nil), http.StatusUnauthorized,
		"missing credentials: send X-API-Key or Authorization: Bearer <token>")
	h.expectAuthError(h.do("GET", "/v1/workflows", nil, "X-API-Key", "wrong"), http.StatusUnauthorized,
		"API Key missing or invalid")
	h.expectAuthError(h.do("GET", "/v1/workflows", nil, "X-API-Key", "0123456789abcdef", "Authorization", "Bearer "+tok),
		http.StatusUnauthorized, "send either X-API-Key or a bearer token, not both")
}

// ---- client IP -------------------------------------------------------------------

func TestClientIPAndTrustedProxies(t *testing.T) {
	t.Parallel()
	untrusted := newHarness(t, nil, whoami)
	require.Equal(t, "127.0.0.1", untrusted.whoami()["ip"])
	require.Equal(t, "127.0.0.1", untrusted.whoami("X-Forwarded-For", "203.0.113.9")["ip"],
		"X-Forwarded-For from a peer that is not a trusted proxy is ignored")
	require.Equal(t, "anonymous", untrusted.whoami()["type"], "no authentication: anonymous")

	trusted := newHarness(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}, whoami)
	for xff, want := range map[string]string{
		"":                                       "127.0.0.1",
		"203.0.113.9":                            "203.0.113.9",
		"198.51.100.1, 203.0.113.9":              "203.0.113.9", // the client wrote the left part
		"203.0.113.9, 10.1.2.3":                  "203.0.113.9", // trusted hops are skipped
		"203.0.113.9,10.1.2.3 ,10.9.9.9":         "203.0.113.9", // any number of them
		"10.1.2.3, 10.4.5.6":                     "10.1.2.3",    // all trusted: the farthest
		"garbage, 10.1.2.3":                      "10.1.2.3",    // stop at what cannot be read
		"203.0.113.9, garbage":                   "127.0.0.1",   // the proxy's own hop is unreadable
		"[2001:db8::7]:443":                      "2001:db8::7", // with a port
		"203.0.113.9:1234":                       "203.0.113.9", // with a port
		"::ffff:203.0.113.9":                     "203.0.113.9", // IPv4-mapped
		"2001:db8::1, ::ffff:10.0.0.1, 10.0.0.2": "2001:db8::1",
	} {
		var headers []string
		if xff != "" {
			headers = []string{"X-Forwarded-For", xff}
		}
		require.Equal(t, want, trusted.whoami(headers...)["ip"], xff)
	}
	// Several X-Forwarded-For lines are one list, in order.
	req, err := http.NewRequestWithContext(t.Context(), "GET", trusted.base+"/v1/test/whoami", nil)
	require.NoError(t, err)
	req.Header.Add("X-Forwarded-For", "203.0.113.9")
	req.Header.Add("X-Forwarded-For", "10.1.1.1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var who map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&who))
	require.Equal(t, "203.0.113.9", who["ip"])
}

// ---- rate limiting ----------------------------------------------------------------

func TestRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"RATE_LIMIT_PER_MINUTE": "3", "API_KEY_ENABLED": "true",
		"API_KEYS": "a:aaaaaaaaaaaaaaaa,b:bbbbbbbbbbbbbbbb"})
	for range 3 {
		h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "aaaaaaaaaaaaaaaa"), http.StatusOK, "")
	}
	r := h.do("GET", "/v1/catalog/providers", nil, "X-API-Key", "aaaaaaaaaaaaaaaa") // any route: one budget per client
	body := h.expect(r, http.StatusTooManyRequests, "FLK-0010")
	require.Equal(t, "Too Many Requests", body["title"])
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	require.True(t, retry >= 1 && retry <= 60, retry)
	require.Contains(t, body["message"], "rate limit of 3 requests per minute exceeded")

	// Another key has its own budget.
	for range 3 {
		h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "bbbbbbbbbbbbbbbb"), http.StatusOK, "")
	}
	h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "bbbbbbbbbbbbbbbb"), http.StatusTooManyRequests, "FLK-0010")

	// Callers without a valid credential count per client IP (so guessing
	// keys is throttled too), separately from the keys' budgets.
	for range 3 {
		h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "wrong"), http.StatusUnauthorized, "UNAUTHORIZED")
	}
	h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "wrong"), http.StatusTooManyRequests, "FLK-0010")

	// Not limited: health routes, webhooks, unknown paths.
	for range 10 {
		h.expect(h.do("GET", "/health/live", nil), http.StatusOK, "")
		h.expect(h.do("POST", "/v1/webhooks/x", map[string]any{}, "X-API-Key", "aaaaaaaaaaaaaaaa"), http.StatusNotFound, "FLK-0361")
		h.expect(h.do("GET", "/v1/nope", nil, "X-API-Key", "aaaaaaaaaaaaaaaa"), http.StatusNotFound, "FLK-0003")
	}
}

func TestRateLimitPerTokenSubjectAndOff(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	h := newHarness(t, p.env("RATE_LIMIT_PER_MINUTE", "2"))
	rsa1 := testSigners()["rsa1"]
	alice := sign(t, rsa1, "rsa1", p.claims("workflows:manage"))
	bob := p.claims("workflows:manage")
	bob["sub"] = "bob"
	bobTok := sign(t, rsa1, "rsa1", bob)
	for range 2 {
		h.expect(h.do("GET", "/v1/workflows", nil, bearer(alice)...), http.StatusOK, "")
	}
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(alice)...), http.StatusTooManyRequests, "FLK-0010")
	// A new token for alice is still alice.
	again := sign(t, rsa1, "rsa1", p.claims("workflows:manage"))
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(again)...), http.StatusTooManyRequests, "FLK-0010")
	h.expect(h.do("GET", "/v1/workflows", nil, bearer(bobTok)...), http.StatusOK, "")

	off := newHarness(t, map[string]string{"RATE_LIMIT_PER_MINUTE": "0"})
	for range 20 {
		off.expect(off.do("GET", "/v1/workflows", nil), http.StatusOK, "")
	}
}

// ---- CORS ---------------------------------------------------------------------------

func TestCORSHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example", "API_KEY_ENABLED": "true",
		"API_KEY": "s3cret"})
	// A preflight needs no credentials.
	r := h.do("OPTIONS", "/v1/workflows", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,x-api-key,idempotency-key,x-webhook-token,prefer")
	require.Equal(t, http.StatusNoContent, r.status)
	allowed := strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
	for _, hdr := range []string{"authorization", "x-api-key", "idempotency-key", "x-webhook-token", "prefer", "x-request-id"} {
		require.Contains(t, allowed, hdr)
	}
	r = h.do("GET", "/v1/workflows", nil, "Origin", "https://app.example", "X-API-Key", "s3cret")
	require.Equal(t, http.StatusOK, r.status)
	exposed := strings.ToLower(r.header.Get("Access-Control-Expose-Headers"))
	for _, hdr := range []string{"x-request-id", "idempotent-replayed", "retry-after"} {
		require.Contains(t, exposed, hdr)
	}
}
