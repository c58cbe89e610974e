package telemetry

import (
	"context"
	"errors"
	"sync"

	"github.com/shirou/gopsutil/v4/mem"
	"go.opentelemetry.io/otel/metric"
)

// registerSystemMetrics adds the host's CPU and memory usage, in percent,
// as gauges read at each metric export. CPU usage is the average since the
// previous export (no sampler runs between exports). The host is the
// resource's host.name.
func registerSystemMetrics(mp metric.MeterProvider) error {
	m := mp.Meter("flowker/system")
	cpuUsage, err1 := m.Float64ObservableGauge("system.cpu.usage", metric.WithUnit("%"),
		metric.WithDescription("CPU usage of the host, percent of all cores, averaged since the previous export"))
	memUsage, err2 := m.Float64ObservableGauge("system.mem.usage", metric.WithUnit("%"),
		metric.WithDescription("Memory in use on the host, percent of total"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	cpu := &cpuSampler{}
	_, _ = cpu.percent() // the first export then averages since start
	_, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		var errs []error
		if p, err := cpu.percent(); err != nil {
			errs = append(errs, err)
		} else {
			o.ObserveFloat64(cpuUsage, p)
		}
		if v, err := mem.VirtualMemoryWithContext(ctx); err != nil {
			errs = append(errs, err)
		} else {
			o.ObserveFloat64(memUsage, v.UsedPercent)
		}
		return errors.Join(errs...)
	}, cpuUsage, memUsage)
	return err
}

// cpuSampler turns cumulative CPU times into a percentage since the
// previous call.
type cpuSampler struct {
	mu          sync.Mutex
	busy, total uint64
}

func (s *cpuSampler) percent() (float64, error) {
	busy, total, err := readCPUTimes()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prevBusy, prevTotal := s.busy, s.total
	s.busy, s.total = busy, total
	if total <= prevTotal || busy < prevBusy {
		return 0, nil
	}
	return 100 * float64(busy-prevBusy) / float64(total-prevTotal), nil
}
