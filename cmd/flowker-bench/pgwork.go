package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"
)

// PostgreSQL's own work over a load run, beside the server's CPU: on two
// cores the database competes with Flowker for the same CPU, and work moved
// from Flowker into SQL (audit events chained on the server, say) would
// otherwise lower Flowker's CPU per execution and show nowhere. Read the
// same way for Flowker and the ceiling:
//   - CPU: user+system time of the database's processes, from /proc: the
//     backends of the bench's database and the server's own processes (no
//     database: checkpointer, WAL writer, background writer, autovacuum
//     launcher). A process that exits during the run (an autovacuum worker)
//     takes its time with it, so this is a lower bound. Only when the server
//     runs on this machine (its processes are named postgres here).
//   - WAL: bytes written, the difference of pg_current_wal_lsn (the whole
//     cluster's: nothing else should write to it during a bench), exact at
//     once where pg_stat_wal lags by up to a second.

// pgWork is a reading (readPGWork: cpu and walBytes so far, pids) or the
// work between two (since: the differences, and per execution).
type pgWork struct {
	cpu        time.Duration
	walBytes   int64 // a reading: the WAL's position in bytes
	cpuOK      bool
	walOK      bool
	pids       map[int]time.Duration // a reading: CPU so far of each process counted
	cpuPerExec time.Duration
	walPerExec float64
}

// readPGWork takes a reading on db, a connection to the bench's database;
// nil for a database that is not PostgreSQL.
func readPGWork(ctx context.Context, db *sql.DB) *pgWork {
	if db == nil {
		return nil
	}
	w := &pgWork{pids: map[int]time.Duration{}}
	w.walOK = db.QueryRowContext(ctx, `SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS bigint)`).
		Scan(&w.walBytes) == nil
	rows, err := db.QueryContext(ctx,
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL`)
	if err != nil {
		return w
	}
	defer rows.Close()
	w.cpuOK = true
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			continue
		}
		switch comm := processName(pid); {
		case comm == "": // gone since the query (or on another machine: then none is found)
			continue
		case !strings.HasPrefix(comm, "postgres"):
			w.cpuOK = false // the server's pid is another process here: the server is elsewhere
			continue
		}
		if t, err := cpuTime(pid); err == nil {
			w.pids[pid] = t
		}
	}
	if rows.Err() != nil || len(w.pids) == 0 {
		w.cpuOK = false
	}
	return w
}

// processName is pid's command name on this machine, "" for none.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// since is the work between start and w, per one of n executions: each
// process's CPU since start, or all of it for one started since.
func (w *pgWork) since(start *pgWork, n int) *pgWork {
	if w == nil || start == nil || n <= 0 {
		return nil
	}
	out := &pgWork{cpuOK: w.cpuOK && start.cpuOK, walOK: w.walOK && start.walOK}
	if out.cpuOK {
		for pid, t := range w.pids {
			out.cpu += t - start.pids[pid]
		}
	}
	if out.walOK {
		out.walBytes = w.walBytes - start.walBytes
	}
	out.perExec(n)
	return out
}

// plus is a sum's work (w: nil, or one plus made) with a run's added; perExec
// then divides it by the runs' executions. The run's own is not changed.
func (w *pgWork) plus(run *pgWork) *pgWork {
	if run == nil {
		return w
	}
	sum := pgWork{cpuOK: true, walOK: true}
	if w != nil {
		sum = *w
	}
	return &pgWork{cpuOK: sum.cpuOK && run.cpuOK, walOK: sum.walOK && run.walOK, cpu: sum.cpu + run.cpu,
		walBytes: sum.walBytes + run.walBytes}
}

// perExec sets the work per execution, of n.
func (w *pgWork) perExec(n int) {
	w.cpuPerExec = w.cpu / time.Duration(n)
	w.walPerExec = float64(w.walBytes) / float64(n)
}

// text is the report's cell: CPU per execution / WAL per execution.
func (w *pgWork) text() string {
	if w == nil || (!w.cpuOK && !w.walOK) {
		return "—"
	}
	cpu, wal := "—", "—"
	if w.cpuOK {
		cpu = ms(w.cpuPerExec)
	}
	if w.walOK {
		wal = fmt.Sprintf("%.1f KB", w.walPerExec/1000)
	}
	return cpu + " / " + wal
}
