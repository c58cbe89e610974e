package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSumRuns: runs of one load taken around another add up to their
// executions over their time, their CPU and PostgreSQL's work over their
// executions; the runs' own figures are left as they were, and a run that
// was not measured makes the sum an error.
func TestSumRuns(t *testing.T) {
	t.Parallel()
	first := throughput{completed: 1000, elapsed: time.Second, perSec: 1000, cpuPerExec: 500 * time.Microsecond,
		pg: &pgWork{cpuOK: true, walOK: true, cpu: 100 * time.Millisecond, walBytes: 4000}}
	second := throughput{completed: 2990, failed: 10, elapsed: 2 * time.Second, perSec: 1500,
		cpuPerExec: 300 * time.Microsecond, rssAfter: 7,
		pg: &pgWork{cpuOK: true, walOK: false, cpu: 300 * time.Millisecond, walBytes: 12000}}
	sum := sumRuns(first, second)
	require.NoError(t, sum.err)
	require.InDelta(t, 4000.0/3, sum.perSec, 1e-9)
	require.Equal(t, 350*time.Microsecond, sum.cpuPerExec)
	require.Equal(t, 3990, sum.completed)
	require.Equal(t, 10, sum.failed)
	require.Equal(t, int64(7), sum.rssAfter)
	require.Equal(t, 100*time.Microsecond, sum.pg.cpuPerExec)
	require.True(t, sum.pg.cpuOK)
	require.False(t, sum.pg.walOK, "one run's WAL was not read")
	require.Equal(t, "0.10 ms / —", sum.pg.text())
	require.Equal(t, 100*time.Millisecond, first.pg.cpu, "a run's own work is not changed")
	require.Zero(t, first.pg.cpuPerExec)

	require.Nil(t, sumRuns(throughput{completed: 1, elapsed: time.Second, perSec: 1}).pg, "SQLite has no PostgreSQL work")
	unmeasured := sumRuns(first, throughput{})
	require.Error(t, unmeasured.err)
	require.False(t, unmeasured.measured())
}
