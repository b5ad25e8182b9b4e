// Package virtual is a software MitID chip: a serial, a P-256 device key, an
// attestation certificate, a TOTP seed, one button and a display. It speaks only
// frames, so the same chip serves Bluetooth emulation, the NFC fake and the demo.
package virtual

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"mitidchip/chip"
)

// Code parameters, as on the real chip (RFC 6238 defaults).
const (
	Digits = 6
	Period = 30 * time.Second
)

// Config is what a manufacturer puts into a chip.
type Config struct {
	Serial      string
	Firmware    string // defaults to "1.0.0"
	Key         *ecdsa.PrivateKey
	Certificate []byte // DER
	Seed        []byte // TOTP secret, raw bytes
	Now         func() time.Time
}

// Chip is one virtual chip. It is safe for concurrent use: the page's link, a
// person's button presses and a test's checks may all touch it at once.
type Chip struct {
	serial string
	hello  []byte // hello-reply payload, fixed for the chip's life
	key    *ecdsa.PrivateKey
	seed   []byte
	now    func() time.Time

	mu      sync.Mutex
	display string
	pending chan struct{} // non-nil while a sign request waits for the button
	changed chan struct{} // closed and replaced on every state change
}

// New builds a chip and checks that its parts belong together.
func New(c Config) (*Chip, error) {
	if c.Key == nil || c.Key.Curve != elliptic.P256() {
		return nil, errors.New("virtual: device key must be P-256")
	}
	if len(c.Seed) < 16 {
		return nil, errors.New("virtual: seed must be at least 16 bytes")
	}
	if c.Firmware == "" {
		c.Firmware = "1.0.0"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	// The certificate must attest this key, or the chip would introduce itself with a
	// key its certificate does not vouch for. Whether the issuer is trusted, and whether
	// the subject names the serial, is the verifier's question.
	cert, err := x509.ParseCertificate(c.Certificate)
	if err != nil {
		return nil, fmt.Errorf("virtual: chip %q certificate: %w", c.Serial, err)
	}
	if certKey, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !certKey.Equal(&c.Key.PublicKey) {
		return nil, fmt.Errorf("virtual: chip %q certificate does not attest its device key", c.Serial)
	}
	pub, err := c.Key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("virtual: device key: %w", err)
	}
	hello, err := chip.Hello{Serial: c.Serial, Firmware: c.Firmware, PublicKey: pub, Certificate: c.Certificate}.Marshal()
	if err != nil {
		return nil, fmt.Errorf("virtual: chip %q: %w", c.Serial, err)
	}
	return &Chip{serial: c.Serial, hello: hello, key: c.Key, seed: append([]byte(nil), c.Seed...), now: c.Now, changed: make(chan struct{})}, nil
}

// Serial returns the chip's serial.
func (c *Chip) Serial() string { return c.serial }

// Press is the button. It shows the current one-time code and releases a sign
// request that waits for it.
func (c *Chip) Press() {
	code, err := Code(c.seed, c.now(), Digits)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil { // only for a seed New would have refused
		c.display = "Err"
	} else {
		c.display = code
	}
	if c.pending != nil {
		close(c.pending)
		c.pending = nil
	}
	c.notify()
}

// Display returns what the chip's display shows: "" before the first press.
func (c *Chip) Display() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.display
}

// Waiting reports whether a sign request is waiting for the button.
func (c *Chip) Waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending != nil
}

// Changed returns a channel closed at the next change of display or waiting state,
// so a watcher (a test, the demo page) waits on an event instead of polling.
func (c *Chip) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

func (c *Chip) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Handle answers one request frame with one response frame, as the chip's firmware
// does. A sign request blocks until the button is pressed, the request's own wait
// runs out (a not-pressed answer), or ctx ends (the link went away: ctx's error).
func (c *Chip) Handle(ctx context.Context, request []byte) ([]byte, error) {
	f, err := chip.Decode(request)
	if err != nil {
		id, _ := chip.PeekRequestID(request)
		code := chip.CodeBadFrame
		if errors.Is(err, chip.ErrVersion) {
			code = chip.CodeVersion
		}
		return reply(chip.TypeError, id, []byte{byte(code)})
	}
	switch f.Type {
	case chip.TypeHello:
		if len(f.Payload) != 0 {
			return reply(chip.TypeError, f.RequestID, []byte{byte(chip.CodeBadRequest)})
		}
		return reply(chip.TypeHelloReply, f.RequestID, c.hello)
	case chip.TypeSign:
		req, err := chip.ParseSignRequest(f.Payload)
		if err != nil {
			return reply(chip.TypeError, f.RequestID, []byte{byte(chip.CodeBadRequest)})
		}
		return c.sign(ctx, f.RequestID, req)
	}
	return reply(chip.TypeError, f.RequestID, []byte{byte(chip.CodeBadRequest)})
}

func (c *Chip) sign(ctx context.Context, id uint16, req chip.SignRequest) ([]byte, error) {
	c.mu.Lock()
	if c.pending != nil {
		c.mu.Unlock()
		return reply(chip.TypeError, id, []byte{byte(chip.CodeBusy)})
	}
	pressed := make(chan struct{})
	c.pending = pressed
	c.notify()
	c.mu.Unlock()

	timer := time.NewTimer(req.Wait)
	defer timer.Stop()
	select {
	case <-pressed:
	case <-timer.C:
		c.cancel(pressed)
		return reply(chip.TypeNotPressed, id, nil)
	case <-ctx.Done():
		c.cancel(pressed)
		return nil, ctx.Err()
	}
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, req.Hash[:])
	if err != nil {
		return nil, fmt.Errorf("virtual: sign: %w", err)
	}
	p, err := chip.MarshalSignature(sig)
	if err != nil {
		return nil, err
	}
	return reply(chip.TypeSignature, id, p)
}

// cancel withdraws a sign request that stopped waiting, unless a press beat it.
func (c *Chip) cancel(pressed chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == pressed {
		c.pending = nil
		c.notify()
	}
}

func reply(t chip.Type, id uint16, payload []byte) ([]byte, error) {
	return chip.Frame{Type: t, RequestID: id, Payload: payload}.Encode()
}

// Link returns an in-process link to the chip, as if it were held to the phone.
func (c *Chip) Link() chip.Link { return link{c} }

type link struct{ c *Chip }

func (l link) RoundTrip(ctx context.Context, request []byte) ([]byte, error) {
	return l.c.Handle(ctx, request)
}

// Code is the chip's one-time code generator: RFC 6238 TOTP with SHA-1 and a
// 30-second period, at time t.
func Code(seed []byte, t time.Time, digits int) (string, error) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)
	d := otp.DigitsSix
	if digits == 8 {
		d = otp.DigitsEight
	} else if digits != 6 {
		return "", fmt.Errorf("virtual: %d digits not supported", digits)
	}
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{
		Period: uint(Period / time.Second), Digits: d, Algorithm: otp.AlgorithmSHA1,
	})
}
