// Package nfc is the Web NFC link to a chip: the page writes the request frame as
// one NDEF record and takes the response from the next reading of the chip.
package nfc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"mitidchip/bridge"
	"mitidchip/bridge/dom"
	"mitidchip/chip"
)

// Tag is the NFC side of a link.
type Tag interface {
	// Write writes one record to the chip, waiting until it is held to the phone.
	Write(ctx context.Context, rec chip.NDEFRecord) error
	// Read returns the records of the next reading that arrived after the last Write
	// began. A reading the phone saw but could not read is an error wrapping ErrRead.
	Read(ctx context.Context) ([]chip.NDEFRecord, error)
}

// Errors the NFC link reports besides chip.ErrDisconnected and context errors.
var (
	// ErrRead: the phone saw the chip but could not read it (moved too soon, or
	// not a tag it understands). Hold it still and try again.
	ErrRead = errors.New("nfc: the chip could not be read")
	// ErrClosed: the link was closed by its owner; open a new one.
	ErrClosed = errors.New("nfc: link closed")
)

// Link carries frames over a Tag. It implements chip.Link.
type Link struct {
	tag     Tag
	timeout time.Duration
	turn    chan struct{} // holds a token while a request is in flight
}

// Option configures a Link.
type Option func(*Link)

// WithTimeout sets how long a request may take, holding the chip to the phone
// included, when its context has no deadline (bridge.DefaultTimeout when not set).
func WithTimeout(d time.Duration) Option { return func(l *Link) { l.timeout = d } }

// New returns a link over tag.
func New(tag Tag, opts ...Option) *Link {
	l := &Link{tag: tag, timeout: bridge.DefaultTimeout, turn: make(chan struct{}, 1)}
	for _, o := range opts {
		o(l)
	}
	return l
}

// RoundTrip writes request to the chip and returns the frame of the first reading
// that answers it. Readings without a frame record, the request read back, and
// answers to earlier requests are skipped.
func (l *Link) RoundTrip(ctx context.Context, request []byte) ([]byte, error) {
	if len(request) == 0 || len(request) > chip.MaxFrame {
		return nil, fmt.Errorf("nfc: request of %d bytes: %w", len(request), chip.ErrOversized)
	}
	ctx, cancel := bridge.WithTimeout(ctx, l.timeout)
	defer cancel()
	select {
	case l.turn <- struct{}{}:
		defer func() { <-l.turn }()
	case <-ctx.Done():
		return nil, fmt.Errorf("nfc: waiting for an earlier request: %w", ctx.Err())
	}
	if err := l.tag.Write(ctx, chip.ToNDEF(request)); err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("nfc: writing request: %w", ctx.Err())
		case errors.Is(err, dom.ErrNetwork), errors.Is(err, dom.ErrAbort):
			// The chip left the field mid-write (or another write replaced ours).
			return nil, fmt.Errorf("nfc: writing request: %w: %w", chip.ErrDisconnected, err)
		}
		return nil, fmt.Errorf("nfc: writing request: %w", err)
	}
	for {
		records, err := l.tag.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("nfc: waiting for the chip's response: %w", ctx.Err())
			}
			return nil, fmt.Errorf("nfc: reading response: %w", err)
		}
		frame, err := chip.FromNDEF(records)
		switch {
		case errors.Is(err, chip.ErrNDEFNoFrame):
			continue
		case err != nil:
			return nil, fmt.Errorf("nfc: response: %w", err)
		case bytes.Equal(frame, request), !bridge.Answers(request, frame):
			continue
		}
		return frame, nil
	}
}
