package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	// 64 characters of "Hest-Hest-…" and of "æøå…": long enough, and no other rule hit.
	hest64 := strings.Repeat("Hest-", 13)[:64]
	aeoeaa64 := strings.Repeat("æøå", 22)[:2*64] // two bytes per rune

	tests := []struct {
		name   string
		pw     string
		userID string
		want   []Reason
	}{
		// Length, counted in characters.
		{"7 characters is too short", "Kort7!x", "", []Reason{TooShort}},
		{"8 characters is enough", "Kort7!xy", "", nil},
		{"64 characters is allowed", hest64, "", nil},
		{"65 characters is too long", hest64 + "x", "", []Reason{TooLong}},
		{"empty is too short", "", "", []Reason{TooShort}},
		{"7 two-byte runes is too short", "æøåæøåæ", "", []Reason{TooShort}},
		{"8 two-byte runes is enough", "æøåæøåæø", "", nil},
		{"64 two-byte runes is allowed", aeoeaa64, "", nil},
		{"65 two-byte runes is too long", aeoeaa64 + "æ", "", []Reason{TooLong}},
		{"8 four-byte runes is enough", "🐴🦊🐴🦊🐴🦊🐴🦊", "", nil},

		// Encoding and control characters.
		{"invalid UTF-8", "Hest\xffHavre", "", []Reason{InvalidEncoding}},
		{"tab", "Hest\tHavre", "", []Reason{ControlCharacter}},
		{"newline", "Hest\nHavre", "", []Reason{ControlCharacter}},
		{"NUL", "Hest\x00Havre", "", []Reason{ControlCharacter}},
		{"DEL", "Hest\x7fHavre", "", []Reason{ControlCharacter}},
		{"C1 control", "Hest\u0085Havre", "", []Reason{ControlCharacter}},
		{"line separator", "Hest\u2028Havre", "", []Reason{ControlCharacter}},
		{"space is not a control character", "Hest Havre", "", nil},
		{"symbols and letters beyond ASCII are fine", "Hest€Havre§ü", "", nil},

		// User ID.
		{"contains user ID", "Hest-annah-7", "annah", []Reason{ContainsUserID}},
		{"contains user ID in other case", "Hest-ANNAH-7", "AnnaH", []Reason{ContainsUserID}},
		{"contains user ID with æøå in other case", "Hest-SØREN-7", "søren", []Reason{ContainsUserID}},
		{"does not contain user ID", "Hest-annah-7", "bobby", nil},
		{"part of user ID is fine", "Hest-anna-7", "annah", nil},
		{"no user ID given", "Hest-annah-7", "", nil},

		// Ten digits (a CPR number).
		{"ten digits in a row", "kode9182736450", "", []Reason{TenDigits}},
		{"eleven digits in a row", "kode91827364501", "", []Reason{TenDigits}},
		{"nine digits in a row", "kode918273645x", "", nil},
		{"ten digits split by a dash", "kode918273-6450", "", nil},
		{"ten digits not all in a row", "91827x36450", "", nil},

		// Forbidden words.
		{"password", "MitPassword!7", "", []Reason{ForbiddenWord}},
		{"PASSWORD", "MitPASSWORD!7", "", []Reason{ForbiddenWord}},
		{"adgangskode", "minADGANGSKODE9", "", []Reason{ForbiddenWord}},
		{"both words report once", "passwordadgangskode", "", []Reason{ForbiddenWord}},
		{"passw0rd is not the word", "Passw0rd-hest", "", nil},
		{"adgangs-kode is not the word", "adgangs-kode-9", "", nil},

		// Keyboard runs.
		{"qwertyui", "qwertyui", "", []Reason{KeyboardRun}},
		{"QWERTYUI inside", "xQWERTYUIx", "", []Reason{KeyboardRun}},
		{"asdfghjk", "Hest-asdfghjk-7", "", []Reason{KeyboardRun}},
		{"backwards row", "kjhgfdsa", "", []Reason{KeyboardRun}},
		{"Danish row", "ghjklæø'", "", []Reason{KeyboardRun}},
		{"German row", "qwertzui", "", []Reason{KeyboardRun}},
		{"German bottom row", "yxcvbnm,", "", []Reason{KeyboardRun}},
		{"shifted digit row", "!@#$%^&*", "", []Reason{KeyboardRun}},
		{"alphabet", "abcdefgh", "", []Reason{KeyboardRun}},
		{"Danish end of alphabet", "vwxyzæøå", "", []Reason{KeyboardRun}},
		{"digits", "x12345678", "", []Reason{KeyboardRun}},
		{"digits backwards", "87654321", "", []Reason{KeyboardRun}},
		{"digits from zero", "01234567", "", []Reason{KeyboardRun}},
		{"abc12345", "abc12345", "", []Reason{KeyboardRun}},
		{"qwer1234", "qwer1234", "", []Reason{KeyboardRun}},
		{"1234asdf", "1234asdf", "", []Reason{KeyboardRun}},
		{"two rows joined", "zxcvasdf", "", []Reason{KeyboardRun}},
		{"word ending in a row, then digits", "liberty1234", "", []Reason{KeyboardRun}},
		{"7-character row", "qwertyu!", "", nil},
		{"7-character joined run", "abc1234x", "", nil},
		{"row broken by dashes", "qwe-rty-uio", "", nil},
		{"joined run with a 2-character piece", "ab123456x", "", nil},
		{"æøå repeated is no run", "æøåæøåæø", "", nil},

		// Several rules at once, in the order of Reasons.
		{"short with control", "Pw\x00", "", []Reason{TooShort, ControlCharacter}},
		{"everything after length",
			"adgangskode9182736450qwertyui", "kode",
			[]Reason{ContainsUserID, TenDigits, ForbiddenWord, KeyboardRun}},
		{"long with user ID", hest64 + "annah", "annah", []Reason{TooLong, ContainsUserID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.pw, tc.userID)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check(%q, %q) = %q, want %q", tc.pw, tc.userID, got, tc.want)
			}
			if tc.want == nil && got != nil {
				t.Errorf("Check(%q, %q) = %#v, want nil", tc.pw, tc.userID, got)
			}
		})
	}
}

func TestReasonsAreSnakeCase(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] {
			t.Errorf("reason %q listed twice", r)
		}
		seen[r] = true
		if r == "" || strings.Trim(string(r), "abcdefghijklmnopqrstuvwxyz_") != "" {
			t.Errorf("reason %q is not lowercase snake_case", r)
		}
	}
	if len(seen) != 8 {
		t.Errorf("Reasons() has %d reasons, want 8", len(seen))
	}
}

func TestCheckRepeat(t *testing.T) {
	tests := []struct {
		name, pw, repeat string
		want             error
	}{
		{"same", "Hest-Havre-7", "Hest-Havre-7", nil},
		{"different case", "Hest-Havre-7", "hest-havre-7", ErrMismatch},
		{"one character more", "Hest-Havre-7", "Hest-Havre-7 ", ErrMismatch},
		{"empty repeat", "Hest-Havre-7", "", ErrMismatch},
		{"both empty", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckRepeat(tc.pw, tc.repeat)
			if !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
				t.Errorf("CheckRepeat(%q, %q) = %v, want %v", tc.pw, tc.repeat, got, tc.want)
			}
		})
	}
}

func TestStrength(t *testing.T) {
	tests := []struct {
		name   string
		pw     string
		userID string
		want   int
	}{
		{"rejected: too short", "Kort7!x", "", 0},
		{"rejected: keyboard run", "Qwertyui!7#kL", "", 0},
		{"rejected: contains user ID", "korrekt hest batteri", "hest", 0},
		{"one letter repeated", "aaaaaaaaaa", "", 1},
		{"two letters alternating", "abababababab", "", 1},
		{"8 lowercase letters", "hemmelig", "", 1},
		{"11 lowercase letters", "hemmelighed", "", 2},
		{"word, year and symbol", "Sommer2024!", "", 2},
		{"8 mixed characters", "Xk#9mQ2&", "", 2},
		{"12 mixed characters", "Xk#9mQ2&vL7!", "", 3},
		{"repeated word", "Hest-Hest-Hest", "", 2},
		{"four-word passphrase", "korrekt hest batteri hæfteklamme", "", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Strength(tc.pw, tc.userID); got != tc.want {
				t.Errorf("Strength(%q, %q) = %d, want %d", tc.pw, tc.userID, got, tc.want)
			}
		})
	}
}

func TestStrengthOrdering(t *testing.T) {
	// Each pair: the second is plainly no weaker than the first.
	pairs := []struct {
		name           string
		weaker, strong string
	}{
		{"length helps", "hemmelig", "hemmeligheden"},
		{"classes help", "hemmelig", "Hem#3lig"},
		{"repetition hurts", "Xk#9Xk#9Xk#9", "Xk#9mQ2&vL7!"},
		{"runs hurt", "abcdefg1", "agfbdce1"},
		{"passphrase beats short mix", "Xk#9mQ2&", "korrekt hest batteri"},
	}
	for _, tc := range pairs {
		t.Run(tc.name, func(t *testing.T) {
			w, s := Strength(tc.weaker, ""), Strength(tc.strong, "")
			if w == 0 || s == 0 {
				t.Fatalf("Strength(%q) = %d, Strength(%q) = %d, want both accepted", tc.weaker, w, tc.strong, s)
			}
			if w > s {
				t.Errorf("Strength(%q) = %d > Strength(%q) = %d, want the second no weaker", tc.weaker, w, tc.strong, s)
			}
		})
	}
}

func TestStrengthGrowsWithLength(t *testing.T) {
	// Typing a good password character by character never moves the meter back.
	const pw = "korrekt Hest 9 batteri hæfteklamme!"
	last := 0
	for i := range []rune(pw) {
		prefix := string([]rune(pw)[:i+1])
		got := Strength(prefix, "")
		if got < last {
			t.Errorf("Strength(%q) = %d, want at least %d as for the shorter prefix", prefix, got, last)
		}
		last = got
	}
	if last != 4 {
		t.Errorf("Strength(%q) = %d, want 4", pw, last)
	}
}

func BenchmarkCheck(b *testing.B) {
	pw := "korrekt Hest 9 batteri hæfteklamme! og lidt mere tekst her"
	for b.Loop() {
		Check(pw, "annah")
	}
}
