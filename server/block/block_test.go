package block_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/block"
	"mitidchip/server/handoff"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// The service refuses claims of any purpose but blocking, whatever verified them,
// and writes nothing.
func TestBlockRefusesOtherPurposes(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := block.New(st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := storetest.Snapshot(t, st)
	for _, purpose := range []string{handoff.Purpose, "", "mitid-login"} {
		c := handoff.Claims{TokenID: "tok-0123456789abcdef", PersonID: "p1", Purpose: purpose, Expiry: now.Add(time.Minute), IssuedAt: now}
		if _, err := s.Show(ctx, c); activation.CodeOf(err) != activation.CodeHandoffInvalid || !errors.Is(err, handoff.ErrPurpose) {
			t.Errorf("Show with purpose %q: expected %s, got %v", purpose, activation.CodeHandoffInvalid, err)
		}
		if _, err := s.Block(ctx, c, "MC-000001"); activation.CodeOf(err) != activation.CodeHandoffInvalid {
			t.Errorf("Block with purpose %q: expected %s, got %v", purpose, activation.CodeHandoffInvalid, err)
		}
	}
	storetest.AssertUnchanged(t, st, before)
}

func TestValidSerial(t *testing.T) {
	for s, want := range map[string]bool{
		"MC-000001": true, "A": true, "": false, "MC 1": false, "MC-\n": false, "Søren": false,
		string(make([]byte, 65)): false, "x" + string(rune(0x7f)): false,
	} {
		if got := block.ValidSerial(s); got != want {
			t.Errorf("ValidSerial(%q): expected %v, got %v", s, want, got)
		}
	}
}
