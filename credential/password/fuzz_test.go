package password

import (
	"slices"
	"testing"
)

func FuzzCheck(f *testing.F) {
	for _, seed := range []struct{ pw, userID string }{
		{"Hest-Havre-7", "annah"},
		{"korrekt hest batteri hæfteklamme", ""},
		{"æøåæøåæø", "søren"},
		{"Xk#9mQ2&vL7!", "anna.hansen@example"},
		{"qwertyui", ""},
		{"abc12345", ""},
		{"kode9182736450", ""},
		{"MitPassword!7", ""},
		{"Hest\tHavre", ""},
	} {
		f.Add(seed.pw, seed.userID)
	}
	order := Reasons()
	f.Fuzz(func(t *testing.T, pw, userID string) {
		got := Check(pw, userID)
		if again := Check(pw, userID); !slices.Equal(got, again) {
			t.Fatalf("Check(%q, %q) = %q then %q, want the same", pw, userID, got, again)
		}
		// Reasons come in the order of Reasons(), each at most once.
		last := -1
		for _, r := range got {
			i := slices.Index(order, r)
			if i <= last {
				t.Fatalf("Check(%q, %q) = %q, want distinct known reasons in order %q", pw, userID, got, order)
			}
			last = i
		}
		s := Strength(pw, userID)
		if s < 0 || s > 4 {
			t.Fatalf("Strength(%q, %q) = %d, want 0..4", pw, userID, s)
		}
		if (s == 0) != (len(got) > 0) {
			t.Fatalf("Strength(%q, %q) = %d with Check = %q, want 0 exactly when Check reports", pw, userID, s, got)
		}
		// Appending a character never lowers the level of an acceptable password.
		if longer := pw + "x"; s > 0 && len(Check(longer, userID)) == 0 {
			if sl := Strength(longer, userID); sl < s {
				t.Fatalf("Strength(%q) = %d < Strength(%q) = %d, want no drop", longer, sl, pw, s)
			}
		}
		if err := CheckRepeat(pw, pw); err != nil {
			t.Fatalf("CheckRepeat(%q, same) = %v, want nil", pw, err)
		}
	})
}
