//go:build js && wasm

package dom_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hack-pad/safejs"

	"mitidchip/bridge/dom"
	"mitidchip/bridge/internal/jstest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAwait(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     string // resolved value, as a string
		wantErr  error  // a sentinel the error must match
		wantName string // the *dom.Error's name
	}{
		{name: "resolved", src: `Promise.resolve("yes")`, want: "yes"},
		{name: "later", src: `new Promise(r => setTimeout(() => r("late"), 1))`, want: "late"},
		{name: "plain value", src: `"plain"`, want: "plain"},
		{name: "chooser cancelled", src: `Promise.reject(new DOMException("User cancelled the requestDevice() chooser.", "NotFoundError"))`,
			wantErr: dom.ErrNotFound, wantName: "NotFoundError"},
		{name: "network", src: `Promise.reject(new DOMException("GATT Server is disconnected.", "NetworkError"))`,
			wantErr: dom.ErrNetwork, wantName: "NetworkError"},
		{name: "type error", src: `Promise.reject(new TypeError("Failed to fetch"))`, wantName: "TypeError"},
		{name: "string reason", src: `Promise.reject("just words")`, wantName: ""},
		{name: "undefined reason", src: `Promise.reject(undefined)`, wantName: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := dom.Await(testCtx(t), jstest.Eval(t, tc.src))
			if tc.wantErr == nil && tc.wantName == "" && tc.want != "" {
				if err != nil {
					t.Fatalf("expected %q, got error %v", tc.want, err)
				}
				if got, _ := v.String(); got != tc.want {
					t.Errorf("expected %q, got %q", tc.want, got)
				}
				return
			}
			var de *dom.Error
			if !errors.As(err, &de) {
				t.Fatalf("expected a *dom.Error, got %v", err)
			}
			if de.Name != tc.wantName {
				t.Errorf("name: expected %q, got %q", tc.wantName, de.Name)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("expected errors.Is(%v, %v)", err, tc.wantErr)
			}
		})
	}
}

// TestAwaitContextDone gives up on a Promise that is then rejected, as an aborted
// fetch or NFC write is: the rejection must find the handlers Await attached, even
// when the context was done before Await was called.
func TestAwaitContextDone(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(t *testing.T) (ctx context.Context, waiting func())
		want error
	}{
		{"cancelled before", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, func() {}
		}, context.Canceled},
		{"deadline passed before", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx, func() {}
		}, context.DeadlineExceeded},
		{"cancelled while waiting", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			// Await's goroutine blocks before JavaScript runs the timer, so it is
			// waiting by the time the tick is over.
			return ctx, func() { jstest.Tick(t); cancel() }
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := jstest.NoUnhandled(t)
			a, err := dom.NewAbortController()
			if err != nil {
				t.Fatal(err)
			}
			if err := safejs.Global().Set("sig", a.Signal); err != nil {
				t.Fatal(err)
			}
			p := jstest.Eval(t, `new Promise((_, reject) => sig.addEventListener("abort", () => reject(new DOMException("This operation was aborted", "AbortError"))))`)
			ctx, waiting := tc.ctx(t)
			errs := make(chan error, 1)
			go func() { _, err := dom.Await(ctx, p); errs <- err }()
			waiting()
			if err := <-errs; !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
			if err := a.Abort(); err != nil {
				t.Fatal(err)
			}
			check()
		})
	}
}

func TestAwaitCallThrows(t *testing.T) {
	obj := jstest.Eval(t, `({ boom() { throw new DOMException("no gesture", "SecurityError"); } })`)
	_, err := dom.AwaitCall(testCtx(t), obj, "boom")
	if !errors.Is(err, dom.ErrSecurity) {
		t.Fatalf("expected dom.ErrSecurity, got %v", err)
	}
	_, err = dom.AwaitCall(testCtx(t), obj, "missing")
	if err == nil {
		t.Fatal("expected an error calling a missing method, got none")
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		limit   int
		want    []byte
		wantErr bool
	}{
		{name: "Uint8Array", src: `new Uint8Array([1, 2, 3])`, limit: 8, want: []byte{1, 2, 3}},
		{name: "DataView with offset", src: `new DataView(new Uint8Array([9, 1, 2, 3, 9]).buffer, 1, 3)`, limit: 8, want: []byte{1, 2, 3}},
		{name: "ArrayBuffer", src: `new Uint8Array([4, 5]).buffer`, limit: 8, want: []byte{4, 5}},
		{name: "subarray", src: `new Uint8Array([9, 6, 7, 9]).subarray(1, 3)`, limit: 8, want: []byte{6, 7}},
		{name: "Uint16Array bytes", src: `new Uint16Array([0x0102])`, limit: 8, want: []byte{2, 1}},
		{name: "empty", src: `new Uint8Array(0)`, limit: 8, want: []byte{}},
		{name: "too long", src: `new Uint8Array(9)`, limit: 8, wantErr: true},
		{name: "string", src: `"abc"`, limit: 8, wantErr: true},
		{name: "null", src: `null`, limit: 8, wantErr: true},
		{name: "plain object", src: `({length: 3})`, limit: 8, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dom.Bytes(jstest.Eval(t, tc.src), tc.limit)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("expected an error, got % x", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("expected % x, got error %v", tc.want, err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("expected % x, got % x", tc.want, got)
			}
		})
	}
}

func TestUint8Array(t *testing.T) {
	v, err := dom.Uint8Array([]byte{7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if err := safejs.Global().Set("u8", v); err != nil {
		t.Fatal(err)
	}
	if got := jstest.String(t, `u8 instanceof Uint8Array ? Array.from(u8).join(",") : "not a Uint8Array"`); got != "7,8,9" {
		t.Errorf("expected 7,8,9, got %s", got)
	}
}

func TestListen(t *testing.T) {
	target := jstest.Eval(t, `globalThis.target = new EventTarget(); target`)
	var got []string
	remove, err := dom.Listen(target, "ping", func(ev safejs.Value) {
		s, _ := jstest.Eval(t, `(ev => ev.type)`).Invoke(ev)
		str, _ := s.String()
		got = append(got, str)
	})
	if err != nil {
		t.Fatal(err)
	}
	jstest.Eval(t, `target.dispatchEvent(new Event("ping"))`)
	remove()
	remove()
	jstest.Eval(t, `target.dispatchEvent(new Event("ping"))`)
	if len(got) != 1 || got[0] != "ping" {
		t.Errorf("expected one ping before removal, got %v", got)
	}
}

func TestAbortController(t *testing.T) {
	a, err := dom.NewAbortController()
	if err != nil {
		t.Fatal(err)
	}
	if err := safejs.Global().Set("sig", a.Signal); err != nil {
		t.Fatal(err)
	}
	if jstest.Bool(t, `sig.aborted`) {
		t.Fatal("expected a fresh signal not to be aborted")
	}
	if err := a.Abort(); err != nil {
		t.Fatal(err)
	}
	if !jstest.Bool(t, `sig.aborted`) {
		t.Error("expected the signal to be aborted after Abort")
	}
}

func TestListenSurvivesPanic(t *testing.T) {
	target := jstest.Eval(t, `globalThis.target2 = new EventTarget(); globalThis.logged = []; globalThis.realConsole = console; globalThis.console = {...console, error: m => logged.push(m)}; target2`)
	t.Cleanup(func() { jstest.Eval(t, `globalThis.console = realConsole`) })
	remove, err := dom.Listen(target, "boom", func(safejs.Value) { panic("listener bug") })
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	jstest.Eval(t, `target2.dispatchEvent(new Event("boom"))`)
	if got := jstest.String(t, `logged.join()`); got != "mitidchip: boom listener panicked" {
		t.Errorf("expected the panic reported on the console, got %q", got)
	}
}
