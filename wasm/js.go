//go:build js && wasm

package main

import (
	"github.com/hack-pad/safejs"

	"mitidchip/bridge/dom"
)

// newPromise returns a JS Promise and the functions that settle it.
func newPromise() (promise safejs.Value, resolve, reject func(any), err error) {
	var res, rej safejs.Value
	executor, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		res, rej = args[0], args[1]
		return nil
	})
	if err != nil {
		return safejs.Undefined(), nil, nil, err
	}
	defer executor.Release()
	ctor, err := safejs.Global().Get("Promise")
	if err != nil {
		return safejs.Undefined(), nil, nil, err
	}
	promise, err = ctor.New(executor)
	if err != nil {
		return safejs.Undefined(), nil, nil, err
	}
	resolve = func(v any) { _, _ = res.Invoke(v) }
	reject = func(v any) { _, _ = rej.Invoke(v) }
	return promise, resolve, reject, nil
}

// dispatchReady tells the page the module's API is set.
func dispatchReady() {
	global := safejs.Global()
	ctor, err := global.Get("Event")
	if err != nil {
		return
	}
	ev, err := ctor.New("mitid-ready")
	if err != nil {
		return
	}
	_, _ = global.Call("dispatchEvent", ev)
}

// bluetoothPresent: the browser has Web Bluetooth at all, adapter or not, so the page
// can tell "turn Bluetooth on" from "this browser cannot".
func bluetoothPresent() bool {
	bt, err := dom.Get(safejs.Global(), "navigator", "bluetooth")
	return err == nil && bt.Type() == safejs.TypeObject
}
