package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"mitidchip/bridge/dom"
	"mitidchip/bridge/nfc"
	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/wasm/password"
	"mitidchip/wasm/session"
	"mitidchip/wasm/transcript"
)

type conn struct {
	chip.Link
	closed bool
}

func (c *conn) Close() error { c.closed = true; return nil }

func newChip(t *testing.T) *virtual.Chip {
	t.Helper()
	ca, err := manufacturer.NewCA("Test", rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := ca.Mint("MC-000001", rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	vc, err := virtual.New(m.Config(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	return vc
}

func TestConnectAndSign(t *testing.T) {
	vc := newChip(t)
	var opened []*conn
	a := New(func(_ context.Context, kind, serial string) (Conn, error) {
		if kind != "virtual" {
			return nil, ErrUnknownKind
		}
		c := &conn{Link: vc.Link()}
		opened = append(opened, c)
		return c, nil
	}, rand.Reader)

	if _, err := a.Sign(context.Background(), transcript.Binding{}, time.Second); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Sign before Connect = %v, want ErrNotConnected", err)
	}
	h, payload, err := a.Connect(context.Background(), "virtual", "MC-000001")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if parsed, err := chip.ParseHello(payload); err != nil || parsed.Serial != h.Serial || h.Serial != "MC-000001" {
		t.Fatalf("hello payload parses to %+v, %v; want serial MC-000001", parsed, err)
	}
	b := transcript.Binding{
		ActivationID: "act-1", UserID: "person-1", ChipSerial: h.Serial, ChipPublicKey: h.PublicKey,
		PasswordVerifier: make([]byte, 32), Nonce: make([]byte, 32),
	}
	other := b
	other.ChipSerial = "MC-000002"
	if _, err := a.Sign(context.Background(), other, time.Second); Code(err) != "wrong_chip" {
		t.Fatalf("Sign for another chip = %v (code %q), want wrong_chip", err, Code(err))
	}
	if _, err := a.Sign(context.Background(), b, 20*time.Millisecond); Code(err) != "not_pressed" {
		t.Fatalf("Sign without a press = %v (code %q), want not_pressed", err, Code(err))
	}
	go func() {
		for !vc.Waiting() {
			<-vc.Changed()
		}
		vc.Press()
	}()
	sig, err := a.Sign(context.Background(), b, 10*time.Second)
	if err != nil {
		t.Fatalf("Sign with a press: %v", err)
	}
	hash, _ := b.Hash()
	cert, _ := x509.ParseCertificate(h.Certificate)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), hash[:], sig) {
		t.Fatal("signature does not verify with the attested key")
	}
	a.Disconnect()
	if !opened[0].closed {
		t.Error("Disconnect did not close the link")
	}
	if _, err := a.Sign(context.Background(), b, time.Second); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Sign after Disconnect = %v, want ErrNotConnected", err)
	}
}

func TestConnectFailureClosesLink(t *testing.T) {
	c := &conn{Link: linkFunc(func(context.Context, []byte) ([]byte, error) { return nil, chip.ErrDisconnected })}
	a := New(func(context.Context, string, string) (Conn, error) { return c, nil }, rand.Reader)
	if _, _, err := a.Connect(context.Background(), "bluetooth", ""); Code(err) != "disconnected" {
		t.Fatalf("Connect over a dropped link = %v (code %q), want disconnected", err, Code(err))
	}
	if !c.closed {
		t.Error("a failed Connect left the link open")
	}
}

type linkFunc func(context.Context, []byte) ([]byte, error)

func (f linkFunc) RoundTrip(ctx context.Context, b []byte) ([]byte, error) { return f(ctx, b) }

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{password.ErrMismatch, "mismatch"},
		{fmt.Errorf("x: %w", session.ErrNotPressed), "not_pressed"},
		{&dom.Error{Name: "NotFoundError"}, "cancelled"},
		{&dom.Error{Name: "NotAllowedError"}, "not_allowed"},
		{&dom.Error{Name: "SecurityError"}, "not_allowed"},
		{&dom.Error{Name: "NotSupportedError"}, "not_supported"},
		{&dom.Error{Name: "NetworkError"}, "disconnected"},
		{fmt.Errorf("ble: %w", chip.ErrDisconnected), "disconnected"},
		{nfc.ErrRead, "nfc_read_error"},
		{context.DeadlineExceeded, "timeout"},
		{&chip.Error{Code: chip.CodeBusy}, "chip_error"},
		{chip.ErrChunkLost, "chip_error"},
		{session.ErrUnexpected, "chip_error"},
		{ErrWrongChip, "wrong_chip"},
		{ErrUnknownKind, "bad_input"},
		{errors.New("something else"), "internal"},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	if c := CheckPassword("short", ""); len(c.Reasons) == 0 || c.Reasons[0] != "too_short" || c.Strength != 0 {
		t.Errorf("CheckPassword(short) = %+v, want too_short and strength 0", c)
	}
	if c := CheckPassword("Blå hest løber 7 gange!", "demo.borger"); len(c.Reasons) != 0 || c.Strength == 0 {
		t.Errorf("CheckPassword(good) = %+v, want no reasons and strength > 0", c)
	}
}
