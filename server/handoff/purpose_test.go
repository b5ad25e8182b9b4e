package handoff

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Each purpose's Verifier accepts its own tokens and no other's: a block token never
// starts an activation, an activation token never blocks a chip, and the claims say
// which purpose the token has.
func TestPurposeSeparation(t *testing.T) {
	k := testKeys(t)
	activation := NewIssuer(k.priv, testIss, testAud, 5*time.Minute, fixedClock(t0), seededRand(3))
	block := activation.For(PurposeBlockChip)
	activationTok, activationClaims, err := activation.Issue("person-1", "user-1")
	if err != nil {
		t.Fatalf("Issue activation: %v", err)
	}
	blockTok, blockClaims, err := block.Issue("person-1", "")
	if err != nil {
		t.Fatalf("Issue block: %v", err)
	}
	if activationClaims.Purpose != Purpose || blockClaims.Purpose != PurposeBlockChip {
		t.Fatalf("issued purposes: got %q and %q, want %q and %q", activationClaims.Purpose, blockClaims.Purpose, Purpose, PurposeBlockChip)
	}
	forActivation := NewVerifier(k.pub, testIss, testAud, fixedClock(verifyAt))
	forBlock := forActivation.For(PurposeBlockChip)
	if forActivation.Purpose() != Purpose || forBlock.Purpose() != PurposeBlockChip {
		t.Fatalf("verifier purposes: got %q and %q", forActivation.Purpose(), forBlock.Purpose())
	}

	tests := []struct {
		name  string
		v     *Verifier
		token string
		want  *Claims // nil: ErrPurpose
	}{
		{"activation token, activation verifier", forActivation, activationTok, &activationClaims},
		{"block token, block verifier", forBlock, blockTok, &blockClaims},
		{"block token at activation", forActivation, blockTok, nil},
		{"activation token at block", forBlock, activationTok, nil},
		{"block token, verifier of an unknown purpose", forActivation.For("mitid-login"), blockTok, nil},
		{"block purpose with a foreign typ", forBlock, craft(t, jwt.SigningMethodEdDSA, k.priv, func(h map[string]any, c jwt.MapClaims) {
			h["typ"] = "JWT"
			c["pur"] = PurposeBlockChip
		}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Verify(tc.token)
			if tc.want == nil {
				if !errors.Is(err, ErrPurpose) {
					t.Fatalf("Verify: got %v, want %v", err, ErrPurpose)
				}
				checkOneSentinel(t, err)
				if got != (Claims{}) {
					t.Fatalf("Verify returned claims %+v with an error", got)
				}
				return
			}
			if err != nil || got != *tc.want {
				t.Fatalf("Verify: got %+v, %v; want %+v", got, err, *tc.want)
			}
		})
	}

	// The original Verifier is unchanged by For.
	if _, err := forActivation.Verify(activationTok); err != nil {
		t.Fatalf("activation verifier after For: %v", err)
	}
	if _, _, err := activation.For("mitid-login").Issue("person-1", ""); err == nil {
		t.Fatal("Issue for an unknown purpose: got a token, want an error")
	}
}

// FuzzVerifyBlock: whatever a block token holds, the block Verifier either accepts
// it with the block purpose or refuses it with exactly one sentinel; it never
// accepts an activation's.
func FuzzVerifyBlock(f *testing.F) {
	k := testKeys(f)
	activation := NewIssuer(k.priv, testIss, testAud, 5*time.Minute, fixedClock(t0), seededRand(3))
	for _, iss := range []*Issuer{activation, activation.For(PurposeBlockChip)} {
		tok, _, err := iss.Issue("person-1", "")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("")
	f.Add("a.b.c")
	v := NewVerifier(k.pub, testIss, testAud, fixedClock(verifyAt)).For(PurposeBlockChip)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token)
		if err != nil {
			checkOneSentinel(t, err)
			return
		}
		if c.Purpose != PurposeBlockChip {
			t.Fatalf("accepted a token of purpose %q", c.Purpose)
		}
	})
}
