package provider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// A token endpoint written in PHP (json_encode escapes '/' as "\/" by
// default) echoing the form writes a base64 client secret holding '/' as
// "Ab\/Cd…": a form the redactor did not know, so the secret reached the
// AuthError, the connectivity test's stage error (found by a review).
func TestSlashEscapedSecretIsRedacted(t *testing.T) {
	t.Parallel()
	const secret = "Kq9/SECRET+zX/0001=="
	srv := providertest.New(t)
	srv.HandleFunc(providertest.TokenPath, func(r providertest.Request) providertest.Response {
		form, _ := url.ParseQuery(string(r.Body))
		echoed := strings.ReplaceAll(form.Get("client_secret"), "/", `\/`)
		return providertest.Response{Status: http.StatusUnauthorized,
			Body: `{"error":"invalid_client","received":{"client_secret":"` + echoed + `"}}`}
	})
	auth := Auth{Type: AuthOAuth2ClientCredentials, TokenURL: srv.TokenURL(), ClientID: "svc",
		ClientSecret: secret, AuthMethod: AuthMethodPost}
	_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL, Auth: auth})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SECRET", "the client secret, echoed with '/' escaped, is in the error")
}
