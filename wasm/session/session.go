// Package session is the page's side of a conversation with a chip: it frames
// requests, matches responses to them, and turns the chip's answers into Go values.
package session

import (
	"context"
	"errors"

	"mitidchip/chip"
)

// Errors a session reports beyond the link's own and the chip's *chip.Error.
var (
	// ErrNotPressed: the chip answered that its button was not pressed in time.
	ErrNotPressed = errors.New("session: chip button not pressed in time")
	// ErrUnexpected: the chip answered with a frame that does not belong to the
	// request (another request id or a type that does not answer it).
	ErrUnexpected = errors.New("session: unexpected response from chip")
)

// Session talks to one chip over one link. Requests are sequential: a chip serves
// one at a time, and answers others with busy.
type Session struct {
	link chip.Link
	next uint16
}

// New starts a session over link. The first request id is seeded by the caller (a
// random value is best) so ids from an earlier page load are not mistaken for ours.
func New(link chip.Link, firstID uint16) *Session {
	return &Session{link: link, next: firstID}
}

// Hello asks the chip for its serial, firmware, public key and certificate.
func (s *Session) Hello(ctx context.Context) (chip.Hello, error) {
	f, err := s.roundTrip(ctx, chip.TypeHello, nil, chip.TypeHelloReply)
	if err != nil {
		return chip.Hello{}, err
	}
	return chip.ParseHello(f.Payload)
}

// Sign asks the chip to sign a transcript hash when its button is pressed. The chip
// waits up to req.Wait; ctx should allow a little longer for the answer to travel.
func (s *Session) Sign(ctx context.Context, req chip.SignRequest) ([]byte, error) {
	p, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	f, err := s.roundTrip(ctx, chip.TypeSign, p, chip.TypeSignature, chip.TypeNotPressed)
	if err != nil {
		return nil, err
	}
	if f.Type == chip.TypeNotPressed {
		return nil, ErrNotPressed
	}
	return chip.ParseSignature(f.Payload)
}

func (s *Session) roundTrip(ctx context.Context, t chip.Type, payload []byte, want ...chip.Type) (chip.Frame, error) {
	id := s.next
	s.next++
	req, err := chip.Frame{Type: t, RequestID: id, Payload: payload}.Encode()
	if err != nil {
		return chip.Frame{}, err
	}
	raw, err := s.link.RoundTrip(ctx, req)
	if err != nil {
		return chip.Frame{}, err
	}
	f, err := chip.Decode(raw)
	if err != nil {
		return chip.Frame{}, err
	}
	if f.RequestID != id {
		return chip.Frame{}, ErrUnexpected
	}
	if f.Type == chip.TypeError {
		ce, err := chip.ParseError(f.Payload)
		if err != nil {
			return chip.Frame{}, err
		}
		return chip.Frame{}, ce
	}
	for _, w := range want {
		if f.Type == w {
			return f, nil
		}
	}
	return chip.Frame{}, ErrUnexpected
}
