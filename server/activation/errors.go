package activation

import (
	"errors"
	"time"
)

// Code is a refusal's stable machine code: the page shows a message by it, metrics
// count by it, and docs/api.md explains each.
type Code string

// The refusals of the activation ceremony.
const (
	CodeNoSession         Code = "no_session"
	CodeSessionExpired    Code = "session_expired"
	CodeOutOfOrder        Code = "out_of_order"
	CodeActivationBlocked Code = "activation_blocked"
	CodeAlreadyCompleted  Code = "already_completed"
	CodeHandoffInvalid    Code = "handoff_invalid"
	CodeHandoffExpired    Code = "handoff_expired"
	CodeHandoffUsed       Code = "handoff_used"
	CodeUserIDMissing     Code = "user_id_missing"
	CodeUserIDTaken       Code = "user_id_taken"
	CodeTooManyHandoffs   Code = "too_many_handoffs"
	CodeTooManySessions   Code = "too_many_sessions"
	CodeVerifierInvalid   Code = "verifier_invalid"
	CodeHelloInvalid      Code = "hello_invalid"
	CodeChipUnknown       Code = "chip_unknown"
	CodeChipNotAttested   Code = "chip_not_attested"
	CodeChipRevoked       Code = "chip_revoked"
	CodeChipBlocked       Code = "chip_blocked"
	CodeChipTaken         Code = "chip_taken"
	CodeChipLocked        Code = "chip_locked"
	CodeTooManyCodes      Code = "too_many_codes"
	CodeCodeFormat        Code = "code_format"
	CodeCodeWrong         Code = "code_wrong"
	CodeCodeUsed          Code = "code_used"
	CodeSignatureInvalid  Code = "signature_invalid"
	CodeHandoverWrong     Code = "handover_wrong"
	CodeHandoverExpired   Code = "handover_expired"
	CodeHandoverUsed      Code = "handover_used"
	CodeHandoverVoid      Code = "handover_void"
	CodeInternal          Code = "internal"
)

// Error is a refusal: its Code is for the person (through the page), Err the precise
// reason for the log, never shown to the client.
type Error struct {
	Code Code
	Err  error
	// TriesLeft is set with CodeCodeWrong: wrong codes left before the block.
	TriesLeft int
	// RetryAt is set with CodeChipLocked and CodeTooManyCodes: when the refusal
	// lifts by itself.
	RetryAt time.Time
	// Conflict marks a refusal caused by the state the records are in (a step taken
	// out of order, a user ID already taken) rather than by the request itself.
	Conflict bool
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(code Code, reason error) *Error { return &Error{Code: code, Err: reason} }

func conflict(code Code, reason error) *Error {
	return &Error{Code: code, Err: reason, Conflict: true}
}

func internal(err error) *Error { return &Error{Code: CodeInternal, Err: err} }

// CodeOf is err's refusal code; an error that is not a refusal is internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
