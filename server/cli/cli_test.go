package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/server/handoff"
	"mitidchip/server/seal"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// env is a data folder with the files production configuration names: trusted roots,
// a seal key and the app backend's keys.
func env(t *testing.T) (func(string) string, *manufacturer.CA, string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := manufacturer.NewCA("Test Factory", rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert := ca.CertPEM()
	key, _ := seal.GenerateKey(rand.Reader)
	pub, priv, _ := handoff.GenerateKey(rand.Reader)
	pubPEM, _ := handoff.EncodePublicKeyPEM(pub)
	privPEM, _ := handoff.EncodePrivateKeyPEM(priv)
	for name, b := range map[string][]byte{
		"trusted-roots.pem":        cert,
		"keys/seal.key":            []byte(seal.EncodeKey(key)),
		"keys/handoff-public.pem":  pubPEM,
		"keys/handoff-private.pem": privPEM,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string {
		if k == "DATA_DIR" {
			return dir
		}
		return ""
	}
	return getenv, ca, dir
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"-help"}, &out, os.Getenv, nil); err != nil {
		t.Fatalf("-help: %v", err)
	}
	for _, want := range []string{"serve [-dev]", "chips import FILE", "chips show SERIAL", "chips unlock SERIAL", "chips revoke SERIAL",
		"handoff -person", "DATA_DIR", "SEAL_KEY_FILE", "TRUSTED_PROXIES"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if err := Run([]string{"nonsense"}, &out, os.Getenv, nil); err == nil {
		t.Error("an unknown command did not fail")
	}
}

func TestChipsImport(t *testing.T) {
	getenv, ca, dir := env(t)
	chips, err := ca.Batch("MC", 3, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var delivery bytes.Buffer
	if err := manufacturer.WriteDelivery(&delivery, "Test Factory", chips); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "delivery.jsonl")
	os.WriteFile(good, delivery.Bytes(), 0o600)

	// A file whose third line is broken imports nothing and names the line.
	lines := strings.SplitAfter(delivery.String(), "\n")
	lines[2] = `{"serial":"MC-BAD","seed":"!!","certificate":""}` + "\n"
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o600)
	var out bytes.Buffer
	err = Run([]string{"chips", "import", bad}, &out, getenv, nil)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("import of a bad file = %v, want an error naming line 3", err)
	}

	for i, want := range []string{"imported 3 new chips", "imported 0 new chips (3 in file, 3 already known)"} {
		out.Reset()
		if err := Run([]string{"chips", "import", good}, &out, getenv, nil); err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("import %d said %q, want %q", i+1, out.String(), want)
		}
	}
}

func TestHandoffLink(t *testing.T) {
	getenv, _, _ := env(t)
	var out bytes.Buffer
	if err := Run([]string{"handoff", "-person", "p-1", "-user", "some.user"}, &out, getenv, nil); err != nil {
		t.Fatalf("handoff: %v", err)
	}
	if !strings.HasPrefix(out.String(), "Activation link: http://127.0.0.1:8080/#t=ey") {
		t.Errorf("handoff printed %q, want an activation link with a JWT", out.String())
	}
	if err := Run([]string{"handoff"}, &out, getenv, nil); err == nil {
		t.Error("handoff without -person did not fail")
	}
}

// TestChipsOperator: show, unlock and revoke a chip; each is audited with the chip's
// person, and an unknown serial changes nothing.
func TestChipsOperator(t *testing.T) {
	getenv, ca, dir := env(t)
	minted, err := ca.Batch("MC", 2, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var delivery bytes.Buffer
	if err := manufacturer.WriteDelivery(&delivery, "Test Factory", minted); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "delivery.jsonl")
	os.WriteFile(file, delivery.Bytes(), 0o600)
	var out bytes.Buffer
	if err := Run([]string{"chips", "import", file}, &out, getenv, nil); err != nil {
		t.Fatalf("import: %v", err)
	}
	serial, free := minted[0].Serial, minted[1].Serial
	db := filepath.Join(dir, "activation.db")
	lockedUntil := bindAndLock(t, db, serial, "p-1")
	strangerUntil := lockStranger(t, db, free)

	run := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := Run(args, &out, getenv, nil); err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	expect := func(what, got string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: expected %q in\n%s", what, w, got)
			}
		}
	}
	until := lockedUntil.UTC().Format(time.RFC3339)
	expect("show a locked chip", run("chips", "show", serial), "chip       "+serial, "status     bound", "person     p-1 (bound ",
		"last code  step 100, 1970-01-01T00:50:00Z", "attempts   2 since ",
		"failures   1 person (10 wrong codes in a row lock that person alone out of the chip)\n",
		"  p-1: 1 wrong code in a row; locked until "+until+" (in ", "; 1 lock since their last right code, the next lasts 30m0s\n")
	expect("show a chip a stranger is locked out of", run("chips", "show", free), "status     available", "person     none",
		"last code  none accepted", "failures   2 persons",
		"  p-2: 2 wrong codes in a row; locked until "+strangerUntil.UTC().Format(time.RFC3339)+" (in ",
		"  p-3: 1 wrong code in a row; not locked; 0 locks since their last right code, the next lasts 15m0s\n")
	expect("unlock", run("chips", "unlock", serial), "chip "+serial+" unlocked (locked out: p-1 until "+until+"); the wrong codes and locks of 1 person and its attempt window are forgotten")
	shown := run("chips", "show", serial)
	expect("show after unlock", shown, "failures   0 persons", "attempts   none in the current window")
	if strings.Contains(shown, "p-1:") {
		t.Errorf("show after unlock: expected no person listed, got\n%s", shown)
	}
	expect("unlock a chip a stranger is locked out of", run("chips", "unlock", free), "(locked out: p-2 until ", "of 2 persons")
	expect("unlock a chip no one is locked out of", run("chips", "unlock", free), "(no one was locked out); the wrong codes and locks of 0 persons")
	expect("revoke", run("chips", "revoke", serial), "chip "+serial+" revoked (it was bound)")
	expect("show after revoke", run("chips", "show", serial), "status     revoked", "person     p-1")

	st, err := store.Open(filepath.Join(dir, "activation.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := storetest.Snapshot(t, st)
	for _, args := range [][]string{
		{"chips", "show", "MC-NOPE"}, {"chips", "unlock", "MC-NOPE"}, {"chips", "revoke", "MC-NOPE"},
		{"chips", "show"}, {"chips", "frob", serial}, {"chips", "show", serial, "extra"},
	} {
		if err := Run(args, &out, getenv, nil); err == nil {
			t.Errorf("%s: expected an error, got none", strings.Join(args, " "))
		}
	}
	storetest.AssertUnchanged(t, st, before)

	var got []string
	for _, line := range before["audit_log"] {
		if strings.Contains(line, `event="operator_`) {
			got = append(got, line[strings.Index(line, "person_id="):])
		}
	}
	detail := func(serial string) string { return `detail="{\"by\":\"operator\",\"serial\":\"` + serial + `\"}"` }
	want := []string{
		`person_id="p-1" event="operator_chip_shown" ` + detail(serial),
		`person_id="" event="operator_chip_shown" ` + detail(free),
		`person_id="p-1" event="operator_chip_unlocked" ` + detail(serial),
		`person_id="p-1" event="operator_chip_shown" ` + detail(serial),
		`person_id="" event="operator_chip_unlocked" ` + detail(free),
		`person_id="" event="operator_chip_unlocked" ` + detail(free),
		`person_id="p-1" event="operator_chip_revoked" ` + detail(serial),
		`person_id="p-1" event="operator_chip_shown" ` + detail(serial),
	}
	if !slices.Equal(got, want) {
		t.Errorf("operator audit entries:\nexpected %q\ngot      %q", want, got)
	}
}

// presenter opens the store at path, for the caller to close, with a function that
// starts an activation of person with serial presented, as the ceremony would.
func presenter(t *testing.T, path string, now time.Time) (st *store.SQLite, present func(token, person, serial string) store.Session) {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	return st, func(token, person, serial string) store.Session {
		t.Helper()
		cookie := sha256.Sum256([]byte(token))
		s, err := st.RedeemHandoff(ctx, store.Handoff{TokenID: token, PersonID: person, UsedAt: now, ExpiresAt: now.Add(time.Minute)},
			store.Session{ID: "act-" + token, CookieHash: cookie[:], CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		s.State, s.PasswordVerifier = store.StatePasswordSet, []byte("verifier")
		if s, err = st.UpdateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		s.State, s.ChipSerial, s.ChipPublicKey, s.Nonce = store.StateChipPresented, serial, []byte("pub"), []byte("nonce")
		if s, err = st.UpdateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// bindAndLock binds serial to person through the store, as an activation would, then
// has the person send a wrong code that locks them out of the chip for an hour from
// now.
func bindAndLock(t *testing.T, path, serial, person string) time.Time {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	st, present := presenter(t, path, now)
	defer st.Close()
	lim := store.CodeLimits{BlockAfter: 3, LockAfter: 1, FirstLock: time.Hour, MaxLock: 2 * time.Hour, Attempts: 10, AttemptWindow: time.Hour}
	s, err := st.AcceptCode(ctx, present("tok-1", person, serial), 100, 100, lim, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Complete(ctx, s, now); err != nil {
		t.Fatal(err)
	}
	_, f, err := st.RejectCode(ctx, present("tok-2", person, serial), lim, now)
	if err != nil || !f.LockedAt(now) {
		t.Fatalf("lock %s out of %s: expected it locked, got %+v (%v)", person, serial, f, err)
	}
	return f.LockedUntil
}

// lockStranger has p-2 lock themselves out of serial (not bound) with two wrong codes,
// and p-3 send one, and returns when p-2's lock lifts.
func lockStranger(t *testing.T, path, serial string) time.Time {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	st, present := presenter(t, path, now)
	defer st.Close()
	lim := store.CodeLimits{BlockAfter: 3, LockAfter: 2, FirstLock: time.Hour, MaxLock: 2 * time.Hour, Attempts: 10, AttemptWindow: time.Hour}
	s := present("tok-3", "p-2", serial)
	var f store.ChipFailure
	for range 2 {
		var err error
		if s, f, err = st.RejectCode(ctx, s, lim, now); err != nil {
			t.Fatal(err)
		}
	}
	if !f.LockedAt(now) {
		t.Fatalf("lock p-2 out of %s: expected it locked, got %+v", serial, f)
	}
	if _, _, err := st.RejectCode(ctx, present("tok-4", "p-3", serial), lim, now); err != nil {
		t.Fatal(err)
	}
	return f.LockedUntil
}
