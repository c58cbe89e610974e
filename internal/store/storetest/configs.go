package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// ProviderConfig builds an active provider configuration fixture.
func ProviderConfig(name, providerID string, now time.Time) *flow.ProviderConfig {
	return &flow.ProviderConfig{
		ID: uuid.New(), Name: name, Description: "fixture", ProviderID: providerID,
		Config: map[string]any{"base_url": "https://p.example", "api_key": "enc:v1:opaque",
			"headers": map[string]any{"Accept": "application/json"}},
		Status: flow.ConfigActive, Metadata: map[string]any{"env": "test"}, Revision: 1,
		CreatedAt: now, UpdatedAt: now,
	}
}

// ExecutorConfig builds an unconfigured executor configuration fixture.
func ExecutorConfig(name string, now time.Time) *flow.ExecutorConfig {
	return &flow.ExecutorConfig{
		ID: uuid.New(), Name: name, BaseURL: "https://kyc.example",
		Endpoints:      []flow.Endpoint{{Name: "check", Path: "/v1/check", Method: "POST", Timeout: 10}},
		Authentication: flow.Authentication{Type: "bearer", Config: map[string]any{"token": "enc:v1:opaque"}},
		Status:         flow.ConfigUnconfigured, Metadata: map[string]any{}, Revision: 1, CreatedAt: now, UpdatedAt: now,
	}
}

func testProviderConfigs(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	p := ProviderConfig("tracer-prod", "tracer", c.Now())
	require.NoError(t, s.CreateProviderConfig(ctx, p))
	got, err := s.GetProviderConfig(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, p, got)
	_, err = s.GetProviderConfig(ctx, uuid.New())
	require.ErrorIs(t, err, flow.ErrProviderConfigNotFound)
	require.ErrorIs(t, s.CreateProviderConfig(ctx, ProviderConfig("tracer-prod", "midaz", c.Now())),
		flow.ErrProviderConfigNameUsed)

	rev, err := s.ProviderConfigRevision(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 1, rev)
	_, err = s.ProviderConfigRevision(ctx, uuid.New())
	require.ErrorIs(t, err, flow.ErrProviderConfigNotFound)

	require.NoError(t, p.SetStatus(flow.ConfigDisabled, c.Now()))
	require.NoError(t, s.UpdateProviderConfig(ctx, p, 1))
	require.ErrorIs(t, s.UpdateProviderConfig(ctx, p, 1), flow.ErrStateChanged)
	rev, err = s.ProviderConfigRevision(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 2, rev, "a disable is a new revision: the engine's cached copy is stale")

	for _, n := range []string{"midaz-a", "midaz-b"} {
		require.NoError(t, s.CreateProviderConfig(ctx, ProviderConfig(n, "midaz", c.Now())))
	}
	list := func(f flow.ConfigFilter) []string {
		f.Page = flow.PageRequest{Limit: 10, SortBy: "name"}
		page, err := s.ListProviderConfigs(ctx, f)
		require.NoError(t, err)
		names := make([]string, len(page.Items))
		for i, it := range page.Items {
			names[i] = it.Name
		}
		return names
	}
	require.Equal(t, []string{"midaz-a", "midaz-b"}, list(flow.ConfigFilter{ProviderID: "midaz"}))
	require.Equal(t, []string{"tracer-prod"}, list(flow.ConfigFilter{Status: flow.ConfigDisabled}))
	require.Equal(t, []string{"midaz-a", "midaz-b"}, list(flow.ConfigFilter{ProviderID: "midaz", Status: flow.ConfigActive}))
	require.Equal(t, []string{"midaz-b"}, list(flow.ConfigFilter{Name: "midaz-b"}))

	require.ErrorIs(t, s.DeleteProviderConfig(ctx, p.ID, 1), flow.ErrStateChanged)
	require.NoError(t, s.DeleteProviderConfig(ctx, p.ID, 2))
	require.ErrorIs(t, s.DeleteProviderConfig(ctx, p.ID, 2), flow.ErrProviderConfigNotFound)
}

func testExecutorConfigs(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	e := ExecutorConfig("kyc", c.Now())
	require.NoError(t, s.CreateExecutorConfig(ctx, e))
	got, err := s.GetExecutorConfig(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, e, got)
	require.Nil(t, got.LastTestedAt)
	require.ErrorIs(t, s.CreateExecutorConfig(ctx, ExecutorConfig("kyc", c.Now())), flow.ErrExecutorConfigNameUsed)

	require.NoError(t, e.Apply("configure", c.Now()))
	require.NoError(t, e.Apply("test", c.Now()))
	require.NoError(t, s.UpdateExecutorConfig(ctx, e, 1))
	got, err = s.GetExecutorConfig(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, flow.ConfigTested, got.Status)
	require.NotNil(t, got.LastTestedAt)
	require.Equal(t, *e.LastTestedAt, *got.LastTestedAt)

	require.NoError(t, s.CreateExecutorConfig(ctx, ExecutorConfig("aml", c.Now())))
	page, err := s.ListExecutorConfigs(ctx, flow.ConfigFilter{Status: flow.ConfigTested,
		Page: flow.PageRequest{Limit: 10, SortBy: "createdAt"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, "kyc", page.Items[0].Name)

	require.ErrorIs(t, s.DeleteExecutorConfig(ctx, uuid.New(), 1), flow.ErrExecutorConfigNotFound)
	require.NoError(t, s.DeleteExecutorConfig(ctx, e.ID, 3))
}

// testRevisionReadsUnderLoad: revision reads are shared between callers
// under load, yet a read asked for after a change committed always sees
// it, while other reads of the same row are running.
func testRevisionReadsUnderLoad(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := NewClock()
	p := ProviderConfig("revisions-under-load", "tracer", c.Now())
	require.NoError(t, s.CreateProviderConfig(ctx, p))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range 8 { // readers keeping shared reads in flight
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = s.ProviderConfigRevision(ctx, p.ID)
			}
		})
	}
	for rev := 1; rev <= 60; rev++ {
		if rev > 1 {
			p.Description, p.Revision = fmt.Sprintf("edit %d", rev), rev
			require.NoError(t, s.UpdateProviderConfig(ctx, p, rev-1))
		}
		got, err := s.ProviderConfigRevision(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, rev, got, "read after revision %d committed", rev)
	}
}
