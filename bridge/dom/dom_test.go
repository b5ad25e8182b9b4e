package dom

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorIs(t *testing.T) {
	all := []error{ErrNotFound, ErrNetwork, ErrNotAllowed, ErrNotSupported, ErrNotReadable,
		ErrAbort, ErrInvalidState, ErrSecurity, ErrTimeout}
	tests := []struct {
		name string
		want error // nil: matches no sentinel
	}{
		{"NotFoundError", ErrNotFound},
		{"NetworkError", ErrNetwork},
		{"NotAllowedError", ErrNotAllowed},
		{"NotSupportedError", ErrNotSupported},
		{"NotReadableError", ErrNotReadable},
		{"AbortError", ErrAbort},
		{"InvalidStateError", ErrInvalidState},
		{"SecurityError", ErrSecurity},
		{"TimeoutError", ErrTimeout},
		{"TypeError", nil},
		{"", nil},
		{"notfounderror", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Wrapped twice, as a link returns it.
			err := fmt.Errorf("ble: connect: %w", fmt.Errorf("step: %w", &Error{Name: tc.name, Message: "m"}))
			for _, s := range all {
				if got, want := errors.Is(err, s), s == tc.want; got != want {
					t.Errorf("errors.Is(%q, %v): expected %v, got %v", tc.name, s, want, got)
				}
			}
		})
	}
}

func TestErrorIsByName(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Name: "TypeError", Message: "Failed to fetch"})
	if !errors.Is(err, &Error{Name: "TypeError"}) {
		t.Errorf("expected a TypeError to match &Error{Name: TypeError}, it did not")
	}
	if errors.Is(err, &Error{Name: "RangeError"}) {
		t.Errorf("expected a TypeError not to match &Error{Name: RangeError}, it did")
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"name and message", Error{Name: "NotFoundError", Message: "User cancelled the requestDevice() chooser."}, "NotFoundError: User cancelled the requestDevice() chooser."},
		{"name only", Error{Name: "AbortError"}, "AbortError"},
		{"message only", Error{Message: "boom"}, "javascript: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("expected %q, got %q", tc.want, got)
			}
		})
	}
}
