package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// TestClients: add prints the secret once and keeps its hash; list shows the sites;
// remove takes a site away; add and remove are audited; bad input is refused with a
// clear error and changes nothing.
func TestClients(t *testing.T) {
	getenv, _, dir := env(t)
	var out bytes.Buffer
	run := func(args ...string) (string, error) {
		out.Reset()
		err := Run(args, &out, getenv, nil)
		return out.String(), err
	}
	got, err := run("clients", "add", "--id", "demo-kommune", "--name", "Demo Kommune",
		"--redirect-uri", "https://kommune.example/cb", "--redirect-uri", "http://127.0.0.1:8081/callback")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Client secret \(shown this once; only its hash is kept\): (\S+)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("add: expected the secret in\n%s", got)
	}
	if _, err := run("clients", "add", "--id", "spa", "--name", "A page", "--public", "--redirect-uri", "https://spa.example/cb"); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(filepath.Join(dir, "activation.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	c, err := st.OIDCClient(ctx, "demo-kommune")
	want := sha256.Sum256([]byte(m[1]))
	if err != nil || !bytes.Equal(c.SecretHash, want[:]) || !slices.Equal(c.RedirectURIs, []string{"https://kommune.example/cb", "http://127.0.0.1:8081/callback"}) {
		t.Errorf("stored client: %+v (%v)", c, err)
	}
	rows := storetest.Snapshot(t, st)
	if strings.Contains(strings.Join(rows["oidc_clients"], " ")+strings.Join(rows["audit_log"], " "), m[1]) {
		t.Error("the secret itself is in the store")
	}

	got, err = run("clients", "list")
	if err != nil || !strings.Contains(got, "demo-kommune\tDemo Kommune\tconfidential") || !strings.Contains(got, "spa\tA page\tpublic") {
		t.Errorf("list: got %q (%v)", got, err)
	}

	before := storetest.Snapshot(t, st)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "add", "--id", "demo-kommune", "--name", "X", "--redirect-uri", "https://x.example/cb"}, "exists already"},
		{[]string{"clients", "add", "--id", "x1", "--name", "X", "--redirect-uri", "http://x.example/cb"}, "want https"},
		{[]string{"clients", "add", "--id", "x1", "--name", "X", "--redirect-uri", "https://x.example/cb#f"}, "fragment"},
		{[]string{"clients", "add", "--id", "x1", "--name", "X"}, "at least one redirect URI"},
		{[]string{"clients", "add", "--id", "X 1", "--name", "X", "--redirect-uri", "https://x.example/cb"}, "client id"},
		{[]string{"clients", "add", "--name", "X", "--redirect-uri", "https://x.example/cb"}, "--id is required"},
		{[]string{"clients", "remove", "--id", "nobody"}, `no client "nobody"`},
		{[]string{"clients", "rename"}, "unknown clients command"},
		{[]string{"clients", "list", "extra"}, "unexpected"},
	} {
		if _, err := run(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: expected an error with %q, got %v", strings.Join(c.args, " "), c.want, err)
		}
	}
	storetest.AssertUnchanged(t, st, before)

	if got, err := run("clients", "remove", "--id", "spa"); err != nil || !strings.Contains(got, "removed") {
		t.Fatalf("remove: %q (%v)", got, err)
	}
	if _, err := st.OIDCClient(ctx, "spa"); err == nil {
		t.Error("a removed client is still there")
	}
	entries, err := st.AuditEntries(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range entries {
		events = append(events, e.Event)
	}
	if !slices.Equal(events, []string{"operator_client_added", "operator_client_added", "operator_client_removed"}) {
		t.Errorf("audit: got %v", events)
	}
}
