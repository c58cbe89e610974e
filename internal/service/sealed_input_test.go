package service_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/catalog"
	"flowker/internal/engine" //nolint:depguard // what is regressed is what the engine sends once it reads the row back
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/provider/providertest"
	"flowker/internal/secret"
	"flowker/internal/service"
	"flowker/internal/store/storetest"
)

// sealedTestKey is the key of the service and of the box the test reads
// the stored rows with.
var sealedTestKey = bytes.Repeat([]byte{7}, secret.KeySize)

// serviceWithEngine is a service with a real engine on a store on url.
func serviceWithEngine(t *testing.T, url string) *service.Service {
	t.Helper()
	box, err := secret.NewBox(sealedTestKey)
	require.NoError(t, err)
	client := provider.New(provider.Options{AllowPrivate: true})
	st := openPostgres(t, url)
	eng := engine.New(st, box, catalog.Default(), client, zap.NewNop(), nil, engine.Options{
		Retry: engine.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}})
	require.NoError(t, eng.Start(context.Background()))
	t.Cleanup(func() { eng.Stop(2 * time.Second) })
	return service.New(st, box, service.WithHTTPClient(client), service.WithDispatcher(eng))
}

// TestSealedInputOfAnotherExecutionIsNeverOpened: execution B sends, as
// its own password, the ciphertext execution A's input holds at the same
// place (read from a backup, a dump: whoever reads the database), and a
// provider of B answers with it too. Sealing kept a ciphertext "already
// sealed by this box for this place" as it was, and every run that reads
// the row back (a retry here; a queued start, a rescue after kill -9 read
// it the same way) opened it: B's retry sent A's password to B's provider,
// while its first attempt, from the plaintext handed over at the start,
// sent the ciphertext (found by a defect hunt). What a client sends reads
// back exactly as sent, on every run; B's row holds its text sealed for B.
func TestSealedInputOfAnotherExecutionIsNeverOpened(t *testing.T) {
	url := storetest.PostgresURL(t)
	raw := openPostgres(t, url)
	svc := serviceWithEngine(t, url)
	box, err := secret.NewBox(sealedTestKey)
	require.NoError(t, err)
	fake := providertest.New(t)
	ctx := context.Background()
	pc, err := svc.CreateProviderConfig(ctx, flow.ProviderConfig{Name: "leak", ProviderID: "http",
		Config: map[string]any{"base_url": fake.URL}})
	require.NoError(t, err)
	call := func(id, path string, mapping ...any) flow.Node {
		data := map[string]any{"executorId": "http.request", "providerConfigId": pc.ID.String(),
			"method": "POST", "path": path}
		if mapping != nil {
			data["inputMapping"] = mapping
		}
		return flow.Node{ID: id, Type: flow.NodeExecutor, Data: data}
	}
	w, err := svc.CreateWorkflow(ctx, flow.Definition{Name: "leak", Nodes: []flow.Node{
		{ID: "start", Type: flow.NodeTrigger, Data: map[string]any{"triggerId": "api"}},
		call("echo", "/echo"),
		call("a", "/leak",
			map[string]any{"source": "workflow.password", "target": "password"},
			map[string]any{"source": "nodes.echo.body.token", "target": "token"})},
		Edges: []flow.Edge{{ID: "e1", Source: "start", Target: "echo"}, {ID: "e2", Source: "echo", Target: "a"}}})
	require.NoError(t, err)
	_, err = svc.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)

	const secretOfA = "s3cret-of-A"
	fake.Enqueue("/echo", providertest.Response{Body: `{"token":"none"}`})
	resA, err := svc.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID, IdempotencyKey: "A",
		Input: map[string]any{"password": secretOfA}, Wait: 5 * time.Second})
	require.NoError(t, err)
	require.NotNil(t, resA.Results)
	require.Equal(t, flow.ExecCompleted, resA.Results.Execution.Status)
	storedA, err := raw.GetExecution(ctx, resA.Execution.ID)
	require.NoError(t, err)
	cipher, _ := storedA.Input["password"].(string)
	require.True(t, secret.IsSealed(cipher), "A's password is sealed at rest: %v", storedA.Input)

	// B sends A's ciphertext as its own password, and its provider echoes
	// it back; B's first call is refused, then B is retried.
	fake.Respond("/echo", providertest.Response{Body: `{"token":"` + cipher + `"}`})
	fake.Enqueue("/leak", providertest.Response{Status: 400, Body: `{"error":"bad"}`})
	inputB := map[string]any{"password": cipher}
	resB, err := svc.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID, IdempotencyKey: "B",
		Input: inputB, Wait: 5 * time.Second})
	require.NoError(t, err)
	require.NotNil(t, resB.Results)
	require.Equal(t, flow.ExecFailed, resB.Results.Execution.Status)
	_, err = svc.RetryExecution(ctx, resB.Execution.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ex, err := raw.GetExecution(ctx, resB.Execution.ID)
		return err == nil && ex.Status.Terminal()
	}, 10*time.Second, 10*time.Millisecond)
	storedB, err := raw.GetExecution(ctx, resB.Execution.ID)
	require.NoError(t, err)
	require.Equal(t, flow.ExecCompleted, storedB.Status)

	var bodies []string
	for _, r := range fake.RequestsTo("/leak") {
		if strings.HasPrefix(r.Header.Get("Idempotency-Key"), resB.Execution.ID.String()) {
			bodies = append(bodies, string(r.Body))
		}
	}
	require.Len(t, bodies, 2, "B's first call and its retry")
	for i, b := range bodies {
		require.NotContains(t, b, secretOfA, "B's call #%d carries A's password, opened from the ciphertext B sent", i+1)
		require.JSONEq(t, `{"password":"`+cipher+`","token":"`+cipher+`"}`, b, "B's call #%d sends what B sent", i+1)
	}

	// B's row holds what B sent sealed, for B: not A's ciphertext as it was.
	sealedB, _ := storedB.Input["password"].(string)
	require.True(t, secret.IsSealed(sealedB))
	require.NotEqual(t, cipher, sealedB)
	opened, err := box.OpenInput(resB.Execution.ID, storedB.Input)
	require.NoError(t, err)
	require.Equal(t, inputB, opened)
	_, err = box.OpenInput(resB.Execution.ID, storedA.Input)
	require.Error(t, err, "A's input does not open as B's")
}
