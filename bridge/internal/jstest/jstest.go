//go:build js && wasm

// Package jstest evaluates JavaScript fakes of browser objects for the bridge's
// GOOS=js tests, which run under Node where there is no Bluetooth, NFC or page.
package jstest

import (
	"context"
	"testing"
	"time"

	"github.com/hack-pad/safejs"

	"mitidchip/bridge/dom"
)

// Eval evaluates src as a script in the global scope and returns its value.
func Eval(t testing.TB, src string) safejs.Value {
	t.Helper()
	v, err := dom.Call(safejs.Global(), "eval", src)
	if err != nil {
		t.Fatalf("evaluating fake: %v\n%s", err, src)
	}
	return v
}

// Await evaluates src, which yields a Promise or a value, and waits for it.
func Await(t testing.TB, src string) safejs.Value {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := dom.Await(ctx, Eval(t, src))
	if err != nil {
		t.Fatalf("awaiting %s: %v", src, err)
	}
	return v
}

// Tick waits until JavaScript has run a timer set now: whatever the current task
// started, its Promise reactions included, has then been delivered.
func Tick(t testing.TB) {
	t.Helper()
	Await(t, `new Promise(r => setTimeout(r, 0))`)
}

// NoUnhandled records every Promise rejection that nobody handles from now until
// the test ends, and returns the check that lets the current task finish (Tick) and
// fails the test, naming them, if any was recorded so far. Without it Node ends the whole test
// binary on the first such rejection, naming no test; a browser logs an uncaught
// error.
func NoUnhandled(t testing.TB) (check func()) {
	t.Helper()
	rec := Eval(t, `(() => {
  const rec = {seen: []};
  rec.on = reason => rec.seen.push(reason && reason.name ? reason.name + ": " + reason.message : String(reason));
  process.on("unhandledRejection", rec.on);
  return rec;
})()`)
	t.Cleanup(func() {
		on, err := rec.Get("on")
		if err == nil {
			_, err = dom.Call(Eval(t, `process`), "off", "unhandledRejection", on)
		}
		if err != nil {
			t.Errorf("removing the unhandledRejection listener: %v", err)
		}
	})
	return func() {
		t.Helper()
		Tick(t)
		v, err := Eval(t, `(rec => rec.seen.join("\n"))`).Invoke(rec)
		if err != nil {
			t.Fatalf("reading the unhandled rejections: %v", err)
		}
		if seen, _ := v.String(); seen != "" {
			t.Errorf("expected no unhandled Promise rejection, got:\n%s", seen)
		}
	}
}

// String evaluates src and returns it as a Go string.
func String(t testing.TB, src string) string {
	t.Helper()
	s, err := Eval(t, src).String()
	if err != nil {
		t.Fatalf("%s as string: %v", src, err)
	}
	return s
}

// Int evaluates src and returns it as a Go int.
func Int(t testing.TB, src string) int {
	t.Helper()
	n, err := Eval(t, src).Int()
	if err != nil {
		t.Fatalf("%s as int: %v", src, err)
	}
	return n
}

// Bool evaluates src and returns its truthiness.
func Bool(t testing.TB, src string) bool {
	t.Helper()
	b, err := Eval(t, src).Truthy()
	if err != nil {
		t.Fatalf("%s as bool: %v", src, err)
	}
	return b
}

// Gesture runs start on a new goroutine the way the page's click listener does,
// with globalThis.userActivation true only for that one JavaScript task. Fakes of
// APIs that need a user gesture (requestDevice, NDEFReader.scan) check it, so a
// call made after the first await fails as it would in the browser.
func Gesture(t testing.TB, start func()) {
	t.Helper()
	h, err := safejs.FuncOf(func(safejs.Value, []safejs.Value) any {
		go start()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	click := Eval(t, `(h => { globalThis.userActivation = true; try { h(); } finally { globalThis.userActivation = false; } })`)
	if _, err := click.Invoke(h); err != nil {
		t.Fatalf("click: %v", err)
	}
}
