// Package config loads and validates Flowker's settings from the
// environment, in one place. Every variable, with its default, is listed in
// .env.example; a bad value is an error naming the variable.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"flowker/internal/secret"
)

// BuildVersion is set at build time (-ldflags "-X flowker/internal/config.BuildVersion=…").
var BuildVersion = "dev"

// Config is the whole of Flowker's configuration.
type Config struct {
	ServerAddress string
	// PublicURL is how providers reach this server: the base of callback
	// URLs handed to them (PUBLIC_URL; default http://localhost:<port>).
	PublicURL      string
	LogLevel       string
	Version        string // VERSION, else BuildVersion: the one version every endpoint reports
	DeploymentMode string

	Database Database

	HTTP     HTTP
	Shutdown Shutdown

	// SecretKey seals configuration secrets (FLOWKER_SECRET_KEY). Nil on
	// SQLite means "use, or create, the key file beside the database".
	SecretKey []byte

	APIKeyEnabled      bool
	APIKey             string
	CORSAllowedOrigins []string
	SSRFAllowPrivate   bool

	// APIKeys are the accepted X-API-Key values with their ids: API_KEY as
	// id "default", then API_KEYS. Empty unless API_KEY_ENABLED.
	APIKeys []APIKey
	// OIDC accepts bearer tokens of one issuer (AUTH_OIDC_*).
	OIDC OIDC
	// TrustedProxies may set X-Forwarded-For (TRUSTED_PROXIES); single
	// addresses are stored as /32 or /128 prefixes.
	TrustedProxies []netip.Prefix
	// RateLimitPerMinute bounds each client's management API requests
	// (RATE_LIMIT_PER_MINUTE); 0 disables the limit.
	RateLimitPerMinute int
	// GCHeadroomMiB is how far the heap may grow after a garbage collection
	// at least (GC_HEADROOM_MIB, internal/gcpolicy); 0 leaves GOGC alone, as
	// does a GOGC in the environment.
	GCHeadroomMiB int

	Telemetry Telemetry

	Engine Engine

	// History: folding dashboard counts, and retention (docs/history.md).
	History History

	// ConsoleTraceURLTemplate links the console's execution page to its
	// trace (CONSOLE_TRACE_URL_TEMPLATE), {trace_id} replaced; empty: no link.
	ConsoleTraceURLTemplate string
	// ConsoleOIDC lets the console sign in at AUTH_OIDC_ISSUER (CONSOLE_OIDC_*).
	ConsoleOIDC ConsoleOIDC
}

// ConsoleOIDC configures the console's sign-in at the OIDC issuer: the
// authorization code flow with PKCE, as a public client (no secret).
type ConsoleOIDC struct {
	ClientID string // empty: the console offers no OIDC sign-in
	Scopes   string // space-separated, openid among them
	// ConnectOrigins are the origins the console fetches from besides its
	// own (the CSP's connect-src): the issuer's, then
	// CONSOLE_OIDC_CONNECT_ORIGINS (a token endpoint on another origin).
	ConnectOrigins []string
}

// APIKey is one accepted X-API-Key: ID names the caller in the audit trail
// (the key itself is never recorded).
type APIKey struct {
	ID  string
	Key string
	// Permissions are the key's own (API_KEY_PERMISSIONS); nil: every permission.
	Permissions []string
}

// OIDC configures bearer-token authentication against one issuer.
type OIDC struct {
	Enabled          bool
	Issuer           string // must equal the tokens' iss exactly
	Audience         string // must be among the tokens' aud
	JWKSURL          string // empty: the jwks_uri of {Issuer}/.well-known/openid-configuration
	PermissionsClaim string // a list, or a space-separated string, of resource:action
}

// Engine tunes execution: concurrency, back-pressure, leases and retries.
type Engine struct {
	WorkerID            string // lease owner id; stable across restarts (e.g. a StatefulSet pod name)
	Concurrency         int
	ProviderConcurrency int // calls in flight per provider or executor configuration; connections per provider host
	QueueSize           int
	LeaseDuration       time.Duration
	ExecutionTimeout    time.Duration
	MaxAttempts         int
	BreakerFailures     int
	BreakerOpenFor      time.Duration
}

// Database says which store to open.
type Database struct {
	Driver      string // "sqlite" or "postgres"
	Path        string // sqlite file
	URL         string // postgres URL
	MaxConns    int
	Synchronous string // sqlite PRAGMA synchronous
}

// HTTP bounds the server.
type HTTP struct {
	MaxBodyBytes int
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
}

// Shutdown times a graceful stop: readiness fails for DrainDelay so load
// balancers stop routing, then in-flight work gets up to Timeout.
type Shutdown struct {
	DrainDelay time.Duration
	Timeout    time.Duration
}

// Telemetry configures OpenTelemetry export.
type Telemetry struct {
	Enabled        bool
	Endpoint       string // host:port, http://host:port (plaintext) or https://host:port (TLS)
	Protocol       string // OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" or "http/protobuf"
	ServiceName    string
	ServiceVersion string
	Environment    string
	MetricInterval time.Duration // OTEL_METRIC_EXPORT_INTERVAL, given in milliseconds
}

// DefaultSQLitePath is where the embedded database lives when DATABASE_URL is unset.
const DefaultSQLitePath = "./data/flowker.db"

// SecretKeyFile is the key file's name, beside the SQLite database.
const SecretKeyFile = "flowker.key" //nolint:gosec // G101: a file name, not a credential

// Load reads the configuration through getenv (os.Getenv in main, a map in tests).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		ServerAddress:      r.str("SERVER_ADDRESS", ":4021"),
		PublicURL:          r.str("PUBLIC_URL", ""),
		LogLevel:           r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		Version:            r.str("VERSION", BuildVersion),
		DeploymentMode:     r.oneOf("DEPLOYMENT_MODE", "local", "local", "saas", "byoc"),
		APIKeyEnabled:      r.boolean("API_KEY_ENABLED", false),
		APIKey:             r.str("API_KEY", ""),
		CORSAllowedOrigins: r.list("CORS_ALLOWED_ORIGINS"),
		SSRFAllowPrivate:   r.boolean("SSRF_ALLOW_PRIVATE", false),
		HTTP: HTTP{
			MaxBodyBytes: r.integer("HTTP_MAX_BODY_BYTES", 1<<20, 1024, 64<<20),
			ReadTimeout:  r.duration("HTTP_READ_TIMEOUT", 10*time.Second),
			WriteTimeout: r.duration("HTTP_WRITE_TIMEOUT", 60*time.Second),
			IdleTimeout:  r.duration("HTTP_IDLE_TIMEOUT", 120*time.Second),
		},
		Shutdown: Shutdown{
			DrainDelay: r.duration("SHUTDOWN_DRAIN_DELAY", 0),
			Timeout:    r.duration("SHUTDOWN_TIMEOUT", 30*time.Second),
		},
		Telemetry: Telemetry{
			Enabled:        r.boolean("ENABLE_TELEMETRY", false),
			Endpoint:       r.str("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
			Protocol:       r.oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "grpc", "http/protobuf"),
			ServiceName:    r.str("OTEL_RESOURCE_SERVICE_NAME", "flowker"),
			ServiceVersion: r.str("OTEL_RESOURCE_SERVICE_VERSION", ""),
			Environment:    r.str("OTEL_RESOURCE_DEPLOYMENT_ENVIRONMENT", "local"),
			MetricInterval: time.Duration(r.integer("OTEL_METRIC_EXPORT_INTERVAL", 60000, 100, 3600000)) * time.Millisecond,
		},
	}
	c.Database = r.database()
	c.History = r.history()
	c.Engine = Engine{
		WorkerID:            r.str("ENGINE_WORKER_ID", ""),
		Concurrency:         r.integer("ENGINE_CONCURRENCY", 256, 1, 100000),
		ProviderConcurrency: r.integer("ENGINE_PROVIDER_CONCURRENCY", 256, 1, 100000),
		QueueSize:           r.integer("ENGINE_QUEUE_SIZE", 10000, 1, 10000000),
		LeaseDuration:       r.duration("ENGINE_LEASE_DURATION", 30*time.Second),
		ExecutionTimeout:    r.positiveDuration("ENGINE_EXECUTION_TIMEOUT", 5*time.Minute),
		MaxAttempts:         r.integer("ENGINE_MAX_ATTEMPTS", 5, 1, 100),
		BreakerFailures:     r.integer("ENGINE_BREAKER_FAILURES", 5, 1, 1000),
		BreakerOpenFor:      r.positiveDuration("ENGINE_BREAKER_OPEN_FOR", 30*time.Second),
	}
	// The engine reads a zero as "use the default": every engine number
	// must be positive here, or 0 would silently become that default.
	if c.Engine.LeaseDuration < time.Second {
		r.fail("ENGINE_LEASE_DURATION", "must be at least 1s")
	}
	if raw := r.str("FLOWKER_SECRET_KEY", ""); raw != "" {
		key, err := secret.ParseKey(raw)
		if err != nil {
			r.fail("FLOWKER_SECRET_KEY", err.Error())
		}
		c.SecretKey = key
	} else if c.Database.Driver == "postgres" {
		r.fail("FLOWKER_SECRET_KEY", "must be set with PostgreSQL (32 random bytes, base64: openssl rand -base64 32)")
	}
	if c.Telemetry.ServiceVersion == "" {
		c.Telemetry.ServiceVersion = c.Version
	}
	c.APIKeys = r.apiKeys(c.APIKeyEnabled, c.APIKey)
	c.PublicURL = r.publicURL(c.PublicURL, c.ServerAddress)
	c.OIDC = r.oidc()
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES")
	c.ConsoleTraceURLTemplate = r.str("CONSOLE_TRACE_URL_TEMPLATE", "")
	c.ConsoleOIDC = r.consoleOIDC(c.OIDC)
	c.RateLimitPerMinute = r.integer("RATE_LIMIT_PER_MINUTE", 6000, 0, 10000000)
	if c.GCHeadroomMiB = r.integer("GC_HEADROOM_MIB", 64, 0, 1<<20); getenv("GOGC") != "" {
		c.GCHeadroomMiB = 0 // the runtime's own setting wins
	}
	if c.Telemetry.Enabled && c.Telemetry.Endpoint == "" {
		r.fail("OTEL_EXPORTER_OTLP_ENDPOINT", "must be set when ENABLE_TELEMETRY=true")
	}
	return c, errors.Join(r.errs...)
}

func (r *reader) database() Database {
	d := Database{
		MaxConns:    r.integer("DATABASE_MAX_CONNS", 16, 1, 1000),
		Synchronous: r.oneOf("SQLITE_SYNCHRONOUS", "FULL", "FULL", "NORMAL"),
	}
	raw := r.str("DATABASE_URL", "")
	if raw == "" {
		d.Driver, d.Path = "sqlite", DefaultSQLitePath
		return d
	}
	u, err := url.Parse(raw)
	if err != nil {
		r.fail("DATABASE_URL", "is not a URL") // the parse error would echo the password
		return d
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		d.Driver, d.URL = "postgres", raw
	case "sqlite", "file":
		// sqlite:///abs/path, sqlite://./rel/path, sqlite:rel/path
		d.Driver, d.Path = "sqlite", u.Opaque
		if d.Path == "" {
			d.Path = u.Host + u.Path
		}
		if d.Path == "" {
			r.fail("DATABASE_URL", "sqlite URL has no file path")
		}
	default:
		r.fail("DATABASE_URL", fmt.Sprintf("unknown scheme %q: use postgres://… or sqlite:path/to/file.db", u.Scheme))
	}
	return d
}

// reader collects every bad variable so one start reports them all.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, msg string) { r.errs = append(r.errs, fmt.Errorf("%s %s", name, msg)) }

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.str(name, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(name, fmt.Sprintf("is %q; must be one of %s", v, strings.Join(allowed, ", ")))
	return def
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("is %q; must be true or false", v))
	}
	return b
}

func (r *reader) integer(name string, def, lo, hi int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("is %q; must be an integer from %d to %d", v, lo, hi))
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, fmt.Sprintf("is %q; must be a duration such as 500ms, 10s or 1m", v))
		return def
	}
	return d
}

// positiveDuration is duration for settings where 0 means nothing useful.
func (r *reader) positiveDuration(name string, def time.Duration) time.Duration {
	d := r.duration(name, def)
	if d == 0 {
		r.fail(name, fmt.Sprintf("is %q; must be greater than 0, such as 500ms, 10s or 1m", r.str(name, "")))
		return def
	}
	return d
}

func (r *reader) list(name string) []string {
	var out []string
	for _, s := range strings.Split(r.str(name, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
