package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The callback token is the callback's credential: no log line names it,
// neither the access log (LOG_LEVEL=debug: it names the route template)
// nor the error log of a failed request (its path, with the token
// redacted). Every log line of the server and its engine is checked.
func TestCallbackTokenNotLogged(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	e := newKeyedFlowEnv(t, zap.New(core), nil, "")
	id, path := e.waitingForCallback()
	token := strings.TrimPrefix(path, "/v1/callbacks/")
	e.expect(e.callBack(path, map[string]any{"x": 1}), http.StatusAccepted, "")
	e.await(id, "completed")
	e.expect(e.callBack(path, map[string]any{}), http.StatusConflict, "FLK-0525")
	e.expect(e.callBack(path+"x", map[string]any{}), http.StatusNotFound, "FLK-0524")
	require.NoError(t, e.store.Close()) // the database is gone: a 503, logged with the request's path
	e.expect(e.callBack(path, map[string]any{}), http.StatusServiceUnavailable, "FLK-0012")

	accessLogged, errorLogged := 0, 0
	for _, entry := range logs.All() {
		fields := entry.ContextMap()
		line := entry.Message
		for k, v := range fields {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		require.NotContains(t, line, token[8:], "a log line holds the callback token")
		if entry.Message == "request" && fields["http.route"] == "/v1/callbacks/:token" {
			accessLogged++
		}
		if entry.Message == "request failed" && fields["operation"] == "POST /v1/callbacks/:token" {
			require.Equal(t, "/v1/callbacks/REDACTED", fields["http.path"])
			errorLogged++
		}
	}
	require.Equal(t, 4, accessLogged, "each callback request is in the access log")
	require.Equal(t, 1, errorLogged, "the failed one in the error log")
}
