package observe

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("expected 200 %q, got %d %q", "ok\n", rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("expected Cache-Control no-store, got %q", cc)
	}
}

func TestReadyz(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name     string
		probe    func(context.Context) error
		wantCode int
		wantLog  string // in the log, never in the body
		// timeout is the probe's: a minute where the test is not about it, so a busy
		// machine cannot make a good probe late; a nanosecond where it is, so the
		// deadline has passed before the probe starts, whatever the machine's speed.
		timeout time.Duration
	}{
		{"probe ok", func(context.Context) error { return nil }, 200, "", time.Minute},
		{"probe fails", func(context.Context) error {
			return errors.New("dial tcp db.internal:5432: connection refused")
		}, 503, "db.internal:5432", time.Minute},
		{"probe honours the deadline", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}, 503, "deadline exceeded", time.Nanosecond},
		{"probe ignores the deadline", func(context.Context) error {
			<-release
			return nil
		}, 503, "deadline exceeded", time.Nanosecond},
		{"probe panics", func(context.Context) error { panic("nil store") }, 503, "nil store", time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := AccessLog(NewLogger(&buf, slog.LevelInfo), readyz(tc.probe, time.Now, tc.timeout, ReadyFresh))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("expected %d, got %d", tc.wantCode, rec.Code)
			}
			body := rec.Body.String()
			if tc.wantCode == 503 && body != "not ready\n" {
				t.Errorf("expected the generic body %q, got %q", "not ready\n", body)
			}
			if tc.wantLog != "" && !strings.Contains(buf.String(), tc.wantLog) {
				t.Errorf("expected the log to carry %q, got:\n%s", tc.wantLog, buf.String())
			}
		})
	}
}

// TestReadyzSharesOneProbe: the probe is a committed write, so requests within
// ReadyFresh share one answer, good or bad, and a later request probes again.
func TestReadyzSharesOneProbe(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var calls int
	var fail error
	h := readyz(func(context.Context) error { calls++; return fail }, now, time.Minute, time.Second)
	steps := []struct {
		name      string
		advance   time.Duration
		fail      error
		wantCode  int
		wantCalls int
	}{
		{"first request probes", 0, nil, 200, 1},
		{"within a second: the same answer", 999 * time.Millisecond, errors.New("disk full"), 200, 1},
		{"a second later: probes again", time.Millisecond, errors.New("disk full"), 503, 2},
		{"a failure is shared too", 500 * time.Millisecond, nil, 503, 2},
		{"recovers on the next probe", 500 * time.Millisecond, nil, 200, 3},
		{"a clock set back probes again", -time.Hour, nil, 200, 4},
	}
	for _, st := range steps {
		clock = clock.Add(st.advance)
		fail = st.fail
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != st.wantCode || calls != st.wantCalls {
			t.Errorf("%s: expected %d after %d probes, got %d after %d", st.name, st.wantCode, st.wantCalls, rec.Code, calls)
		}
	}
}

// TestReadyzIgnoresAClientHangingUp: the answer is shared, so a request whose client
// went away must not turn it into "not ready" for everyone else.
func TestReadyzIgnoresAClientHangingUp(t *testing.T) {
	h := readyz(func(ctx context.Context) error { return ctx.Err() }, time.Now, time.Minute, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil).WithContext(ctx))
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec2.Code != http.StatusOK {
		t.Errorf("expected 200 for the next client after one hung up, got %d %q", rec2.Code, rec2.Body)
	}
}
