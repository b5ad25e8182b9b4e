package api

import (
	"sync"
	"time"
)

// limiter is a fixed-window counter per client address. It lives in one
// instance's memory: behind a load balancer each instance limits on its own,
// which bounds an attacker to instances × limit, a price worth not sharing state.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	start  time.Time
	counts map[string]int
}

func newLimiter(limit int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{limit: limit, window: window, now: now, counts: map[string]int{}}
}

// allow counts one attempt by key and reports whether it is within the limit.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); now.Sub(l.start) >= l.window {
		l.start, l.counts = now, map[string]int{} // a new window forgets every address
	}
	l.counts[key]++
	return l.counts[key] <= l.limit
}
