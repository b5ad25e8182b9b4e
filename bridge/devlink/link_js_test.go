//go:build js && wasm

package devlink_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"mitidchip/bridge/devlink"
	"mitidchip/bridge/dom"
	"mitidchip/bridge/internal/jstest"
	"mitidchip/chip"
)

// fakeFetch replaces fetch with the dev endpoint: it records the call and answers
// fake.status with fake.answer(body) (by default the body with its type turned into
// a response). fake.hang leaves the request open until its signal aborts;
// fake.fetched resolves once fetch has been called.
const fakeFetch = `
(() => {
  const fake = {calls: [], status: 200, hang: false, reject: null,
    answer: b => { const r = b.slice(); r[1] |= 0x80; return r; }};
  fake.fetched = new Promise(r => { fake.onFetch = r; });
  fake.realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => {
    const body = new Uint8Array(init.body);
    fake.calls.push({url, method: init.method, type: init.headers["Content-Type"], body, signal: init.signal, credentials: init.credentials});
    fake.onFetch();
    if (fake.reject) return Promise.reject(fake.reject);
    if (fake.hang) return new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(new DOMException("This operation was aborted", "AbortError"))));
    return Promise.resolve(new Response(fake.status === 200 ? fake.answer(body) : "not found", {status: fake.status}));
  };
  globalThis.fake = fake;
})()
`

func install(t *testing.T) {
	t.Helper()
	jstest.Eval(t, fakeFetch)
	t.Cleanup(func() { jstest.Eval(t, `globalThis.fetch = fake.realFetch; delete globalThis.fake`) })
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hello(t *testing.T, n int) []byte {
	b, err := chip.Frame{Type: chip.TypeHello, RequestID: 3, Payload: bytes.Repeat([]byte{2}, n)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	install(t)
	const url = "/dev/chip/MC0001/frame"
	req := hello(t, 200)
	got, err := devlink.New(url).RoundTrip(testCtx(t), req)
	if err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	want := append([]byte(nil), req...)
	want[1] |= 0x80
	if !bytes.Equal(got, want) {
		t.Errorf("response: expected % x, got % x", want, got)
	}
	checks := []struct{ what, js, want string }{
		{"url", `fake.calls[0].url`, url},
		{"method", `fake.calls[0].method`, "POST"},
		{"content type", `fake.calls[0].type`, "application/octet-stream"},
		{"credentials", `fake.calls[0].credentials`, "same-origin"},
		{"body length", `String(fake.calls[0].body.length)`, "210"},
		{"signal", `String(fake.calls[0].signal instanceof AbortSignal)`, "true"},
	}
	for _, c := range checks {
		if got := jstest.String(t, c.js); got != c.want {
			t.Errorf("%s: expected %q, got %q", c.what, c.want, got)
		}
	}
}

func TestRoundTripFails(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		want  error
	}{
		{"production server", `fake.status = 404`, devlink.ErrUnavailable},
		{"chip busy", `fake.status = 503`, chip.ErrDisconnected},
		{"server down", `fake.reject = new TypeError("fetch failed")`, chip.ErrDisconnected},
		{"server error", `fake.status = 500`, nil},
		{"oversized answer", `fake.answer = () => new Uint8Array(3000)`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			jstest.Eval(t, tc.setup)
			_, err := devlink.New("/dev/chip/x/frame").RoundTrip(testCtx(t), hello(t, 0))
			if err == nil {
				t.Fatal("expected an error, got a response")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("expected %v in %v", tc.want, err)
			}
		})
	}
}

// TestRoundTripGivesUp leaves the fetch open until its signal aborts: whenever the
// context ends, before the fetch or while it is pending, or by the link's own timeout,
// the fetch is aborted, the context's error is reported, and the AbortError that
// follows is handled.
func TestRoundTripGivesUp(t *testing.T) {
	tests := []struct {
		name string
		link *devlink.Link
		ctx  func(t *testing.T) (ctx context.Context, fetching func())
		want error
	}{
		{"cancelled before", devlink.New("/dev/chip/x/frame"), func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, func() {}
		}, context.Canceled},
		{"cancelled while fetching", devlink.New("/dev/chip/x/frame"), func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return ctx, func() { jstest.Await(t, `fake.fetched`); cancel() }
		}, context.Canceled},
		// The fetch never answers, so only the deadline can end it, and a nanosecond
		// has passed before anything waits: however fast the machine, the same answer.
		{"link's own timeout", devlink.New("/dev/chip/x/frame", devlink.WithTimeout(time.Nanosecond)), func(t *testing.T) (context.Context, func()) {
			return context.Background(), func() {}
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			check := jstest.NoUnhandled(t)
			jstest.Eval(t, `fake.hang = true`)
			ctx, fetching := tc.ctx(t)
			errs := make(chan error, 1)
			go func() { _, err := tc.link.RoundTrip(ctx, hello(t, 0)); errs <- err }()
			fetching()
			err := <-errs
			if !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
			if errors.Is(err, dom.ErrAbort) {
				t.Errorf("expected the context's end, not our own abort, to be reported: %v", err)
			}
			if !jstest.Bool(t, `fake.calls[0].signal.aborted`) {
				t.Error("expected the fetch aborted")
			}
			check()
		})
	}
}

func TestRoundTripBadRequest(t *testing.T) {
	install(t)
	for name, req := range map[string][]byte{"empty": nil, "too large": make([]byte, chip.MaxFrame+1)} {
		if _, err := devlink.New("/x").RoundTrip(testCtx(t), req); err == nil {
			t.Errorf("%s request: expected an error, got none", name)
		}
	}
	if n := jstest.Int(t, `fake.calls.length`); n != 0 {
		t.Errorf("fetches for bad requests: expected 0, got %d", n)
	}
}
