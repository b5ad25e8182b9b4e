package delivery_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"mitidchip/chip/delivery"
	"mitidchip/chip/manufacturer"
)

func deliveryFile(t testing.TB, name string, chips []manufacturer.Chip) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := manufacturer.WriteDelivery(&buf, name, chips); err != nil {
		t.Fatalf("WriteDelivery: %v", err)
	}
	return buf.Bytes()
}

func TestDeliveryRoundTrip(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	chips := newTestBatch(t, ca, "MC", 3)
	file := deliveryFile(t, "Test Chip Factory", chips)
	if lines := bytes.Count(file, []byte("\n")); lines != 4 {
		t.Fatalf("delivery file: expected 4 lines, got %d:\n%s", lines, file)
	}
	h, recs, err := delivery.Parse(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("delivery.Parse: %v", err)
	}
	if want := (delivery.Header{Format: delivery.Format, Version: delivery.Version, Manufacturer: "Test Chip Factory"}); h != want {
		t.Errorf("header: expected %+v, got %+v", want, h)
	}
	if len(recs) != len(chips) {
		t.Fatalf("records: expected %d, got %d", len(chips), len(recs))
	}
	for i, r := range recs {
		c := chips[i]
		if r.Serial != c.Serial || !bytes.Equal(r.Seed, c.Seed) || !bytes.Equal(r.Certificate, c.Certificate) {
			t.Errorf("record %d: expected chip %s with its seed and certificate, got %s", i, c.Serial, r.Serial)
		}
	}
	// Blank lines after the header and CRLF line ends are tolerated: files travel
	// through editors and mail.
	crlf := bytes.ReplaceAll(file, []byte("\n"), []byte("\r\n\r\n"))
	if _, recs, err := delivery.Parse(bytes.NewReader(crlf)); err != nil || len(recs) != len(chips) {
		t.Errorf("delivery.Parse with CRLF and blank lines: expected %d records, got %d, %v", len(chips), len(recs), err)
	}
}

// TestDeliveryRejects edits one line of a good file at a time and checks that the
// whole file is refused with that line's number.
func TestDeliveryRejects(t *testing.T) {
	ca := newTestCA(t, "Test Chip Factory")
	chips := newTestBatch(t, ca, "MC", 2)
	good := strings.Split(strings.TrimSuffix(string(deliveryFile(t, "Test Chip Factory", chips)), "\n"), "\n")
	header, rec1, rec2 := good[0], good[1], good[2]
	// recLine writes a record line by hand, so fields can be wrong on purpose.
	recLine := func(serial, seed, cert string) string {
		return `{"serial":"` + serial + `","seed":"` + seed + `","certificate":"` + cert + `"}`
	}
	cert1 := jsonField(t, rec1, "certificate")
	seed1 := jsonField(t, rec1, "seed")

	tests := []struct {
		name     string
		lines    []string
		wantLine int
		wantText string // part of the message, so the reason is visible too
	}{
		{"empty file", nil, 1, "empty file"},
		{"blank file", []string{""}, 1, "header"},
		{"header only", []string{header}, 1, "no chip records"},
		{"header then blank lines", []string{header, "", ""}, 3, "no chip records"},
		{"header not JSON", []string{"mitid-chip-delivery v1", rec1}, 1, "header"},
		{"header is an array", []string{"[]", rec1}, 1, "header"},
		{"wrong format", []string{`{"format":"other","version":1,"manufacturer":"X"}`, rec1}, 1, "format"},
		{"wrong version", []string{`{"format":"mitid-chip-delivery","version":2,"manufacturer":"X"}`, rec1}, 1, "version"},
		{"header unknown field", []string{`{"format":"mitid-chip-delivery","version":1,"manufacturer":"X","extra":1}`, rec1}, 1, "extra"},
		{"header trailing brace", []string{header + "}", rec1}, 1, "after the JSON"},
		{"bad serial", []string{header, rec1, recLine("mc-000002", seed1, cert1)}, 3, "serial"},
		{"empty serial", []string{header, recLine("", seed1, cert1)}, 2, "serial"},
		{"seed not base32", []string{header, recLine("MC-000001", "not base32!", cert1)}, 2, "seed"},
		{"seed lower-case", []string{header, recLine("MC-000001", strings.ToLower(seed1), cert1)}, 2, "seed"},
		{"seed padded", []string{header, recLine("MC-000001", seed1+"====", cert1)}, 2, "seed"},
		{"seed too short", []string{header, recLine("MC-000001", "GEZDGNBVGY3TQOJQGEZDGNBV", cert1)}, 2, "seed"},
		{"seed too long", []string{header, recLine("MC-000001", strings.Repeat("A", 104), cert1)}, 2, "seed"},
		{"cert not base64", []string{header, recLine("MC-000001", seed1, "***")}, 2, "certificate"},
		{"cert empty", []string{header, recLine("MC-000001", seed1, "")}, 2, "certificate"},
		{"cert not DER", []string{header, recLine("MC-000001", seed1, "MAA=")}, 2, "certificate"},
		{"cert too long", []string{header, recLine("MC-000001", seed1, strings.Repeat("A", 2004))}, 2, "certificate"},
		{"cert CN mismatch", []string{header, rec1, recLine("MC-000002", seed1, cert1)}, 3, `issued to "MC-000001"`},
		{"duplicate serial", []string{header, rec1, rec2, rec1}, 4, "already on line 2"},
		{"unknown field", []string{header, strings.TrimSuffix(rec1, "}") + `,"pin":"1234"}`}, 2, "pin"},
		{"missing field", []string{header, `{"serial":"MC-000001","seed":"` + seed1 + `"}`}, 2, "certificate"},
		{"two objects on a line", []string{header, rec1 + rec2}, 2, "after the JSON"},
		{"trailing bracket", []string{header, rec1 + "]"}, 2, "after the JSON"},
		{"record not JSON", []string{header, rec1, "MC-000002,seed,cert"}, 3, "invalid"},
		{"line too long", []string{header, rec1, strings.Repeat(" ", delivery.MaxLine+1)}, 3, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Join(tt.lines, "\n")
			if len(tt.lines) > 0 {
				in += "\n"
			}
			h, recs, err := delivery.Parse(strings.NewReader(in))
			var le *delivery.LineError
			if !errors.As(err, &le) {
				t.Fatalf("delivery.Parse: expected a *delivery.LineError, got %v", err)
			}
			if le.Line != tt.wantLine {
				t.Errorf("line: expected %d, got %d (%v)", tt.wantLine, le.Line, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("message: expected it to contain %q, got %q", tt.wantText, err.Error())
			}
			if recs != nil || h != (delivery.Header{}) {
				t.Errorf("on error: expected no header and no records, got %+v and %d records", h, len(recs))
			}
		})
	}
}

// jsonField pulls one string field out of a line WriteDelivery wrote.
func jsonField(t testing.TB, line, field string) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, `"`+field+`":"`)
	if !ok {
		t.Fatalf("field %s not in %s", field, line)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// FuzzParseDelivery: a delivery file is outside input. Never panic; on error nothing
// is returned; what is accepted survives a write and a second parse unchanged.
func FuzzParseDelivery(f *testing.F) {
	ca := newTestCA(f, "Fuzz Factory")
	chips := newTestBatch(f, ca, "FZ", 2)
	file := deliveryFile(f, "Fuzz Factory", chips)
	f.Add(file)
	f.Add(file[:bytes.IndexByte(file, '\n')+1])
	f.Add([]byte{})
	f.Add([]byte("{}\n{}\n"))
	f.Add(append(bytes.Clone(file), file[bytes.IndexByte(file, '\n')+1:]...))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, recs, err := delivery.Parse(bytes.NewReader(in))
		if err != nil {
			var le *delivery.LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error: expected a *delivery.LineError with a line number, got %v", err)
			}
			if recs != nil || h != (delivery.Header{}) {
				t.Fatalf("on error: expected nothing returned, got %+v and %d records", h, len(recs))
			}
			return
		}
		if len(recs) == 0 {
			t.Fatal("success with no records")
		}
		var buf bytes.Buffer
		if err := delivery.Write(&buf, h.Manufacturer, recs); err != nil {
			t.Fatalf("WriteDelivery of parsed records: %v", err)
		}
		h2, recs2, err := delivery.Parse(&buf)
		if err != nil {
			t.Fatalf("parse of a rewritten file: %v", err)
		}
		if h2 != h || len(recs2) != len(recs) {
			t.Fatalf("rewritten file: expected %+v with %d records, got %+v with %d", h, len(recs), h2, len(recs2))
		}
		for i := range recs {
			if recs2[i].Serial != recs[i].Serial || !bytes.Equal(recs2[i].Seed, recs[i].Seed) || !bytes.Equal(recs2[i].Certificate, recs[i].Certificate) {
				t.Fatalf("record %d changed in the rewrite", i)
			}
		}
	})
}

func newTestCA(t testing.TB, name string) *manufacturer.CA {
	t.Helper()
	ca, err := manufacturer.NewCA(name, rand.Reader, time.Now())
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func newTestBatch(t testing.TB, ca *manufacturer.CA, prefix string, n int) []manufacturer.Chip {
	t.Helper()
	chips, err := ca.Batch(prefix, n, rand.Reader, time.Now())
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	return chips
}
