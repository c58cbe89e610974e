// Package storetest is the conformance suite every store.Store must pass,
// and the helpers that give a test a fresh database of either kind.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create test schemas

	"flowker/internal/flow"
)

// PostgresURL returns a database URL whose search_path is a fresh schema,
// dropped when the test ends. Without FLOWKER_TEST_DATABASE_URL the test is
// skipped, or failed when FLOWKER_REQUIRE_TEST_DB=1 (CI sets it).
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("FLOWKER_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("FLOWKER_REQUIRE_TEST_DB") == "1" {
			t.Fatal("FLOWKER_REQUIRE_TEST_DB=1 but FLOWKER_TEST_DATABASE_URL is not set")
		}
		t.Skip("PostgreSQL tests skipped: set FLOWKER_TEST_DATABASE_URL=postgres://… to run them")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("FLOWKER_TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close()
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("FLOWKER_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Clock is a deterministic, strictly increasing time source for fixtures.
type Clock struct{ t time.Time }

// NewClock starts at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)} }

// Now advances by one millisecond and returns the new time.
func (c *Clock) Now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// Workflow builds a valid draft with a trigger and one action.
func Workflow(name string, now time.Time) *flow.Workflow {
	return flow.NewWorkflow(uuid.New(), flow.Definition{
		Name:        name,
		Description: "fixture " + name,
		Nodes: []flow.Node{
			{ID: "trigger-1", Type: flow.NodeTrigger, Position: flow.Position{X: 1, Y: 2},
				Data: map[string]any{"triggerType": "webhook"}},
			{ID: "done", Type: flow.NodeAction, Name: "Done", Data: map[string]any{"actionType": "set_output"}},
		},
		Edges:    []flow.Edge{{ID: "e1", Source: "trigger-1", Target: "done", Label: "go"}},
		Metadata: map[string]any{"team": "risk", "tier": float64(2)},
	}, now)
}

// Names returns the names of ws, for compact assertions.
func Names(ws []flow.Workflow) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

func testingCPUs() int { return runtime.GOMAXPROCS(0) }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
