package secret_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/secret"
)

// A node's destinations are compared as values: two objects at
// executorId/providerConfigId/executorConfigId panicked with == (found by
// a review); the same object is no move, another one is.
func TestKeepMaskedNodesObjectDestination(t *testing.T) {
	t.Parallel()
	n := []flow.Node{{ID: "c", Type: "conditional", Data: map[string]any{"providerConfigId": map[string]any{"a": 1.0}}}}
	stored := []flow.Node{{ID: "c", Type: "conditional", Data: map[string]any{"providerConfigId": map[string]any{"a": 1.0}}}}
	require.NotPanics(t, func() { _, _ = secret.KeepMaskedNodes(n, stored, nil) })
	_, err := secret.KeepMaskedNodes(n, stored, nil)
	require.NoError(t, err)
}
