package telemetry

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestBoundedCacheBuildsOnceAndStaysBounded(t *testing.T) {
	t.Parallel()
	var c boundedCache[string, int]
	builds := 0
	build := func(k string) int { builds++; n, _ := strconv.Atoi(k); return n }
	require.Equal(t, 7, c.get("7", build))
	require.Equal(t, 7, c.get("7", build))
	require.Equal(t, 1, builds, "built once")
	for i := range attrCacheLimit + 10 {
		require.Equal(t, i, c.get(strconv.Itoa(i), build))
	}
	require.LessOrEqual(t, len(c.m), attrCacheLimit, "a full cache starts afresh")
}

func TestCachedMetricOptionsAllocateNothing(t *testing.T) {
	m, ctx := engineMetricsOnSDK(t)
	m.StepFinished(ctx, "tracer.validate-transaction", "completed", 1) // builds the set
	allocs := testing.AllocsPerRun(100, func() {
		m.ExecutionStarted(ctx, "wf-1")
		m.StepFinished(ctx, "tracer.validate-transaction", "completed", 1)
		m.ProviderCall(ctx, "tracer", "success", 200, 1)
		m.ExecutionFinished(ctx, "wf-1", "completed", 1)
	})
	require.Zero(t, allocs)
}

// enabledTee writes an entry only to the cores enabled at its level, as
// zapcore.NewTee does.
func TestEnabledTeeHonoursEachCoresLevel(t *testing.T) {
	t.Parallel()
	var debug, info bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(&redactCore{enabledTee{
		zapcore.NewCore(enc, zapcore.AddSync(&debug), zapcore.DebugLevel),
		zapcore.NewCore(enc.Clone(), zapcore.AddSync(&info), zapcore.InfoLevel),
	}})
	log.Debug("detail")
	log.With(zap.String("token", "s3cret")).Info("milestone")
	require.Contains(t, debug.String(), "detail")
	require.NotContains(t, info.String(), "detail")
	for _, out := range []string{debug.String(), info.String()} {
		require.Contains(t, out, "milestone")
		require.NotContains(t, out, "s3cret", "redacted once, for both")
	}
}
