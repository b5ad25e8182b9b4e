//go:build js && wasm

package dom

import (
	"sync"

	"github.com/hack-pad/safejs"
)

// Listen adds fn as a listener for event on target and returns the function that
// removes it again (safe to call more than once). fn runs inside the JavaScript
// event dispatch, so it must not block: hand work to a channel or a goroutine.
func Listen(target safejs.Value, event string, fn func(ev safejs.Value)) (remove func(), err error) {
	f, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		// A panic here would end the whole module; say so on the console instead.
		defer func() {
			if r := recover(); r != nil {
				if c, err := Get(safejs.Global(), "console"); err == nil {
					_, _ = Call(c, "error", "mitidchip: "+event+" listener panicked")
				}
			}
		}()
		fn(arg0(args))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := Call(target, "addEventListener", event, f); err != nil {
		f.Release()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// A target that can no longer remove listeners cannot call f either.
			_, _ = Call(target, "removeEventListener", event, f)
			f.Release()
		})
	}, nil
}

// AbortController is a JavaScript AbortController: its signal is handed to an
// operation (fetch, NDEFReader.scan/write) that Abort then cancels.
type AbortController struct {
	ctrl   safejs.Value
	Signal safejs.Value
}

// NewAbortController makes a controller and its signal.
func NewAbortController() (AbortController, error) {
	ctor, err := Get(safejs.Global(), "AbortController")
	if err != nil {
		return AbortController{}, err
	}
	ctrl, err := ctor.New()
	if err != nil {
		return AbortController{}, FromCall(err)
	}
	sig, err := Get(ctrl, "signal")
	if err != nil {
		return AbortController{}, err
	}
	return AbortController{ctrl: ctrl, Signal: sig}, nil
}

// Abort cancels whatever holds the signal. Aborting twice is harmless.
func (a AbortController) Abort() error {
	_, err := Call(a.ctrl, "abort")
	return err
}
