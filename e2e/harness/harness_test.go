package harness_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
)

// servePage serves testdata/ on 127.0.0.1 (a secure context) with a strict CSP, so
// the harness is proven against the same rules as the real page: no inline script.
func servePage(t *testing.T) string {
	t.Helper()
	cfg, err := json.Marshal(map[string]string{
		"service":  chip.ServiceUUID,
		"request":  chip.RequestCharacteristic,
		"response": chip.ResponseCharacteristic,
		"ndefType": chip.NDEFRecordType,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir("testdata")))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/chip.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		fmt.Fprintf(w, "window.chipConfig = Object.freeze(%s);\n", cfg)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newChip(t *testing.T) *virtual.Chip {
	t.Helper()
	now := time.Now()
	ca, err := manufacturer.NewCA("Test", rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Mint("MC-000001", rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := virtual.New(c.Config(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	return vc
}

func encode(t *testing.T, f chip.Frame) []byte {
	t.Helper()
	b, err := f.Encode()
	if err != nil {
		t.Fatalf("encode %s frame: %v", f.Type, err)
	}
	return b
}

func signFrame(t *testing.T, id uint16, hash [32]byte) []byte {
	t.Helper()
	p, err := chip.SignRequest{Hash: hash, Wait: 30 * time.Second}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return encode(t, chip.Frame{Type: chip.TypeSign, RequestID: id, Payload: p})
}

// pageResult is what the test page's functions resolve with.
type pageResult struct {
	Error  string `json:"error"`
	Name   string `json:"name"`
	Serial string `json:"serial"`
	Frame  []int  `json:"frame"`
}

func (r pageResult) bytes() []byte {
	b := make([]byte, len(r.Frame))
	for i, v := range r.Frame {
		b[i] = byte(v)
	}
	return b
}

// jsBytes writes b as a JavaScript array literal.
func jsBytes(b []byte) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// jsChunks splits a frame as the page's Bluetooth link will, as a JavaScript array
// of arrays.
func jsChunks(t *testing.T, frame []byte) string {
	t.Helper()
	chunks, err := chip.Split(frame)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(chunks))
	for i, c := range chunks {
		parts[i] = jsBytes(c)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// decode checks that the page got a frame of type want with request id id.
func decode(t *testing.T, r pageResult, want chip.Type, id uint16) chip.Frame {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("page: expected a %s frame, got error %s", want, r.Error)
	}
	f, err := chip.Decode(r.bytes())
	if err != nil {
		t.Fatalf("decode the page's answer: expected a %s frame, got %v", want, err)
	}
	if f.Type != want || f.RequestID != id {
		t.Fatalf("expected %s frame for request %d, got %s for request %d", want, id, f.Type, f.RequestID)
	}
	return f
}

// decodeErr is why the page's answer does not decode, if it does not.
func decodeErr(r pageResult) error {
	if r.Error != "" {
		return errors.New(r.Error)
	}
	_, err := chip.Decode(r.bytes())
	return err
}

func checkHello(t *testing.T, vc *virtual.Chip, f chip.Frame) chip.Hello {
	t.Helper()
	h, err := chip.ParseHello(f.Payload)
	if err != nil {
		t.Fatalf("parse hello: %v", err)
	}
	if h.Serial != vc.Serial() {
		t.Fatalf("hello serial: expected %q, got %q", vc.Serial(), h.Serial)
	}
	return h
}
