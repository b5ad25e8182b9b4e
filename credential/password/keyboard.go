package password

// What counts as a keyboard run
//
// A password holds a keyboard run when some 8 characters in a row, compared in
// lowercase, are either
//
//   - one run: 8 consecutive characters of one of the sequences below, read
//     forwards or backwards ("qwertyui", "kjhgfdsa", "abcdefgh", "87654321",
//     "!@#$%^&*", "ghjklæø'"), or
//   - two runs joined: a run of at least 3 followed directly by a run of at least
//     3 (3+5, 4+4 or 5+3), each from any sequence in either direction
//     ("abc12345", "qwer1234", "1234asdf", "zxcvasdf", "abcd4321").
//
// The sequences are the rows of the US QWERTY, Danish and German QWERTZ
// layouts, their shifted digit rows, the Danish alphabet and the digits. Only
// neighbours within one row count; diagonal or column walks ("1qaz2wsx") and
// the numeric keypad are not covered. Shorter runs ("qwertyu!", "abc1234x") are
// allowed: the rule catches the patterns MitID names, not every weak password,
// and the strength meter covers the rest.
//
// The joined form also catches a word ending in three letters of a row or of the
// alphabet followed by a run of digits ("liberty1234" via "erty1234"); such a
// password is weak enough that refusing it is acceptable.
var runSequences = [...]string{
	// US QWERTY
	"`1234567890-=", "~!@#$%^&*()_+", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
	// Danish
	"½1234567890+´", "§!\"#¤%&/()=?`", "qwertyuiopå¨", "asdfghjklæø'", "<zxcvbnm,.-",
	// German QWERTZ
	"^1234567890ß´", "°!\"§$%&/()=?`", "qwertzuiopü+", "asdfghjklöä#", "<yxcvbnm,.-",
	// Alphabet and digits
	"abcdefghijklmnopqrstuvwxyzæøå", "0123456789",
}

const (
	runWindow   = 8 // characters in a row that make a keyboard run
	runMinPiece = 3 // shortest piece of a joined run
)

// runPos is where a rune sits in runSequences.
type runPos struct {
	seq, off int
}

// runTable finds the sequences a rune occurs in without scanning them all, so
// Check stays linear in the password's length. Built once, never written after.
type runTable struct {
	seqs [][]rune
	at   map[rune][]runPos
}

var runs = newRunTable(runSequences[:])

func newRunTable(seqs []string) runTable {
	t := runTable{at: make(map[rune][]runPos)}
	for i, s := range seqs {
		rs := []rune(s)
		t.seqs = append(t.seqs, rs)
		for off, r := range rs {
			t.at[r] = append(t.at[r], runPos{seq: i, off: off})
		}
	}
	return t
}

// longest returns the length of the longest run in s starting at i, capped at
// limit. Every prefix of a run is a run, which is what lets hasKeyboardRun work
// from these lengths alone.
func (t runTable) longest(s []rune, i, limit int) int {
	best := 0
	for _, p := range t.at[s[i]] {
		seq := t.seqs[p.seq]
		for _, dir := range [...]int{1, -1} {
			k := 1
			for k < limit && i+k < len(s) {
				j := p.off + dir*k
				if j < 0 || j >= len(seq) || seq[j] != s[i+k] {
					break
				}
				k++
			}
			best = max(best, k)
		}
	}
	return best
}

// hasKeyboardRun reports whether s, already lowercased, holds a keyboard run as
// defined at the top of this file.
func hasKeyboardRun(s []rune) bool {
	if len(s) < runWindow {
		return false
	}
	long := make([]int, len(s))
	for i := range s {
		long[i] = runs.longest(s, i, runWindow)
	}
	for i := 0; i+runWindow <= len(s); i++ {
		if long[i] >= runWindow {
			return true
		}
		for cut := runMinPiece; cut <= runWindow-runMinPiece; cut++ {
			if long[i] >= cut && long[i+cut] >= runWindow-cut {
				return true
			}
		}
	}
	return false
}
