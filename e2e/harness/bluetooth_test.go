package harness_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
)

// connect clicks the page's button (a real click: requestDevice needs the gesture)
// and waits for the page to hold a connection with notifications started.
func connect(t *testing.T, b *harness.Browser, p *harness.Peripheral) {
	t.Helper()
	b.Click("#connect")
	b.WaitJS("window.connecting")
	got := harness.Eval[pageResult](b, "window.connecting")
	if got.Error != "" || got.Name != p.Name() {
		t.Fatalf("connect: expected device %q, got %+v", p.Name(), got)
	}
}

func TestBluetoothHelloAndSign(t *testing.T) {
	url := servePage(t)
	vc := newChip(t)
	b := harness.New(t)
	p := b.EmulateChip(vc)
	b.Navigate(url)
	connect(t, b, p)

	hello := encode(t, chip.Frame{Type: chip.TypeHello, RequestID: 1})
	h := checkHello(t, vc, decode(t, harness.Eval[pageResult](b, "harnessPage.send("+jsChunks(t, hello)+")"), chip.TypeHelloReply, 1))

	// The sign request waits for the button, so the page's promise is awaited off
	// the test's goroutine while the test presses it.
	hash := sha256.Sum256([]byte("transcript"))
	sign := signFrame(t, 2, hash)
	send := "harnessPage.send(" + jsChunks(t, sign) + ")"
	answer := make(chan pageResult, 1)
	failed := make(chan error, 1)
	go func() {
		r, err := harness.EvalErr[pageResult](b, send)
		if err != nil {
			failed <- err
			return
		}
		answer <- r
	}()
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	vc.Press()
	var r pageResult
	select {
	case r = <-answer:
	case err := <-failed:
		t.Fatalf("sign: %v", err)
	case <-b.Context().Done():
		t.Fatalf("sign: no answer before the deadline: %v", b.Context().Err())
	}
	sig, err := chip.ParseSignature(decode(t, r, chip.TypeSignature, 2).Payload)
	if err != nil {
		t.Fatalf("parse signature: %v", err)
	}
	cert, err := x509.ParseCertificate(h.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), hash[:], sig) {
		t.Fatal("signature does not verify with the chip's attested key")
	}

	reqs := p.Requests()
	if len(reqs) != 2 || !bytes.Equal(reqs[0], hello) || !bytes.Equal(reqs[1], sign) {
		t.Fatalf("chip requests: expected hello then sign, got %d frames", len(reqs))
	}
}

// A dropped link ends the page's wait, withdraws the chip's pending sign request,
// and a reconnect on the same device works: notifications reach the new
// characteristic object, not the one of the lost connection. Then every other way
// the link breaks, each followed by a retry that works.
func TestBluetoothReconnect(t *testing.T) {
	url := servePage(t)
	vc := newChip(t)
	b := harness.New(t)
	faults := map[int]harness.Fault{2: harness.Corrupt, 5: harness.Lost} // by request number
	n := 0
	p := b.EmulateChip(vc, harness.Faults(func([]byte) harness.Fault {
		n++ // requests come one at a time, on one harness goroutine
		return faults[n]
	}))
	b.Navigate(url)
	connect(t, b, p)
	hello := func(id uint16) pageResult {
		t.Helper()
		return harness.Eval[pageResult](b, "harnessPage.send("+jsChunks(t, encode(t, chip.Frame{Type: chip.TypeHello, RequestID: id}))+")")
	}
	reconnect := func(what string) {
		t.Helper()
		if r := harness.Eval[pageResult](b, "harnessPage.reconnect()"); r.Error != "" {
			t.Fatalf("reconnect after %s: %s", what, r.Error)
		}
	}

	// 1: the chip goes out of range while it waits for its button.
	send := "harnessPage.send(" + jsChunks(t, signFrame(t, 1, [32]byte{})) + ")"
	answer := make(chan pageResult, 1)
	go func() {
		r, _ := harness.EvalErr[pageResult](b, send)
		answer <- r
	}()
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	p.Disconnect()
	select {
	case r := <-answer:
		if r.Error != "NetworkError: The chip disconnected." {
			t.Fatalf("page after disconnect: expected NetworkError, got %+v", r)
		}
	case <-b.Context().Done():
		t.Fatalf("page did not see the disconnect: %v", b.Context().Err())
	}
	b.WaitChip(vc, "no longer waiting", func(c *virtual.Chip) bool { return !c.Waiting() })
	reconnect("Disconnect")

	// 2: a corrupt answer; 3: a clean one.
	if r := hello(2); !errors.Is(decodeErr(r), chip.ErrChecksum) {
		t.Fatalf("corrupt answer: expected %v, got %v (%+v)", chip.ErrChecksum, decodeErr(r), r)
	}
	checkHello(t, vc, decode(t, hello(3), chip.TypeHelloReply, 3))

	// 4: the page drops the link itself and connects again. Chromium reports
	// neither step to the emulation; the answer must still reach the new object.
	if r := harness.Eval[pageResult](b, "harnessPage.drop()"); r.Error != "" {
		t.Fatalf("the page's own disconnect: %s", r.Error)
	}
	reconnect("the page's own disconnect")
	checkHello(t, vc, decode(t, hello(4), chip.TypeHelloReply, 4))

	// 5: the link drops as the request arrives (Lost).
	if r := hello(5); r.Error != "NetworkError: The chip disconnected." {
		t.Fatalf("lost link: expected NetworkError, got %+v", r)
	}
	reconnect("Lost")

	// The person turns Bluetooth off, tries again, turns it on, and it works.
	p.SetAdapter(harness.AdapterOff)
	b.WaitJS("harnessPage.disconnects() === 4")
	if r := harness.Eval[pageResult](b, "harnessPage.reconnect()"); !strings.HasPrefix(r.Error, "NetworkError") {
		t.Fatalf("reconnect with the adapter off: expected NetworkError, got %+v", r)
	}
	p.SetAdapter(harness.AdapterOn)
	reconnect("the adapter came back")
	checkHello(t, vc, decode(t, hello(6), chip.TypeHelloReply, 6))
	if n := harness.Eval[int](b, "harnessPage.disconnects()"); n != 4 {
		t.Fatalf("gattserverdisconnected events: expected 4, got %d", n)
	}
	if n := len(p.Requests()); n != 6 {
		t.Fatalf("chip requests: expected 6, got %d", n)
	}
}

// Every way requestDevice can end, and what getAvailability() says first.
func TestBluetoothRequestDevice(t *testing.T) {
	url := servePage(t)
	cases := []struct {
		name          string
		opts          []harness.LinkOption
		wantAvailable bool
		wantError     string // DOMException name; "" when the chip is picked
	}{
		{"adapter on", nil, true, ""},
		{"chooser cancelled", []harness.LinkOption{harness.CancelChooser()}, true, "NotFoundError"},
		// Chromium reports an adapter that is present, powered or not.
		{"adapter off", []harness.LinkOption{harness.WithAdapter(harness.AdapterOff)}, true, "NotFoundError"},
		{"no adapter", []harness.LinkOption{harness.WithAdapter(harness.AdapterAbsent)}, false, "NotFoundError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := harness.New(t)
			p := b.EmulateChip(newChip(t), tc.opts...)
			b.Navigate(url)
			if got := harness.Eval[bool](b, "harnessPage.available()"); got != tc.wantAvailable {
				t.Fatalf("getAvailability(): expected %v, got %v", tc.wantAvailable, got)
			}
			b.Click("#connect")
			b.WaitJS("window.connecting")
			got := harness.Eval[pageResult](b, "window.connecting")
			name, _, _ := strings.Cut(got.Error, ":")
			if name != tc.wantError || (tc.wantError == "" && got.Name != p.Name()) {
				t.Fatalf("requestDevice: expected error %q, got %+v", tc.wantError, got)
			}
		})
	}
	t.Run("no Web Bluetooth", func(t *testing.T) {
		b := harness.New(t, harness.WithoutWebBluetooth())
		b.Navigate(url)
		if got := harness.Eval[string](b, "typeof navigator.bluetooth"); got != "undefined" {
			t.Fatalf("navigator.bluetooth: expected undefined, got %s", got)
		}
	})
}
