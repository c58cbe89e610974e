package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/storetest"
)

// A running execution's progress write changes no indexed column, so
// PostgreSQL can write the new version beside the old one (a HOT update: no
// entry added to any of the table's indexes) if the page has room; pages
// filled by inserts alone have none unless the table's fillfactor keeps
// some (migration 00007). Executions inserted together, each with a
// progress write, all keep their page, and every write is HOT.
func TestProgressWritesKeepTheirPage(t *testing.T) {
	t.Parallel()
	s, raw := openWithRaw(t, 4)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	wf, input := uuid.New(), map[string]any{"note": strings.Repeat("x", 600)} // rows of about 750 bytes
	var es []*flow.Execution
	for range 40 {
		e := storetest.Execution(wf, flow.ExecRunning, now, "me", now.Add(time.Minute))
		e.Input = input
		es = append(es, e)
	}
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		for _, e := range es {
			if err := tx.CreateExecution(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}))
	page := func(e *flow.Execution) (p string) {
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT (ctid::text::point)[0]::text FROM executions WHERE id = $1`,
			e.ID).Scan(&p))
		return p
	}
	before := make([]string, len(es))
	for i, e := range es {
		before[i] = page(e)
	}
	kept := 0
	for i, e := range es {
		progress := *e
		progress.CurrentStep, progress.UpdatedAt = 1, now.Add(time.Second)
		progress.Output = map[string]any{"step": "one"}
		require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", &progress, nil, nil)
		}))
		if page(e) == before[i] {
			kept++
		}
	}
	// Rows of about 750 bytes, five to a half-filled page: the free half
	// holds every row's next version (a little larger, with its output)
	// with no dead version to prune first, which a concurrent snapshot
	// could prevent; much larger rows would not all fit. Without the
	// migration, the first update on each full page moves.
	require.Equal(t, len(es), kept, "progress writes that kept their row's page")

	// Keeping the page is not enough for a HOT update: an index on a column
	// the write sets would need a new entry. The statistics say how many
	// were HOT once the writing session has reported them (within seconds).
	var updated, hot int64
	require.Eventually(t, func() bool {
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
			WHERE relid = 'executions'::regclass`).Scan(&updated, &hot))
		return updated >= int64(len(es))
	}, 20*time.Second, 100*time.Millisecond)
	require.EqualValues(t, len(es), hot, "HOT updates of %d", updated)
}
