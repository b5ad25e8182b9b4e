package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// LostAnswer is a request of the page that reached the server but whose answer never
// reached the page, as when a connection drops after the server committed its work.
type LostAnswer struct {
	done   chan struct{}
	status int
	err    error
}

// LoseAnswer makes the first request of the page whose URL matches pattern (the Fetch
// domain's wildcards: '*' any characters, '?' one) reach the server with its answer
// lost on the way back: the harness sends the request to the server itself, reads the
// answer and throws it away, cookies and all, then fails the page's request as a reset
// connection. Requests after it pass untouched. Call it before the page makes the
// request: before Navigate, for one the page makes as it loads.
func (b *Browser) LoseAnswer(pattern string) *LostAnswer {
	b.t.Helper()
	l := &LostAnswer{done: make(chan struct{})}
	paused := chromedp.Events(b.bg, fetch.RequestPaused) // before Enable, so none is missed
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageRequest}},
	}); err != nil {
		b.t.Fatalf("harness: intercept %s: %v", pattern, err)
	}
	b.background("lose an answer", func(ctx context.Context) error {
		lost := false
		for ev, err := range paused {
			if err != nil {
				return err
			}
			if lost {
				if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil {
					return fmt.Errorf("let %s through: %w", ev.Request.URL, err)
				}
				continue
			}
			lost = true
			l.status, l.err = forward(ctx, ev.Request)
			b.trace.add("network: %s %s answered %d (%v) and the answer was lost", ev.Request.Method, ev.Request.URL, l.status, l.err)
			close(l.done)
			if _, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{
				RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset,
			}); err != nil {
				return fmt.Errorf("fail %s: %w", ev.Request.URL, err)
			}
		}
		return nil
	})
	return l
}

// Wait waits until the request was made and its answer lost, and returns the status
// the server answered with.
func (l *LostAnswer) Wait(ctx context.Context) (int, error) {
	select {
	case <-l.done:
		return l.status, l.err
	case <-ctx.Done():
		return 0, fmt.Errorf("no request to lose the answer of: %w", ctx.Err())
	}
}

// forward sends the page's request as the page would have, and reads the answer.
func forward(ctx context.Context, r *network.Request) (int, error) {
	var body []byte
	for _, e := range r.PostDataEntries {
		body = append(body, e.Bytes...)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range r.Headers {
		if s, ok := v.(string); ok {
			// Chromium lists repeated headers joined by newlines.
			for _, line := range strings.Split(s, "\n") {
				req.Header.Add(k, line)
			}
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}
