package observe

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// scrape fetches m's /metrics and returns each sample by its series ("name{labels}").
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: expected 200, got %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: expected text exposition format, got Content-Type %q", ct)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed exposition line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("malformed value in %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

func TestActivationCounters(t *testing.T) {
	m := NewMetrics("otp_wrong", "chip_unknown", "bad\xffutf8")
	m.Started()
	m.Started()
	m.Completed()
	m.Failed("otp_wrong")
	m.Failed("otp_wrong")
	m.Failed("made_up_code")
	m.Failed("")
	m.Failed("bad\xffutf8")

	got := scrape(t, m)
	tests := []struct {
		name   string
		series string
		want   float64
	}{
		{"started", "activations_started_total", 2},
		{"completed", "activations_completed_total", 1},
		{"known reason", `activations_failed_total{reason="otp_wrong"}`, 2},
		{"known reason not yet seen is shown at zero", `activations_failed_total{reason="chip_unknown"}`, 0},
		{"unknown, empty and invalid reasons count as other", `activations_failed_total{reason="other"}`, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := got[tc.series]
			if !ok {
				t.Fatalf("expected series %s, it is missing", tc.series)
			}
			if v != tc.want {
				t.Errorf("%s: expected %v, got %v", tc.series, tc.want, v)
			}
		})
	}
	for series := range got {
		if strings.HasPrefix(series, "activations_failed_total") &&
			!strings.Contains(series, `"otp_wrong"`) && !strings.Contains(series, `"chip_unknown"`) && !strings.Contains(series, `"other"`) {
			t.Errorf("unexpected failure reason series %s: labels must come from the known set", series)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("expected the Go collector's go_goroutines in the scrape, it is missing")
	}
}

func TestMetricsAreNotShared(t *testing.T) {
	a, b := NewMetrics(), NewMetrics()
	a.Started()
	if v := scrape(t, b)["activations_started_total"]; v != 0 {
		t.Errorf("a second Metrics saw the first one's counter: expected 0, got %v", v)
	}
	// Handler twice on one Metrics must not fail registering its own error counter.
	a.Handler()
	if v := scrape(t, a)["activations_started_total"]; v != 1 {
		t.Errorf("expected 1, got %v", v)
	}
}

func newTestMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/activations/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "made")
	})
	mux.HandleFunc("POST /api/activations/{id}/otp", func(w http.ResponseWriter, r *http.Request) {
		SetActivation(r.Context(), r.PathValue("id"))
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

func TestInstrumentLabels(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	stacks := []struct {
		name  string
		build func(m *Metrics, h http.Handler) http.Handler
	}{
		{"instrument alone", func(m *Metrics, h http.Handler) http.Handler { return m.Instrument(h) }},
		{"instrument outside access log", func(m *Metrics, h http.Handler) http.Handler {
			return m.Instrument(AccessLog(discard, h))
		}},
		{"instrument inside access log", func(m *Metrics, h http.Handler) http.Handler {
			return AccessLog(discard, m.Instrument(h))
		}},
		// Body limiters and auth middlewares copy the request (r.WithContext); the
		// route must still reach Instrument through the access log next to the mux.
		{"a request copy between instrument and access log", func(m *Metrics, h http.Handler) http.Handler {
			return m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				AccessLog(discard, h).ServeHTTP(w, r.WithContext(r.Context()))
			}))
		}},
	}
	requests := []struct {
		name   string
		method string
		target string
		series string
	}{
		{"route is the pattern, not the path", http.MethodGet, "/api/activations/abc123?secret=1",
			`http_request_duration_seconds_count{code="201",method="GET",route="GET /api/activations/{id}"}`},
		{"a HEAD matches the GET pattern", http.MethodHead, "/api/activations/xyz",
			`http_request_duration_seconds_count{code="201",method="HEAD",route="GET /api/activations/{id}"}`},
		{"post", http.MethodPost, "/api/activations/abc/otp",
			`http_request_duration_seconds_count{code="200",method="POST",route="POST /api/activations/{id}/otp"}`},
		{"no pattern matched", http.MethodGet, "/nothing/here",
			`http_request_duration_seconds_count{code="404",method="GET",route="unmatched"}`},
		{"an invented method is bounded", "BREW", "/api/activations/abc",
			`http_request_duration_seconds_count{code="405",method="OTHER",route="unmatched"}`},
	}
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			m := NewMetrics()
			h := st.build(m, newTestMux())
			for _, rq := range requests {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rq.method, rq.target, nil))
			}
			got := scrape(t, m)
			for _, rq := range requests {
				if v := got[rq.series]; v != 1 {
					t.Errorf("%s: expected %s = 1, got %v", rq.name, rq.series, v)
				}
			}
			for series := range got {
				if strings.Contains(series, "abc123") || strings.Contains(series, "/nothing") || strings.Contains(series, "BREW") {
					t.Errorf("raw client input leaked into a label: %s", series)
				}
			}
		})
	}
}

func TestInstrumentCountsPanicAs500(t *testing.T) {
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := m.Instrument(mux)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("expected the handler's panic to propagate to net/http, got %v", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
	}()
	series := `http_request_duration_seconds_count{code="500",method="GET",route="GET /boom"}`
	if v := scrape(t, m)[series]; v != 1 {
		t.Errorf("expected %s = 1, got %v", series, v)
	}
}

func TestRecorderFlushes(t *testing.T) {
	m := NewMetrics()
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Fatal("expected the wrapped writer to be an http.Flusher")
		}
		f.Flush()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !rec.Flushed {
		t.Error("expected Flush to reach the underlying writer")
	}
}
