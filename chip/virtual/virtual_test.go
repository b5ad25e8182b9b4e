package virtual_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rfcSeed is the SHA-1 secret of RFC 6238 appendix B.
var rfcSeed = []byte("12345678901234567890")

// rfcVectors are RFC 6238 appendix B's SHA-1 rows.
var rfcVectors = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

type factory struct {
	ca   *manufacturer.CA
	chip manufacturer.Chip
}

func newFactory(t *testing.T) factory {
	t.Helper()
	ca, err := manufacturer.NewCA("Test Chip Factory", rand.Reader, testNow)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	c, err := ca.Mint("MC-000001", rand.Reader, testNow)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return factory{ca: ca, chip: c}
}

func newChip(t *testing.T, cfg virtual.Config) *virtual.Chip {
	t.Helper()
	c, err := virtual.New(cfg)
	if err != nil {
		t.Fatalf("virtual.New: %v", err)
	}
	return c
}

func encode(t *testing.T, f chip.Frame) []byte {
	t.Helper()
	b, err := f.Encode()
	if err != nil {
		t.Fatalf("Encode %v: %v", f.Type, err)
	}
	return b
}

func signFrame(t *testing.T, id uint16, hash [32]byte, wait time.Duration) []byte {
	t.Helper()
	p, err := chip.SignRequest{Hash: hash, Wait: wait}.Marshal()
	if err != nil {
		t.Fatalf("SignRequest.Marshal: %v", err)
	}
	return encode(t, chip.Frame{Type: chip.TypeSign, RequestID: id, Payload: p})
}

// handle sends one request and decodes the response, checking its request id.
func handle(t *testing.T, ctx context.Context, c *virtual.Chip, id uint16, req []byte) chip.Frame {
	t.Helper()
	raw, err := c.Handle(ctx, req)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	f, err := chip.Decode(raw)
	if err != nil {
		t.Fatalf("Decode response: %v", err)
	}
	if f.RequestID != id {
		t.Fatalf("response request id: expected %d, got %d", id, f.RequestID)
	}
	return f
}

// waitUntilWaiting blocks until a sign request is waiting for the button. It takes
// the Changed channel before looking, so a change between the two is not missed.
func waitUntilWaiting(ctx context.Context, c *virtual.Chip) error {
	for {
		changed := c.Changed()
		if c.Waiting() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pressWhenWaiting presses the button from another goroutine, as a person would,
// once the chip waits for it. The returned channel reports that goroutine's failure.
func pressWhenWaiting(ctx context.Context, c *virtual.Chip) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := waitUntilWaiting(ctx, c)
		if err == nil {
			c.Press()
		}
		done <- err
	}()
	return done
}

func TestCodeRFC6238(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.code, func(t *testing.T) {
			got, err := virtual.Code(rfcSeed, time.Unix(v.unix, 0), 8)
			if err != nil {
				t.Fatalf("Code: %v", err)
			}
			if got != v.code {
				t.Errorf("Code at %d: expected %s, got %s", v.unix, v.code, got)
			}
		})
	}
}

func TestCodeDigits(t *testing.T) {
	for _, d := range []int{0, 5, 7, 9} {
		if code, err := virtual.Code(rfcSeed, time.Unix(59, 0), d); err == nil {
			t.Errorf("Code with %d digits: expected an error, got %q", d, code)
		}
	}
}

// TestDisplayShowsCode: the button shows the 6-digit code of the chip's clock, which
// is the last six digits of RFC 6238's 8-digit vectors.
func TestDisplayShowsCode(t *testing.T) {
	f := newFactory(t)
	var now time.Time
	cfg := f.chip.Config(func() time.Time { return now })
	cfg.Seed = rfcSeed
	c := newChip(t, cfg)
	if got := c.Display(); got != "" {
		t.Fatalf("Display before any press: expected empty, got %q", got)
	}
	for _, v := range rfcVectors {
		now = time.Unix(v.unix, 0)
		changed := c.Changed()
		c.Press()
		select {
		case <-changed:
		default:
			t.Fatalf("Changed: expected the channel closed by Press")
		}
		if want := v.code[2:]; c.Display() != want {
			t.Errorf("Display at %d: expected %s, got %s", v.unix, want, c.Display())
		}
	}
	if virtual.Digits != 6 || virtual.Period != 30*time.Second {
		t.Errorf("code parameters: expected 6 digits every 30s, got %d every %v", virtual.Digits, virtual.Period)
	}
}

func TestHello(t *testing.T) {
	f := newFactory(t)
	c := newChip(t, f.chip.Config(nil))
	if got := c.Serial(); got != f.chip.Serial {
		t.Errorf("Serial: expected %s, got %s", f.chip.Serial, got)
	}
	raw, err := c.Link().RoundTrip(context.Background(), encode(t, chip.Frame{Type: chip.TypeHello, RequestID: 77}))
	if err != nil {
		t.Fatalf("RoundTrip hello: %v", err)
	}
	resp, err := chip.Decode(raw)
	if err != nil {
		t.Fatalf("Decode hello reply: %v", err)
	}
	if resp.Type != chip.TypeHelloReply || resp.RequestID != 77 {
		t.Fatalf("hello reply: expected %v id 77, got %v id %d", chip.TypeHelloReply, resp.Type, resp.RequestID)
	}
	h, err := chip.ParseHello(resp.Payload)
	if err != nil {
		t.Fatalf("ParseHello: %v", err)
	}
	pub, _ := f.chip.Key.PublicKey.Bytes()
	if h.Serial != f.chip.Serial || h.Firmware != "1.0.0" || !bytes.Equal(h.PublicKey, pub) || !bytes.Equal(h.Certificate, f.chip.Certificate) {
		t.Errorf("hello: expected serial %s firmware 1.0.0 and the minted key and certificate, got %+v", f.chip.Serial, h)
	}
}

func TestSignNotPressed(t *testing.T) {
	f := newFactory(t)
	c := newChip(t, f.chip.Config(nil))
	// 50ms is how long the chip waits, not a timing assertion: nobody presses.
	resp := handle(t, context.Background(), c, 5, signFrame(t, 5, [32]byte{1}, 50*time.Millisecond))
	if resp.Type != chip.TypeNotPressed || len(resp.Payload) != 0 {
		t.Fatalf("response: expected %v with no payload, got %v %x", chip.TypeNotPressed, resp.Type, resp.Payload)
	}
	if c.Waiting() {
		t.Error("Waiting after not-pressed: expected false, got true")
	}
}

func TestSignPressed(t *testing.T) {
	fac := newFactory(t)
	c := newChip(t, fac.chip.Config(func() time.Time { return testNow }))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The certificate comes from the hello, as the page and the server see it.
	hf := handle(t, ctx, c, 1, encode(t, chip.Frame{Type: chip.TypeHello, RequestID: 1}))
	h, err := chip.ParseHello(hf.Payload)
	if err != nil {
		t.Fatalf("ParseHello: %v", err)
	}
	cert, err := x509.ParseCertificate(h.Certificate)
	if err != nil {
		t.Fatalf("ParseCertificate from hello: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(fac.ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		t.Fatalf("certificate does not chain to the manufacturer CA: %v", err)
	}
	if cert.Subject.CommonName != h.Serial {
		t.Errorf("certificate subject: expected CN %s, got %s", h.Serial, cert.Subject.CommonName)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("certificate key: expected ECDSA, got %T", cert.PublicKey)
	}
	if certKey, _ := pub.Bytes(); !bytes.Equal(certKey, h.PublicKey) {
		t.Errorf("hello key differs from the certificate's key")
	}

	hash := sha256.Sum256([]byte("binding transcript"))
	pressed := pressWhenWaiting(ctx, c)
	resp := handle(t, ctx, c, 2, signFrame(t, 2, hash, time.Minute))
	if err := <-pressed; err != nil {
		t.Fatalf("pressing: %v", err)
	}
	if resp.Type != chip.TypeSignature {
		t.Fatalf("response: expected %v, got %v", chip.TypeSignature, resp.Type)
	}
	sig, err := chip.ParseSignature(resp.Payload)
	if err != nil {
		t.Fatalf("ParseSignature: %v", err)
	}
	if !ecdsa.VerifyASN1(pub, hash[:], sig) {
		t.Fatal("signature does not verify against the attested key")
	}
	if c.Waiting() {
		t.Error("Waiting after the signature: expected false, got true")
	}
	if len(c.Display()) != 6 {
		t.Errorf("Display after the press: expected a 6-digit code, got %q", c.Display())
	}
}

func TestSignBusy(t *testing.T) {
	f := newFactory(t)
	c := newChip(t, f.chip.Config(nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := make(chan chip.Frame, 1)
	firstErr := make(chan error, 1)
	req := signFrame(t, 10, [32]byte{1}, time.Minute)
	go func() {
		raw, err := c.Handle(ctx, req)
		if err != nil {
			firstErr <- err
			return
		}
		fr, err := chip.Decode(raw)
		if err != nil {
			firstErr <- err
			return
		}
		first <- fr
	}()
	if err := waitUntilWaiting(ctx, c); err != nil {
		t.Fatalf("waiting for the first sign request: %v", err)
	}

	resp := handle(t, ctx, c, 11, signFrame(t, 11, [32]byte{2}, time.Minute))
	if resp.Type != chip.TypeError {
		t.Fatalf("second sign: expected %v, got %v", chip.TypeError, resp.Type)
	}
	if e, err := chip.ParseError(resp.Payload); err != nil || e.Code != chip.CodeBusy {
		t.Fatalf("second sign: expected code %d, got %v, %v", chip.CodeBusy, e, err)
	}
	if !c.Waiting() {
		t.Fatal("the busy answer must not withdraw the first request, but Waiting is false")
	}

	c.Press()
	select {
	case fr := <-first:
		if fr.Type != chip.TypeSignature || fr.RequestID != 10 {
			t.Errorf("first sign: expected %v id 10, got %v id %d", chip.TypeSignature, fr.Type, fr.RequestID)
		}
	case err := <-firstErr:
		t.Fatalf("first sign: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFactory(t)
	c := newChip(t, f.chip.Config(nil))
	hello := encode(t, chip.Frame{Type: chip.TypeHello, RequestID: 0x0102})
	corrupt := bytes.Clone(hello)
	corrupt[len(corrupt)-1] ^= 1
	newer := bytes.Clone(hello)
	newer[0] = 2
	tests := []struct {
		name   string
		req    []byte
		wantID uint16
		want   chip.ErrorCode
	}{
		{"empty", nil, 0, chip.CodeBadFrame},
		{"too short for an id", []byte{1, 1, 9}, 0, chip.CodeBadFrame},
		{"truncated", hello[:len(hello)-1], 0x0102, chip.CodeBadFrame},
		{"bad checksum", corrupt, 0x0102, chip.CodeBadFrame},
		{"newer version", newer, 0x0102, chip.CodeVersion},
		{"hello with a payload", encode(t, chip.Frame{Type: chip.TypeHello, RequestID: 3, Payload: []byte{0}}), 3, chip.CodeBadRequest},
		{"sign with a short payload", encode(t, chip.Frame{Type: chip.TypeSign, RequestID: 4, Payload: []byte{1}}), 4, chip.CodeBadRequest},
		{"sign with wait zero", encode(t, chip.Frame{Type: chip.TypeSign, RequestID: 5, Payload: make([]byte, 36)}), 5, chip.CodeBadRequest},
		{"a response sent as request", encode(t, chip.Frame{Type: chip.TypeNotPressed, RequestID: 6}), 6, chip.CodeBadRequest},
		{"an error sent as request", encode(t, chip.Frame{Type: chip.TypeError, RequestID: 7, Payload: []byte{1}}), 7, chip.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := handle(t, context.Background(), c, tt.wantID, tt.req)
			if resp.Type != chip.TypeError {
				t.Fatalf("response: expected %v, got %v", chip.TypeError, resp.Type)
			}
			e, err := chip.ParseError(resp.Payload)
			if err != nil {
				t.Fatalf("ParseError: %v", err)
			}
			if e.Code != tt.want {
				t.Errorf("error code: expected %d, got %d", tt.want, e.Code)
			}
			if c.Waiting() {
				t.Error("Waiting after a bad request: expected false, got true")
			}
		})
	}
}

func TestSignContextCancel(t *testing.T) {
	f := newFactory(t)
	c := newChip(t, f.chip.Config(nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	req := signFrame(t, 1, [32]byte{}, time.Minute)
	go func() {
		_, err := c.Handle(ctx, req)
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	if err := waitUntilWaiting(wctx, c); err != nil {
		t.Fatalf("waiting for the sign request: %v", err)
	}
	changed := c.Changed()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Handle after cancel: expected context.Canceled, got %v", err)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed: expected the channel closed when the request was withdrawn")
	}
	if c.Waiting() {
		t.Error("Waiting after cancel: expected false, got true")
	}
}

func TestNewRejects(t *testing.T) {
	f := newFactory(t)
	other, err := f.ca.Mint("MC-000002", rand.Reader, testNow)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	edit := func(change func(*virtual.Config)) virtual.Config {
		cfg := f.chip.Config(nil)
		change(&cfg)
		return cfg
	}
	tests := []struct {
		name string
		cfg  virtual.Config
	}{
		{"no key", edit(func(c *virtual.Config) { c.Key = nil })},
		{"P-384 key", edit(func(c *virtual.Config) { c.Key = p384 })},
		{"seed too short", edit(func(c *virtual.Config) { c.Seed = make([]byte, 15) })},
		{"bad serial", edit(func(c *virtual.Config) { c.Serial = "mc 1" })},
		{"bad firmware", edit(func(c *virtual.Config) { c.Firmware = "1.0\n" })},
		{"no certificate", edit(func(c *virtual.Config) { c.Certificate = nil })},
		{"certificate not DER", edit(func(c *virtual.Config) { c.Certificate = []byte{0x30, 0} })},
		{"certificate of another chip's key", edit(func(c *virtual.Config) { c.Certificate = other.Certificate })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := virtual.New(tt.cfg); err == nil {
				t.Errorf("New: expected an error, got a chip %s", c.Serial())
			}
		})
	}
}
