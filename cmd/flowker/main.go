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

	"flowker/internal/config"
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
	if cfg.Telemetry.Enabled {
		fmt.Fprintln(os.Stderr, "flowker: ENABLE_TELEMETRY=true is not supported by this build yet; unset it")
		return 1
	}
	log, err := telemetry.NewLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowker: LOG_LEVEL: "+err.Error())
		return 1
	}
	defer func() { _ = log.Sync() }() // stderr may not support fsync

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	st, err := openStore(ctx, cfg.Database)
	if err != nil {
		log.Error("cannot open the database", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
		return 1
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("closing the database", zap.String("error.message", err.Error()))
		}
	}()

	box, err := secretBox(cfg)
	if err != nil {
		log.Error("cannot load the secret key", zap.String("operation", "startup"), zap.String("error.message", err.Error()))
		return 1
	}
	svc := service.New(st, box, service.WithHTTPClient(provider.New(provider.Options{AllowPrivate: cfg.SSRFAllowPrivate})))
	var draining atomic.Bool
	app := httpapi.New(svc, cfg, log, &draining)
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.ServerAddress)
	if err != nil {
		log.Error("cannot listen", zap.String("operation", "startup"), zap.String("address", cfg.ServerAddress),
			zap.String("error.message", err.Error()))
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	log.Info("flowker started", zap.String("operation", "startup"), zap.String("address", ln.Addr().String()),
		zap.String("database", st.Driver()), zap.String("version", cfg.Version),
		zap.Duration("startup", time.Since(start)))

	select {
	case err := <-served:
		log.Error("server stopped", zap.String("error.message", fmt.Sprint(err)))
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
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("server", zap.String("error.message", err.Error()))
	}
	log.Info("stopped", zap.String("operation", "shutdown"))
	return 0
}

// secretBox uses FLOWKER_SECRET_KEY, or on SQLite a key file beside the
// database, created on first start so the embedded mode needs no setup.
func secretBox(cfg config.Config) (*secret.Box, error) {
	key := cfg.SecretKey
	if key == nil {
		var err error
		path := filepath.Join(filepath.Dir(cfg.Database.Path), config.SecretKeyFile)
		if key, err = secret.LoadOrCreateKeyFile(path); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return secret.NewBox(key)
}

func openStore(ctx context.Context, db config.Database) (store.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if db.Driver == "postgres" {
		return postgres.Open(ctx, db.URL, db.MaxConns)
	}
	return sqlite.Open(ctx, db.Path, db.Synchronous)
}
