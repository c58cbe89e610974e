package secret_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/secret"
)

// TestSealKeepsNoCiphertext: a value sent to Seal is never taken as
// already sealed, even a ciphertext of this box for this very place (the
// authenticated data binds a ciphertext to its place, not to its row). It
// is sealed like any other string and opens to the text sent, never to
// what it holds; re-saved after an open (what every update does), it
// stays that text. Found by a defect hunt: another execution's input
// ciphertext, sent as this one's, was kept and opened on its retry.
func TestSealKeepsNoCiphertext(t *testing.T) {
	t.Parallel()
	b := box(t)
	a, err := b.Seal(map[string]any{"password": "pw-of-A", "headers": map[string]any{"X-Api-Key": "key-of-A"}},
		"config", secret.Policy{})
	require.NoError(t, err)
	pw, key := a["password"].(string), a["headers"].(map[string]any)["X-Api-Key"].(string)
	require.True(t, secret.IsSealed(pw))

	// Sent at the same places (secret ones), and at a place that is not.
	sent := map[string]any{"password": pw, "headers": map[string]any{"X-Api-Key": key}, "note": pw}
	sealed, err := b.Seal(sent, "config", secret.Policy{})
	require.NoError(t, err)
	require.NotEqual(t, pw, sealed["password"], "sealed, not kept")
	require.NotEqual(t, key, sealed["headers"].(map[string]any)["X-Api-Key"])
	require.NotEqual(t, pw, sealed["note"])
	opened, err := b.Open(sealed, "config")
	require.NoError(t, err)
	require.Equal(t, sent, opened, "reads back as sent, not as A's secrets")

	// An update opens the stored document and seals it again: still the
	// text sent.
	resealed, err := b.Seal(opened, "config", secret.Policy{})
	require.NoError(t, err)
	reopened, err := b.Open(resealed, "config")
	require.NoError(t, err)
	require.Equal(t, sent, reopened)
}

// TestInputIsSealedForItsExecution: an execution's input authenticates its
// execution too: a ciphertext of another's does not open in it, even
// copied to the same place in the database. Rows sealed before (root
// "input") still open.
func TestInputIsSealedForItsExecution(t *testing.T) {
	t.Parallel()
	b := box(t)
	idA, idB := uuid.New(), uuid.New()
	in := map[string]any{"password": "pw-of-A", "user": "maria"}
	a, err := b.SealInput(idA, in)
	require.NoError(t, err)
	require.True(t, secret.IsSealed(a["password"]))
	require.Equal(t, "maria", a["user"])
	opened, err := b.OpenInput(idA, a)
	require.NoError(t, err)
	require.Equal(t, in, opened)

	_, err = b.OpenInput(idB, a)
	require.ErrorContains(t, err, "cannot decrypt", "A's row read as B's")
	_, err = b.OpenInput(idB, map[string]any{"password": a["password"], "user": "eve"})
	require.ErrorContains(t, err, "executions."+idB.String()+".input.password")

	// Sent by B as its input: sealed for B, read back as sent.
	sent := map[string]any{"password": a["password"]}
	bIn, err := b.SealInput(idB, sent)
	require.NoError(t, err)
	opened, err = b.OpenInput(idB, bIn)
	require.NoError(t, err)
	require.Equal(t, sent, opened)

	// A row written before inputs named their execution.
	legacy, err := b.Seal(in, "input", secret.Policy{})
	require.NoError(t, err)
	opened, err = b.OpenInput(idA, legacy)
	require.NoError(t, err)
	require.Equal(t, in, opened)
}
