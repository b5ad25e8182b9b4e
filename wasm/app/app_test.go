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

	"mitidchip/bridge/ble"
	"mitidchip/bridge/dom"
	"mitidchip/bridge/nfc"
	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/credential/password"
	"mitidchip/credential/transcript"
	"mitidchip/wasm/session"
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
		{fmt.Errorf("x: %w", errors.Join(ErrBluetoothUnavailable, &dom.Error{Name: "NotFoundError"})), "bluetooth_unavailable"},
		{&dom.Error{Name: "NotAllowedError"}, "not_allowed"},
		{&dom.Error{Name: "SecurityError"}, "not_allowed"},
		{&dom.Error{Name: "NotSupportedError"}, "not_supported"},
		{fmt.Errorf("nfc: scanning: %w", &dom.Error{Name: "NotReadableError"}), "nfc_off"},
		{fmt.Errorf("ble: chip service: %w: %w", ble.ErrNoService, &dom.Error{Name: "NotFoundError"}), "not_a_chip"},
		{fmt.Errorf("ble: chosen device has no GATT server: %w", ble.ErrNoService), "not_a_chip"},
		{&dom.Error{Name: "NetworkError"}, "disconnected"},
		{fmt.Errorf("ble: %w", chip.ErrDisconnected), "disconnected"},
		{nfc.ErrRead, "nfc_read_error"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("session: %w", &chip.Error{Code: chip.CodeBusy}), "chip_busy"},
		{&chip.Error{Code: chip.CodeBadRequest}, "chip_error"},
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

// reconnConn is a link that can drop and reconnect, as a Web Bluetooth chip does.
type reconnConn struct {
	conn
	down       bool
	reconnects int
	fail       error // what Reconnect answers
}

func (c *reconnConn) RoundTrip(ctx context.Context, b []byte) ([]byte, error) {
	if c.down {
		return nil, fmt.Errorf("test link: %w", chip.ErrDisconnected)
	}
	return c.Link.RoundTrip(ctx, b)
}

func (c *reconnConn) Reconnect(context.Context) error {
	c.reconnects++
	if c.fail != nil {
		return c.fail
	}
	c.down = false
	return nil
}

// A link that drops is reconnected by the next Connect of its kind, without the
// connector (no second chooser); a failed reconnect forgets it, and the Connect
// after opens a new link; a Connect of another kind closes it.
func TestConnectReconnectsDroppedLink(t *testing.T) {
	vc := newChip(t)
	var opened []*reconnConn
	openDown := false // the next link opened drops at once
	a := New(func(context.Context, string, string) (Conn, error) {
		c := &reconnConn{conn: conn{Link: vc.Link()}, down: openDown}
		openDown = false
		opened = append(opened, c)
		return c, nil
	}, rand.Reader)
	h, _, err := a.Connect(context.Background(), "bluetooth", "")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	b := transcript.Binding{
		ActivationID: "act-1", UserID: "person-1", ChipSerial: h.Serial, ChipPublicKey: h.PublicKey,
		PasswordVerifier: make([]byte, 32), Nonce: make([]byte, 32),
	}

	// Dropped while signing: the next Connect reconnects the same link.
	opened[0].down = true
	if _, err := a.Sign(context.Background(), b, time.Second); Code(err) != "disconnected" {
		t.Fatalf("Sign over a dropped link = %v (code %q), want disconnected", err, Code(err))
	}
	if _, _, err := a.Connect(context.Background(), "bluetooth", ""); err != nil {
		t.Fatalf("Connect after the drop: %v", err)
	}
	if len(opened) != 1 || opened[0].reconnects != 1 || opened[0].closed {
		t.Fatalf("Connect after a drop: expected the link reconnected once and open, got %d links opened, %d reconnects, closed %v", len(opened), opened[0].reconnects, opened[0].closed)
	}

	// A new link dropped at the hello, and its reconnect fails: the error, then a
	// new link.
	a.Disconnect()
	openDown = true
	if _, _, err := a.Connect(context.Background(), "bluetooth", ""); Code(err) != "disconnected" {
		t.Fatalf("Connect over a link that drops = %v (code %q), want disconnected", err, Code(err))
	}
	if opened[1].closed {
		t.Fatal("a link that dropped at the hello was closed, not kept to reconnect")
	}
	opened[1].fail = fmt.Errorf("test: %w", &dom.Error{Name: "NetworkError"})
	if _, _, err := a.Connect(context.Background(), "bluetooth", ""); Code(err) != "disconnected" {
		t.Fatalf("Connect with a failing reconnect = %v (code %q), want disconnected", err, Code(err))
	}
	if !opened[1].closed || opened[1].reconnects != 1 {
		t.Fatalf("a link that failed to reconnect: expected closed after 1 reconnect, got closed %v after %d", opened[1].closed, opened[1].reconnects)
	}
	if _, _, err := a.Connect(context.Background(), "bluetooth", ""); err != nil || len(opened) != 3 {
		t.Fatalf("Connect after a failed reconnect: %v with %d links opened, want a third link", err, len(opened))
	}

	// Dropped, then another kind: the dropped link is closed, not reconnected.
	opened[2].down = true
	if _, err := a.Sign(context.Background(), b, time.Second); Code(err) != "disconnected" {
		t.Fatalf("Sign over a dropped link = %v (code %q), want disconnected", err, Code(err))
	}
	if _, _, err := a.Connect(context.Background(), "nfc", ""); err != nil {
		t.Fatalf("Connect by NFC: %v", err)
	}
	if !opened[2].closed || opened[2].reconnects != 0 || len(opened) != 4 {
		t.Fatalf("Connect of another kind: expected the dropped link closed and a new one, got closed %v, %d reconnects, %d links", opened[2].closed, opened[2].reconnects, len(opened))
	}
	a.Disconnect()
	if !opened[3].closed {
		t.Fatal("Disconnect left the link open")
	}
}

// TestSignLogon: the connected chip signs the logon transcript with its own serial
// and key filled in, which the server rebuilds from the hello.
func TestSignLogon(t *testing.T) {
	vc := newChip(t)
	a := New(func(context.Context, string, string) (Conn, error) { return &conn{Link: vc.Link()}, nil }, rand.Reader)
	l := transcript.Logon{ChallengeID: "c-1", Challenge: make([]byte, 32), UserID: "anna.hansen",
		Origin: "https://mitid.test", Purpose: transcript.PurposeMitID, Nonce: make([]byte, 32)}
	if _, err := a.SignLogon(context.Background(), l, time.Second); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SignLogon before Connect = %v, want ErrNotConnected", err)
	}
	h, _, err := a.Connect(context.Background(), "virtual", "MC-000001")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	bad := l
	bad.Nonce = nil
	if _, err := a.SignLogon(context.Background(), bad, time.Second); Code(err) != "bad_input" {
		t.Fatalf("SignLogon without a nonce = %v, want bad_input", err)
	}
	go func() {
		for !vc.Waiting() {
			<-vc.Changed()
		}
		vc.Press()
	}()
	sig, err := a.SignLogon(context.Background(), l, 10*time.Second)
	if err != nil {
		t.Fatalf("SignLogon with a press: %v", err)
	}
	l.ChipSerial, l.ChipPublicKey = h.Serial, h.PublicKey
	hash, _ := l.Hash()
	cert, _ := x509.ParseCertificate(h.Certificate)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), hash[:], sig) {
		t.Fatal("signature does not verify over the logon transcript with the chip's fields")
	}
}
