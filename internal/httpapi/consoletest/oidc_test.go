package consoletest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

const (
	consoleClientID = "flowker-console"
	apiAudience     = "flowker-api"
)

// oidcEnv makes a server accept tokens of idp and the console sign in there.
func oidcEnv(idp *fakeIDP, more map[string]string) map[string]string {
	env := map[string]string{"AUTH_OIDC_ENABLED": "true", "AUTH_OIDC_ISSUER": idp.URL(), "AUTH_OIDC_AUDIENCE": apiAudience,
		"CONSOLE_OIDC_CLIENT_ID": consoleClientID}
	for k, v := range more {
		env[k] = v
	}
	return env
}

var (
	readOnlyUser = idpUser{sub: "ana.analyst", perms: strings.Split(readerPerms, "|")}
	managerUser  = idpUser{sub: "olga.operator", perms: []string{"workflows:manage", "executions:manage",
		"provider-configurations:manage", "executor-configurations:manage", "dashboards:read", "catalog:read", "audit-events:read"}}
)

// TestConsoleOIDC: sign-in at the issuer with PKCE (authorization code
// flow), a read-only token then a manager's, and the refusals: a wrong
// code_verifier, a forged state, an expired token.
func TestConsoleOIDC(t *testing.T) {
	idp := newFakeIDP(t, consoleClientID, apiAudience)
	f, active, failed := permissionFixture(t, oidcEnv(idp, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": adminKey}))
	idp.allow(f.base)

	// The server announces the issuer and client id, and lets the console
	// fetch from the issuer's origin (discovery, token endpoint).
	index, csp := get(t, f.base+"/console/workflows")
	require.Contains(t, index, `<meta name="flowker-oidc-issuer" content="`+idp.URL()+`">`)
	require.Contains(t, index, `<meta name="flowker-oidc-client-id" content="flowker-console">`)
	require.Contains(t, csp, "connect-src 'self' "+idp.URL()+";")

	b := newBrowser(t, f.base)
	b.open("/console/workflows/"+active, "[data-testid=oidc-sign-in]")
	b.waitText("[data-testid=oidc-sign-in]", "Sign in with "+strings.TrimPrefix(idp.URL(), "http://"))
	require.True(t, eval[bool](b, `!!document.querySelector("[data-testid=key-input]")`), "the server takes API keys too")
	b.shot("17-sign-in")

	// A read-only token: back on the page it started from, no write controls.
	idp.signInNext(readOnlyUser)
	b.click("[data-testid=oidc-sign-in]")
	b.waitText("[data-testid=actor]", "ana.analyst")
	b.waitText("[data-testid=workflow-name]", "card-limits")
	require.Equal(t, "/console/workflows/"+active, eval[string](b, `location.pathname + location.search`), "no code or state left in the URL")
	require.NotEmpty(t, eval[string](b, `sessionStorage.getItem("flowker.oidc.token") || ""`))
	require.Empty(t, eval[string](b, `sessionStorage.getItem("flowker.oidc.pending") || ""`))
	require.Zero(t, eval[int](b, `localStorage.length`), "nothing in localStorage")
	history, err := chromedp.Call(b.ctx, page.GetNavigationHistory, cdp.Empty{})
	require.NoError(t, err)
	for _, e := range history.Entries {
		require.False(t, strings.HasPrefix(e.URL, f.base) && strings.Contains(e.URL, "code="), "the code stays in no history entry: %s", e.URL)
	}
	b.waitText("main .actions", "Executions")
	require.Empty(t, eval[[]any](b, writeControls), "a read-only token sees no write controls")
	b.open("/console/executions/"+failed, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "failed")
	require.Empty(t, eval[[]any](b, writeControls))
	b.open("/console/workflows", "[data-testid=workflows-table]")
	b.waitText("[data-testid=workflows-table]", "card-limits")
	require.Empty(t, eval[[]any](b, writeControls))
	b.waitText("[data-testid=actor]", "read only")
	b.shot("18-signed-in-read-only")

	// Sign out drops the token; a manager's token sees the write controls.
	b.click("[data-testid=sign-out]")
	b.waitText("[data-testid=sign-in-reason]", "Signed out")
	require.Empty(t, eval[string](b, `sessionStorage.getItem("flowker.oidc.token") || ""`))
	idp.signInNext(managerUser)
	b.open("/console/executions/"+failed, "[data-testid=oidc-sign-in]")
	b.click("[data-testid=oidc-sign-in]")
	b.waitText("[data-testid=actor]", "olga.operator")
	b.waitFor("retry offered", `!!document.querySelector("[data-testid=retry]")`)
	b.open("/console/workflows/"+active, "[data-testid=deactivate]")
	require.True(t, eval[bool](b, `!!document.querySelector("[data-testid=clone]") && !!document.querySelector("[data-testid=start-execution]")`))

	// A wrong code_verifier: the fake refuses the exchange, the console says so.
	b.click("[data-testid=sign-out]")
	idp.holdNext(true)
	b.click("[data-testid=oidc-sign-in]")
	b.waitFor("the authorization request", `location.href.startsWith(`+jsString(idp.URL())+`)`)
	held := idp.heldRedirect()
	require.True(t, strings.HasPrefix(held, f.base+"/console/callback?code="), held)
	b.open("/console/executions", "[data-testid=oidc-sign-in]") // back in the console's origin, this tab
	require.True(t, eval[bool](b, `(() => { const p = JSON.parse(sessionStorage.getItem("flowker.oidc.pending"));
		p.verifier = "x".repeat(43); sessionStorage.setItem("flowker.oidc.pending", JSON.stringify(p)); return true })()`))
	b.run(navigate(held))
	b.waitText("[data-testid=sign-in-reason]", "Sign-in failed")
	b.waitText("[data-testid=sign-in-reason]", "code_verifier does not match")
	require.Contains(t, idp.refusals(), "code_verifier does not match the code_challenge")
	require.Empty(t, eval[string](b, `sessionStorage.getItem("flowker.oidc.token") || ""`))
	require.NotContains(t, eval[string](b, `location.href`), "code=", "the code is taken off the address bar")
	b.shot("19-sign-in-refused")

	// A forged state: refused before any exchange.
	b.click("[data-testid=oidc-sign-in]")
	b.waitFor("the authorization request", `location.href.startsWith(`+jsString(idp.URL())+`)`)
	forged := strings.Replace(idp.heldRedirect(), "state=", "state=forged", 1)
	refusals := len(idp.refusals())
	b.run(navigate(forged))
	b.waitText("[data-testid=sign-in-reason]", "state does not match")
	require.Len(t, idp.refusals(), refusals, "no code exchange was attempted")

	// An expired token: the API's 401 sends the console back to sign-in.
	idp.holdNext(false)
	idp.signInNext(idpUser{sub: "late.larry", perms: managerUser.perms, ttl: -2 * time.Minute})
	b.click("[data-testid=oidc-sign-in]")
	b.waitText("[data-testid=sign-in-reason]", "expired")
	require.Empty(t, eval[string](b, `sessionStorage.getItem("flowker.oidc.token") || ""`))
	b.clean("401", "400")
}

// TestConsoleOIDCOnly: with bearer tokens as the only credential, the
// sign-in screen offers the issuer and no API key field.
func TestConsoleOIDCOnly(t *testing.T) {
	idp := newFakeIDP(t, consoleClientID, apiAudience)
	s := newServer(t, oidcEnv(idp, map[string]string{"CONSOLE_OIDC_SCOPES": "openid profile"}))
	idp.allow(s.base)
	b := newBrowser(t, s.base)
	b.open("/console", "[data-testid=oidc-sign-in]")
	require.False(t, eval[bool](b, `!!document.querySelector("[data-testid=key-input]")`), "no API key field")
	idp.signInNext(managerUser)
	b.click("[data-testid=oidc-sign-in]")
	b.waitText("[data-testid=actor]", "olga.operator")
	b.waitFor("the dashboard", `!!document.querySelector("[data-testid=exec-chart]")`)
	b.clean("401")
}

// navigate loads a full URL in the tab (another origin's, or a callback).
func navigate(url string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(url) }

// get fetches a console page and returns its body and CSP.
func get(t *testing.T, url string) (body, csp string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw), resp.Header.Get("Content-Security-Policy")
}
