// Command flowker runs the API and the engine. With no environment it
// serves :4021 on an embedded SQLite database under ./data/.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"flowker/internal/audit"
	"flowker/internal/catalog"
	"flowker/internal/config"
	"flowker/internal/engine"
	"flowker/internal/gcpolicy"
	"flowker/internal/httpapi"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlite"
	"flowker/internal/telemetry"
)

func main() { os.Exit(run()) }

func run() int {
	start := time.Now()
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowker: invalid configuration: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	log, err := telemetry.NewLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowker: LOG_LEVEL: "+err.Error())
		return 1
	}
	defer func() { _ = log.Sync() }() // stderr may not support fsync

	// Telemetry: the global tracer, meter and logger providers and the W3C
	// propagator are installed before anything that uses them is built.
	// The SDK's own problems go to the stderr-only logger (exporting them
	// over the failing export would loop); then the logger is teed to OTLP.
	tel, err := telemetry.Setup(context.Background(), cfg.Telemetry, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowker: invalid configuration: "+err.Error())
		return 1
	}
	stderrLog := log
	defer func() { // runs last (after the store closes): everything logged until here is exported
		ctx, cancel := context.WithTimeout(context.Background(), telemetryFlushTimeout)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			stderrLog.Warn("flushing telemetry", zap.String("operation", "shutdown"), telemetry.ErrorMessage(err))
		}
	}()
	log = tel.Logger(log)

	if cfg.GCHeadroomMiB > 0 {
		defer gcpolicy.Start(uint64(cfg.GCHeadroomMiB) << 20)()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	st, box, err := openStore(ctx, cfg)
	if err != nil {
		var inUse *sqlite.InUseError
		var ownerInUse *postgres.OwnerInUseError
		switch {
		case errors.As(err, &inUse): // SQLite is one process per file: say so, plainly
			log.Error(inUse.Error(), zap.String("operation", "startup"))
		case errors.As(err, &ownerInUse):
			log.Error("ENGINE_WORKER_ID: "+ownerInUse.Error(), zap.String("operation", "startup"))
		default:
			log.Error("cannot open the database", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
		}
		return 1
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("closing the database", zap.String("error.message", err.Error()))
		}
	}()

	// Provider calls are client spans carrying traceparent; the wrapped
	// transport is the SSRF-safe one (a bare Options.Transport replaces it).
	outbound := provider.Options{AllowPrivate: cfg.SSRFAllowPrivate, IdleConnsPerHost: cfg.Engine.ProviderConcurrency}
	outbound.Transport = telemetry.HTTPTransport(provider.NewTransport(outbound))
	client := provider.New(outbound)
	metrics, err := telemetry.NewEngineMetrics()
	if err != nil {
		log.Warn("engine metrics unavailable", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
	}
	defer func() { _ = metrics.Close() }() // before the store closes: the queue-depth gauge reads it
	eng := engine.New(st, box, catalog.Default(), client, log, metrics, engineOptions(cfg))
	svc := service.New(st, box, service.WithHTTPClient(client), service.WithDispatcher(eng), service.WithMetrics(metrics),
		service.WithWriteDeadline(writeDeadline(cfg.HTTP.WriteTimeout)))
	// Before anything else is audited: a chain begun before it was keyed
	// is marked where the keyed part starts, when the operator names it.
	if err := svc.KeyAuditChain(ctx, cfg.History.SealUnkeyedAuditChain); err != nil {
		log.Error("the audit chain", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
		if !errors.Is(err, service.ErrAuditHeadUnverified) {
			return 1 // unkeyed and not to be sealed, or the database could not be read or written
		}
	}
	var draining atomic.Bool
	app := httpapi.New(svc, cfg, log, &draining)
	// Listen before the engine starts: recovery claims executions, and a
	// process that cannot serve must exit without holding any of them.
	ln, err := listen(ctx, cfg.ServerAddress)
	if err != nil {
		log.Error("cannot listen", zap.String("operation", "startup"), zap.String("address", cfg.ServerAddress),
			zap.String("error.message", err.Error()))
		return 1
	}
	stopHistory, err := startHistory(ctx, svc, cfg.History, log)
	if err != nil {
		_ = ln.Close()
		log.Error("cannot use RETENTION_ARCHIVE_DIR", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
		return 1
	}
	defer stopHistory() // before the store closes (deferred earlier)
	if err := eng.Start(ctx); err != nil {
		_ = ln.Close()
		log.Error("cannot start the engine", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- httpapi.Serve(app, ln) }()
	log.Info("flowker started", zap.String("operation", "startup"), zap.String("address", ln.Addr().String()),
		zap.String("database", st.Driver()), zap.String("version", cfg.Version),
		zap.Duration("startup", time.Since(start)))

	select {
	case err := <-served:
		log.Error("server stopped", zap.String("error.message", fmt.Sprint(err)))
		eng.Stop(cfg.Shutdown.Timeout) // hand the executions back (leases released) rather than hold them dead
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way

	// Drain: readiness fails first so load balancers stop sending, then
	// in-flight requests finish, then the store closes (deferred above).
	draining.Store(true)
	log.Info("shutting down", zap.String("operation", "shutdown"), zap.Duration("drain_delay", cfg.Shutdown.DrainDelay))
	time.Sleep(cfg.Shutdown.DrainDelay)
	if err := app.ShutdownWithTimeout(cfg.Shutdown.Timeout); err != nil {
		log.Warn("requests still running at shutdown timeout", zap.String("error.message", err.Error()))
	}
	// Running executions get the same grace; what is left is handed back
	// (leases released) for another process or the next start.
	eng.Stop(cfg.Shutdown.Timeout)
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("server", zap.String("error.message", err.Error()))
	}
	log.Info("stopped", zap.String("operation", "shutdown"))
	return 0
}

// engineOptions maps configuration to the engine. On SQLite the process
// owns the database, so its lease owner id is stable and a restart takes
// its unfinished work back at once instead of waiting for leases to lapse.
func engineOptions(cfg config.Config) engine.Options {
	owner := cfg.Engine.WorkerID
	if owner == "" && cfg.Database.Driver == "sqlite" {
		owner = "sqlite:" + cfg.Database.Path
	}
	return engine.Options{
		Owner: owner, Concurrency: cfg.Engine.Concurrency, QueueSize: cfg.Engine.QueueSize,
		ProviderConcurrency: cfg.Engine.ProviderConcurrency,
		LeaseDuration:       cfg.Engine.LeaseDuration, ExecutionTimeout: cfg.Engine.ExecutionTimeout,
		Retry:           engine.RetryPolicy{MaxAttempts: cfg.Engine.MaxAttempts},
		Breaker:         engine.BreakerPolicy{Failures: cfg.Engine.BreakerFailures, OpenFor: cfg.Engine.BreakerOpenFor},
		CallbackBaseURL: cfg.PublicURL,
	}
}

// startHistory runs the history loop (docs/history.md): dashboard counts
// folded, and retention when RETENTION_AGE is set, whose archive directory
// must be usable from the start. stop ends the loop and waits for it.
func startHistory(ctx context.Context, svc *service.Service, h config.History, log *zap.Logger) (stop func(), err error) {
	if h.RetentionAge > 0 {
		if err := os.MkdirAll(h.ArchiveDir, 0o750); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunHistory(ctx, service.HistoryOptions{
			Retention:      service.RetentionPolicy{Age: h.RetentionAge, ArchiveDir: h.ArchiveDir, BatchSize: h.RetentionBatchSize},
			RetentionEvery: h.RetentionInterval,
			HeadEvery:      h.AuditHeadLogInterval,
			// A keyed chain cannot show its newest events removed together:
			// the log store, outside the database, holds the head to compare.
			OnHead: func(e audit.Event) {
				log.Info("audit chain head", zap.String("operation", "audit.head"), zap.Int64("audit.sequence", e.Seq),
					zap.String("audit.hash", e.Hash), zap.String("audit.event_id", e.ID.String()))
			},
			OnArchived: func(r service.ArchiveResult) {
				log.Info("executions archived", zap.String("operation", "retention"), zap.Int("executions", r.Executions),
					zap.Strings("files", r.Files), zap.Time("cutoff", r.Cutoff))
			},
			OnError: func(op string, err error) {
				log.Warn("history: "+op+" failed; retried at the next interval", zap.String("operation", "history."+op),
					zap.String("error.message", err.Error()))
			},
		})
	}()
	return func() { cancel(); <-done }, nil
}

// listen opens the API's listener (a variable: a test makes it fail on demand).
var listen = func(ctx context.Context, address string) (net.Listener, error) {
	return new(net.ListenConfig).Listen(ctx, "tcp", address)
}

// telemetryFlushTimeout bounds the final export of spans, metrics and logs
// at shutdown (Kubernetes: terminationGracePeriodSeconds must cover
// SHUTDOWN_DRAIN_DELAY + SHUTDOWN_TIMEOUT + this).
const telemetryFlushTimeout = 5 * time.Second

// secretKey is FLOWKER_SECRET_KEY, or on SQLite a key file beside the
// database, created on first start so the embedded mode needs no setup.
func secretKey(cfg config.Config) ([]byte, error) {
	if cfg.SecretKey != nil {
		return cfg.SecretKey, nil
	}
	path := filepath.Join(filepath.Dir(cfg.Database.Path), config.SecretKeyFile)
	key, err := secret.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("the secret key %s: %w", path, err)
	}
	return key, nil
}

// openStore opens the database and its keys: the box that seals its
// secrets and the key that seals its audit chain, both from the secret
// key. It makes sure this process alone runs as its lease owner: SQLite's
// Open locks the file (one process per file); on PostgreSQL a set
// ENGINE_WORKER_ID is locked (one process per id).
func openStore(ctx context.Context, cfg config.Config) (store.Store, *secret.Box, error) {
	st, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	key, err := secretKey(cfg)
	var box *secret.Box
	if err == nil {
		box, err = secret.NewBox(key)
	}
	if err != nil {
		return nil, nil, errors.Join(err, st.Close())
	}
	st.UseAuditKey(audit.NewKey(key))
	return st, box, nil
}

// keyedStore is a store whose audit chain's key is set once it is open.
type keyedStore interface {
	store.Store
	UseAuditKey(audit.Key)
}

func openDatabase(ctx context.Context, cfg config.Config) (keyedStore, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db := cfg.Database
	if db.Driver != "postgres" {
		st, err := sqlite.Open(ctx, db.Path, db.Synchronous)
		if err != nil {
			return nil, err // not a nil *sqlite.Store in a non-nil interface
		}
		return st, nil
	}
	st, err := postgres.Open(ctx, db.URL, db.MaxConns)
	if err != nil {
		return nil, err
	}
	if cfg.Engine.WorkerID == "" {
		return st, nil
	}
	lockCtx, cancelLock := context.WithTimeout(ctx, ownerLockWait)
	defer cancelLock()
	if err := st.LockOwner(lockCtx, cfg.Engine.WorkerID); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return st, nil
}

// ownerLockWait is how long a start waits for its ENGINE_WORKER_ID to be
// free: enough for PostgreSQL to end the session of a previous process
// with that id that was just killed, short enough to report a duplicate
// id soon.
const ownerLockWait = 5 * time.Second

// writeDeadline bounds a catalog write under half the HTTP write timeout,
// so its 503 reaches the client; 0 (no write timeout) leaves the default.
func writeDeadline(httpWrite time.Duration) time.Duration {
	if httpWrite <= 0 {
		return service.CatalogWriteTimeout
	}
	return min(service.CatalogWriteTimeout, httpWrite/2)
}
