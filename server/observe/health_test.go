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
		ping     func(context.Context) error
		wantCode int
		wantLog  string // in the log, never in the body
	}{
		{"ping ok", func(context.Context) error { return nil }, 200, ""},
		{"ping fails", func(context.Context) error {
			return errors.New("dial tcp db.internal:5432: connection refused")
		}, 503, "db.internal:5432"},
		{"ping honours the deadline", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}, 503, "deadline exceeded"},
		{"ping ignores the deadline", func(context.Context) error {
			<-release
			return nil
		}, 503, "deadline exceeded"},
		{"ping panics", func(context.Context) error { panic("nil store") }, 503, "nil store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := AccessLog(NewLogger(&buf, slog.LevelInfo), readyz(tc.ping, 5*time.Millisecond))
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
