package counter

import (
	"errors"
	"fmt"
)

// Code is a refusal's stable machine code; the console shows the catalogue's
// "error.<code>".
type Code string

// The console's refusals (docs/borgerservice.md).
const (
	// CodeNotCaseworker: the logged-on person has no caseworker role (never had,
	// or it was withdrawn: the next request after `staff revoke`).
	CodeNotCaseworker Code = "not_caseworker"
	// CodeConsoleIdle: the console was not used for IdleTTL; log on again.
	CodeConsoleIdle Code = "console_idle"
	// CodePressStale: the caseworker's chip press (their logon) is older than
	// PressTTL; a sensitive act needs a fresh one.
	CodePressStale Code = "press_stale"
	// CodeOwnActivation: a caseworker may not act on their own MitID at the counter.
	CodeOwnActivation Code = "own_activation"
	// CodeFieldsInvalid: a field is missing or of the wrong form.
	CodeFieldsInvalid Code = "fields_invalid"
	// CodeDocumentExpired: the ID document's expiry date has passed.
	CodeDocumentExpired Code = "document_expired"
	// CodeCitizenUnknown: the register has no person with the id.
	CodeCitizenUnknown Code = "citizen_unknown"
	// CodeUserIDNeeded: neither the register nor the store has a MitID user ID for
	// the person, and none (or one breaking the rules) was given.
	CodeUserIDNeeded Code = "user_id_needed"
	// CodeUserIDTaken: the user ID given is another person's.
	CodeUserIDTaken Code = "user_id_taken"
	// CodeActivationUnderWay: the person has an activation open; the caseworker
	// may end it.
	CodeActivationUnderWay Code = "activation_under_way"
	// CodeTooManyAssisted: the caseworker's assisted activations this hour are
	// used up.
	CodeTooManyAssisted Code = "too_many_assisted"
	// CodeTooManyHandoffs: the person started too many activations this hour.
	CodeTooManyHandoffs Code = "too_many_handoffs"
	// CodeNoActiveChip and CodeChipChanged: as for a block from the app.
	CodeNoActiveChip Code = "no_active_chip"
	CodeChipChanged  Code = "chip_changed"
	// CodeChipNotLocked: the person is not locked out of the chip named.
	CodeChipNotLocked Code = "chip_not_locked"
	CodeInternal      Code = "internal"
)

// Codes lists every code, for the API's metrics and the catalogue check.
var Codes = []Code{CodeNotCaseworker, CodeConsoleIdle, CodePressStale, CodeOwnActivation, CodeFieldsInvalid,
	CodeDocumentExpired, CodeCitizenUnknown, CodeUserIDNeeded, CodeUserIDTaken, CodeActivationUnderWay,
	CodeTooManyAssisted, CodeTooManyHandoffs, CodeNoActiveChip, CodeChipChanged, CodeChipNotLocked, CodeInternal}

// Error is a refusal: its code, and the precise reason for the server's log only.
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("counter: %s: %v", e.Code, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// CodeOf is err's code; an error that is not a refusal is internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

func refuse(code Code, err error) *Error { return &Error{Code: code, Err: err} }
func internal(err error) *Error          { return &Error{Code: CodeInternal, Err: err} }
