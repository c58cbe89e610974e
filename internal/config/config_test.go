package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

// env is a map-backed getenv: unset variables read as "".
func env(kv map[string]string) func(string) string {
	return func(name string) string { return kv[name] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	want := config.Config{
		ServerAddress:  ":4021",
		PublicURL:      "http://localhost:4021",
		LogLevel:       "info",
		Version:        config.BuildVersion,
		DeploymentMode: "local",
		Database: config.Database{
			Driver:      "sqlite",
			Path:        config.DefaultSQLitePath,
			MaxConns:    16,
			Synchronous: "FULL",
		},
		HTTP: config.HTTP{
			MaxBodyBytes: 1 << 20,
			ReadTimeout:  10 * time.Second,
			WriteTimeout: 60 * time.Second,
			IdleTimeout:  120 * time.Second,
		},
		Shutdown: config.Shutdown{DrainDelay: 0, Timeout: 30 * time.Second},
		Telemetry: config.Telemetry{
			Protocol:       "grpc",
			ServiceName:    "flowker",
			ServiceVersion: config.BuildVersion,
			Environment:    "local",
			MetricInterval: time.Minute,
		},
		Engine: config.Engine{Concurrency: 256, ProviderConcurrency: 256, QueueSize: 10000, LeaseDuration: 30 * time.Second,
			ExecutionTimeout: 5 * time.Minute, MaxAttempts: 5, BreakerFailures: 5, BreakerOpenFor: 30 * time.Second},
		OIDC:               config.OIDC{PermissionsClaim: "permissions"},
		RateLimitPerMinute: 6000,
		GCHeadroomMiB:      64,
		History:            config.History{RetentionInterval: time.Hour, RetentionBatchSize: 500, AuditHeadLogInterval: time.Minute},
	}
	for name, kv := range map[string]map[string]string{
		"nothing set": nil,
		// Blank or whitespace-only values mean "unset", not "invalid".
		"blank values": {
			"SERVER_ADDRESS": "", "LOG_LEVEL": "  ", "DATABASE_URL": " ", "API_KEY_ENABLED": "",
			"SHUTDOWN_TIMEOUT": "\t", "DATABASE_MAX_CONNS": "", "CORS_ALLOWED_ORIGINS": " ",
			"API_KEYS": " ", "AUTH_OIDC_ENABLED": "", "TRUSTED_PROXIES": " ", "RATE_LIMIT_PER_MINUTE": "",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(env(kv))
			require.NoError(t, err)
			require.Equal(t, want, c)
		})
	}
}

// testKey is 32 bytes, base64.
const testKey = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="

func TestSecretKey(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"FLOWKER_SECRET_KEY": testKey}))
	require.NoError(t, err)
	require.Equal(t, "01234567890123456789012345678901", string(c.SecretKey))

	c, err = config.Load(env(nil))
	require.NoError(t, err)
	require.Nil(t, c.SecretKey, "SQLite without a key: main uses the key file")

	_, err = config.Load(env(map[string]string{"DATABASE_URL": "postgres://h/db"}))
	require.ErrorContains(t, err, "FLOWKER_SECRET_KEY must be set with PostgreSQL")
	_, err = config.Load(env(map[string]string{"FLOWKER_SECRET_KEY": "too-short"}))
	require.ErrorContains(t, err, "FLOWKER_SECRET_KEY must be 32 random bytes")
}

func TestLoadDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url        string
		driver     string
		path       string // sqlite
		wantURLSet bool   // postgres: URL kept verbatim
	}{
		{url: "postgres://u@h/db", driver: "postgres", wantURLSet: true},
		{url: "postgresql://u:p@h:5432/db?sslmode=disable", driver: "postgres", wantURLSet: true},
		{url: "POSTGRES://u@h/db", driver: "postgres", wantURLSet: true},
		{url: "sqlite:rel/path.db", driver: "sqlite", path: "rel/path.db"},
		{url: "sqlite:///abs/x.db", driver: "sqlite", path: "/abs/x.db"},
		{url: "sqlite://./rel/x.db", driver: "sqlite", path: "./rel/x.db"},
		{url: "file:x.db", driver: "sqlite", path: "x.db"},
		{url: "file:///abs/y.db", driver: "sqlite", path: "/abs/y.db"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(env(map[string]string{"DATABASE_URL": tt.url, "FLOWKER_SECRET_KEY": testKey}))
			require.NoError(t, err)
			require.Equal(t, tt.driver, c.Database.Driver)
			require.Equal(t, tt.path, c.Database.Path)
			if tt.wantURLSet {
				require.Equal(t, tt.url, c.Database.URL)
			} else {
				require.Empty(t, c.Database.URL)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c config.Config)
	}{
		{"enums are case-insensitive", map[string]string{
			"LOG_LEVEL": "DEBUG", "DEPLOYMENT_MODE": "SaaS", "SQLITE_SYNCHRONOUS": "normal",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, "debug", c.LogLevel)
			require.Equal(t, "saas", c.DeploymentMode)
			require.Equal(t, "NORMAL", c.Database.Synchronous)
		}},
		{"values are trimmed", map[string]string{
			"LOG_LEVEL": " warn ", "SERVER_ADDRESS": " 127.0.0.1:9000 ",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, "warn", c.LogLevel)
			require.Equal(t, "127.0.0.1:9000", c.ServerAddress)
		}},
		{"CORS list is split and trimmed", map[string]string{
			"CORS_ALLOWED_ORIGINS": "a, b,,c ,",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, []string{"a", "b", "c"}, c.CORSAllowedOrigins)
		}},
		{"VERSION overrides BuildVersion everywhere", map[string]string{
			"VERSION": "9.9.9",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, "9.9.9", c.Version)
			require.Equal(t, "9.9.9", c.Telemetry.ServiceVersion)
		}},
		{"OTEL_RESOURCE_SERVICE_VERSION wins over VERSION", map[string]string{
			"VERSION": "9.9.9", "OTEL_RESOURCE_SERVICE_VERSION": "1.0.0",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, "9.9.9", c.Version)
			require.Equal(t, "1.0.0", c.Telemetry.ServiceVersion)
		}},
		{"durations, integers and booleans", map[string]string{
			"SHUTDOWN_DRAIN_DELAY": "1500ms", "SHUTDOWN_TIMEOUT": "0", "HTTP_READ_TIMEOUT": "1m",
			"DATABASE_MAX_CONNS": "1000", "HTTP_MAX_BODY_BYTES": "1024",
			"SSRF_ALLOW_PRIVATE": "TRUE", "API_KEY_ENABLED": "1", "API_KEY": "k",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, 1500*time.Millisecond, c.Shutdown.DrainDelay)
			require.Equal(t, time.Duration(0), c.Shutdown.Timeout)
			require.Equal(t, time.Minute, c.HTTP.ReadTimeout)
			require.Equal(t, 1000, c.Database.MaxConns)
			require.Equal(t, 1024, c.HTTP.MaxBodyBytes)
			require.True(t, c.SSRFAllowPrivate)
			require.True(t, c.APIKeyEnabled)
			require.Equal(t, "k", c.APIKey)
		}},
		{"engine numbers at their smallest", map[string]string{
			"ENGINE_CONCURRENCY": "1", "ENGINE_PROVIDER_CONCURRENCY": "1", "ENGINE_QUEUE_SIZE": "1", "ENGINE_LEASE_DURATION": "1s",
			"ENGINE_EXECUTION_TIMEOUT": "1ms", "ENGINE_MAX_ATTEMPTS": "1", "ENGINE_BREAKER_FAILURES": "1",
			"ENGINE_BREAKER_OPEN_FOR": "1ms",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, config.Engine{Concurrency: 1, ProviderConcurrency: 1, QueueSize: 1, LeaseDuration: time.Second,
				ExecutionTimeout: time.Millisecond, MaxAttempts: 1, BreakerFailures: 1, BreakerOpenFor: time.Millisecond},
				c.Engine)
		}},
		{"telemetry with an endpoint", map[string]string{
			"ENABLE_TELEMETRY": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317",
			"OTEL_RESOURCE_SERVICE_NAME": "svc", "OTEL_RESOURCE_DEPLOYMENT_ENVIRONMENT": "prod",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP/Protobuf", "OTEL_METRIC_EXPORT_INTERVAL": "500",
		}, func(t *testing.T, c config.Config) {
			require.Equal(t, config.Telemetry{
				Enabled: true, Endpoint: "http://otel:4317", Protocol: "http/protobuf", ServiceName: "svc",
				ServiceVersion: config.BuildVersion, Environment: "prod", MetricInterval: 500 * time.Millisecond,
			}, c.Telemetry)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(env(tt.env))
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // each must appear in the error
		notWant []string // none may appear in the error
	}{
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, []string{"LOG_LEVEL", `"verbose"`}, nil},
		{"duration without a unit", map[string]string{"SHUTDOWN_TIMEOUT": "5"}, []string{"SHUTDOWN_TIMEOUT"}, nil},
		{"negative duration", map[string]string{"HTTP_READ_TIMEOUT": "-1s"}, []string{"HTTP_READ_TIMEOUT"}, nil},
		{"drain delay garbage", map[string]string{"SHUTDOWN_DRAIN_DELAY": "soon"}, []string{"SHUTDOWN_DRAIN_DELAY"}, nil},
		{"max conns zero", map[string]string{"DATABASE_MAX_CONNS": "0"}, []string{"DATABASE_MAX_CONNS"}, nil},
		{"max conns not a number", map[string]string{"DATABASE_MAX_CONNS": "abc"}, []string{"DATABASE_MAX_CONNS"}, nil},
		{"max conns too large", map[string]string{"DATABASE_MAX_CONNS": "1001"}, []string{"DATABASE_MAX_CONNS"}, nil},
		{"body limit too small", map[string]string{"HTTP_MAX_BODY_BYTES": "10"}, []string{"HTTP_MAX_BODY_BYTES"}, nil},
		{"boolean", map[string]string{"API_KEY_ENABLED": "maybe"}, []string{"API_KEY_ENABLED"}, nil},
		{"sqlite synchronous", map[string]string{"SQLITE_SYNCHRONOUS": "OFF"}, []string{"SQLITE_SYNCHRONOUS"}, nil},
		{"deployment mode", map[string]string{"DEPLOYMENT_MODE": "cloud"}, []string{"DEPLOYMENT_MODE"}, nil},
		{"API key enabled without a key", map[string]string{"API_KEY_ENABLED": "true"}, []string{"API_KEY"}, nil},
		{"telemetry without an endpoint", map[string]string{"ENABLE_TELEMETRY": "true"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT"}, nil},
		{"OTLP protocol", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			[]string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc, http/protobuf"}, nil},
		{"metric interval with a unit", map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "5s"},
			[]string{"OTEL_METRIC_EXPORT_INTERVAL"}, nil},
		{"metric interval too short", map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "10"},
			[]string{"OTEL_METRIC_EXPORT_INTERVAL"}, nil},
		{"unknown database scheme", map[string]string{"DATABASE_URL": "mysql://x"}, []string{"DATABASE_URL", "mysql"}, nil},
		{"database path without a scheme", map[string]string{"DATABASE_URL": "./data/x.db"}, []string{"DATABASE_URL"}, nil},
		{"sqlite URL without a path", map[string]string{"DATABASE_URL": "sqlite:"}, []string{"DATABASE_URL"}, nil},
		{"unparsable URL hides its password (bad port)",
			map[string]string{"DATABASE_URL": "postgres://user:s3cr3t-pw@host:notaport/db"},
			[]string{"DATABASE_URL"}, []string{"s3cr3t-pw", "user", "host"}},
		{"unparsable URL hides its password (bad escape)",
			map[string]string{"DATABASE_URL": "postgres://user:s3cr3t%zz@host/db"},
			[]string{"DATABASE_URL"}, []string{"s3cr3t"}},
		{"unknown scheme hides its password",
			map[string]string{"DATABASE_URL": "mysql://user:s3cr3t-pw@host/db"},
			[]string{"DATABASE_URL"}, []string{"s3cr3t-pw"}},
		// The engine reads 0 as "use the default": a 0 here would be
		// silently replaced, so every engine number must be positive.
		{"queue size zero", map[string]string{"ENGINE_QUEUE_SIZE": "0"}, []string{"ENGINE_QUEUE_SIZE", `"0"`}, nil},
		{"queue size negative", map[string]string{"ENGINE_QUEUE_SIZE": "-5"}, []string{"ENGINE_QUEUE_SIZE"}, nil},
		{"concurrency zero", map[string]string{"ENGINE_CONCURRENCY": "0"}, []string{"ENGINE_CONCURRENCY"}, nil},
		{"concurrency negative", map[string]string{"ENGINE_CONCURRENCY": "-1"}, []string{"ENGINE_CONCURRENCY"}, nil},
		{"max attempts zero", map[string]string{"ENGINE_MAX_ATTEMPTS": "0"}, []string{"ENGINE_MAX_ATTEMPTS"}, nil},
		{"breaker failures zero", map[string]string{"ENGINE_BREAKER_FAILURES": "0"}, []string{"ENGINE_BREAKER_FAILURES"}, nil},
		{"lease duration zero", map[string]string{"ENGINE_LEASE_DURATION": "0s"}, []string{"ENGINE_LEASE_DURATION"}, nil},
		{"lease duration negative", map[string]string{"ENGINE_LEASE_DURATION": "-30s"}, []string{"ENGINE_LEASE_DURATION"}, nil},
		{"execution timeout zero", map[string]string{"ENGINE_EXECUTION_TIMEOUT": "0"},
			[]string{"ENGINE_EXECUTION_TIMEOUT", `"0"`, "greater than 0"}, nil},
		{"execution timeout negative", map[string]string{"ENGINE_EXECUTION_TIMEOUT": "-1m"}, []string{"ENGINE_EXECUTION_TIMEOUT"}, nil},
		{"breaker open-for zero", map[string]string{"ENGINE_BREAKER_OPEN_FOR": "0s"},
			[]string{"ENGINE_BREAKER_OPEN_FOR", `"0s"`, "greater than 0"}, nil},
		{"every bad variable is reported at once",
			map[string]string{"LOG_LEVEL": "loud", "DATABASE_MAX_CONNS": "0", "DEPLOYMENT_MODE": "cloud"},
			[]string{"LOG_LEVEL", "DATABASE_MAX_CONNS", "DEPLOYMENT_MODE"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(tt.env))
			require.Error(t, err)
			for _, s := range tt.want {
				require.Contains(t, err.Error(), s)
			}
			for _, s := range tt.notWant {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}

func TestLoadAuth(t *testing.T) {
	t.Parallel()
	t.Run("API_KEY is id default, API_KEYS add ids", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(env(map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "k",
			"API_KEYS": " ci:0123456789abcdef , ledger.v2:fedcba9876543210:with-colon"}))
		require.NoError(t, err)
		require.Equal(t, []config.APIKey{{ID: "default", Key: "k"}, {ID: "ci", Key: "0123456789abcdef"},
			{ID: "ledger.v2", Key: "fedcba9876543210:with-colon"}}, c.APIKeys)
	})
	t.Run("API_KEYS alone is enough", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(env(map[string]string{"API_KEY_ENABLED": "true", "API_KEYS": "default:0123456789abcdef"}))
		require.NoError(t, err)
		require.Equal(t, []config.APIKey{{ID: "default", Key: "0123456789abcdef"}}, c.APIKeys)
	})
	t.Run("keys are not used unless enabled", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(env(map[string]string{"API_KEY": "k", "API_KEYS": "ci:0123456789abcdef"}))
		require.NoError(t, err)
		require.Nil(t, c.APIKeys)
	})
	t.Run("OIDC", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(env(map[string]string{"AUTH_OIDC_ENABLED": "true",
			"AUTH_OIDC_ISSUER": "https://idp.example/realms/x", "AUTH_OIDC_AUDIENCE": "flowker",
			"AUTH_OIDC_JWKS_URL": "http://127.0.0.1:8080/certs", "AUTH_OIDC_PERMISSIONS_CLAIM": "scp"}))
		require.NoError(t, err)
		require.Equal(t, config.OIDC{Enabled: true, Issuer: "https://idp.example/realms/x", Audience: "flowker",
			JWKSURL: "http://127.0.0.1:8080/certs", PermissionsClaim: "scp"}, c.OIDC)
	})
	t.Run("trusted proxies and rate limit", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7,::1,2001:db8::/32,10.1.2.3/8",
			"RATE_LIMIT_PER_MINUTE": "0"}))
		require.NoError(t, err)
		require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.0.0.0/8")},
			c.TrustedProxies)
		require.Zero(t, c.RateLimitPerMinute)
	})
}

func TestLoadAuthInvalid(t *testing.T) {
	t.Parallel()
	const secretish = "s3cr3t-value-0123456789"
	oidc := func(kv map[string]string) map[string]string {
		out := map[string]string{"AUTH_OIDC_ENABLED": "true", "AUTH_OIDC_ISSUER": "https://idp.example",
			"AUTH_OIDC_AUDIENCE": "flowker"}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{"enabled without any key", map[string]string{"API_KEY_ENABLED": "true"}, []string{"API_KEY or API_KEYS"}, nil},
		{"entry without a colon", map[string]string{"API_KEYS": secretish}, []string{"API_KEYS", "entry 1", "id:key"},
			[]string{secretish}},
		{"short key", map[string]string{"API_KEYS": "ci:short-key"}, []string{"API_KEYS", `"ci"`, "16"},
			[]string{"short-key"}},
		{"bad id", map[string]string{"API_KEYS": "a b:" + secretish}, []string{"API_KEYS", "entry 1", "id"},
			[]string{secretish}},
		{"empty id", map[string]string{"API_KEYS": ":" + secretish}, []string{"API_KEYS", "entry 1"}, []string{secretish}},
		{"duplicate id", map[string]string{"API_KEYS": "ci:" + secretish + ",ci:" + secretish + "x"},
			[]string{"API_KEYS", "entry 2", `"ci"`, "twice"}, []string{secretish}},
		{"id default taken by API_KEY", map[string]string{"API_KEY": "k", "API_KEYS": "default:" + secretish},
			[]string{"API_KEYS", "API_KEY's"}, []string{secretish}},
		{"same key twice", map[string]string{"API_KEYS": "a:" + secretish + ",b:" + secretish},
			[]string{"API_KEYS", "entry 2", "another id"}, []string{secretish}},
		{"key with a control character", map[string]string{"API_KEYS": "a:0123456789abcdef\x01"},
			[]string{"API_KEYS", "printable"}, nil},
		{"OIDC without issuer", map[string]string{"AUTH_OIDC_ENABLED": "true", "AUTH_OIDC_AUDIENCE": "x"},
			[]string{"AUTH_OIDC_ISSUER"}, nil},
		{"OIDC without audience", map[string]string{"AUTH_OIDC_ENABLED": "true", "AUTH_OIDC_ISSUER": "https://idp.example"},
			[]string{"AUTH_OIDC_AUDIENCE"}, nil},
		{"OIDC issuer over plain http", oidc(map[string]string{"AUTH_OIDC_ISSUER": "http://idp.example"}),
			[]string{"AUTH_OIDC_ISSUER", "https"}, nil},
		{"OIDC issuer not a URL", oidc(map[string]string{"AUTH_OIDC_ISSUER": "idp.example"}),
			[]string{"AUTH_OIDC_ISSUER"}, nil},
		{"OIDC JWKS URL over plain http", oidc(map[string]string{"AUTH_OIDC_JWKS_URL": "http://idp.example/certs"}),
			[]string{"AUTH_OIDC_JWKS_URL", "https"}, nil},
		{"OIDC enabled flag", map[string]string{"AUTH_OIDC_ENABLED": "yes please"}, []string{"AUTH_OIDC_ENABLED"}, nil},
		{"trusted proxy garbage", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"},
			[]string{"TRUSTED_PROXIES", "proxy.local"}, nil},
		{"trusted proxy bad CIDR", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, []string{"TRUSTED_PROXIES"}, nil},
		{"negative rate limit", map[string]string{"RATE_LIMIT_PER_MINUTE": "-1"}, []string{"RATE_LIMIT_PER_MINUTE"}, nil},
		{"rate limit not a number", map[string]string{"RATE_LIMIT_PER_MINUTE": "lots"}, []string{"RATE_LIMIT_PER_MINUTE"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(tt.env))
			require.Error(t, err)
			for _, s := range tt.want {
				require.Contains(t, err.Error(), s)
			}
			for _, s := range tt.notWant {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env       map[string]string
		want, err string
	}{
		{map[string]string{"SERVER_ADDRESS": "127.0.0.1:9000"}, "http://localhost:9000", ""},
		{map[string]string{"PUBLIC_URL": "https://flowker.bank.example/"}, "https://flowker.bank.example", ""},
		{map[string]string{"PUBLIC_URL": "https://flowker.bank.example/api"}, "https://flowker.bank.example/api", ""},
		{map[string]string{"PUBLIC_URL": "ftp://x"}, "", "PUBLIC_URL"},
		{map[string]string{"PUBLIC_URL": "https://u:p@x"}, "", "PUBLIC_URL"},
		{map[string]string{"PUBLIC_URL": "https://x/?a=1"}, "", "PUBLIC_URL"},
	} {
		cfg, err := config.Load(func(k string) string { return tc.env[k] })
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, cfg.PublicURL)
	}
}

// TestGCHeadroom: 64 MiB by default, 0 turns it off, and a GOGC in the
// environment (the runtime's own setting) turns it off whatever it says.
func TestGCHeadroom(t *testing.T) {
	for env, want := range map[string]int{"": 64, "GC_HEADROOM_MIB=0": 0, "GC_HEADROOM_MIB=256": 256,
		"GOGC=100": 0, "GOGC=off": 0} {
		vars := map[string]string{}
		if k, v, ok := strings.Cut(env, "="); ok {
			vars[k] = v
		}
		c, err := config.Load(func(k string) string { return vars[k] })
		require.NoError(t, err, env)
		require.Equal(t, want, c.GCHeadroomMiB, env)
	}
	_, err := config.Load(func(k string) string { return map[string]string{"GC_HEADROOM_MIB": "-1"}[k] })
	require.ErrorContains(t, err, "GC_HEADROOM_MIB")
}
