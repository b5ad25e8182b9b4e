//go:build js && wasm

package dom

import (
	"context"
	"fmt"

	"github.com/hack-pad/safejs"
)

type settled struct {
	v   safejs.Value
	err error
}

// Await waits for a Promise (or any value, taken as resolved) to settle without
// blocking the JavaScript thread: the callbacks only hand the outcome to a channel.
// A rejection comes back as an *Error. When ctx is done first Await returns an error
// wrapping ctx.Err(); the callbacks stay registered until the Promise settles, so the
// caller should abort the operation (AbortController, gatt.disconnect()).
//
// Await blocks its goroutine, so it must not run on the goroutine of a JavaScript
// callback: start a goroutine there.
func Await(ctx context.Context, promise safejs.Value) (safejs.Value, error) {
	if err := ctx.Err(); err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: before awaiting: %w", err)
	}
	ch := make(chan settled, 1)
	var onOK, onErr safejs.Func
	// Only one of the two is ever called; it frees both.
	release := func() { onOK.Release(); onErr.Release() }
	onOK, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		release()
		ch <- settled{v: arg0(args)}
		return nil
	})
	if err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: await: %w", err)
	}
	onErr, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		release()
		ch <- settled{v: safejs.Undefined(), err: FromValue(arg0(args))}
		return nil
	})
	if err != nil {
		onOK.Release()
		return safejs.Undefined(), fmt.Errorf("dom: await: %w", err)
	}
	if err := then(promise, onOK, onErr); err != nil {
		release()
		return safejs.Undefined(), err
	}
	select {
	case s := <-ch:
		return s.v, s.err
	case <-ctx.Done():
		return safejs.Undefined(), fmt.Errorf("dom: gave up waiting: %w", ctx.Err())
	}
}

// then runs Promise.resolve(p).then(onOK, onErr), so plain values and thenables from
// fakes are awaited the same way as real Promises.
func then(p safejs.Value, onOK, onErr safejs.Func) error {
	ctor, err := Get(safejs.Global(), "Promise")
	if err != nil {
		return err
	}
	resolved, err := Call(ctor, "resolve", p)
	if err != nil {
		return fmt.Errorf("dom: Promise.resolve: %w", err)
	}
	if _, err := Call(resolved, "then", onOK, onErr); err != nil {
		return fmt.Errorf("dom: Promise.then: %w", err)
	}
	return nil
}

// AwaitCall calls v[method](args...) and awaits the Promise it returns. A synchronous
// throw and a rejection both come back as *Error.
func AwaitCall(ctx context.Context, v safejs.Value, method string, args ...any) (safejs.Value, error) {
	p, err := Call(v, method, args...)
	if err != nil {
		return safejs.Undefined(), err
	}
	return Await(ctx, p)
}

func arg0(args []safejs.Value) safejs.Value {
	if len(args) == 0 {
		return safejs.Undefined()
	}
	return args[0]
}
