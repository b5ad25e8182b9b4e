package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/server/api"
	"mitidchip/server/block"
	"mitidchip/server/handoff"
	"mitidchip/server/store"
)

// withBlock gives the fixture's API the block endpoints, on its store and clock.
func withBlock(c *setup) {
	b, err := block.New(c.Activation.Store, c.Activation.Now)
	if err != nil {
		panic(err)
	}
	c.API.Block, c.API.BlockHandoff = b, c.API.Handoff.For(handoff.PurposeBlockChip)
}

// blockToken issues a block token for person, as the MitID app's backend does.
func (f *fixture) blockToken(person string) string {
	f.t.Helper()
	tok, _, err := f.issuer.For(handoff.PurposeBlockChip).Issue(person, "")
	if err != nil {
		f.t.Fatalf("issue block token for %s: %v", person, err)
	}
	return tok
}

// A person blocks their active chip from the app's block handoff: shown the chip,
// they confirm, and it is blocked for good. Every refusal answers its code and
// changes nothing; a block token never starts an activation nor an activation token
// blocks; a token blocks once; a new activation with the blocked chip is refused at
// the chip; another chip activates.
func TestBlockChip(t *testing.T) {
	f := newFixture(t, func(c *setup) {
		withBlock(c)
		c.API.HandoffPerMinute = 1000 // this test is not about the per-address limit
	})
	vc := f.virtualChip(f.chips[0])
	f.activate("p1", vc)
	f.clock.Advance(time.Minute)
	// p1's second activation of the same chip, at the sign step when the block comes.
	open := f.begin("p1", vc).through("code")
	blockTok := f.blockToken("p1")
	activationTok := f.token("p1", "")
	c := f.newClient()
	serial := vc.Serial()

	expired := func() string {
		past := handoff.NewIssuer(f.signKey, issuerName, audience, 5*time.Minute,
			func() time.Time { return f.clock.Now().Add(-10 * time.Minute) }, rand.Reader).For(handoff.PurposeBlockChip)
		tok, _, err := past.Issue("p1", "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	noOrigin := &client{f: f, http: c.http}
	refusals := []struct {
		name   string
		c      *client
		path   string
		body   any
		status int
		code   string
	}{
		{"activation token shown", c, "/api/v1/block/chip", api.BlockShowRequest{Token: activationTok}, 401, "handoff_invalid"},
		{"activation token blocks", c, "/api/v1/block", api.BlockRequest{Token: activationTok, ChipSerial: serial}, 401, "handoff_invalid"},
		{"block token starts an activation", c, "/api/v1/handoff", redeemReq(blockTok), 401, "handoff_invalid"},
		{"expired block token", c, "/api/v1/block", api.BlockRequest{Token: expired, ChipSerial: serial}, 401, "handoff_expired"},
		{"tampered block token", c, "/api/v1/block", api.BlockRequest{Token: blockTok[:len(blockTok)-2] + "AA", ChipSerial: serial}, 401, "handoff_invalid"},
		{"another chip than the active one", c, "/api/v1/block", api.BlockRequest{Token: blockTok, ChipSerial: f.chips[1].Serial}, 409, "chip_changed"},
		{"no serial", c, "/api/v1/block", api.BlockRequest{Token: blockTok}, 400, "bad_request"},
		{"serial with a space", c, "/api/v1/block", api.BlockRequest{Token: blockTok, ChipSerial: "TST 1"}, 400, "bad_request"},
		{"unknown member", c, "/api/v1/block", `{"token":"` + blockTok + `","chip_serial":"` + serial + `","reason":"x"}`, 400, "bad_request"},
		{"member in another case", c, "/api/v1/block", `{"Token":"` + blockTok + `","chip_serial":"` + serial + `"}`, 400, "bad_request"},
		{"no origin", noOrigin, "/api/v1/block", api.BlockRequest{Token: blockTok, ChipSerial: serial}, 403, "origin_denied"},
		{"no chip to block", c, "/api/v1/block/chip", api.BlockShowRequest{Token: f.blockToken("p2")}, 409, "no_active_chip"},
		{"no chip to block, confirmed", c, "/api/v1/block", api.BlockRequest{Token: f.blockToken("p2"), ChipSerial: serial}, 409, "no_active_chip"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			before := f.snapshot()
			r.c.post(r.path, r.body).expectError(t, r.status, r.code)
			f.assertUnchanged(before)
		})
	}
	if got := c.get("/api/v1/block/chip"); got.status != http.StatusMethodNotAllowed {
		t.Errorf("GET of the show endpoint: expected 405, got %d", got.status)
	}

	// Shown, then blocked.
	var shown api.BlockTarget
	c.post("/api/v1/block/chip", api.BlockShowRequest{Token: blockTok}).decodeOK(t, &shown)
	bound, err := f.store.Chip(f.ctx, serial)
	if err != nil {
		t.Fatal(err)
	}
	if want := (api.BlockTarget{ChipSerial: serial, ActivatedAt: bound.BoundAt.UTC().Format(time.RFC3339)}); shown != want {
		t.Fatalf("shown: expected %+v, got %+v", want, shown)
	}
	f.clock.Advance(time.Second)
	var done api.BlockDone
	c.post("/api/v1/block", api.BlockRequest{Token: blockTok, ChipSerial: serial}).decodeOK(t, &done)
	if want := (api.BlockDone{ChipSerial: serial, BlockedAt: f.clock.Now().UTC().Format(time.RFC3339)}); done != want {
		t.Fatalf("blocked: expected %+v, got %+v", want, done)
	}
	if ch, _ := f.store.Chip(f.ctx, serial); ch.Status != store.ChipRevoked || ch.PersonID != "p1" {
		t.Fatalf("store: expected %s revoked, still naming p1; got %s, %q", serial, ch.Status, ch.PersonID)
	}
	if b, err := f.store.ChipBlock(f.ctx, serial); err != nil || b.Reason != store.BlockReasonLost || b.PersonID != "p1" || !b.BlockedAt.Equal(f.clock.Now()) {
		t.Fatalf("store: the block record: got %+v (%v)", b, err)
	}
	trail, err := f.store.PersonAudit(f.ctx, "p1", 0, 1)
	if err != nil || len(trail) != 1 || trail[0].Event != block.EventChipBlocked ||
		trail[0].Detail != `{"by":"person","reason":"lost","serial":"`+serial+`","token_id":"`+tokenID(t, f, blockTok)+`","via":"mitid_app"}` {
		t.Fatalf("store: the person's newest audit entry: got %+v (%v)", trail, err)
	}
	if strings.Contains(f.logs.String(), blockTok) {
		t.Fatal("the log holds the block token")
	}

	// Once only; blocked for good.
	for _, r := range []struct {
		name string
		path string
		body any
	}{
		{"shown again", "/api/v1/block/chip", api.BlockShowRequest{Token: blockTok}},
		{"blocked again", "/api/v1/block", api.BlockRequest{Token: blockTok, ChipSerial: serial}},
	} {
		t.Run(r.name, func(t *testing.T) {
			before := f.snapshot()
			c.post(r.path, r.body).expectError(t, 409, "handoff_used")
			f.assertUnchanged(before)
		})
	}
	t.Run("a new token for the blocked chip", func(t *testing.T) {
		before := f.snapshot()
		c.post("/api/v1/block/chip", api.BlockShowRequest{Token: f.blockToken("p1")}).expectError(t, 409, "no_active_chip")
		f.assertUnchanged(before)
	})
	// The activation open with the chip ended with the block.
	t.Run("the open activation", func(t *testing.T) {
		before := f.snapshot()
		open.postSignature(open.sign()).expectError(t, 401, "session_expired")
		f.assertUnchanged(before)
	})
	// A new activation presenting the blocked chip is refused there, for its holder
	// and anyone else.
	for _, person := range []string{"p1", "p3"} {
		t.Run("presented again by "+person, func(t *testing.T) {
			cm := f.begin(person, vc).through("password")
			before := f.snapshot()
			cm.c.post("/api/v1/chip/hello", api.HelloRequest{Hello: helloPayload(t, vc)}).expectError(t, 409, "chip_blocked")
			f.assertUnchanged(before)
		})
	}
	// Another chip activates.
	other := f.virtualChip(f.chips[1])
	f.activate("p1", other)
	if ch, err := f.store.ActiveChip(f.ctx, "p1"); err != nil || ch.Serial != other.Serial() {
		t.Fatalf("store: p1's active chip after a new activation: expected %s, got %q (%v)", other.Serial(), ch.Serial, err)
	}
}

// tokenID is the jti of a token the fixture issued.
func tokenID(t *testing.T, f *fixture, tok string) string {
	t.Helper()
	c, err := f.issuerVerifier().For(handoff.PurposeBlockChip).Verify(tok)
	if err != nil {
		t.Fatalf("the block token: %v", err)
	}
	return c.TokenID
}

func (f *fixture) issuerVerifier() *handoff.Verifier {
	return handoff.NewVerifier(f.signKey.Public().(ed25519.PublicKey), issuerName, audience, f.clock.Now)
}

// api.New refuses verifiers of the wrong purpose, so a mix-up cannot pass.
func TestBlockConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*setup)
	}{
		{"block verifier of the activation purpose", func(c *setup) { withBlock(c); c.API.BlockHandoff = c.API.Handoff }},
		{"activation verifier of the block purpose", func(c *setup) { withBlock(c); c.API.Handoff = c.API.BlockHandoff }},
		{"block service without a verifier", func(c *setup) { withBlock(c); c.API.BlockHandoff = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &configT{TB: t}
			func() {
				defer func() { _ = recover() }()
				newFixture(ft, tc.edit)
			}()
			if !ft.failed.Load() {
				t.Fatal("expected api.New to refuse the configuration")
			}
		})
	}
}

// configT records a Fatalf instead of ending the test, for a fixture expected to fail.
type configT struct {
	testing.TB
	failed atomic.Bool
}

func (c *configT) Fatalf(format string, args ...any) {
	if strings.HasPrefix(format, "api.New") {
		c.failed.Store(true)
		panic("stop")
	}
	c.TB.Fatalf(format, args...)
}

// blockCounter counts the chips the API blocks; BlockChip is the one Store method
// that does.
type blockCounter struct {
	store.Store
	blocked atomic.Int64
}

func (c *blockCounter) BlockChip(ctx context.Context, b store.BlockRequest, audit ...store.AuditEntry) (store.Chip, error) {
	out, err := c.Store.BlockChip(ctx, b, audit...)
	if err == nil {
		c.blocked.Add(1)
	}
	return out, err
}

// FuzzBlock posts any body to both block endpoints: none makes the server fail, and
// only the seeded valid body, once, blocks a chip.
func FuzzBlock(f *testing.F) {
	counter := &blockCounter{}
	fx := newFixture(f, func(c *setup) {
		counter.Store = c.Activation.Store
		c.Activation.Store = counter
		withBlock(c)
		c.API.HandoffPerMinute, c.API.RequestsPerMinute = math.MaxInt, math.MaxInt
	})
	vc := fx.virtualChip(fx.chips[0])
	fx.activate("person-fuzz", vc)
	valid := fx.blockToken("person-fuzz")
	body := `{"token":"` + valid + `","chip_serial":"` + vc.Serial() + `"}`
	for _, s := range []string{
		`{"TOKEN":"` + valid + `","chip_serial":"` + vc.Serial() + `"}`,
		`{"token":"` + valid + `","token":"` + valid + `","chip_serial":"` + vc.Serial() + `"}`,
		`{"token":"` + valid + `","chip_serial":"` + vc.Serial() + `","chip_serial":"X"}`,
		`{"token":"` + valid + `","chip_serial":"` + vc.Serial() + `x"}`,
		`{"token":"` + valid + `"}`,
		`{"token":"` + fx.token("person-fuzz", "") + `","chip_serial":"` + vc.Serial() + `"}`,
		body, `{}`, `null`, ``, `{"token":null}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	blocked := false
	f.Fuzz(func(t *testing.T, b []byte, confirm bool) {
		path := "/api/v1/block/chip"
		if confirm {
			path = "/api/v1/block"
		}
		before := counter.blocked.Load()
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: server error %d %s", b, rec.Code, rec.Body)
		}
		n := counter.blocked.Load() - before
		isValid := confirm && blockCarries(b, valid, vc.Serial())
		switch {
		case n != 0 && (!isValid || blocked):
			t.Fatalf("body %q blocked a chip", b)
		case isValid && !blocked && (n != 1 || rec.Code != http.StatusOK):
			t.Fatalf("the valid body: expected the chip blocked and 200, got %d blocks and %d %s", n, rec.Code, rec.Body)
		case rec.Code == http.StatusOK && confirm && n != 1:
			t.Fatalf("body %q answered 200 without blocking", b)
		}
		if isValid {
			blocked = true
		}
	})
}

// blockCarries is FuzzBlock's oracle, independent of the API's decoder: body is
// exactly one object with the members "token" holding token and "chip_serial"
// holding serial, by those exact names, once each, in either order.
func blockCarries(body []byte, token, serial string) bool {
	if !json.Valid(body) {
		return false
	}
	var toks []json.Token
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false
		}
		toks = append(toks, tok)
	}
	if len(toks) != 6 || toks[0] != json.Delim('{') || toks[5] != json.Delim('}') {
		return false
	}
	members := map[json.Token]json.Token{toks[1]: toks[2], toks[3]: toks[4]}
	return len(members) == 2 && members["token"] == token && members["chip_serial"] == serial
}
