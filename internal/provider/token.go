package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
)

const (
	tokenEarlyExpiry  = 60 * time.Second // a token is replaced this long before it expires
	tokenDefaultTTL   = 5 * time.Minute  // reuse of a token whose response had no expires_in
	staleRetention    = time.Hour        // stale entries are kept this long for their refresh token
	discoveryTTL      = time.Hour
	tokenFetchTimeout = 30 * time.Second
	bodyExcerptBytes  = 512

	stageDiscovery = "discovery"
	stageToken     = "token"
)

// AuthError says that credentials could not be obtained: OIDC discovery or
// the token endpoint failed. Its fields and text never hold secrets.
type AuthError struct {
	Type       string // auth type
	Stage      string // "discovery" or "token"
	Endpoint   string // discovery document or token endpoint URL
	StatusCode int    // status returned by the endpoint; 0 when no usable response arrived
	Body       string // start of the endpoint's response body, secrets redacted
	Err        error  // underlying error when there is no status (transport, timeout, bad document)
}

func (e *AuthError) Error() string {
	what := "token endpoint"
	if e.Stage == stageDiscovery {
		what = "OIDC discovery"
	}
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		return fmt.Sprintf("auth %s: %s %s returned status %d: redirects are not followed for token and discovery requests", e.Type, what, e.Endpoint, e.StatusCode)
	}
	switch {
	case e.StatusCode != 0 && e.Body != "":
		return fmt.Sprintf("auth %s: %s %s returned status %d: %s", e.Type, what, e.Endpoint, e.StatusCode, e.Body)
	case e.StatusCode != 0:
		return fmt.Sprintf("auth %s: %s %s returned status %d", e.Type, what, e.Endpoint, e.StatusCode)
	}
	return fmt.Sprintf("auth %s: %s %s: %v", e.Type, what, e.Endpoint, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// cachedToken is an access token as stored in the process-wide cache.
type cachedToken struct {
	AccessToken  string
	tokenType    string // normalised by oauth2.Token.Type: "bearer" becomes "Bearer"
	refreshToken string
	freshUntil   time.Time
}

func (t *cachedToken) header() string { return t.tokenType + " " + t.AccessToken }

type discovered struct {
	tokenURL string
	until    time.Time
}

// tokenCache holds the tokens and discovery documents of every auth
// configuration used through one Client, so that neither is fetched per call.
type tokenCache struct {
	http  *http.Client // the SSRF-protected transport, following no redirect: token and discovery requests go through it
	now   func() time.Time
	group singleflight.Group

	mu        sync.Mutex
	tokens    map[string]*cachedToken
	endpoints map[string]discovered
}

// newTokenCache shares hc's transport (its connection pool and SSRF
// checks) but follows no redirect: a 307 from a token endpoint would post
// the form, client secret or password included, to wherever it leads, and
// a redirected discovery would name a token endpoint of the redirect's
// choosing.
func newTokenCache(hc *http.Client) *tokenCache {
	noRedirect := &http.Client{Transport: hc.Transport, CheckRedirect: refuseRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
	return &tokenCache{http: noRedirect, now: time.Now, tokens: map[string]*cachedToken{}, endpoints: map[string]discovered{}}
}

// get returns the token for a, fetching it at most once at a time per key.
// It returns nil for auth types without a token endpoint.
func (c *tokenCache) get(ctx context.Context, a Auth) (*cachedToken, error) {
	if !a.usesTokenEndpoint() {
		return nil, nil
	}
	key := tokenKey(a)
	if t := c.lookup(key, true); t != nil {
		return t, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		if t := c.lookup(key, true); t != nil { // a flight that just ended stored it
			return t, nil
		}
		// Detached from the caller: one caller giving up must not fail the
		// others sharing this fetch. Each caller still stops at its deadline.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
		defer cancel()
		return c.fetch(fctx, a, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*cachedToken), nil
	case <-ctx.Done():
		endpoint := a.TokenURL
		if endpoint == "" {
			endpoint = a.IssuerURL
		}
		return nil, &AuthError{Type: a.Type, Stage: stageToken, Endpoint: endpoint, Err: ctx.Err()}
	}
}

// lookup returns the entry for key; with freshOnly, only if it may still be used.
func (c *tokenCache) lookup(key string, freshOnly bool) *cachedToken {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tokens[key]
	if t == nil || (freshOnly && !c.now().Before(t.freshUntil)) {
		return nil
	}
	return t
}

func (c *tokenCache) store(key string, tok *oauth2.Token) *cachedToken {
	now := c.now()
	t := &cachedToken{AccessToken: tok.AccessToken, tokenType: tok.Type(), refreshToken: tok.RefreshToken}
	if tok.Expiry.IsZero() {
		t.freshUntil = now.Add(tokenDefaultTTL)
	} else {
		t.freshUntil = tok.Expiry.Add(-tokenEarlyExpiry)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, old := range c.tokens { // keeps the map bounded by the configurations in use
		if now.Sub(old.freshUntil) > staleRetention {
			delete(c.tokens, k)
		}
	}
	c.tokens[key] = t
	return t
}

// evict marks the token stale after the provider rejected it, keeping any
// refresh token; a newer token stored meanwhile is left alone.
func (c *tokenCache) evict(a Auth, accessToken string) {
	key := tokenKey(a)
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.tokens[key]; t != nil && t.AccessToken == accessToken {
		t.freshUntil = time.Time{}
	}
}

func (c *tokenCache) fetch(ctx context.Context, a Auth, key string) (*cachedToken, error) {
	red := newRedactor(a)
	tokenURL := a.TokenURL
	if a.Type != AuthOAuth2ClientCredentials {
		var err error
		if tokenURL, err = c.discover(ctx, a, red); err != nil {
			return nil, err
		}
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.http)
	var tok *oauth2.Token
	var err error
	if a.Type == AuthOIDCUser {
		tok, err = c.passwordGrant(hctx, a, tokenURL, c.lookup(key, false))
	} else {
		cfg := clientcredentials.Config{
			ClientID:       a.ClientID,
			ClientSecret:   a.ClientSecret,
			TokenURL:       tokenURL,
			Scopes:         a.Scopes,
			EndpointParams: endpointParams(a),
			AuthStyle:      authStyle(a),
		}
		tok, err = cfg.Token(hctx)
	}
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return nil, &AuthError{Type: a.Type, Stage: stageToken, Endpoint: tokenURL, StatusCode: re.Response.StatusCode, Body: excerpt(re.Body, red)}
		}
		return nil, &AuthError{Type: a.Type, Stage: stageToken, Endpoint: tokenURL, Err: red.wrap(err)}
	}
	// A token that cannot be sent in a header (a trailing newline, a
	// garbage answer) would fail every call for its whole lifetime: it is
	// refused and not kept, so the next attempt asks again.
	if !validHeaderValue(tok.Type() + " " + tok.AccessToken) {
		return nil, &AuthError{Type: a.Type, Stage: stageToken, Endpoint: tokenURL,
			Err: errors.New("the endpoint issued an access token or token_type that cannot be sent in a header (CR, LF or another control character)")}
	}
	return c.store(key, tok), nil
}

// passwordGrant refreshes stale's token when it has a refresh token, and
// otherwise (or when the refresh is refused) does a new password grant.
func (c *tokenCache) passwordGrant(ctx context.Context, a Auth, tokenURL string, stale *cachedToken) (*oauth2.Token, error) {
	scopes := a.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid"}
	}
	cfg := &oauth2.Config{
		ClientID:     a.ClientID,
		ClientSecret: a.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: authStyle(a)},
		Scopes:       scopes,
	}
	if stale != nil && stale.refreshToken != "" {
		// Without an access token the ReuseTokenSource refreshes at once.
		if tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: stale.refreshToken}).Token(); err == nil {
			return tok, nil
		}
	}
	if params := endpointParams(a); len(params) > 0 {
		// PasswordCredentialsToken takes no extra parameters; add them to the form on the way out.
		hc := *c.http
		hc.Transport = &formParams{next: c.http.Transport, params: params}
		ctx = context.WithValue(ctx, oauth2.HTTPClient, &hc)
	}
	return cfg.PasswordCredentialsToken(ctx, a.Username, a.Password)
}

// discover returns the issuer's token endpoint, from cache for an hour.
func (c *tokenCache) discover(ctx context.Context, a Auth, red *redactor) (string, error) {
	issuer := strings.TrimRight(a.IssuerURL, "/")
	c.mu.Lock()
	d, ok := c.endpoints[issuer]
	c.mu.Unlock()
	if ok && c.now().Before(d.until) {
		return d.tokenURL, nil
	}
	docURL := issuer + "/.well-known/openid-configuration"
	fail := func(status int, body []byte, err error) (string, error) {
		return "", &AuthError{Type: a.Type, Stage: stageDiscovery, Endpoint: docURL, StatusCode: status, Body: excerpt(body, red), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return fail(0, nil, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fail(0, nil, err)
	}
	defer resp.Body.Close()
	body, _, err := readCapped(resp.Body, DefaultMaxResponseBytes)
	if err != nil {
		return fail(0, nil, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(resp.StatusCode, body, nil)
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fail(0, nil, fmt.Errorf("invalid discovery document: %w", err))
	}
	if !isHTTPURL(doc.TokenEndpoint) {
		return fail(0, nil, errors.New("discovery document has no valid token_endpoint"))
	}
	// An https issuer's client credentials must not go out in clear
	// because its document names a cleartext endpoint (a downgrade).
	if strings.HasPrefix(strings.ToLower(issuer), "https:") && !strings.HasPrefix(strings.ToLower(doc.TokenEndpoint), "https:") {
		return fail(0, nil, errors.New("discovery document of an https issuer names a cleartext (http) token_endpoint: refused"))
	}
	c.mu.Lock()
	c.endpoints[issuer] = discovered{tokenURL: doc.TokenEndpoint, until: c.now().Add(discoveryTTL)}
	c.mu.Unlock()
	return doc.TokenEndpoint, nil
}

// tokenKey hashes everything that decides which token an endpoint issues,
// so secrets are not kept in the map keys.
func tokenKey(a Auth) string {
	scopes := slices.Sorted(slices.Values(a.Scopes))
	fields := []string{a.Type, a.TokenURL, strings.TrimRight(a.IssuerURL, "/"), a.ClientID, a.ClientSecret,
		a.Username, a.Password, strings.Join(scopes, " "), a.Audience, a.AuthMethod}
	for _, k := range slices.Sorted(maps.Keys(a.ExtraParams)) {
		fields = append(fields, k, a.ExtraParams[k])
	}
	h := sha256.New()
	for _, f := range fields { // length-prefixed: no two field lists hash alike
		h.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func authStyle(a Auth) oauth2.AuthStyle {
	if a.AuthMethod == AuthMethodPost || a.ClientSecret == "" { // a public client has no secret to put in a Basic header
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

func endpointParams(a Auth) url.Values {
	v := url.Values{}
	for k, p := range a.ExtraParams {
		v.Set(k, p)
	}
	if a.Audience != "" {
		v.Set("audience", a.Audience)
	}
	return v
}

func excerpt(body []byte, red *redactor) string {
	s := red.apply(strings.TrimSpace(string(body)))
	if len(s) > bodyExcerptBytes {
		s = strings.ToValidUTF8(s[:bodyExcerptBytes], "") + "…"
	}
	return s
}

// formParams adds parameters to a form-encoded request body the caller
// cannot extend; parameters already in the form win.
type formParams struct {
	next   http.RoundTripper
	params url.Values
}

func (t *formParams) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return t.next.RoundTrip(req)
	}
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, fmt.Errorf("token request body: %w", err)
	}
	for k, vs := range t.params {
		if !form.Has(k) {
			form[k] = vs
		}
	}
	enc := form.Encode()
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(strings.NewReader(enc))
	out.ContentLength = int64(len(enc))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(enc)), nil }
	return t.next.RoundTrip(out)
}
