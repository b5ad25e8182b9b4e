// Package bridge holds what the browser's links to a chip share: a timeout on every
// request and a check that an answer belongs to the request it is taken for.
// The links themselves are ble (Web Bluetooth), nfc (Web NFC) and devlink (dev mode).
package bridge

import (
	"context"
	"time"

	"mitidchip/chip"
)

// DefaultTimeout bounds a request whose context has no deadline of its own. A hello
// takes well under a second; a sign request waits for the button and must come with
// a deadline of its own that covers the wait.
const DefaultTimeout = 15 * time.Second

// WithTimeout returns ctx bounded by d (DefaultTimeout when d is not positive) unless
// ctx already has a deadline, so no request waits forever on a chip that went quiet.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// Answers reports whether response carries the request id of request. A link drops
// frames that do not, so a late answer to a request that already timed out is not
// taken for the answer to the next one. A frame too short to carry an id is let
// through for the decoder to reject with a precise error.
func Answers(request, response []byte) bool {
	want, ok := chip.PeekRequestID(request)
	if !ok {
		return true
	}
	got, ok := chip.PeekRequestID(response)
	return !ok || got == want
}
