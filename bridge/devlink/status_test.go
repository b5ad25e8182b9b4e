package devlink

import (
	"errors"
	"testing"

	"mitidchip/chip"
)

func TestStatusError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		is     error // nil: the error (if any) matches neither sentinel
		ok     bool
	}{
		{"ok", 200, nil, true},
		{"production", 404, ErrUnavailable, false},
		{"unavailable", 503, chip.ErrDisconnected, false},
		{"gateway timeout", 504, chip.ErrDisconnected, false},
		{"bad gateway", 502, chip.ErrDisconnected, false},
		{"request timeout", 408, chip.ErrDisconnected, false},
		{"bad frame", 400, nil, false},
		{"too large", 413, nil, false},
		{"forbidden", 403, nil, false},
		{"server error", 500, nil, false},
		{"created is not ok", 201, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := statusError(tc.status)
			if tc.ok {
				if err != nil {
					t.Fatalf("expected no error, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error, got none")
			}
			for _, s := range []error{ErrUnavailable, chip.ErrDisconnected} {
				if got, want := errors.Is(err, s), s == tc.is; got != want {
					t.Errorf("errors.Is(%v, %v): expected %v, got %v", err, s, want, got)
				}
			}
		})
	}
}
