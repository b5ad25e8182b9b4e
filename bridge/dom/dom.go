// Package dom turns the browser's JavaScript conventions into Go ones for the chip
// links: Promises become calls that honour a context, DOMExceptions become errors.
package dom

import "errors"

// Error is a JavaScript exception or Promise rejection: a DOMException such as
// NotFoundError, or a JavaScript error such as TypeError. errors.Is matches it
// against the sentinels below by Name, so callers never compare strings.
type Error struct {
	Name    string // "NotFoundError", "TypeError", ...; empty for a thrown non-error value
	Message string // the browser's words, for logs; not for the person in front of it
}

func (e *Error) Error() string {
	switch {
	case e.Name == "":
		return "javascript: " + e.Message
	case e.Message == "":
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Is reports whether target is the sentinel for e's name, or another *Error of the
// same name (for names without a sentinel, such as TypeError).
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Name == e.Name
	}
	s := sentinel(e.Name)
	return s != nil && s == target
}

// Sentinels for the DOMException names a chip link can meet. What each means for the
// person is in docs/bridge.md.
var (
	// ErrNotFound: the Bluetooth chooser was cancelled or found nothing, or a GATT
	// service or characteristic is missing.
	ErrNotFound = errors.New("dom: NotFoundError")
	// ErrNetwork: the Bluetooth connection dropped, or an NFC tag went away mid-write.
	ErrNetwork = errors.New("dom: NetworkError")
	// ErrNotAllowed: permission refused, or no user gesture where one is needed.
	ErrNotAllowed = errors.New("dom: NotAllowedError")
	// ErrNotSupported: the browser or device lacks the feature.
	ErrNotSupported = errors.New("dom: NotSupportedError")
	// ErrNotReadable: the NFC adapter is there but cannot be used (switched off).
	ErrNotReadable = errors.New("dom: NotReadableError")
	// ErrAbort: the operation was aborted (by us, or by a newer one).
	ErrAbort = errors.New("dom: AbortError")
	// ErrInvalidState: the object is not in a state to do this (e.g. not connected).
	ErrInvalidState = errors.New("dom: InvalidStateError")
	// ErrSecurity: blocked by the browser (insecure origin, blocklisted UUID, no gesture).
	ErrSecurity = errors.New("dom: SecurityError")
	// ErrTimeout: the browser gave up waiting.
	ErrTimeout = errors.New("dom: TimeoutError")
)

func sentinel(name string) error {
	switch name {
	case "NotFoundError":
		return ErrNotFound
	case "NetworkError":
		return ErrNetwork
	case "NotAllowedError":
		return ErrNotAllowed
	case "NotSupportedError":
		return ErrNotSupported
	case "NotReadableError":
		return ErrNotReadable
	case "AbortError":
		return ErrAbort
	case "InvalidStateError":
		return ErrInvalidState
	case "SecurityError":
		return ErrSecurity
	case "TimeoutError":
		return ErrTimeout
	}
	return nil
}
