//go:build js && wasm

package dom

import (
	"errors"
	"strconv"

	"github.com/hack-pad/safejs"
)

// Bytes copies a Uint8Array, any other typed array, a DataView or an ArrayBuffer
// into Go. Input longer than limit is refused before anything is copied, because the
// bytes come from outside (a chip, a tag, a server).
func Bytes(v safejs.Value, limit int) ([]byte, error) {
	u8, err := uint8View(v)
	if err != nil {
		return nil, err
	}
	n, err := u8.Length()
	if err != nil {
		return nil, FromCall(err)
	}
	if n > limit {
		return nil, errors.New("dom: " + strconv.Itoa(n) + " bytes, more than the " + strconv.Itoa(limit) + " expected")
	}
	b := make([]byte, n)
	if _, err := safejs.CopyBytesToGo(b, u8); err != nil {
		return nil, FromCall(err)
	}
	return b, nil
}

// Uint8Array copies b into a new JavaScript Uint8Array.
func Uint8Array(b []byte) (safejs.Value, error) {
	ctor, err := Get(safejs.Global(), "Uint8Array")
	if err != nil {
		return safejs.Undefined(), err
	}
	u8, err := ctor.New(len(b))
	if err != nil {
		return safejs.Undefined(), FromCall(err)
	}
	if _, err := safejs.CopyBytesToJS(u8, b); err != nil {
		return safejs.Undefined(), FromCall(err)
	}
	return u8, nil
}

// uint8View returns a Uint8Array over the same memory as v, which is what
// CopyBytesToGo accepts.
func uint8View(v safejs.Value) (safejs.Value, error) {
	notBytes := errors.New("dom: expected a Uint8Array, DataView or ArrayBuffer, got " + v.Type().String())
	if v.Type() != safejs.TypeObject {
		return safejs.Undefined(), notBytes
	}
	g := safejs.Global()
	u8, err := Get(g, "Uint8Array")
	if err != nil {
		return safejs.Undefined(), err
	}
	if ok, _ := v.InstanceOf(u8); ok {
		return v, nil
	}
	ab, err := Get(g, "ArrayBuffer")
	if err != nil {
		return safejs.Undefined(), err
	}
	if ok, _ := v.InstanceOf(ab); ok {
		view, err := u8.New(v)
		return view, FromCall(err)
	}
	isView, err := Call(ab, "isView", v)
	if err != nil {
		return safejs.Undefined(), err
	}
	if ok, _ := isView.Bool(); !ok {
		return safejs.Undefined(), notBytes
	}
	buf, err1 := v.Get("buffer")
	off, err2 := v.Get("byteOffset")
	n, err3 := v.Get("byteLength")
	if err := errors.Join(err1, err2, err3); err != nil {
		return safejs.Undefined(), FromCall(err)
	}
	view, err := u8.New(buf, off, n)
	return view, FromCall(err)
}
