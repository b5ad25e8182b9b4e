package password

import "math"

// The strength scale shown by the meter.
//
//	0  not acceptable: Check reports a reason
//	1  weak:   estimate under 45 bits  (for example 8 lowercase letters, "aaaaaaaaaa")
//	2  fair:   under 65 bits           (for example "Sommer2024!", 8 random mixed characters)
//	3  good:   under 90 bits           (for example 12 random mixed characters)
//	4  strong: 90 bits or more         (for example a passphrase of four words)
//
// The estimate is brute force over the character classes used: each character
// adds log2 of the pool size, except a predictable one, which adds 1 bit: a
// repeat of one of the two characters before it ("aa", "abab"), the next step
// of a run by one ("abc", "321"), or the end of a three-character group seen
// earlier ("hest-hest"). There is no dictionary, so a common word
// counts like random letters; the estimate is a nudge, not a guarantee.
const (
	weakBelow = 45.0
	fairBelow = 65.0
	goodBelow = 90.0
)

// Pool sizes of the character classes.
const (
	poolLower  = 29  // a-z æøå
	poolUpper  = 29  // A-Z ÆØÅ
	poolDigit  = 10  // 0-9
	poolSymbol = 33  // the rest of printable ASCII, with space
	poolOther  = 100 // any other character: a rough guess, there are many
)

// Strength returns 0 when Check(pw, userID) reports any reason, else a level from
// 1 (weak) to 4 (strong) on the scale above. Adding a character to the end of
// an acceptable password never lowers its level.
func Strength(pw, userID string) int {
	if len(Check(pw, userID)) > 0 {
		return 0
	}
	bits := estimateBits([]rune(pw))
	switch {
	case bits < weakBelow:
		return 1
	case bits < fairBelow:
		return 2
	case bits < goodBelow:
		return 3
	}
	return 4
}

// estimateBits returns the brute-force estimate described at the top of the file.
func estimateBits(rs []rune) float64 {
	var lower, upper, digit, symbol, other bool
	for _, r := range rs {
		switch {
		case 'a' <= r && r <= 'z', r == 'æ', r == 'ø', r == 'å':
			lower = true
		case 'A' <= r && r <= 'Z', r == 'Æ', r == 'Ø', r == 'Å':
			upper = true
		case '0' <= r && r <= '9':
			digit = true
		case ' ' <= r && r <= '~':
			symbol = true
		default:
			other = true
		}
	}
	pool := 0
	for _, c := range [...]struct {
		used bool
		size int
	}{{lower, poolLower}, {upper, poolUpper}, {digit, poolDigit}, {symbol, poolSymbol}, {other, poolOther}} {
		if c.used {
			pool += c.size
		}
	}
	if pool == 0 {
		return 0
	}
	perChar := math.Log2(float64(pool))
	bits := 0.0
	for i := range rs {
		if predictable(rs, i) {
			bits++
		} else {
			bits += perChar
		}
	}
	return bits
}

// predictable reports whether rs[i] follows from what came before it: a repeat
// of one of the two characters before it, the next step of a run by one ("abc",
// "cba", "123"), or the end of three characters that already occurred together
// (the second "hest" in "hest-hest"). It looks only backwards, which is what
// keeps Strength from falling when a character is added at the end.
func predictable(rs []rune, i int) bool {
	if i >= 1 && rs[i] == rs[i-1] {
		return true
	}
	if i >= 2 {
		if rs[i] == rs[i-2] {
			return true
		}
		step := rs[i] - rs[i-1]
		if (step == 1 || step == -1) && rs[i-1]-rs[i-2] == step {
			return true
		}
		for j := 2; j < i; j++ {
			if rs[j] == rs[i] && rs[j-1] == rs[i-1] && rs[j-2] == rs[i-2] {
				return true
			}
		}
	}
	return false
}
