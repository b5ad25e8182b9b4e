//go:build js && wasm

package dom

import (
	"context"
	"fmt"

	"github.com/hack-pad/safejs"
)

// Await waits for a Promise (or any value, taken as resolved) to settle without
// blocking the JavaScript thread: the callback only hands the outcome to a channel.
// A rejection comes back as an *Error. When ctx is done, before or while waiting,
// Await returns an error wrapping ctx.Err(); the caller should then abort the
// operation (AbortController, gatt.disconnect()).
//
// The Promise gets its handlers before Await looks at ctx or can fail in any other
// way: a rejection nobody listens for ends the module under Node and is an uncaught
// error in a browser, and the rejection that follows an abort is the usual case.
// The callback stays registered until the Promise settles.
//
// Await blocks its goroutine, so it must not run on the goroutine of a JavaScript
// callback: start a goroutine there.
func Await(ctx context.Context, promise safejs.Value) (safejs.Value, error) {
	// Promise.allSettled handles the rejection itself, in this same JavaScript task,
	// and never rejects; what is left to fail below cannot leave a rejection behind.
	outcome, err := allSettled(promise)
	if err != nil {
		return safejs.Undefined(), err
	}
	if err := ctx.Err(); err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: before awaiting: %w", err)
	}
	ch := make(chan settled, 1)
	var onSettled safejs.Func
	onSettled, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		onSettled.Release()
		ch <- settledOf(arg0(args))
		return nil
	})
	if err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: await: %w", err)
	}
	if _, err := Call(outcome, "then", onSettled); err != nil {
		onSettled.Release()
		return safejs.Undefined(), fmt.Errorf("dom: Promise.then: %w", err)
	}
	select {
	case s := <-ch:
		return s.v, s.err
	case <-ctx.Done():
		return safejs.Undefined(), fmt.Errorf("dom: gave up waiting: %w", ctx.Err())
	}
}

type settled struct {
	v   safejs.Value
	err error
}

// allSettled returns Promise.allSettled([p]), so plain values and thenables from
// fakes are awaited the same way as real Promises.
func allSettled(p safejs.Value) (safejs.Value, error) {
	ctor, err := Get(safejs.Global(), "Promise")
	if err != nil {
		return safejs.Undefined(), err
	}
	list, err := safejs.ValueOf([]any{})
	if err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: await: %w", err)
	}
	if err := list.SetIndex(0, p); err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: await: %w", err)
	}
	outcome, err := Call(ctor, "allSettled", list)
	if err != nil {
		return safejs.Undefined(), fmt.Errorf("dom: Promise.allSettled: %w", err)
	}
	return outcome, nil
}

// settledOf reads the one {status, value | reason} that Promise.allSettled gives.
func settledOf(results safejs.Value) settled {
	r, err := results.Index(0)
	if err != nil {
		return settled{v: safejs.Undefined(), err: FromCall(err)}
	}
	status, _ := Get(r, "status")
	if s, _ := status.String(); s != "fulfilled" {
		reason, _ := Get(r, "reason")
		return settled{v: safejs.Undefined(), err: FromValue(reason)}
	}
	v, err := Get(r, "value")
	if err != nil {
		return settled{v: safejs.Undefined(), err: err}
	}
	return settled{v: v}
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
