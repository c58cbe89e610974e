package telemetry

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// attrCacheLimit bounds every attribute-set cache. The HTTP key space
// (method × route × status) and the engine's (workflows, executors,
// provider targets) stay far below it in practice; when a cache fills up it
// starts afresh, so an unbounded key space costs allocations again, never
// memory.
const attrCacheLimit = 4096

// measurementOpts is one pre-built attribute set in the shapes the metric
// API takes: handing the SDK a ready attribute.Set (WithAttributeSet)
// spares it building, sorting and hashing a set per measurement, and the
// pre-made option slices spare the variadic allocation of each call.
type measurementOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func newMeasurementOpts(kvs ...attribute.KeyValue) measurementOpts {
	opt := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return measurementOpts{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}}
}

// boundedCache memoises values built from comparable keys, at most
// attrCacheLimit of them. Reads take a shared lock: the caches are read on
// every request and written once per new key.
type boundedCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// get returns the value for k, building and storing it on first use.
// build must be a function of k alone (two goroutines may both build it).
func (c *boundedCache[K, V]) get(k K, build func(K) V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = build(k)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= attrCacheLimit {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}
