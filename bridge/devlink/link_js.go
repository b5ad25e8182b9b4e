//go:build js && wasm

package devlink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hack-pad/safejs"

	"mitidchip/bridge"
	"mitidchip/bridge/dom"
	"mitidchip/chip"
)

// Link posts frames to one dev endpoint, e.g. /dev/chip/{serial}/frame. It
// implements chip.Link. fetch() is used rather than net/http, which would swell the
// module for one POST.
type Link struct {
	url     string
	timeout time.Duration
}

// Option configures a Link.
type Option func(*Link)

// WithTimeout sets how long a request may take when its context has no deadline
// (bridge.DefaultTimeout when not set).
func WithTimeout(d time.Duration) Option { return func(l *Link) { l.timeout = d } }

// New returns a link to the dev endpoint at url (same origin as the page).
func New(url string, opts ...Option) *Link {
	l := &Link{url: url, timeout: bridge.DefaultTimeout}
	for _, o := range opts {
		o(l)
	}
	return l
}

// RoundTrip POSTs request as application/octet-stream and returns the body of a 200
// answer. When ctx is done the fetch is aborted.
func (l *Link) RoundTrip(ctx context.Context, request []byte) ([]byte, error) {
	if len(request) == 0 || len(request) > chip.MaxFrame {
		return nil, fmt.Errorf("devlink: request of %d bytes: %w", len(request), chip.ErrOversized)
	}
	ctx, cancel := bridge.WithTimeout(ctx, l.timeout)
	defer cancel()
	body, err := dom.Uint8Array(request)
	if err != nil {
		return nil, fmt.Errorf("devlink: %w", err)
	}
	abort, err := dom.NewAbortController()
	if err != nil {
		return nil, fmt.Errorf("devlink: %w", err)
	}
	frame, err := l.post(ctx, abort, body)
	if err != nil && ctx.Err() != nil {
		_ = abort.Abort()
		return nil, fmt.Errorf("devlink: waiting for the virtual chip: %w", ctx.Err())
	}
	return frame, err
}

// post sends the request and returns the body of a 200 answer.
func (l *Link) post(ctx context.Context, abort dom.AbortController, body safejs.Value) ([]byte, error) {
	init := map[string]any{
		"method":      "POST",
		"headers":     map[string]any{"Content-Type": "application/octet-stream"},
		"body":        body,
		"signal":      abort.Signal,
		"credentials": "same-origin",
		"cache":       "no-store",
	}
	rsp, err := dom.AwaitCall(ctx, safejs.Global(), "fetch", l.url, init)
	if errors.Is(err, &dom.Error{Name: "TypeError"}) {
		// fetch rejects with TypeError when the server cannot be reached.
		return nil, fmt.Errorf("devlink: server unreachable: %w: %w", chip.ErrDisconnected, err)
	}
	if err != nil {
		return nil, fmt.Errorf("devlink: fetch: %w", err)
	}
	st, err := dom.Get(rsp, "status")
	if err != nil {
		return nil, fmt.Errorf("devlink: response status: %w", err)
	}
	status, err := st.Int()
	if err != nil {
		return nil, fmt.Errorf("devlink: response status: %w", err)
	}
	if err := statusError(status); err != nil {
		return nil, err
	}
	buf, err := dom.AwaitCall(ctx, rsp, "arrayBuffer")
	if err != nil {
		return nil, fmt.Errorf("devlink: response body: %w", err)
	}
	frame, err := dom.Bytes(buf, chip.MaxFrame)
	if err != nil {
		return nil, fmt.Errorf("devlink: response body: %w", err)
	}
	return frame, nil
}
