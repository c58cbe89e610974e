package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
)

// A limit tightened by an upgrade applies to stored revisions too: an
// active workflow whose revision no longer compiles fails each execution
// "cannot run" (noticed by a review). The engine says so once, at start,
// naming the workflow; the others start as before.
func TestStartReportsActiveWorkflowsThatNoLongerCompile(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := context.Background()
	chain := "[1]" + strings.Repeat(".map(x, {1: x})", 12) + ".size() > 0" // macros nested past the limit
	active := func(name, condition string) uuid.UUID {
		def := flow.Definition{Name: name, Nodes: []flow.Node{trig("t"), cond("c", condition)}, Edges: []flow.Edge{link("t", "c")}}
		w := flow.NewWorkflow(uuid.New(), def, env.eng.now())
		w.Status = flow.StatusActive
		require.NoError(t, env.raw.CreateWorkflow(ctx, w))
		require.NoError(t, env.raw.SaveWorkflowVersion(ctx, &flow.WorkflowVersion{WorkflowID: w.ID, Revision: w.Revision,
			Definition: def, CreatedAt: env.eng.now()}))
		return w.ID
	}
	stale := active("stale-limits", chain)
	active("fine", "workflow.amount > 10")

	core, logs := observer.New(zapcore.InfoLevel)
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	require.NoError(t, err)
	e := New(env.st, box, catalog.Default(), provider.New(provider.Options{AllowPrivate: true}), zap.New(core), nil,
		Options{Owner: "second", HeartbeatInterval: time.Hour, RescueInterval: time.Hour})
	require.NoError(t, e.Start(ctx))
	defer e.Stop(time.Second)

	var reported []observer.LoggedEntry
	require.Eventually(t, func() bool { // reported beside the work, not before it
		reported = logs.FilterMessageSnippet("no longer compiles").All()
		return len(reported) > 0
	}, 5*time.Second, time.Millisecond)
	require.Len(t, reported, 1)
	require.Equal(t, stale.String(), reported[0].ContextMap()["workflow.id"])
	require.Contains(t, reported[0].ContextMap()["error.message"], "macros")
}
