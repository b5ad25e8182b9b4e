// Package password checks a new MitID password against MitID's published rules and
// estimates its strength for the meter shown while the citizen types it.
package password

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"mitidchip/credential/userid"
)

// Reason names one broken rule. The values are stable: the page maps them to
// messages through its catalogues, so never change an existing one.
type Reason string

// The reasons, in the order Check reports them.
const (
	TooShort         Reason = "too_short"
	TooLong          Reason = "too_long"
	InvalidEncoding  Reason = "invalid_encoding"
	ControlCharacter Reason = "control_character"
	ContainsUserID   Reason = "contains_user_id"
	TenDigits        Reason = "ten_digits"
	ForbiddenWord    Reason = "forbidden_word"
	KeyboardRun      Reason = "keyboard_run"
)

// Length limits, counted in characters (runes), not bytes.
const (
	MinLength = 8
	MaxLength = 64
)

// ErrMismatch is returned by CheckRepeat when the repeated password differs.
var ErrMismatch = errors.New("password: repeated password does not match")

// forbiddenWords may not appear in any case. Lowercase, as compared.
var forbiddenWords = [...]string{"password", "adgangskode"}

// Reasons returns every reason Check can report, in report order, so a message
// catalogue can be tested for completeness.
func Reasons() []Reason {
	return []Reason{TooShort, TooLong, InvalidEncoding, ControlCharacter,
		ContainsUserID, TenDigits, ForbiddenWord, KeyboardRun}
}

// Check returns every rule pw breaks, in the order of Reasons, or nil when pw is
// acceptable. userID is the citizen's user ID; when it is empty the rule about
// containing it is skipped. Letters are compared without regard to case.
//
// Check does not normalise Unicode: "å" typed precomposed and as "a" plus a
// combining ring are different passwords to the key derivation, so the caller
// should hand in NFC text (String.prototype.normalize in the page).
func Check(pw, userID string) []Reason {
	var reasons []Reason
	n := utf8.RuneCountInString(pw)
	if n < MinLength {
		reasons = append(reasons, TooShort)
	}
	if n > MaxLength {
		reasons = append(reasons, TooLong)
	}
	// A JS string always arrives as valid UTF-8; this guards Go callers, since the
	// key derivation sees bytes and a mangled password could not be typed again.
	if !utf8.ValidString(pw) {
		reasons = append(reasons, InvalidEncoding)
	}
	if hasControl(pw) {
		reasons = append(reasons, ControlCharacter)
	}
	lower := strings.ToLower(pw)
	if id := userid.Normalize(userID); id != "" && strings.Contains(lower, id) {
		reasons = append(reasons, ContainsUserID)
	}
	if userid.HasTenDigits(pw) {
		reasons = append(reasons, TenDigits)
	}
	for _, w := range forbiddenWords {
		if strings.Contains(lower, w) {
			reasons = append(reasons, ForbiddenWord)
			break
		}
	}
	if hasKeyboardRun([]rune(lower)) {
		reasons = append(reasons, KeyboardRun)
	}
	return reasons
}

// CheckRepeat returns ErrMismatch when repeat is not exactly pw. A timing-safe
// compare is not needed: both strings are the citizen's own typing in the page.
func CheckRepeat(pw, repeat string) error {
	if pw != repeat {
		return ErrMismatch
	}
	return nil
}

// hasControl reports control characters (C0, DEL, C1) and the Unicode line and
// paragraph separators: none can be typed back reliably into a password field.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}
