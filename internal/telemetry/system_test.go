package telemetry

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestSystemMetrics(t *testing.T) {
	t.Parallel()
	_, _, mp, reader := testProviders(t)
	require.NoError(t, registerSystemMetrics(mp))
	for i := 0; i < 1e6; i++ { // some CPU time between the two samples
		_ = i * i
	}
	got := collect(t, reader)
	names := []string{"system.mem.usage"}
	if runtime.GOOS == "linux" {
		names = append(names, "system.cpu.usage")
	}
	for _, name := range names {
		g, ok := got[name].Data.(metricdata.Gauge[float64])
		require.True(t, ok, name)
		require.Equal(t, "%", got[name].Unit)
		require.Len(t, g.DataPoints, 1, name)
		v := g.DataPoints[0].Value
		require.GreaterOrEqual(t, v, 0.0, name)
		require.LessOrEqual(t, v, 100.0, name)
		require.Zero(t, g.DataPoints[0].Attributes.Len(), "attribute-free; the host is the resource")
	}
}

func TestCPUSampler(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("CPU usage is read from /proc/stat")
	}
	busy, total, err := readCPUTimes()
	require.NoError(t, err)
	require.Positive(t, total)
	require.LessOrEqual(t, busy, total)
	s := &cpuSampler{}
	_, err = s.percent()
	require.NoError(t, err)
	p, err := s.percent()
	require.NoError(t, err)
	require.GreaterOrEqual(t, p, 0.0)
	require.LessOrEqual(t, p, 100.0)
}
