package logon_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	"mitidchip/credential/kdf"
	"mitidchip/server/logon"
)

// BenchmarkLogonThroughput is the server's side of whole logons, one after another
// on one SQLite store (synchronous=FULL), against its ceiling: the work no logon can
// do without. Argon2id runs in the browser, so that work is one Ed25519 verification
// (the password proof), one ECDSA P-256 verification (the chip's signature) and the
// durable commits (begin, password, finish), each measured alone here on the same
// machine and store. It prints `bench: logons-per-second N /s (R× ceiling)`.
func BenchmarkLogonThroughput(b *testing.B) {
	const logons = 200
	be := newBench(b, nil)
	m := be.chips[0]
	be.activate("person-1", "anna.hansen", password, m)
	// The password key, derived once: the browser's work, not the server's.
	begun := be.begin("anna.hansen")
	priv, err := kdf.Derive(password, begun.KDF.Salt, kdf.Params{Time: begun.KDF.Time, MemoryKiB: begun.KDF.MemoryKiB, Threads: begun.KDF.Threads})
	if err != nil {
		b.Fatal(err)
	}
	hello := be.hello(m)

	start := time.Now()
	for range logons {
		bg, err := be.c.Begin(be.ctx, "anna.hansen", "")
		if err != nil {
			b.Fatal(err)
		}
		tr, err := be.c.Password(be.ctx, bg.ChallengeID, kdf.Prove(priv, bg.Challenge))
		if err != nil {
			b.Fatal(err)
		}
		sig := be.sign(m, tr) // the chip's work, timed with the server's: a small overstatement
		if _, err := be.c.Chip(be.ctx, bg.ChallengeID, hello, sig); err != nil {
			b.Fatal(err)
		}
	}
	perLogon := time.Since(start) / logons

	// The ceiling's parts.
	pub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 64)
	edSig := ed25519.Sign(edPriv, msg)
	hash := sha256.Sum256(msg)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, m.Key, hash[:])
	const n = 500
	t0 := time.Now()
	for range n {
		ed25519.Verify(pub, msg, edSig)
	}
	ed := time.Since(t0) / n
	t0 = time.Now()
	for range n {
		ecdsa.VerifyASN1(&m.Key.PublicKey, hash[:], ecSig)
	}
	ec := time.Since(t0) / n
	t0 = time.Now()
	for range logons {
		if err := be.st.Probe(be.ctx); err != nil {
			b.Fatal(err)
		}
	}
	commit := time.Since(t0) / logons
	floor := ed + ec + 3*commit
	got := float64(time.Second) / float64(perLogon)
	ceiling := float64(time.Second) / float64(floor)
	fmt.Fprintf(os.Stdout, "bench: logons-per-second %.0f /s (%.2f× ceiling)\n", got, got/ceiling)
	fmt.Fprintf(os.Stdout, "bench: logon-ceiling %.0f /s (Ed25519 verify %v + ECDSA P-256 verify %v + 3 commits of %v; logon.LockAfter %d)\n",
		ceiling, ed, ec, commit, logon.LockAfter)
}
