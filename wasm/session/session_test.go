package session_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/wasm/session"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newVirtualChip(t *testing.T) (*virtual.Chip, manufacturer.Chip) {
	t.Helper()
	ca, err := manufacturer.NewCA("Test Chip Factory", rand.Reader, testNow)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	mc, err := ca.Mint("MC-000001", rand.Reader, testNow)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	c, err := virtual.New(mc.Config(func() time.Time { return testNow }))
	if err != nil {
		t.Fatalf("virtual.New: %v", err)
	}
	return c, mc
}

// linkFunc is a Link made of a function, for links that misbehave on purpose.
type linkFunc func(ctx context.Context, req []byte) ([]byte, error)

func (f linkFunc) RoundTrip(ctx context.Context, req []byte) ([]byte, error) { return f(ctx, req) }

// answering is a link whose chip answers every request with a frame built by reply
// from the request's decoded frame.
func answering(reply func(req chip.Frame) chip.Frame) linkFunc {
	return func(_ context.Context, raw []byte) ([]byte, error) {
		req, err := chip.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("test link got a bad request: %w", err)
		}
		return reply(req).Encode()
	}
}

func TestHelloVirtualChip(t *testing.T) {
	c, mc := newVirtualChip(t)
	s := session.New(c.Link(), 100)
	h, err := s.Hello(context.Background())
	if err != nil {
		t.Fatalf("Hello: %v", err)
	}
	pub, _ := mc.Key.PublicKey.Bytes()
	if h.Serial != mc.Serial || !bytes.Equal(h.PublicKey, pub) || !bytes.Equal(h.Certificate, mc.Certificate) {
		t.Errorf("Hello: expected serial %s with the minted key and certificate, got %+v", mc.Serial, h)
	}
}

func TestSignVirtualChip(t *testing.T) {
	c, mc := newVirtualChip(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := session.New(c.Link(), 0xffff)
	h, err := s.Hello(ctx)
	if err != nil {
		t.Fatalf("Hello: %v", err)
	}
	cert, err := x509.ParseCertificate(h.Certificate)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}

	// The person presses once the chip waits; wait on the chip's event, not a sleep.
	pressed := make(chan error, 1)
	go func() {
		for {
			changed := c.Changed()
			if c.Waiting() {
				c.Press()
				pressed <- nil
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				pressed <- ctx.Err()
				return
			}
		}
	}()
	hash := sha256.Sum256([]byte("transcript"))
	sig, err := s.Sign(ctx, chip.SignRequest{Hash: hash, Wait: time.Minute})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := <-pressed; err != nil {
		t.Fatalf("pressing: %v", err)
	}
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), hash[:], sig) {
		t.Fatal("signature does not verify against the certificate's key")
	}
	if !ecdsa.VerifyASN1(&mc.Key.PublicKey, hash[:], sig) {
		t.Fatal("signature does not verify against the minted device key")
	}
}

func TestSignNotPressed(t *testing.T) {
	c, _ := newVirtualChip(t)
	s := session.New(c.Link(), 1)
	// The chip waits 50ms for a press nobody makes; nothing here is timed.
	sig, err := s.Sign(context.Background(), chip.SignRequest{Wait: 50 * time.Millisecond})
	if !errors.Is(err, session.ErrNotPressed) || sig != nil {
		t.Fatalf("Sign: expected ErrNotPressed and no signature, got %v and %x", err, sig)
	}
}

func TestSignRefusesBadRequest(t *testing.T) {
	called := false
	s := session.New(linkFunc(func(context.Context, []byte) ([]byte, error) {
		called = true
		return nil, errors.New("link must not be used")
	}), 1)
	if _, err := s.Sign(context.Background(), chip.SignRequest{Wait: 0}); !errors.Is(err, chip.ErrMessage) {
		t.Errorf("Sign with wait 0: expected chip.ErrMessage, got %v", err)
	}
	if called {
		t.Error("Sign with wait 0: expected nothing sent, but the link was called")
	}
}

func TestRequestIDs(t *testing.T) {
	c, _ := newVirtualChip(t)
	var ids []uint16
	link := linkFunc(func(ctx context.Context, req []byte) ([]byte, error) {
		id, _ := chip.PeekRequestID(req)
		ids = append(ids, id)
		return c.Link().RoundTrip(ctx, req)
	})
	s := session.New(link, 0xfffe)
	for i := 0; i < 3; i++ {
		if _, err := s.Hello(context.Background()); err != nil {
			t.Fatalf("Hello %d: %v", i, err)
		}
	}
	if want := []uint16{0xfffe, 0xffff, 0}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("request ids: expected %v, got %v", want, ids)
	}
}

func TestUnexpectedAnswers(t *testing.T) {
	c, _ := newVirtualChip(t)
	raw, err := c.Handle(context.Background(), mustEncode(t, chip.Frame{Type: chip.TypeHello, RequestID: 1}))
	if err != nil {
		t.Fatalf("Handle hello: %v", err)
	}
	good, err := chip.Decode(raw)
	if err != nil {
		t.Fatalf("Decode hello reply: %v", err)
	}
	helloOf := func(req chip.Frame) chip.Frame {
		return chip.Frame{Type: chip.TypeHelloReply, RequestID: req.RequestID, Payload: good.Payload}
	}
	tests := []struct {
		name  string
		reply func(req chip.Frame) chip.Frame
		want  error
	}{
		{"wrong request id", func(req chip.Frame) chip.Frame {
			f := helloOf(req)
			f.RequestID++
			return f
		}, session.ErrUnexpected},
		{"wrong request id on an error frame", func(req chip.Frame) chip.Frame {
			return chip.Frame{Type: chip.TypeError, RequestID: req.RequestID + 1, Payload: []byte{byte(chip.CodeBusy)}}
		}, session.ErrUnexpected},
		{"signature answering hello", func(req chip.Frame) chip.Frame {
			return chip.Frame{Type: chip.TypeSignature, RequestID: req.RequestID, Payload: []byte{1, 0x30}}
		}, session.ErrUnexpected},
		{"request type echoed", func(req chip.Frame) chip.Frame { return req }, session.ErrUnexpected},
		{"not-pressed answering hello", func(req chip.Frame) chip.Frame {
			return chip.Frame{Type: chip.TypeNotPressed, RequestID: req.RequestID}
		}, session.ErrUnexpected},
		{"malformed hello payload", func(req chip.Frame) chip.Frame {
			return chip.Frame{Type: chip.TypeHelloReply, RequestID: req.RequestID, Payload: []byte{1, 'A'}}
		}, chip.ErrMessage},
		{"malformed error payload", func(req chip.Frame) chip.Frame {
			return chip.Frame{Type: chip.TypeError, RequestID: req.RequestID}
		}, chip.ErrMessage},
	}
	// The fake answers well when nothing is changed, so each case tests its one fault.
	if _, err := session.New(answering(helloOf), 40).Hello(context.Background()); err != nil {
		t.Fatalf("Hello with an unchanged reply: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := session.New(answering(tt.reply), 40)
			h, err := s.Hello(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Hello: expected %v, got %v (%+v)", tt.want, err, h)
			}
		})
	}
}

func TestUndecodableAnswer(t *testing.T) {
	s := session.New(linkFunc(func(_ context.Context, req []byte) ([]byte, error) {
		bad := bytes.Clone(req)
		bad[len(bad)-1] ^= 1
		return bad, nil
	}), 1)
	if _, err := s.Hello(context.Background()); !errors.Is(err, chip.ErrChecksum) {
		t.Fatalf("Hello: expected chip.ErrChecksum, got %v", err)
	}
}

func TestChipErrorFrame(t *testing.T) {
	s := session.New(answering(func(req chip.Frame) chip.Frame {
		return chip.Frame{Type: chip.TypeError, RequestID: req.RequestID, Payload: []byte{byte(chip.CodeBusy)}}
	}), 7)
	for name, call := range map[string]func() error{
		"hello": func() error { _, err := s.Hello(context.Background()); return err },
		"sign": func() error {
			_, err := s.Sign(context.Background(), chip.SignRequest{Wait: time.Second})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var ce *chip.Error
			err := call()
			if !errors.As(err, &ce) {
				t.Fatalf("expected a *chip.Error, got %v", err)
			}
			if ce.Code != chip.CodeBusy {
				t.Errorf("code: expected %d, got %d", chip.CodeBusy, ce.Code)
			}
		})
	}
}

func TestLinkErrors(t *testing.T) {
	// A link that blocks until the page gives up, as Bluetooth does when nothing answers.
	blocking := linkFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("bluetooth: waiting for the response: %w", ctx.Err())
	})
	// A deadline already passed: the page has given up, however fast the machine.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	s := session.New(blocking, 1)
	if _, err := s.Sign(ctx, chip.SignRequest{Wait: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sign over a blocking link: expected context.DeadlineExceeded, got %v", err)
	}

	gone := linkFunc(func(context.Context, []byte) ([]byte, error) {
		return nil, fmt.Errorf("nfc: tag removed: %w", chip.ErrDisconnected)
	})
	if _, err := session.New(gone, 1).Hello(context.Background()); !errors.Is(err, chip.ErrDisconnected) {
		t.Errorf("Hello over a dropped link: expected chip.ErrDisconnected, got %v", err)
	}
}

func mustEncode(t *testing.T, f chip.Frame) []byte {
	t.Helper()
	b, err := f.Encode()
	if err != nil {
		t.Fatalf("Encode %v: %v", f.Type, err)
	}
	return b
}
