package storetest

import (
	"strings"
	"testing"
	"time"

	"mitidchip/server/store"
)

func testImport(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	chip := func(serial, seed, cert string) store.ChipImport {
		return store.ChipImport{Serial: serial, SealedSeed: []byte(seed), CertDER: []byte(cert)}
	}
	n, err := e.st.ImportChips(e.ctx, []store.ChipImport{chip("C1", "s1", "c1"), chip("C2", "s2", "c2"), chip("C2", "s2b", "c2")}, t0)
	if err != nil || n != 2 {
		t.Fatalf("import: expected 2 added and no error, got %d, %v", n, err)
	}
	same(t, "chip C1", store.Chip{Serial: "C1", SealedSeed: []byte("s1"), CertDER: []byte("c1"),
		Status: store.ChipAvailable, ImportedAt: t0}, e.chip("C1"))

	// Re-running the same delivery file: the seeds were sealed afresh, the chips are
	// the same.
	before := Snapshot(t, e.st)
	n, err = e.st.ImportChips(e.ctx, []store.ChipImport{chip("C1", "s1-again", "c1"), chip("C2", "s2-again", "c2")}, t0.Add(time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("re-import: expected 0 added and no error, got %d, %v", n, err)
	}
	AssertUnchanged(t, e.st, before)

	if n, err := e.st.ImportChips(e.ctx, nil, t0); err != nil || n != 0 {
		t.Errorf("empty import: expected 0 added and no error, got %d, %v", n, err)
	}

	if err := e.st.RevokeChip(e.ctx, "C2", audit("", "chip_revoked")); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := e.chip("C2").Status; got != store.ChipRevoked {
		t.Errorf("revoked chip: expected status %s, got %s", store.ChipRevoked, got)
	}
	// A revoked chip stays revoked when its record is imported again.
	if n, err := e.st.ImportChips(e.ctx, []store.ChipImport{chip("C2", "s2", "c2")}, t0); err != nil || n != 0 || e.chip("C2").Status != store.ChipRevoked {
		t.Errorf("re-import of revoked chip: expected 0 added, still revoked; got %d, %v, %s", n, err, e.chip("C2").Status)
	}

	expectFailures(e, []failing{
		{"known serial, other certificate", func(e env) error {
			_, err := e.st.ImportChips(e.ctx, []store.ChipImport{chip("C3", "s3", "c3"), chip("C1", "s1", "other")}, t0)
			if err != nil && !strings.Contains(err.Error(), "C1") {
				e.t.Errorf("expected the error to name C1, got %v", err)
			}
			return err
		}, store.ErrImportConflict},
		{"serial twice with different certificates", func(e env) error {
			_, err := e.st.ImportChips(e.ctx, []store.ChipImport{chip("C4", "s4", "c4"), chip("C4", "s4", "c4b")}, t0)
			return err
		}, store.ErrImportConflict},
		{"record without certificate", func(e env) error {
			_, err := e.st.ImportChips(e.ctx, []store.ChipImport{chip("C5", "s5", "c5"), chip("C6", "s6", "")}, t0)
			return err
		}, nil},
		{"record without serial", func(e env) error {
			_, err := e.st.ImportChips(e.ctx, []store.ChipImport{chip("", "s7", "c7")}, t0)
			return err
		}, nil},
		{"revoke unknown chip", func(e env) error { return e.st.RevokeChip(e.ctx, "nope") }, store.ErrNotFound},
	})
}
