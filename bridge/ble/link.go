// Package ble is the Web Bluetooth link to a chip: request frames are written in
// 20-byte chunks to a GATT characteristic, and responses arrive as notifications.
package ble

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"mitidchip/bridge"
	"mitidchip/bridge/dom"
	"mitidchip/chip"
)

// Port is the GATT side of a link: it writes one chunk to the request
// characteristic and returns once the chip has acknowledged it.
type Port interface {
	Write(ctx context.Context, chunk []byte) error
}

// Errors of the link. They are declared here, without build tags, so that code built
// natively (the module's error codes in wasm/app, and its tests) can match them.
var (
	// ErrClosed: the link was closed by its owner; make a new one.
	ErrClosed = errors.New("ble: link closed")
	// ErrNoService: the device the person chose does not offer the chip's GATT service
	// or its characteristics; it is not a MitID chip, or its firmware is too old.
	ErrNoService = errors.New("ble: device is not a MitID chip (chip service missing)")
)

// Link carries frames over a Port. It implements chip.Link. Whoever owns the GATT
// side calls Notify for each notification and Disconnected when the device drops.
type Link struct {
	port    Port
	timeout time.Duration
	turn    chan struct{} // holds a token while a request is in flight

	mu           sync.Mutex
	pending      *exchange // nil when no request waits for a response
	re           chip.Reassembler
	disconnected bool
	closed       bool
}

type exchange struct {
	request []byte
	done    chan result // buffered; written once
}

type result struct {
	frame []byte
	err   error
}

// Option configures a Link.
type Option func(*Link)

// WithTimeout sets how long a request may take when its context has no deadline of
// its own (bridge.DefaultTimeout when not set).
func WithTimeout(d time.Duration) Option { return func(l *Link) { l.timeout = d } }

// New returns a connected link over port.
func New(port Port, opts ...Option) *Link {
	l := &Link{port: port, timeout: bridge.DefaultTimeout, turn: make(chan struct{}, 1)}
	for _, o := range opts {
		o(l)
	}
	return l
}

// RoundTrip writes request in chunks and waits for the response frame. Requests are
// served one at a time; a later caller waits its turn within its own deadline.
func (l *Link) RoundTrip(ctx context.Context, request []byte) ([]byte, error) {
	chunks, err := chip.Split(request)
	if err != nil {
		return nil, fmt.Errorf("ble: request: %w", err)
	}
	ctx, cancel := bridge.WithTimeout(ctx, l.timeout)
	defer cancel()
	select {
	case l.turn <- struct{}{}:
		defer func() { <-l.turn }()
	case <-ctx.Done():
		return nil, fmt.Errorf("ble: waiting for an earlier request: %w", ctx.Err())
	}
	ex, err := l.begin(request)
	if err != nil {
		return nil, err
	}
	defer l.end(ex)
	for i, c := range chunks {
		if err := l.port.Write(ctx, c); err != nil {
			return nil, l.writeFailed(ctx, ex, err, i, len(chunks))
		}
	}
	select {
	case r := <-ex.done:
		return r.frame, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("ble: waiting for the chip's response: %w", ctx.Err())
	}
}

// writeFailed picks the error that tells the person most: a disconnect reported
// meanwhile, the caller's deadline, or the write's own failure.
func (l *Link) writeFailed(ctx context.Context, ex *exchange, err error, i, n int) error {
	select {
	case r := <-ex.done:
		if r.err != nil {
			return r.err
		}
	default:
	}
	if ctx.Err() != nil {
		return fmt.Errorf("ble: writing request chunk %d of %d: %w", i+1, n, ctx.Err())
	}
	if errors.Is(err, dom.ErrNetwork) {
		// Chrome reports a write to a dropped GATT server as NetworkError.
		return fmt.Errorf("ble: writing request chunk %d of %d: %w: %w", i+1, n, chip.ErrDisconnected, err)
	}
	return fmt.Errorf("ble: writing request chunk %d of %d: %w", i+1, n, err)
}

func (l *Link) begin(request []byte) (*exchange, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, ErrClosed
	case l.disconnected:
		return nil, fmt.Errorf("ble: %w; reconnect and try again", chip.ErrDisconnected)
	}
	// Chunks left over from an answer that came too late belong to nobody.
	l.re.Reset()
	ex := &exchange{request: request, done: make(chan result, 1)}
	l.pending = ex
	return ex, nil
}

func (l *Link) end(ex *exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == ex {
		l.pending = nil
	}
}

// finish hands r to the pending request, if any. Called with l.mu held.
func (l *Link) finish(r result) {
	if l.pending == nil {
		return
	}
	l.pending.done <- r
	l.pending = nil
}

// Notify takes one notification from the response characteristic. A chunk that could
// not be read is passed as nil and fails the pending request as malformed.
// Notifications with no request pending are dropped. It never blocks, so the
// JavaScript event listener can call it directly and keep the chunks in order.
func (l *Link) Notify(chunk []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		return
	}
	frame, err := l.re.Add(chunk)
	switch {
	case err != nil:
		l.finish(result{err: fmt.Errorf("ble: response chunk: %w", err)})
	case frame == nil:
	case !bridge.Answers(l.pending.request, frame):
		// A late answer to an earlier request that timed out; ours may still come.
	default:
		l.finish(result{frame: frame})
	}
}

// Disconnected records that the GATT server dropped: the pending request and every
// later one fail with an error wrapping chip.ErrDisconnected until Reconnected.
func (l *Link) Disconnected() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disconnected = true
	l.re.Reset()
	l.finish(result{err: fmt.Errorf("ble: chip dropped the connection: %w", chip.ErrDisconnected)})
}

// Reconnected records that the GATT side is usable again. A closed link stays closed.
func (l *Link) Reconnected() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disconnected = false
}

// Close fails the pending request and every later one with ErrClosed.
func (l *Link) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.re.Reset()
	l.finish(result{err: ErrClosed})
}
