// Command flowker-ceiling is the yardstick of the engine benchmark: the I/O
// of the reference workflow (webhook → Tracer validation → on ALLOW a Midaz
// transaction) with nothing else, so `make bench` can say how close Flowker
// comes to what the machine and the store allow.
//
// Per webhook call it does what Flowker must do to give the same guarantees,
// and no more:
//
//  1. insert the execution with its input, committed before the answer
//     (201, or with ?wait=… the result once finished);
//  2. call Tracer, then write its answer, committed before the ledger call,
//     so that a crash cannot repeat that call without knowing of it;
//  3. call Midaz if the decision is ALLOW, then write the final result.
//
// Every write goes through one group-commit writer per store: a goroutine
// that takes all the writes queued, commits them in one transaction with
// prepared statements and answers each. SQLite: one writer connection, WAL,
// synchronous FULL or NORMAL. PostgreSQL: one connection, a group sent as
// one pgx.Batch (BEGIN … COMMIT), so a group is one round trip. Nothing is
// faked: the fsyncs and the HTTP calls are real. There is no engine, no
// retry, no recovery, no telemetry, no API besides the webhook and
// /health/ready: those are what the benchmark measures the cost of.
//
// The requests to Tracer and Midaz are those Flowker's executors send for
// the template tracer-midaz-validation (same paths, headers and bodies), and
// the webhook is served on the same route, POST /v1/webhooks/<path>, by the
// same HTTP server library (fasthttp, under Fiber in Flowker).
//
//	flowker-ceiling -store sqlite:/tmp/c.db -synchronous FULL -tracer-url http://127.0.0.1:9000 -midaz-url http://127.0.0.1:9000
//	flowker-ceiling -store postgres://postgres@127.0.0.1:5432/bench?search_path=ceiling
//
// Every flag can be given in the environment instead (CEILING_STORE, …; the
// listen address is SERVER_ADDRESS, as for Flowker). It writes its table,
// executions, in the database given (created when missing); the status
// column says pending… running, completed or failed, as Flowker's does, so
// the bench counts both alike.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

type options struct {
	addr, store, synchronous         string
	tracerURL, midazURL, tracerKey   string
	organizationID, ledgerID         string
	maxGroup                         int
	callTimeout, shutdownGracePeriod time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", env("SERVER_ADDRESS", "127.0.0.1:8090"), "listen address (SERVER_ADDRESS)")
	flag.StringVar(&o.store, "store", env("CEILING_STORE", ""),
		"sqlite:<path> or a postgres:// URL (CEILING_STORE); the table executions is created in it")
	flag.StringVar(&o.synchronous, "synchronous", env("CEILING_SYNCHRONOUS", "FULL"),
		"SQLite: PRAGMA synchronous, FULL or NORMAL (CEILING_SYNCHRONOUS)")
	flag.StringVar(&o.tracerURL, "tracer-url", env("CEILING_TRACER_URL", ""), "Tracer base URL (CEILING_TRACER_URL)")
	flag.StringVar(&o.midazURL, "midaz-url", env("CEILING_MIDAZ_URL", ""), "Midaz transaction base URL (CEILING_MIDAZ_URL)")
	flag.StringVar(&o.tracerKey, "tracer-api-key", env("CEILING_TRACER_API_KEY", "ceiling-key"), "Tracer X-Api-Key (CEILING_TRACER_API_KEY)")
	flag.StringVar(&o.organizationID, "midaz-organization", env("CEILING_MIDAZ_ORGANIZATION", "00000000-0000-7000-8000-000000000001"),
		"Midaz organization id (CEILING_MIDAZ_ORGANIZATION)")
	flag.StringVar(&o.ledgerID, "midaz-ledger", env("CEILING_MIDAZ_LEDGER", "00000000-0000-7000-8000-000000000002"),
		"Midaz ledger id (CEILING_MIDAZ_LEDGER)")
	flag.IntVar(&o.maxGroup, "max-group", 1024, "most writes committed in one transaction")
	flag.DurationVar(&o.callTimeout, "call-timeout", 30*time.Second, "timeout of one provider call")
	flag.DurationVar(&o.shutdownGracePeriod, "shutdown-timeout", 15*time.Second, "on SIGTERM, wait this long for running executions")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "flowker-ceiling:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(o options) error {
	if o.store == "" || o.tracerURL == "" || o.midazURL == "" {
		return errors.New("-store, -tracer-url and -midaz-url are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var st store
	var err error
	switch {
	case strings.HasPrefix(o.store, "sqlite:"):
		st, err = openSQLite(ctx, strings.TrimPrefix(o.store, "sqlite:"), o.synchronous)
	case strings.HasPrefix(o.store, "postgres://"), strings.HasPrefix(o.store, "postgresql://"):
		st, err = openPostgres(ctx, o.store)
	default:
		return fmt.Errorf("-store: want sqlite:<path> or postgres://…, got %q", o.store)
	}
	if err != nil {
		return err
	}
	w := newWriter(st, o.maxGroup)
	defer w.close() // after the executions below have stopped writing

	c := newCeiling(o, w)
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{Handler: c.serve, Name: "flowker-ceiling", ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, NoDefaultDate: true}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "flowker-ceiling: listening on %s, store %s\n", ln.Addr(), st.name())

	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), o.shutdownGracePeriod)
		defer cancel()
		err = srv.ShutdownWithContext(sctx)
		c.wait(sctx) // executions already accepted finish, within the grace period
	}
	if n := c.failures.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "flowker-ceiling: %d executions failed; first: %s\n", n, c.firstFailure())
	}
	return err
}
