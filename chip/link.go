package chip

import (
	"context"
	"errors"
)

// Link moves frames between the page and a chip: Bluetooth, NFC, or an in-process
// virtual chip. It knows nothing of what the frames mean.
type Link interface {
	// RoundTrip sends one encoded request frame and returns the encoded response
	// frame. It gives up when ctx is done, returning an error that wraps ctx.Err().
	RoundTrip(ctx context.Context, request []byte) ([]byte, error)
}

// Errors a link reports, so the page can tell a person what happened.
var (
	// ErrDisconnected: the chip went away (Bluetooth dropped, tag removed). Retry.
	ErrDisconnected = errors.New("chip: disconnected")
)
