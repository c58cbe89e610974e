package service_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// A row saved when one trailing slash was dropped per save holds
// "…/v1/" (sent as "…/v1//"). Sent back as read, renamed, with its token
// masked, it moves nothing: both URLs are compared as saved now (every
// trailing slash dropped), as the engine calls both at one place. It was
// refused 400 "changes a URL", and an operator could not even rename the
// configuration without entering its secrets again (found by a defect
// hunt).
func TestExecutorBaseURLSavedByAnOlderReleaseSentBackAsReadMovesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	s := newTestService(t, st)
	e, err := s.CreateExecutorConfig(ctx, flow.ExecutorConfig{Name: "fraud-api", BaseURL: "https://fraud.example.com/v1",
		Endpoints:      []flow.Endpoint{{Name: "check", Path: "/check", Method: "POST"}},
		Authentication: flow.Authentication{Type: "bearer", Config: map[string]any{"token": "bearer-token-0042"}}})
	require.NoError(t, err)

	// The row as the previous release saved "https://fraud.example.com/v1//".
	old, err := st.GetExecutorConfig(ctx, e.ID)
	require.NoError(t, err)
	prev := old.Revision
	old.BaseURL = "https://fraud.example.com/v1/"
	old.Touch(old.UpdatedAt)
	require.NoError(t, st.UpdateExecutorConfig(ctx, old, prev))

	read, err := s.GetExecutorConfig(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "https://fraud.example.com/v1/", read.BaseURL)
	require.NotEqual(t, "bearer-token-0042", read.Authentication.Config["token"], "masked")

	sent := flow.ExecutorConfig{Name: "fraud-api-renamed", Description: read.Description, BaseURL: read.BaseURL,
		Endpoints: read.Endpoints, Authentication: read.Authentication}
	_, err = s.UpdateExecutorConfig(ctx, e.ID, sent)
	require.NoError(t, err, "the configuration sent back as read (renamed) was taken for a URL move")
}
