package observe

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// ReadyTimeout bounds a readiness check: a probe that hangs is worse than one that
// fails, because the load balancer waits on it.
const ReadyTimeout = 2 * time.Second

// Healthz answers 200 "ok" while the process can serve HTTP at all (liveness).
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writePlain(w, http.StatusOK, "ok\n")
	})
}

// Readyz answers 200 when ping (typically the store's) succeeds within ReadyTimeout,
// and 503 with a generic body otherwise; the reason goes to the request's log only,
// as it can name hosts and files.
func Readyz(ping func(context.Context) error) http.Handler {
	return readyz(ping, ReadyTimeout)
}

func readyz(ping func(context.Context) error, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := pingWithin(ctx, ping); err != nil {
			Logger(r.Context()).WarnContext(r.Context(), "not ready", "error", err.Error())
			writePlain(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		writePlain(w, http.StatusOK, "ready\n")
	})
}

// pingWithin returns when ping does or when ctx ends, whichever is first, so a ping
// that ignores its context still cannot hold the probe past the timeout.
func pingWithin(ctx context.Context, ping func(context.Context) error) error {
	done := make(chan error, 1) // buffered: a late ping must not block forever
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("readiness ping panicked: %v", p)
			}
		}()
		done <- ping(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("readiness ping: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("readiness ping: %w", context.Cause(ctx))
	}
}

func writePlain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
