package telemetry

import (
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// LatencyBucketsMS are the bucket boundaries, in milliseconds, of every
// latency histogram Flowker exports: HTTP server duration, engine
// execution, step and provider-call durations, and (divided by 1000)
// second-based ones such as otelhttp's client duration. They resolve the
// sub-millisecond engine overhead, the 3–15 ms synchronous-execution goals
// and provider calls up to the 30 s default timeout.
var LatencyBucketsMS = []float64{0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// WaitBucketsS are the boundaries, in seconds, of the time a review waits
// for its decision: a minute to a week (human time, not latency).
var WaitBucketsS = []float64{60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 48 * 3600, 7 * 24 * 3600}

// SizeBucketsBytes are the boundaries of every byte-size histogram
// (request and response sizes), up to the 64 MiB body limit.
var SizeBucketsBytes = []float64{0, 128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}

// otelfiberScope is the instrumentation scope of the HTTP server spans and
// metrics (httpserver.go). It stays otelfiber's, so that the exported data,
// and any query selecting by scope, are unchanged.
const otelfiberScope = "github.com/gofiber/contrib/otelfiber"

// view is the meter provider's only view, so that no instrument is
// matched twice (two matching views make two streams): histograms get the
// shared boundaries for their unit.
//
// It used to filter net.host.name out of otelfiber's metrics (otelfiber
// took it from the client's Host header: an unbounded, client-chosen label
// that would explode Prometheus series). The server instrumentation no
// longer records it on metrics at all (httpserver.go), and an attribute
// filter costs on every measurement, so there is none.
func view(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	s := sdkmetric.Stream{Name: i.Name, Description: i.Description, Unit: i.Unit}
	matched := false
	if i.Kind == sdkmetric.InstrumentKindHistogram {
		var bounds []float64
		switch {
		case i.Name == MetricReviewDecisionTime:
			bounds = WaitBucketsS
		case i.Unit == "ms":
			bounds = LatencyBucketsMS
		case i.Unit == "s":
			bounds = make([]float64, len(LatencyBucketsMS))
			for j, b := range LatencyBucketsMS {
				bounds[j] = b / 1000
			}
		case i.Unit == "By":
			bounds = SizeBucketsBytes
		}
		if bounds != nil {
			s.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: bounds}
			matched = true
		}
	}
	return s, matched
}
