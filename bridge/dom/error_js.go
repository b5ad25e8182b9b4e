//go:build js && wasm

package dom

import (
	"errors"
	"syscall/js"

	"github.com/hack-pad/safejs"
)

// FromValue turns a thrown value or a rejection reason into an *Error: a DOMException
// or Error keeps its name and message; anything else becomes the message.
func FromValue(v safejs.Value) *Error {
	switch v.Type() {
	case safejs.TypeObject, safejs.TypeFunction:
		e := &Error{Name: stringProp(v, "name"), Message: stringProp(v, "message")}
		if e.Name != "" || e.Message != "" {
			return e
		}
	case safejs.TypeUndefined:
		return &Error{Message: "undefined"}
	case safejs.TypeNull:
		return &Error{Message: "null"}
	}
	s, err := v.String()
	if err != nil {
		s = "unprintable value"
	}
	return &Error{Message: s}
}

// FromCall turns an error from a safejs call into an *Error when JavaScript threw, so
// errors.Is works on it; other errors (a missing method, say) come back unchanged.
func FromCall(err error) error {
	var je js.Error
	if errors.As(err, &je) {
		return FromValue(safejs.Safe(je.Value))
	}
	return err
}

func stringProp(v safejs.Value, name string) string {
	p, err := v.Get(name)
	if err != nil || p.Type() != safejs.TypeString {
		return ""
	}
	s, err := p.String()
	if err != nil {
		return ""
	}
	return s
}

// Call calls v[method](args...) and turns a thrown exception into an *Error.
func Call(v safejs.Value, method string, args ...any) (safejs.Value, error) {
	r, err := v.Call(method, args...)
	if err != nil {
		return safejs.Undefined(), FromCall(err)
	}
	return r, nil
}

// Get reads v.path[0].path[1]...; a missing step is an error naming it.
func Get(v safejs.Value, path ...string) (safejs.Value, error) {
	for _, p := range path {
		if t := v.Type(); t != safejs.TypeObject && t != safejs.TypeFunction {
			return safejs.Undefined(), errors.New("dom: cannot read ." + p + " of " + t.String())
		}
		next, err := v.Get(p)
		if err != nil {
			return safejs.Undefined(), FromCall(err)
		}
		v = next
	}
	return v, nil
}

// IsFunction reports whether v.name exists and is a function: feature detection.
func IsFunction(v safejs.Value, name string) bool {
	if t := v.Type(); t != safejs.TypeObject && t != safejs.TypeFunction {
		return false
	}
	f, err := v.Get(name)
	return err == nil && f.Type() == safejs.TypeFunction
}
