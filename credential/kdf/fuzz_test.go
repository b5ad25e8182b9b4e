package kdf

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

// FuzzCheck feeds Check the three byte strings a server receives or loads: it must
// never panic, must agree with ed25519.Verify over the framed challenge, and must
// accept nothing a length or small-order check would refuse.
func FuzzCheck(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	challenge := []byte("fuzz-seed-challenge!")
	proof := Prove(priv, challenge)
	f.Add(Verifier(priv), challenge, proof)
	f.Add(Verifier(priv), challenge[:MinChallengeSize], Prove(priv, challenge[:MinChallengeSize]))
	f.Add(Verifier(priv), challenge, proof[:32])
	f.Add(append([]byte{1}, make([]byte, 31)...), challenge, append([]byte{1}, make([]byte, 63)...))
	f.Add([]byte{}, []byte{}, []byte{})

	f.Fuzz(func(t *testing.T, verifier, challenge, proof []byte) {
		err := Check(verifier, challenge, proof)
		if err2 := Check(verifier, challenge, proof); (err == nil) != (err2 == nil) {
			t.Fatalf("non-deterministic: first %v, then %v", err, err2)
		}
		if err != nil {
			if errors.Is(err, ErrBadProof) && ed25519.Verify(verifier, proofMessage(challenge), proof) {
				t.Fatalf("rejected as a bad proof a signature that verifies")
			}
			return
		}
		if len(verifier) != VerifierSize || len(proof) != ProofSize ||
			len(challenge) < MinChallengeSize || len(challenge) > MaxChallengeSize {
			t.Fatalf("accepted wrong lengths: verifier %d, challenge %d, proof %d", len(verifier), len(challenge), len(proof))
		}
		if hasSmallOrder(verifier) {
			t.Fatalf("accepted small-order verifier %x", verifier)
		}
		if !ed25519.Verify(verifier, proofMessage(challenge), proof) {
			t.Fatalf("accepted a proof ed25519.Verify rejects")
		}
	})
}

// FuzzValidate checks that Validate accepts exactly the documented box and never panics.
func FuzzValidate(f *testing.F) {
	d := DefaultParams()
	f.Add(d.Time, d.MemoryKiB, d.Threads)
	f.Add(uint32(MinTime), uint32(MinMemoryKiB), uint8(MinThreads))
	f.Add(uint32(MaxTime), uint32(MaxMemoryKiB), uint8(MaxThreads))
	f.Add(uint32(0), uint32(0), uint8(0))
	f.Add(^uint32(0), ^uint32(0), ^uint8(0))

	f.Fuzz(func(t *testing.T, time, memoryKiB uint32, threads uint8) {
		p := Params{Time: time, MemoryKiB: memoryKiB, Threads: threads}
		err := p.Validate()
		inBox := time >= MinTime && time <= MaxTime &&
			memoryKiB >= MinMemoryKiB && memoryKiB <= MaxMemoryKiB &&
			threads >= MinThreads && threads <= MaxThreads
		if inBox != (err == nil) {
			t.Fatalf("%+v: expected valid=%v, got error %v", p, inBox, err)
		}
		if err != nil && !errors.Is(err, ErrParams) {
			t.Fatalf("%+v: expected ErrParams, got %v", p, err)
		}
	})
}
