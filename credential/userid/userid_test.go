package userid

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	a48 := strings.Repeat("anna.", 10)[:48]
	aa48 := strings.Repeat("å", 48)

	tests := []struct {
		name string
		id   string
		want []Reason
	}{
		// Length, counted in characters.
		{"4 characters is too short", "anna", []Reason{TooShort}},
		{"5 characters is enough", "annah", nil},
		{"48 characters is allowed", a48, nil},
		{"49 characters is too long", a48 + "x", []Reason{TooLong}},
		{"empty is too short", "", []Reason{TooShort}},
		{"4 two-byte runes is too short", "søøø", []Reason{TooShort}},
		{"5 two-byte runes is enough", "æøåæø", nil},
		{"48 two-byte runes is allowed", aa48, nil},
		{"49 two-byte runes is too long", aa48 + "å", []Reason{TooLong}},

		// Characters.
		{"every allowed symbol", "a{}!#$ ^,*()_+-=:;?.@z", nil},
		{"digits and letters", "anna1990", nil},
		{"uppercase is accepted", "AnnaH ÆØÅ", nil},
		{"apostrophe", "anna'h", []Reason{InvalidCharacter}},
		{"slash", "anna/h", []Reason{InvalidCharacter}},
		{"percent", "anna%h", []Reason{InvalidCharacter}},
		{"German umlaut", "jürgen", []Reason{InvalidCharacter}},
		{"Kelvin sign that lowercases to k", "anna\u212a", []Reason{InvalidCharacter}},
		{"tab", "anna\th", []Reason{InvalidCharacter}},
		{"NUL", "anna\x00h", []Reason{InvalidCharacter}},
		{"invalid UTF-8", "anna\xffh", []Reason{InvalidCharacter}},
		{"emoji", "anna🐴", []Reason{InvalidCharacter}},

		// Ten digits.
		{"exactly ten digits", "0101901234", []Reason{TenDigits}},
		{"ten digits inside", "anna0101901234", []Reason{TenDigits}},
		{"nine digits", "anna010190123", nil},
		{"ten digits split", "010190-1234", nil},

		// Spaces.
		{"leading space", " annah", []Reason{LeadingOrTrailingSpace}},
		{"trailing space", "annah ", []Reason{LeadingOrTrailingSpace}},
		{"inner space", "anna h", nil},
		{"only spaces", "     ", []Reason{LeadingOrTrailingSpace}},

		// Several rules at once, in the order of Reasons.
		{"short, invalid, spaced", " a/", []Reason{TooShort, InvalidCharacter, LeadingOrTrailingSpace}},
		{"long digits with a space", strings.Repeat("1", 49) + " ", []Reason{TooLong, TenDigits, LeadingOrTrailingSpace}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.id)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check(%q) = %q, want %q", tc.id, got, tc.want)
			}
			if tc.want == nil && got != nil {
				t.Errorf("Check(%q) = %#v, want nil", tc.id, got)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"lowercase stays", "anna.h@x", "anna.h@x"},
		{"ASCII uppercase", "AnnaH", "annah"},
		{"Danish uppercase", "SØREN ÆBLE Å", "søren æble å"},
		{"symbols and digits stay", "{}!#$ ^,*()_+-=:;?.@09", "{}!#$ ^,*()_+-=:;?.@09"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Normalize(tc.id); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.id, got, tc.want)
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
	if len(seen) != 5 {
		t.Errorf("Reasons() has %d reasons, want 5", len(seen))
	}
}

func FuzzCheck(f *testing.F) {
	for _, seed := range []string{"annah", "AnnaH ÆØÅ", "anna.hansen@example", "a{}!#$ ^,*()_+-=:;?.@z", "0101901234", " annah"} {
		f.Add(seed)
	}
	order := Reasons()
	f.Fuzz(func(t *testing.T, id string) {
		got := Check(id)
		if again := Check(id); !slices.Equal(got, again) {
			t.Fatalf("Check(%q) = %q then %q, want the same", id, got, again)
		}
		last := -1
		for _, r := range got {
			i := slices.Index(order, r)
			if i <= last {
				t.Fatalf("Check(%q) = %q, want distinct known reasons in order %q", id, got, order)
			}
			last = i
		}
		if len(got) > 0 {
			return
		}
		// An acceptable ID stays acceptable, and the same length, once normalized.
		n := Normalize(id)
		if r := Check(n); r != nil {
			t.Fatalf("Check(Normalize(%q) = %q) = %q, want nil", id, n, r)
		}
		if utf8.RuneCountInString(n) != utf8.RuneCountInString(id) {
			t.Fatalf("Normalize(%q) = %q changed the length", id, n)
		}
		if Normalize(n) != n {
			t.Fatalf("Normalize(%q) = %q, not stable under a second Normalize", id, n)
		}
	})
}
