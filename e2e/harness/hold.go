package harness

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// Held holds the page's requests for matching URLs until Release, as a slow network
// holds a large download: the page goes on meanwhile with whatever it has.
type Held struct {
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	urls    []string
	bodies  []string
}

// Hold holds every request of the page whose URL matches one of the patterns (the
// Fetch domain's wildcards: '*' any characters, '?' one) before it is sent, until
// Release. Call it before Navigate for a request the page makes as it loads, and once
// per page: a second call replaces the first's patterns.
func (b *Browser) Hold(patterns ...string) *Held {
	b.t.Helper()
	h := &Held{release: make(chan struct{})}
	paused := chromedp.Events(b.bg, fetch.RequestPaused) // before Enable, so none is missed
	var ps []*fetch.RequestPattern
	for _, p := range patterns {
		ps = append(ps, &fetch.RequestPattern{URLPattern: p, RequestStage: fetch.RequestStageRequest})
	}
	name := strings.Join(patterns, " ")
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{Patterns: ps}); err != nil {
		b.t.Fatalf("harness: hold %s: %v", name, err)
	}
	b.background("hold "+name, func(ctx context.Context) error {
		var wg sync.WaitGroup
		defer wg.Wait()
		for ev, err := range paused {
			if err != nil {
				return err
			}
			h.mu.Lock()
			h.urls = append(h.urls, ev.Request.URL)
			for _, e := range ev.Request.PostDataEntries {
				h.bodies = append(h.bodies, string(e.Bytes))
			}
			h.mu.Unlock()
			b.trace.add("network: holding %s %s", ev.Request.Method, ev.Request.URL)
			wg.Go(func() {
				select {
				case <-h.release:
				case <-ctx.Done():
					return
				}
				if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil && ctx.Err() == nil {
					b.fail(fmt.Errorf("let %s through: %w", ev.Request.URL, err))
				}
			})
		}
		return nil
	})
	return h
}

// Release lets every held request through, and every later one at once.
func (h *Held) Release() { h.once.Do(func() { close(h.release) }) }

// Requests are the URLs of the requests held so far, released or not.
func (h *Held) Requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.urls...)
}

// Bodies are the bodies of the requests held so far (of those that have one), as
// the page sent them.
func (h *Held) Bodies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}
