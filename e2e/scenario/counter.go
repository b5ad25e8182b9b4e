package scenario

import (
	"bytes"
	"testing"

	"mitidchip/server/cli"
)

// Staff runs `mitid-chip staff ARGS…` on the server's data folder, as an operator
// does next to a running server (docs/operations.md), and returns what it printed.
func (s *Server) Staff(t testing.TB, args ...string) string {
	t.Helper()
	env := map[string]string{
		"DATA_DIR":      s.Config.DataDir,
		"PUBLIC_ORIGIN": s.Origin,
	}
	var out bytes.Buffer
	if err := cli.Run(append([]string{"staff"}, args...), &out, func(k string) string { return env[k] }, nil); err != nil {
		t.Fatalf("mitid-chip staff %v: %v (%s)", args, err, out.String())
	}
	return out.String()
}
