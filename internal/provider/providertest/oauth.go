package providertest

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// oauthState backs the built-in token endpoint.
type oauthState struct {
	mu            sync.Mutex
	clients       map[string]string // client id → secret; "" = public client
	users         map[string]string // username → password
	expiresIn     int               // seconds; 0 omits expires_in
	issued        map[string]time.Time
	refresh       map[string]bool
	tokenRequests int
}

func newOAuthState() *oauthState {
	return &oauthState{
		clients:   map[string]string{},
		users:     map[string]string{},
		expiresIn: 3600,
		issued:    map[string]time.Time{},
		refresh:   map[string]bool{},
	}
}

// AddClient registers an OAuth2 client; an empty secret makes it a public
// client, usable only for the password grant.
func (s *Server) AddClient(id, secret string) {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.clients[id] = secret
}

// AddUser registers resource-owner credentials for the password grant.
func (s *Server) AddUser(username, password string) {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.users[username] = password
}

// SetTokenExpiresIn sets expires_in for tokens issued from now on
// (default 3600; 0 omits it, and such tokens never expire).
func (s *Server) SetTokenExpiresIn(seconds int) {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.expiresIn = seconds
}

// TokenRequests counts the requests answered by the built-in token endpoint.
func (s *Server) TokenRequests() int {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	return s.oauth.tokenRequests
}

// IssuerURL is the OIDC issuer (the server's URL).
func (s *Server) IssuerURL() string { return s.URL }

// TokenURL is the built-in OAuth2 token endpoint.
func (s *Server) TokenURL() string { return s.URL + TokenPath }

func (o *oauthState) valid(token string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, ok := o.issued[token]
	return ok && (exp.IsZero() || time.Now().Before(exp))
}

func (s *Server) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.URL,
		"token_endpoint":                        s.TokenURL(),
		"grant_types_supported":                 []string{"client_credentials", "password", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

// serveToken implements the client_credentials, password and refresh_token
// grants with client_secret_basic or client_secret_post client auth.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	o := s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokenRequests++
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		if r.PostForm.Has("client_secret") { // RFC 6749 §2.3: one method only
			oauthError(w, http.StatusBadRequest, "invalid_request")
			return
		}
		id, _ = url.QueryUnescape(id) // x/oauth2 form-encodes Basic credentials (RFC 6749 §2.3.1)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	want, known := o.clients[id]
	if !known || !equal(secret, want) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	withRefresh := false
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if want == "" {
			oauthError(w, http.StatusUnauthorized, "unauthorized_client")
			return
		}
	case "password":
		pass, ok := o.users[r.PostForm.Get("username")]
		if !ok || !equal(pass, r.PostForm.Get("password")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		withRefresh = true
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !o.refresh[rt] {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(o.refresh, rt) // rotated
		withRefresh = true
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}

	access := "at-" + rand.Text()
	resp := map[string]any{"access_token": access, "token_type": "bearer"} // lower case on purpose: clients must normalise
	var exp time.Time
	if o.expiresIn != 0 {
		exp = time.Now().Add(time.Duration(o.expiresIn) * time.Second)
		resp["expires_in"] = o.expiresIn
	}
	o.issued[access] = exp
	if withRefresh {
		rt := "rt-" + rand.Text()
		o.refresh[rt] = true
		resp["refresh_token"] = rt
	}
	if scope := r.PostForm.Get("scope"); scope != "" {
		resp["scope"] = scope
	}
	writeJSON(w, http.StatusOK, resp)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
