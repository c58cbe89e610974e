package consoletest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// idpUser is who the fake identity provider signs in next.
type idpUser struct {
	sub   string
	perms []string
	ttl   time.Duration // access token lifetime; negative: already expired
}

// grant is an authorization code the fake handed out.
type grant struct {
	challenge, redirectURI, clientID, nonce string
	user                                    idpUser
}

// fakeIDP is an OpenID provider on 127.0.0.1 for the console's sign-in:
// discovery, an authorization endpoint that approves at once (redirects to
// redirect_uri with code and state), a token endpoint that checks the PKCE
// code_verifier (S256), redirect_uri and client_id and answers an RS256
// access token with a permissions claim and an ID token with the nonce, and
// the JWKS Flowker verifies tokens with. Browser calls get CORS headers for
// the console's origin only.
type fakeIDP struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	audience string

	mu      sync.Mutex
	origin  string // the console's origin (CORS)
	next    idpUser
	codes   map[string]grant
	hold    bool   // authorize answers "held" instead of redirecting
	held    string // the redirect authorize would have made
	refused []string
}

func newFakeIDP(t *testing.T, clientID, audience string) *fakeIDP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &fakeIDP{t: t, key: key, clientID: clientID, audience: audience, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	p.srv = httptest.NewUnstartedServer(mux)
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.srv.Listener = ln
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIDP) URL() string { return p.srv.URL }

// allow sets the console origin that may call discovery and the token endpoint.
func (p *fakeIDP) allow(origin string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.origin = origin
}

// signInNext makes the next authorization sign in u.
func (p *fakeIDP) signInNext(u idpUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = u
}

// holdNext makes authorization requests stop at the fake: the redirect is
// kept for the test (held) instead of being made.
func (p *fakeIDP) holdNext(hold bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.held = hold, ""
}

func (p *fakeIDP) heldRedirect() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

func (p *fakeIDP) refusals() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}

func (p *fakeIDP) cors(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o := r.Header.Get("Origin"); o != "" && o == p.origin {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Vary", "Origin")
	}
}

func (p *fakeIDP) discovery(w http.ResponseWriter, r *http.Request) {
	p.cors(w, r)
	writeJSON(w, http.StatusOK, map[string]any{"issuer": p.URL(), "authorization_endpoint": p.URL() + "/authorize",
		"token_endpoint": p.URL() + "/token", "jwks_uri": p.URL() + "/jwks", "response_types_supported": []string{"code"},
		"code_challenge_methods_supported": []string{"S256"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		"subject_types_supported": []string{"public"}, "grant_types_supported": []string{"authorization_code"}})
}

func (p *fakeIDP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": p.clientID, "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			http.Error(w, k+" must be "+want, http.StatusBadRequest)
			return
		}
	}
	if len(q.Get("code_challenge")) != 43 || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "code_challenge (S256), state, nonce and redirect_uri are required", http.StatusBadRequest)
		return
	}
	code := randomText()
	p.mu.Lock()
	p.codes[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), clientID: q.Get("client_id"),
		nonce: q.Get("nonce"), user: p.next}
	to := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	hold := p.hold
	if hold {
		p.held = to
	}
	p.mu.Unlock()
	if hold {
		_, _ = w.Write([]byte("held by the test"))
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (p *fakeIDP) token(w http.ResponseWriter, r *http.Request) {
	p.cors(w, r)
	refuse := func(code, why string) {
		p.mu.Lock()
		p.refused = append(p.refused, why)
		p.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": why})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		refuse("unsupported_grant_type", "grant_type must be authorization_code")
		return
	}
	f := r.PostForm
	p.mu.Lock()
	g, ok := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code")) // one use
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case !ok:
		refuse("invalid_grant", "unknown or used code")
	case f.Get("client_id") != g.clientID:
		refuse("invalid_client", "client_id differs from the authorization request's")
	case f.Get("redirect_uri") != g.redirectURI:
		refuse("invalid_grant", "redirect_uri differs from the authorization request's")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		refuse("invalid_grant", "code_verifier does not match the code_challenge")
	default:
		now := time.Now()
		ttl := g.user.ttl
		if ttl == 0 {
			ttl = time.Hour
		}
		access := p.sign(jwt.MapClaims{"iss": p.URL(), "aud": p.audience, "sub": g.user.sub, "iat": now.Add(min(ttl, 0) - time.Minute).Unix(),
			"exp": now.Add(ttl).Unix(), "permissions": g.user.perms})
		id := p.sign(jwt.MapClaims{"iss": p.URL(), "aud": p.clientID, "sub": g.user.sub, "nonce": g.nonce,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
		writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer",
			"expires_in": int(ttl.Seconds()), "id_token": id})
	}
}

func (p *fakeIDP) sign(claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "console-test"
	raw, err := tok.SignedString(p.key)
	require.NoError(p.t, err)
	return raw
}

func (p *fakeIDP) jwks(w http.ResponseWriter, _ *http.Request) {
	b64 := base64.RawURLEncoding.EncodeToString
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "console-test", "use": "sig",
		"alg": "RS256", "n": b64(p.key.N.Bytes()), "e": b64(big.NewInt(int64(p.key.E)).Bytes())}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomText() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
