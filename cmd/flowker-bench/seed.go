package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Seeding phase h's past executions straight into Flowker's tables
// (internal/store/*/migrations): finished executions of the reference
// workflow as Flowker writes them — 85 % ALLOW (3 steps, 2 provider calls),
// 10 % DENY (2 steps), 5 % failed at the ledger after 3 attempts (3 steps)
// — with JSON of the sizes Flowker stores (~3 KB an execution), half of
// them with an Idempotency-Key, spread evenly over a time window, 70 % on
// the bench's workflow and the rest on three others. The rows are made by
// the database itself (generate_series on PostgreSQL, a recursive CTE on
// SQLite), a chunk per transaction, in time order: ids and started_at
// ascend, so most indexes grow at their end. Flowker's triggers fire as for
// its own inserts (the dashboards' counts are kept by them), and on
// PostgreSQL the foreign keys are checked.
//
// If Flowker's execution tables change, this file must follow.

// seedChunk is executions per transaction.
const seedChunk = 50000

// seedPlan is what to seed.
type seedPlan struct {
	n          int
	from, to   time.Time // started_at spread over [from, to)
	workflow   string    // the bench's workflow and its revision
	revision   int
	others     [3]string // three more workflow ids
	tracerConf string    // provider configuration ids named in call details
	midazConf  string
}

// seedDialect writes the few expressions SQLite and PostgreSQL spell
// differently.
type seedDialect struct{ pg bool }

// pad is an integer as zero-padded decimal text of width w.
func (d seedDialect) pad(expr string, w int) string {
	if d.pg {
		return fmt.Sprintf("lpad(CAST(%s AS text), %d, '0')", expr, w)
	}
	return fmt.Sprintf("substr('%s' || (%s), -%d)", strings.Repeat("0", w), expr, w)
}

func (d seedDialect) hex(expr string, w int) string {
	if d.pg {
		return fmt.Sprintf("lpad(to_hex(%s), %d, '0')", expr, w)
	}
	return fmt.Sprintf("printf('%%0%dx', %s)", w, expr)
}

// isoText is µs since the epoch as Flowker's time text (SQLite's started_at,
// and times inside JSON on both).
func (d seedDialect) isoText(us string) string {
	if d.pg {
		return fmt.Sprintf(`to_char((timestamptz 'epoch' + (%s) * interval '1 microsecond') AT TIME ZONE 'UTC', `+
			`'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, us)
	}
	return fmt.Sprintf("strftime('%%Y-%%m-%%dT%%H:%%M:%%S', (%s) / 1000000, 'unixepoch') || '.' || %s || 'Z'",
		us, d.pad("("+us+") % 1000000", 6))
}

// timeValue is a time column's value.
func (d seedDialect) timeValue(us string) string {
	if d.pg {
		return fmt.Sprintf("timestamptz 'epoch' + (%s) * interval '1 microsecond'", us)
	}
	return d.isoText(us)
}

func (d seedDialect) json(expr string) string {
	if d.pg {
		return "CAST(" + expr + " AS jsonb)"
	}
	return expr
}

func (d seedDialect) uuid(expr string) string {
	if d.pg {
		return "CAST(" + expr + " AS uuid)"
	}
	return expr
}

// rows is the CTE of one chunk, executions $1 to $2 (inclusive): every value
// both statements need. $3 is the first started_at (µs since the epoch), $4
// the µs between two executions, $5 the bench's workflow, $6–$8 the others,
// $9 the bench's workflow's revision.
func (d seedDialect) rows(p seedPlan) string {
	seq := "WITH RECURSIVE seq(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM seq WHERE i < $2)"
	if d.pg {
		seq = "WITH seq(i) AS (SELECT generate_series(CAST($1 AS BIGINT), CAST($2 AS BIGINT)))"
	}
	// k: 0 failed at the ledger, 1 DENY, 2 ALLOW. e1: Tracer answered; e3:
	// Midaz answered (or gave up); fin: finished. All µs since the epoch.
	a := `a AS (SELECT i, CAST($3 AS BIGINT) + i * CAST($4 AS BIGINT) AS t,
    CASE WHEN i % 20 = 0 THEN 0 WHEN i % 20 IN (1, 2) THEN 1 ELSE 2 END AS k,
    CASE i % 10 WHEN 7 THEN CAST($6 AS TEXT) WHEN 8 THEN CAST($7 AS TEXT) WHEN 9 THEN CAST($8 AS TEXT) ELSE CAST($5 AS TEXT) END AS wf,
    CASE WHEN i % 10 >= 7 THEN 1 ELSE CAST($9 AS BIGINT) END AS rev,
    CAST(10 + i % 4990 AS TEXT) || '.' || ` + d.pad("i % 100", 2) + ` AS amt
  FROM seq)`
	ms := "(t / 1000)"
	b := `b AS (SELECT a.*, CASE k WHEN 1 THEN 2 ELSE 3 END AS steps,
    ` + d.hex(ms+" / 65536", 8) + ` || '-' || ` + d.hex(ms+" % 65536", 4) + ` || '-7' || ` + d.hex("i % 4096", 3) +
		` || '-' || ` + d.hex("32768 + (i / 4096) % 16384", 4) + ` || '-' || ` + d.hex("i", 12) + ` AS id,
    ` + d.isoText("t") + ` AS ts,
    t + 8300 + (i % 13) * 1000 AS e1,
    t + 8500 + (i % 13) * 1000 + CASE k WHEN 0 THEN 650000 ELSE 25000 + (i % 17) * 1000 END AS e3
  FROM a)`
	tracerURL, midazURL := "https://tracer.internal/v1/validations",
		"https://midaz.internal/v1/organizations/"+p.others[0]+"/ledgers/"+p.others[1]+"/transactions/json"
	c := `x AS (SELECT b.*, CASE k WHEN 1 THEN e1 + 150 ELSE e3 + 60 END AS fin,
    '{"_webhook":{"headers":{"Content-Length":"278","Content-Type":"application/json","Host":"flowker.internal:8080",' ||
      '"User-Agent":"payments-gateway/2.3"},"method":"POST","path":"/payments","query":{},' ||
      '"receivedAt":"' || ts || '"},"account":{"accountId":"acc-' || (i % 5000) || '","status":"active","type":"checking"},' ||
      '"amount":"' || amt || '","currency":"BRL","requestId":"req-' || i || '","transaction":{"asset":"BRL","value":"' || amt ||
      '"},"transactionDescription":"payment ' || i || '","transactionTimestamp":"' || ts || '","transactionType":"PIX"}' AS in0,
    '{"body":{"account":{"accountId":"acc-' || (i % 5000) || '","status":"active","type":"checking"},"amount":"' || amt ||
      '","currency":"BRL","requestId":"req-' || i || '","transactionTimestamp":"' || ts || '","transactionType":"PIX"},' ||
      '"method":"POST","url":"` + tracerURL + `"}' AS in1,
    '{"body":{"decision":"' || CASE k WHEN 1 THEN 'DENY' ELSE 'ALLOW' END || '","matchedRules":[],"processedAt":"' || ts ||
      '","reasons":[],"requestId":"req-' || i || '","riskScore":' || (i % 100) || ',"validationId":"val-' || i || '"},' ||
      '"headers":{"Content-Length":"142","Content-Type":"application/json","Server":"tracer"},"status":200}' AS out1,
    '{"attempts":1,"durationMs":' || (8 + i % 13) || ',"executorId":"tracer.validate-transaction","idempotencyKey":"' || id ||
      '/tracer-validate","method":"POST","providerConfigId":"` + p.tracerConf + `","statusCode":200,"url":"` + tracerURL + `"}' AS cd1,
    '{"condition":"tracer-validate.body.decision == \"ALLOW\""}' AS in2,
    '{"branchTaken":"' || CASE k WHEN 1 THEN 'false' ELSE 'true' END || '","condition":"tracer-validate.body.decision == \"ALLOW\"",' ||
      '"result":' || CASE k WHEN 1 THEN 'false' ELSE 'true' END || '}' AS out2,
    '{"body":{"description":"payment ' || i || '","send":{"asset":"BRL","value":"' || amt || '"}},"method":"POST","url":"` +
		midazURL + `"}' AS in3,
    '{"body":{"amount":"' || amt || '","assetCode":"BRL","chartOfAccountsGroupName":"PIX","createdAt":"' || ts || '","id":"tx-' ||
      id || '","status":{"code":"APPROVED"}},"headers":{"Content-Length":"146","Content-Type":"application/json","Server":"midaz"},' ||
      '"status":201}' AS out3,
    '{"attempts":' || CASE k WHEN 0 THEN 3 ELSE 1 END || ',"durationMs":' || ((e3 - e1) / 1000) ||
      ',"executorId":"midaz.create-transaction","idempotencyKey":"' || id || '/midaz-create-tx","method":"POST","providerConfigId":"` +
		p.midazConf + `","statusCode":' || CASE k WHEN 0 THEN 503 ELSE 201 END || ',"url":"` + midazURL + `"}' AS cd3
  FROM b)`
	return seq + ",\n" + a + ",\n" + b + ",\n" + c
}

const seedError = `midaz-create-tx: status 503 after 3 attempts: {"code":"SERVICE_UNAVAILABLE","message":"ledger temporarily unavailable"}`

// chunk is the statements seeding one chunk, in one transaction; the first
// takes the chunk's arguments. The rows are made once: PostgreSQL inserts
// both tables from one statement (x, referenced twice, is materialized);
// SQLite keeps the chunk in a temporary table. No ORDER BY: the rows come
// out of the sequence in order, and a sort of a chunk cost more than the
// inserts it would keep in order.
func (d seedDialect) chunk(p seedPlan) []string {
	if d.pg {
		return []string{d.rows(p) + ",\ne AS (" + d.insertExecutions("x") + ")\n" + d.insertSteps("x")}
	}
	return []string{"CREATE TEMP TABLE seed_chunk AS " + d.rows(p) + "SELECT * FROM x",
		d.insertExecutions("seed_chunk"), d.insertSteps("seed_chunk"), "DROP TABLE seed_chunk"}
}

func (d seedDialect) insertExecutions(from string) string {
	return `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id, status, input, output,
    error_message, idempotency_key, request_hash, current_step, total_steps, started_at, completed_at, updated_at)
SELECT ` + d.uuid("id") + `, ` + d.uuid("wf") + `, rev, 'webhook-trigger', CASE k WHEN 0 THEN 'failed' ELSE 'completed' END,
    ` + d.json("in0") + `,
    ` + d.json(`CASE k WHEN 0 THEN NULL WHEN 1 THEN '{"tracer-validate":' || out1 || '}'
      ELSE '{"midaz-create-tx":' || out3 || ',"tracer-validate":' || out1 || '}' END`) + `,
    CASE k WHEN 0 THEN '` + seedError + `' ELSE '' END,
    CASE WHEN i % 2 = 0 THEN 'pay-' || ` + d.pad("i", 10) + ` END,
    ` + d.hex("(i * 2654435761) % 4294967296", 8) + ` || ` + d.hex("(i * 40503) % 4294967296", 8) + ` || '` +
		strings.Repeat("0", 48) + `',
    steps, steps, ` + d.timeValue("t") + `, ` + d.timeValue("fin") + `, ` + d.timeValue("fin") + `
FROM ` + from
}

func (d seedDialect) insertSteps(from string) string {
	return `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status, input, output,
    error_message, attempts, call_details, started_at, completed_at)
SELECT ` + d.uuid("id") + `, n,
    CASE n WHEN 1 THEN 'tracer-validate' WHEN 2 THEN 'decision-check' ELSE 'midaz-create-tx' END,
    CASE n WHEN 1 THEN 'Tracer Validate Transaction' WHEN 2 THEN 'Decision Check' ELSE 'Midaz Create Transaction' END,
    CASE WHEN n = 3 AND k = 0 THEN 'failed' ELSE 'completed' END,
    ` + d.json("CASE n WHEN 1 THEN in1 WHEN 2 THEN in2 ELSE in3 END") + `,
    ` + d.json("CASE WHEN n = 1 THEN out1 WHEN n = 2 THEN out2 WHEN k = 0 THEN NULL ELSE out3 END") + `,
    CASE WHEN n = 3 AND k = 0 THEN '` + seedError + `' ELSE '' END,
    CASE WHEN n = 2 THEN 0 WHEN n = 3 AND k = 0 THEN 3 ELSE 1 END,
    ` + d.json("CASE n WHEN 1 THEN cd1 WHEN 2 THEN NULL ELSE cd3 END") + `,
    ` + d.timeValue("CASE n WHEN 1 THEN t + 300 WHEN 2 THEN e1 + 40 ELSE e1 + 200 END") + `,
    ` + d.timeValue("CASE n WHEN 1 THEN e1 WHEN 2 THEN e1 + 90 ELSE e3 END") + `
FROM ` + from + ` AS x JOIN (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS s ON s.n <= x.steps`
}

// seed inserts p.n executions into the store's database in dir, which no
// server may be using, a chunk per transaction, reporting progress; it
// stops at ctx's end and returns how many it seeded.
func seed(ctx context.Context, st *benchStore, dir string, p seedPlan) (int, error) {
	d := seedDialect{pg: st.postgres()}
	db, err := openForSeeding(ctx, st, dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if !d.pg {
		// WAL again at the end (Flowker asks for it too).
		defer func() { _, _ = db.ExecContext(context.Background(), "PRAGMA journal_mode=WAL") }()
	}
	statements := d.chunk(p)
	step := p.to.Sub(p.from).Microseconds() / int64(max(p.n, 1))
	started, last := time.Now(), time.Now()
	done := 0
	for done < p.n {
		hi := min(done+seedChunk, p.n) - 1
		args := []any{int64(done), int64(hi), p.from.UnixMicro(), step, p.workflow, p.others[0], p.others[1], p.others[2], int64(p.revision)}
		if err := inTx(ctx, db, func(tx *sql.Tx) error {
			for i, q := range statements {
				a := args
				if i > 0 {
					a = nil // only the first statement takes the chunk's arguments
				}
				if _, err := tx.ExecContext(ctx, q, a...); err != nil {
					return fmt.Errorf("%.60s…: %w", q, err)
				}
			}
			return nil
		}); err != nil {
			return done, fmt.Errorf("seeding executions %d–%d: %w", done, hi, err)
		}
		done = hi + 1
		if time.Since(last) >= 10*time.Second || done == p.n {
			last = time.Now()
			progress("%s: seeded %s of %s past executions (%.0f/s)", st.label, thousands(done), thousands(p.n),
				float64(done)/time.Since(started).Seconds())
		}
	}
	if d.pg {
		// What autovacuum would have done over the months these rows stand
		// for: statistics for the planner, the visibility map for
		// index-only scans.
		progress("%s: VACUUM ANALYZE executions, ANALYZE execution_steps", st.label)
		for _, q := range []string{"VACUUM (ANALYZE) executions", "ANALYZE execution_steps"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return done, fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return done, nil
}

func inTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// openForSeeding opens the database with write access, on one connection.
// Seeding is not what is measured, so its commits do not wait for the
// disk: synchronous_commit off for this session on PostgreSQL; on SQLite,
// which nobody else has open meanwhile, a rollback journal in memory and
// no fsync.
func openForSeeding(ctx context.Context, st *benchStore, dir string) (*sql.DB, error) {
	var db *sql.DB
	var err error
	if st.postgres() {
		var u *url.URL
		if u, err = url.Parse(st.dsn); err != nil {
			return nil, err
		}
		q := u.Query()
		q.Set("synchronous_commit", "off") // a run-time parameter of the session
		u.RawQuery = q.Encode()
		db, err = sql.Open("pgx", u.String())
	} else {
		pragmas := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(MEMORY)", "synchronous(OFF)",
			"cache_size(-1048576)", "temp_store(MEMORY)"}}
		db, err = sql.Open("sqlite", "file:"+sqlitePath(dir)+"?"+pragmas.Encode())
	}
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

func newSeedPlan(n int, workflow string, revision int, now time.Time, window time.Duration) seedPlan {
	p := seedPlan{n: n, workflow: workflow, revision: revision, from: now.Add(-window), to: now.Add(-time.Hour),
		tracerConf: uuid.NewString(), midazConf: uuid.NewString()}
	for i := range p.others {
		p.others[i] = uuid.NewString()
	}
	return p
}
