//go:build js && wasm

package nfc_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"mitidchip/bridge/dom"
	"mitidchip/bridge/internal/jstest"
	"mitidchip/bridge/nfc"
	"mitidchip/chip"
)

// fakeNFC installs an NDEFReader that behaves like Chrome's with a chip held to the
// phone: each write is answered, on a later task, by a reading holding a URL record
// and fake.answer(written bytes) as a frame record. fake.hold keeps writes waiting
// for a tag until their signal aborts.
const fakeNFC = `
(() => {
  const fake = {log: [], readers: 0, scanSignal: null, writeSignals: [], written: null,
    scanError: null, writeError: null, hold: false, silent: false,
    answer: req => { const r = req.slice(); r[1] |= 0x80; return r; }};
  class NDEFReader extends EventTarget {
    constructor() { super(); fake.readers++; fake.reader = this; }
    addEventListener(type, f) { fake.log.push("listen " + type); super.addEventListener(type, f); }
    removeEventListener(type, f) { fake.log.push("unlisten " + type); super.removeEventListener(type, f); }
    scan(options) {
      fake.log.push("scan");
      fake.scanSignal = options && options.signal;
      if (!globalThis.userActivation) return Promise.reject(new DOMException("NFC permission request denied.", "NotAllowedError"));
      if (fake.scanError) return Promise.reject(new DOMException("NFC is disabled.", fake.scanError));
      return Promise.resolve();
    }
    write(message, options) {
      fake.log.push("write");
      const signal = options && options.signal;
      fake.writeSignals.push(signal);
      if (fake.writeError) return Promise.reject(new DOMException("Failed to write.", fake.writeError));
      if (fake.hold) return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new DOMException("The NFC operation was cancelled.", "AbortError"))));
      const rec = message.records[0];
      fake.written = {recordType: rec.recordType, data: new Uint8Array(rec.data)};
      if (!fake.silent) setTimeout(() => fake.emit([
        {recordType: "url", data: new DataView(new TextEncoder().encode("https://mitid.dk").buffer)},
        {recordType: rec.recordType, data: new DataView(fake.answer(fake.written.data).buffer)},
      ]), 0);
      return Promise.resolve();
    }
  }
  fake.emit = records => {
    const ev = new Event("reading");
    ev.serialNumber = "04:a2:7f:11";
    ev.message = {records};
    fake.reader.dispatchEvent(ev);
  };
  fake.fail = () => fake.reader.dispatchEvent(new Event("readingerror"));
  globalThis.NDEFReader = NDEFReader;
  globalThis.fake = fake;
})()
`

func install(t *testing.T) {
	t.Helper()
	jstest.Eval(t, fakeNFC)
	t.Cleanup(func() { jstest.Eval(t, `delete globalThis.NDEFReader; delete globalThis.fake`) })
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type opened struct {
	conn *nfc.Conn
	err  error
}

func open(t *testing.T, ctx context.Context, opts ...nfc.Option) (*nfc.Conn, error) {
	t.Helper()
	done := make(chan opened, 1)
	jstest.Gesture(t, func() {
		c, err := nfc.Open(ctx, opts...)
		done <- opened{c, err}
	})
	r := <-done
	return r.conn, r.err
}

func mustOpen(t *testing.T, opts ...nfc.Option) *nfc.Conn {
	t.Helper()
	c, err := open(t, testCtx(t), opts...)
	if err != nil {
		t.Fatalf("expected to start scanning, got %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hello(t *testing.T, id uint16, n int) []byte {
	b, err := chip.Frame{Type: chip.TypeHello, RequestID: id, Payload: bytes.Repeat([]byte{1}, n)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAvailable(t *testing.T) {
	if nfc.Available() {
		t.Error("without NDEFReader: expected false, got true")
	}
	install(t)
	if !nfc.Available() {
		t.Error("with NDEFReader: expected true, got false")
	}
}

func TestRoundTrip(t *testing.T) {
	install(t)
	c := mustOpen(t)
	if got, want := jstest.String(t, `fake.log.join(",")`), "listen reading,listen readingerror,scan"; got != want {
		t.Errorf("calls: expected %s, got %s", want, got)
	}
	if !jstest.Bool(t, `fake.scanSignal instanceof AbortSignal`) {
		t.Error("expected scan to be given an AbortSignal")
	}
	req := hello(t, 5, 300)
	rsp, err := c.RoundTrip(testCtx(t), req)
	if err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	want := append([]byte(nil), req...)
	want[1] |= 0x80
	if !bytes.Equal(rsp, want) {
		t.Errorf("response: expected % x, got % x", want, rsp)
	}
	if got := jstest.String(t, `fake.written.recordType`); got != chip.NDEFRecordType {
		t.Errorf("written record type: expected %q, got %q", chip.NDEFRecordType, got)
	}
	if got := jstest.Int(t, `fake.written.data.length`); got != len(req) {
		t.Errorf("written record: expected %d bytes, got %d", len(req), got)
	}

	c.Close()
	if !jstest.Bool(t, `fake.scanSignal.aborted`) {
		t.Error("expected Close to abort the scan")
	}
	if got := jstest.Int(t, `fake.log.filter(l => l.startsWith("unlisten")).length`); got != 2 {
		t.Errorf("listeners removed by Close: expected 2, got %d", got)
	}
	if _, err := c.RoundTrip(testCtx(t), req); !errors.Is(err, nfc.ErrClosed) {
		t.Errorf("after Close: expected nfc.ErrClosed, got %v", err)
	}
}

func TestOpenFails(t *testing.T) {
	tests := []struct {
		name    string
		setup   string
		gesture bool
		want    error
	}{
		{"no Web NFC", `delete globalThis.NDEFReader`, true, dom.ErrNotSupported},
		{"NFC off", `fake.scanError = "NotReadableError"`, true, dom.ErrNotReadable},
		{"no NFC hardware", `fake.scanError = "NotSupportedError"`, true, dom.ErrNotSupported},
		{"no gesture", ``, false, dom.ErrNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			jstest.Eval(t, tc.setup)
			var err error
			if tc.gesture {
				_, err = open(t, testCtx(t))
			} else {
				_, err = nfc.Open(testCtx(t))
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
			if tc.name != "no Web NFC" {
				if got := jstest.Int(t, `fake.log.filter(l => l.startsWith("unlisten")).length`); got != 2 {
					t.Errorf("listeners removed: expected 2, got %d", got)
				}
				if !jstest.Bool(t, `fake.scanSignal.aborted`) {
					t.Error("expected the scan aborted")
				}
			}
		})
	}
}

func TestRoundTripFails(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		after string // run once the request is written
		want  []error
	}{
		{"tag taken away", `fake.writeError = "NetworkError"`, ``, []error{chip.ErrDisconnected, dom.ErrNetwork}},
		{"reading error", `fake.silent = true`, `fake.fail()`, []error{nfc.ErrRead}},
		{"oversized frame record", `fake.silent = true`, `fake.emit([{recordType: "` + chip.NDEFRecordType + `", data: new DataView(new ArrayBuffer(` + strconv.Itoa(chip.MaxFrame+1) + `))}])`, nil},
		{"too many records", `fake.silent = true`, `fake.emit(Array.from({length: 17}, () => ({recordType: "text", data: null})))`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			c := mustOpen(t)
			jstest.Eval(t, tc.setup)
			errs := make(chan error, 1)
			go func() { _, err := c.RoundTrip(testCtx(t), hello(t, 1, 0)); errs <- err }()
			if tc.after != "" {
				jstest.Await(t, `new Promise(r => { const poll = () => fake.written ? r() : setTimeout(poll, 0); poll(); })`)
				jstest.Eval(t, tc.after)
			}
			err := <-errs
			if err == nil {
				t.Fatal("expected an error, got a response")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("expected %v in %v", w, err)
				}
			}
		})
	}
}

// TestGiveUpAbortsWrite: nobody holds the chip to the phone and the page gives up,
// before the write or while it waits. The write is aborted, the AbortError that
// follows is handled, the scan goes on, and the next request is answered.
func TestGiveUpAbortsWrite(t *testing.T) {
	tests := []struct {
		name  string
		opts  []nfc.Option
		write func(t *testing.T, c *nfc.Conn) error
		want  error
		wrote bool // false: the link's turn may end the request before it writes
	}{
		{"cancelled before the write", nil, func(t *testing.T, c *nfc.Conn) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return c.WriteRecord(ctx, chip.ToNDEF(hello(t, 1, 0)))
		}, context.Canceled, true},
		{"cancelled while writing", nil, func(t *testing.T, c *nfc.Conn) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errs := make(chan error, 1)
			go func() { _, err := c.RoundTrip(ctx, hello(t, 1, 0)); errs <- err }()
			jstest.Await(t, `new Promise(r => { const poll = () => fake.writeSignals.length ? r() : setTimeout(poll, 0); poll(); })`)
			cancel()
			return <-errs
		}, context.Canceled, true},
		// The write never ends by itself, so only the deadline can end it, and a
		// nanosecond has passed before anything waits: the same answer on any machine.
		{"link's own timeout", []nfc.Option{nfc.WithTimeout(time.Nanosecond)}, func(t *testing.T, c *nfc.Conn) error {
			_, err := c.RoundTrip(context.Background(), hello(t, 1, 0))
			return err
		}, context.DeadlineExceeded, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			check := jstest.NoUnhandled(t)
			c := mustOpen(t, tc.opts...)
			jstest.Eval(t, `fake.hold = true`) // nobody holds the chip to the phone
			if err := tc.write(t, c); !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
			if tc.wrote && jstest.Int(t, `fake.writeSignals.length`) != 1 {
				t.Errorf("writes: expected 1, got %d", jstest.Int(t, `fake.writeSignals.length`))
			}
			if !jstest.Bool(t, `fake.writeSignals.every(s => s.aborted)`) {
				t.Error("expected the write's signal aborted")
			}
			if jstest.Bool(t, `fake.scanSignal.aborted`) {
				t.Error("expected the scan to go on after one request was given up")
			}
			check()
			jstest.Eval(t, `fake.hold = false`)
			if _, err := c.RoundTrip(testCtx(t), hello(t, 2, 0)); err != nil {
				t.Fatalf("next request: expected a response, got %v", err)
			}
		})
	}
}

func TestCloseAbortsWrite(t *testing.T) {
	install(t)
	c := mustOpen(t)
	jstest.Eval(t, `fake.hold = true`)
	errs := make(chan error, 1)
	go func() { _, err := c.RoundTrip(testCtx(t), hello(t, 1, 0)); errs <- err }()
	jstest.Await(t, `new Promise(r => { const poll = () => fake.writeSignals.length ? r() : setTimeout(poll, 0); poll(); })`)
	c.Close()
	if err := <-errs; !errors.Is(err, nfc.ErrClosed) {
		t.Fatalf("pending request: expected nfc.ErrClosed on Close, got %v", err)
	}
	if !jstest.Bool(t, `fake.writeSignals[0].aborted`) {
		t.Error("expected Close to abort the write in flight")
	}
}
