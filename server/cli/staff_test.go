package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// TestStaff: grant makes a person with a MitID a caseworker, again moves them,
// revoke withdraws the role, list shows them; grant and revoke are audited; bad
// input is refused with a clear error and changes nothing.
func TestStaff(t *testing.T) {
	getenv, _, dir := env(t)
	var out bytes.Buffer
	run := func(args ...string) (string, error) {
		out.Reset()
		err := Run(args, &out, getenv, nil)
		return out.String(), err
	}
	st, err := store.Open(filepath.Join(dir, "activation.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now()
	if _, err := st.RedeemHandoff(ctx, store.Handoff{TokenID: "t1", PersonID: "karen", UsedAt: now, ExpiresAt: now.Add(time.Minute)},
		store.Session{ID: "s1", CookieHash: []byte("c1"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}

	before := storetest.Snapshot(t, st)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"staff", "grant", "--person", "nobody", "--office", "Aarhus"}, "no person"},
		{[]string{"staff", "grant", "--person", "karen"}, "--office is required"},
		{[]string{"staff", "grant", "--person", "karen", "--office", "<b>Aarhus</b>"}, "--office is required"},
		{[]string{"staff", "grant", "--office", "Aarhus"}, "--person is required"},
		{[]string{"staff", "revoke", "--person", "karen"}, "has no caseworker role"},
		{[]string{"staff", "fire", "--person", "karen"}, "unknown staff command"},
	} {
		if _, err := run(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: expected %q, got %v", c.args, c.want, err)
		}
	}
	storetest.AssertUnchanged(t, st, before)

	if got, err := run("staff", "list"); err != nil || !strings.Contains(got, "no caseworkers") {
		t.Errorf("list before: %q (%v)", got, err)
	}
	if got, err := run("staff", "grant", "--person", "karen", "--office", "Odense"); err != nil || !strings.Contains(got, "caseworker at Borgerservice Odense") {
		t.Fatalf("grant: %q (%v)", got, err)
	}
	if got, err := run("staff", "grant", "--person", "karen", "--office", "Aarhus"); err != nil || !strings.Contains(got, "moved from Odense") {
		t.Fatalf("grant again: %q (%v)", got, err)
	}
	if got, err := run("staff", "list"); err != nil || !strings.Contains(got, "karen") || !strings.Contains(got, "Aarhus") {
		t.Errorf("list: %q (%v)", got, err)
	}
	if _, err := run("staff", "revoke", "--person", "karen", "--office", "Odense"); err == nil || !strings.Contains(err.Error(), "not Odense") {
		t.Errorf("revoke at the wrong office: %v", err)
	}
	if got, err := run("staff", "revoke", "--person", "karen"); err != nil || !strings.Contains(got, "no longer a caseworker") {
		t.Fatalf("revoke: %q (%v)", got, err)
	}
	if _, err := st.StaffRole(ctx, "karen"); err == nil {
		t.Error("the role is still there after revoke")
	}
	entries, err := st.PersonAudit(ctx, "karen", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range entries {
		events = append(events, e.Event)
	}
	if got := strings.Join(events, " "); got != "staff_revoked staff_granted staff_granted" {
		t.Errorf("audit: %s", got)
	}
}
