package observe

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OtherReason is the failure reason label for a code that was not named to NewMetrics.
const OtherReason = "other"

// otherMethod is the method label for anything but the standard methods: the method is
// chosen by the client and may be any token, so it must not become a label as is.
const otherMethod = "OTHER"

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
	http.MethodOptions: true,
}

// Metrics holds the server's Prometheus metrics in a registry of its own, so tests and
// several servers in one process never share counters.
type Metrics struct {
	reg       *prometheus.Registry
	started   prometheus.Counter
	completed prometheus.Counter
	assisted  prometheus.Counter
	failed    *prometheus.CounterVec
	reasons   map[string]bool
	duration  *prometheus.HistogramVec
}

// NewMetrics makes the metrics. reasons is the closed set of machine error codes that
// Failed counts under their own label; any other code is counted as OtherReason, so a
// bug or a new code can never grow the series without bound.
func NewMetrics(reasons ...string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "activations_started_total",
			Help: "Chip activations begun (a handoff token redeemed).",
		}),
		completed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "activations_completed_total",
			Help: "Chip activations that ended with the chip bound to the person.",
		}),
		assisted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assisted_activations_total",
			Help: "Chip activations a caseworker started at Borgerservice after checking the person's ID.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activations_failed_total",
			Help: "Chip activation steps refused, by machine error code.",
		}, []string{"reason"}),
		reasons: map[string]bool{OtherReason: true},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by registered route pattern, method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
	}
	for _, r := range reasons {
		// A label value must be UTF-8 or the client panics; a code is ASCII anyway.
		if r != "" && utf8.ValidString(r) {
			m.reasons[r] = true
		}
	}
	// Every reason is shown from the start, at 0, so a rate() over it works before the
	// first failure and a dashboard lists what can fail.
	for r := range m.reasons {
		m.failed.WithLabelValues(r)
	}
	m.reg.MustRegister(
		m.started, m.completed, m.assisted, m.failed, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Started counts an activation begun.
func (m *Metrics) Started() { m.started.Inc() }

// Assisted counts an activation started at Borgerservice.
func (m *Metrics) Assisted() { m.assisted.Inc() }

// Completed counts an activation finished.
func (m *Metrics) Completed() { m.completed.Inc() }

// Failed counts a refused activation step under its machine error code, or under
// OtherReason when the code was not named to NewMetrics.
func (m *Metrics) Failed(reason string) {
	if !m.reasons[reason] {
		reason = OtherReason
	}
	m.failed.WithLabelValues(reason).Inc()
}

// Registerer is where other packages (the store, the rate limiter) add their own
// collectors, so they are served by the same Handler.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Handler serves the metrics in the Prometheus exposition format, for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Instrument observes each request's latency under the route pattern the ServeMux
// matched (read after next ran, as the mux sets it then), the method and the status.
// Instrument or AccessLog must wrap the mux directly: the mux records the pattern in
// the *Request it is handed, which a middleware in between that copies the request
// (r.WithContext) would hide; with both, either order works.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri, r := withInfo(r)
		rec := &recorder{ResponseWriter: w}
		panicked := true
		defer func() {
			method := r.Method
			if !knownMethods[method] {
				method = otherMethod
			}
			code := strconv.Itoa(rec.finalStatus(panicked))
			m.duration.WithLabelValues(routeOf(r, ri), method, code).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
		panicked = false
	})
}
