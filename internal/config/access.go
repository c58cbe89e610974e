package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Who may reach the server and how: API keys, OIDC (API and console),
// trusted proxies, and the public URL handed to providers.

// minAPIKeyLen is the shortest key API_KEYS accepts (API_KEY keeps the
// reference's rule: non-empty).
const minAPIKeyLen = 16

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// apiKeys reads API_KEY (id "default") and API_KEYS (id:key,id:key). Error
// messages name entries by position and id, never by key.
func (r *reader) apiKeys(enabled bool, single string) []APIKey {
	var keys []APIKey
	if single != "" {
		keys = append(keys, APIKey{ID: "default", Key: single})
	}
	ids, values := map[string]bool{"default": single != ""}, map[string]bool{single: single != ""}
	for i, entry := range r.list("API_KEYS") {
		id, key, ok := strings.Cut(entry, ":")
		id, key = strings.TrimSpace(id), strings.TrimSpace(key)
		switch {
		case !ok:
			r.fail("API_KEYS", fmt.Sprintf("entry %d is not id:key", i+1))
		case !keyIDPattern.MatchString(id):
			r.fail("API_KEYS", fmt.Sprintf("entry %d: the id must be 1-64 letters, digits, '.', '_' or '-'", i+1))
		case ids[id] && id == "default":
			r.fail("API_KEYS", fmt.Sprintf("entry %d: id \"default\" is API_KEY's", i+1))
		case ids[id]:
			r.fail("API_KEYS", fmt.Sprintf("entry %d: id %q is used twice", i+1, id))
		case len(key) < minAPIKeyLen:
			r.fail("API_KEYS", fmt.Sprintf("entry %d (id %q): the key must be at least %d characters", i+1, id, minAPIKeyLen))
		case !printable(key):
			r.fail("API_KEYS", fmt.Sprintf("entry %d (id %q): the key must be printable ASCII without spaces", i+1, id))
		case values[key]:
			r.fail("API_KEYS", fmt.Sprintf("entry %d (id %q): the key is also given to another id", i+1, id))
		default:
			ids[id], values[key] = true, true
			keys = append(keys, APIKey{ID: id, Key: key})
		}
	}
	r.keyPermissions(keys) // checked even when disabled, like the keys
	if !enabled {
		return nil
	}
	if len(keys) == 0 && len(r.list("API_KEYS")) == 0 {
		r.fail("API_KEY", "or API_KEYS must be set when API_KEY_ENABLED=true")
	}
	return keys
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (r *reader) oidc() OIDC {
	o := OIDC{
		Enabled:          r.boolean("AUTH_OIDC_ENABLED", false),
		Issuer:           r.str("AUTH_OIDC_ISSUER", ""),
		Audience:         r.str("AUTH_OIDC_AUDIENCE", ""),
		JWKSURL:          r.str("AUTH_OIDC_JWKS_URL", ""),
		PermissionsClaim: r.str("AUTH_OIDC_PERMISSIONS_CLAIM", "permissions"),
	}
	if !o.Enabled {
		return o
	}
	if o.Issuer == "" {
		r.fail("AUTH_OIDC_ISSUER", "must be set when AUTH_OIDC_ENABLED=true (the tokens' iss, e.g. https://idp.example/realms/flowker)")
	} else {
		r.secureURL("AUTH_OIDC_ISSUER", o.Issuer)
	}
	if o.Audience == "" {
		r.fail("AUTH_OIDC_AUDIENCE", "must be set when AUTH_OIDC_ENABLED=true (the aud the issuer puts in tokens for Flowker)")
	}
	if o.JWKSURL != "" {
		r.secureURL("AUTH_OIDC_JWKS_URL", o.JWKSURL)
	}
	return o
}

// consoleOIDC reads CONSOLE_OIDC_*: only with AUTH_OIDC_ENABLED, since the
// console signs in for tokens of that issuer, which the API must accept.
func (r *reader) consoleOIDC(o OIDC) ConsoleOIDC {
	c := ConsoleOIDC{ClientID: r.str("CONSOLE_OIDC_CLIENT_ID", ""), Scopes: r.str("CONSOLE_OIDC_SCOPES", "openid")}
	extra := r.list("CONSOLE_OIDC_CONNECT_ORIGINS")
	if c.ClientID == "" {
		if len(extra) > 0 {
			r.fail("CONSOLE_OIDC_CONNECT_ORIGINS", "is set without CONSOLE_OIDC_CLIENT_ID (it is used by the console's OIDC sign-in only)")
		}
		return ConsoleOIDC{} // no sign-in: nothing else applies
	}
	if !o.Enabled {
		r.fail("CONSOLE_OIDC_CLIENT_ID", "is set but AUTH_OIDC_ENABLED is not true: the console signs in for "+
			"AUTH_OIDC_ISSUER's tokens, which the API accepts only with AUTH_OIDC_ENABLED=true")
		return c
	}
	if len(c.ClientID) > 255 || !printable(c.ClientID) {
		r.fail("CONSOLE_OIDC_CLIENT_ID", "must be at most 255 printable ASCII characters without spaces")
	}
	scopes := strings.Fields(c.Scopes)
	for _, s := range scopes {
		if !scopeToken.MatchString(s) {
			r.fail("CONSOLE_OIDC_SCOPES", fmt.Sprintf("has %q; scopes are space-separated tokens without quotes or backslashes", s))
		}
	}
	if !slices.Contains(scopes, "openid") {
		r.fail("CONSOLE_OIDC_SCOPES", "must include openid (the console checks the ID token's nonce)")
	}
	c.Scopes = strings.Join(scopes, " ")
	if issuer, ok := webOrigin(o.Issuer); ok {
		c.ConnectOrigins = append(c.ConnectOrigins, issuer)
	} else if o.Issuer != "" {
		r.fail("CONSOLE_OIDC_CLIENT_ID", "needs an AUTH_OIDC_ISSUER whose host is a DNS name or IP address (the console fetches from it)")
	}
	for _, raw := range extra {
		origin, ok := webOrigin(raw)
		switch {
		case !ok || origin != strings.ToLower(strings.TrimSuffix(raw, "/")):
			r.fail("CONSOLE_OIDC_CONNECT_ORIGINS", fmt.Sprintf("has %q; must be origins (https://host[:port], no path), comma-separated", raw))
		case strings.HasPrefix(origin, "http:") && !loopbackOrigin(origin):
			r.fail("CONSOLE_OIDC_CONNECT_ORIGINS", fmt.Sprintf("has %q; must use https:// (http:// is accepted only for localhost)", raw))
		case !slices.Contains(c.ConnectOrigins, origin):
			c.ConnectOrigins = append(c.ConnectOrigins, origin)
		}
	}
	return c
}

// scopeToken is an OAuth 2.0 scope (RFC 6749 section 3.3).
var scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

// originHost is a host[:port] safe to write into a CSP source list.
var originHost = regexp.MustCompile(`^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$`)

// webOrigin is the http(s) origin of an absolute URL, lower-cased; false
// for anything else (another scheme, user information, odd host characters).
func webOrigin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if !originHost.MatchString(host) {
		return "", false
	}
	return u.Scheme + "://" + host, true
}

// secureURL accepts https URLs, and http ones only to a loopback host:
// signing keys fetched over plain HTTP could be replaced on the way.
func (r *reader) secureURL(name, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		r.fail(name, fmt.Sprintf("is %q; must be an absolute https:// URL", raw))
		return
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		r.fail(name, fmt.Sprintf("is %q; must use https:// (http:// is accepted only for localhost)", raw))
	}
}

func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && loopbackHost(u.Hostname())
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// prefixes reads a comma-separated list of IP addresses and CIDR ranges.
func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range r.list(name) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			r.fail(name, fmt.Sprintf("has %q; must be IP addresses or CIDR ranges (10.0.0.0/8), comma-separated", s))
		}
	}
	return out
}

// publicURL checks PUBLIC_URL (an http or https origin, optionally with a
// path prefix, no query) or derives http://localhost:<port> from the
// listen address. No trailing slash.
func (r *reader) publicURL(v, listen string) string {
	if v == "" {
		_, port, err := net.SplitHostPort(listen)
		if err != nil || port == "" {
			port = "4021"
		}
		return "http://localhost:" + port
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" ||
		u.Fragment != "" || u.User != nil {
		r.fail("PUBLIC_URL", "must be an http:// or https:// URL without query, fragment or user info, such as https://flowker.example.com")
		return v
	}
	return strings.TrimRight(v, "/")
}
