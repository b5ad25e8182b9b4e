// Package userid checks a MitID user ID against MitID's published rules and gives
// the lowercase form that user IDs are compared and kept unique by.
package userid

import (
	"strings"
	"unicode/utf8"
)

// Reason names one broken rule. The values are stable: the page maps them to
// messages through its catalogues, so never change an existing one.
type Reason string

// The reasons, in the order Check reports them.
const (
	TooShort               Reason = "too_short"
	TooLong                Reason = "too_long"
	InvalidCharacter       Reason = "invalid_character"
	TenDigits              Reason = "ten_digits"
	LeadingOrTrailingSpace Reason = "leading_or_trailing_space"
)

// Length limits, counted in characters (runes), not bytes.
const (
	MinLength = 5
	MaxLength = 48
)

// Reasons returns every reason Check can report, in report order, so a message
// catalogue can be tested for completeness.
func Reasons() []Reason {
	return []Reason{TooShort, TooLong, InvalidCharacter, TenDigits, LeadingOrTrailingSpace}
}

// Check returns every rule id breaks, in the order of Reasons, or nil when id is
// acceptable. Uniqueness is not checked here; that needs the server's store.
//
// "Not 10 digits" is read as "does not contain 10 digits in a row": the rule is
// there to keep CPR numbers out of user IDs, and a CPR number inside a longer ID
// leaks as much as one standing alone.
func Check(id string) []Reason {
	var reasons []Reason
	n := utf8.RuneCountInString(id)
	if n < MinLength {
		reasons = append(reasons, TooShort)
	}
	if n > MaxLength {
		reasons = append(reasons, TooLong)
	}
	for _, r := range id {
		if !allowed(r) {
			reasons = append(reasons, InvalidCharacter)
			break
		}
	}
	if HasTenDigits(id) {
		reasons = append(reasons, TenDigits)
	}
	if strings.HasPrefix(id, " ") || strings.HasSuffix(id, " ") {
		reasons = append(reasons, LeadingOrTrailingSpace)
	}
	return reasons
}

// Normalize returns the form user IDs are compared and kept unique by. User IDs
// are not case-sensitive, so this is the lowercase form; for an ID that passes
// Check it only maps A-Z and ÆØÅ, and it keeps the length in characters.
func Normalize(id string) string {
	return strings.ToLower(id)
}

// allowed reports whether r may appear in a user ID: a-z æøå 0-9, the symbols
// {}!#$^,*()_+-=:;?.@ and space, and the uppercase letters the lowercase ones
// fold from. Invalid UTF-8 arrives here as utf8.RuneError and is refused.
func allowed(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	switch r {
	case 'æ', 'ø', 'å', 'Æ', 'Ø', 'Å',
		'{', '}', '!', '#', '$', ' ', '^', ',', '*', '(', ')',
		'_', '+', '-', '=', ':', ';', '?', '.', '@':
		return true
	}
	return false
}

// HasTenDigits reports whether s holds 10 ASCII digits in a row, the shape of a
// CPR number. Only ASCII digits are counted because CPR numbers are written so. The
// password rules use it too.
func HasTenDigits(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			run++
			if run >= 10 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
