package logon

import (
	"errors"
	"time"
)

// Code is a refusal's stable machine code: the page shows a message by it and
// docs/api.md explains each.
type Code string

// The refusals of the logon ceremony.
const (
	CodeBadRequest = Code("bad_request")
	// CodeLogonFailed is a wrong password and an unknown user ID alike.
	CodeLogonFailed     = Code("logon_failed")
	CodeLogonLocked     = Code("logon_locked")
	CodeLogonExpired    = Code("logon_expired")
	CodeLogonUsed       = Code("logon_used")
	CodeOutOfOrder      = Code("out_of_order")
	CodeHelloInvalid    = Code("hello_invalid")
	CodeChipUnknown     = Code("chip_unknown")
	CodeChipNotAttested = Code("chip_not_attested")
	CodeChipRevoked     = Code("chip_revoked")
	// CodeChipBlocked: its holder blocked the chip (lost); it can never log on.
	CodeChipBlocked        = Code("chip_blocked")
	CodeChipNotYours       = Code("chip_not_yours")
	CodeVerifierInvalid    = Code("verifier_invalid")
	CodeSignatureInvalid   = Code("signature_invalid")
	CodeAuthRequestInvalid = Code("auth_request_invalid")
	// CodeAuthRequestExpired: the site's authorization request is still known but its
	// time ran out; the page offers the way back to the site.
	CodeAuthRequestExpired = Code("auth_request_expired")
	CodeNotLoggedOn        = Code("not_logged_on")
	CodeInternal           = Code("internal")
)

// Codes lists every code the ceremony refuses with.
var Codes = []Code{
	CodeBadRequest, CodeLogonFailed, CodeLogonLocked, CodeLogonExpired, CodeLogonUsed, CodeOutOfOrder,
	CodeHelloInvalid, CodeChipUnknown, CodeChipNotAttested, CodeChipRevoked, CodeChipBlocked, CodeChipNotYours,
	CodeVerifierInvalid, CodeSignatureInvalid, CodeAuthRequestInvalid, CodeAuthRequestExpired, CodeNotLoggedOn, CodeInternal,
}

// Error is a refusal: its Code is for the person (through the page), Err the precise
// reason for the log, never shown to the client.
type Error struct {
	Code Code
	Err  error
	// RetryAt is set with CodeLogonLocked: when the lock lifts.
	RetryAt time.Time
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(code Code, reason error) *Error { return &Error{Code: code, Err: reason} }

func internal(err error) *Error { return &Error{Code: CodeInternal, Err: err} }

// CodeOf is err's refusal code; an error that is not a refusal is internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
