package observe

import (
	"context"
	"fmt"
	"net/http"
	"sync"
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

// ReadyFresh is how long a readiness answer is reused. The store's probe is a
// committed write (an fsync), and /readyz answers anyone who reaches the port; without
// a bound, a flood of probes would queue fsyncs in front of every activation. A load
// balancer probing every few seconds sees each answer fresh.
const ReadyFresh = time.Second

// Readyz answers 200 when probe (the store's: can it commit?) succeeds within
// ReadyTimeout, and 503 with a generic body otherwise; the reason goes to the
// request's log only, as it can name hosts and files. One probe runs at a time, and
// its answer serves every request for ReadyFresh by the clock now.
func Readyz(probe func(context.Context) error, now func() time.Time) http.Handler {
	return readyz(probe, now, ReadyTimeout, ReadyFresh)
}

func readyz(probe func(context.Context) error, now func() time.Time, timeout, fresh time.Duration) http.Handler {
	c := &readiness{probe: probe, now: now, timeout: timeout, fresh: fresh}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.check(r.Context()); err != nil {
			Logger(r.Context()).WarnContext(r.Context(), "not ready", "error", err.Error())
			writePlain(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		writePlain(w, http.StatusOK, "ready\n")
	})
}

// readiness is the last probe's answer and when it was had.
type readiness struct {
	probe   func(context.Context) error
	now     func() time.Time
	timeout time.Duration
	fresh   time.Duration

	mu    sync.Mutex // held while a probe runs, so requests meanwhile share its answer
	valid bool
	at    time.Time
	err   error
}

func (c *readiness) check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if age := c.now().Sub(c.at); c.valid && age >= 0 && age < c.fresh { // a clock set back expires it
		return c.err
	}
	// Not the request's cancellation: the answer is shared, so a client that hangs up
	// must not make it "not ready" for the others.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	c.err = probeWithin(pctx, c.probe)
	c.valid, c.at = true, c.now()
	return c.err
}

// probeWithin returns when probe does or when ctx ends, whichever is first, so a probe
// that ignores its context still cannot hold the answer past the timeout.
func probeWithin(ctx context.Context, probe func(context.Context) error) error {
	done := make(chan error, 1) // buffered: a late probe must not block forever
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("readiness probe panicked: %v", p)
			}
		}()
		done <- probe(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("readiness probe: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("readiness probe: %w", context.Cause(ctx))
	}
}

func writePlain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
