package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/counter"
	"mitidchip/server/handoff"
	"mitidchip/server/logon"
	"mitidchip/server/observe"
	"mitidchip/server/registry"
	"mitidchip/server/seal"
	"mitidchip/server/store/storetest"
	"mitidchip/wasm/session"
)

const (
	origin     = "http://127.0.0.1:8080"
	issuerName = "https://app-backend.mitid.test"
	audience   = "https://activation.mitid.test"
	password   = "Blåbærgrød og 7 små ænder"
)

// t0 is ten seconds into a TOTP step, so moving the clock by whole steps never lands
// on a boundary.
var t0 = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

// testKDF is as cheap as kdf.Params.Validate allows, so tests stay fast under -race.
var testKDF = kdf.Params{Time: 1, MemoryKiB: 8192, Threads: 1}

// clock is the fake clock every part of the fixture reads: the API, the handoff
// verifier, the registry and the virtual chips.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects the server's log lines; handlers write from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// errInjected is what an armed failpoint returns.
var errInjected = errors.New("injected failure")

// fixture is the real API on a store of storeKind (SQLite in a temp dir, or a
// PostgreSQL database of its own in the test cluster), with a trusted CA whose
// chips are imported, a handoff key pair, and a fake clock.
type fixture struct {
	t        testing.TB
	ctx      context.Context
	clock    *clock
	store    storetest.Store
	reg      *registry.Registry
	issuer   *handoff.Issuer
	signKey  ed25519.PrivateKey
	ca       *manufacturer.CA
	other    *manufacturer.CA    // a CA the server does not trust
	chips    []manufacturer.Chip // minted by ca and imported
	spare    manufacturer.Chip   // minted by ca, never imported
	handler  http.Handler
	srv      *httptest.Server
	logs     *syncBuffer
	failAt   atomic.Pointer[string] // the store failpoint step that fails, if any
	failHits atomic.Int32           // how often it did
	logon    *logon.Ceremony
}

// setup is the configuration of the ceremony and its HTTP adapter, for a test to edit.
type setup struct {
	Activation activation.Config
	Logon      logon.Config
	API        api.Config
	// Counter, when set, serves Borgerservice's console on the fixture's store,
	// ceremony and clock (counter_test.go).
	Counter *counter.Config
}

// newFixture builds the fixture; edit, if not nil, changes the configuration first.
func newFixture(t testing.TB, edit func(*setup)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), clock: &clock{now: t0}, logs: &syncBuffer{}}
	st := openStore(t, func(step string) error {
		if p := f.failAt.Load(); p != nil && *p == step {
			f.failHits.Add(1)
			return errInjected
		}
		return nil
	})
	f.store = st
	var err error

	if f.ca, err = manufacturer.NewCA("Trusted Chips A/S", rand.Reader, t0); err != nil {
		t.Fatalf("CA: %v", err)
	}
	if f.other, err = manufacturer.NewCA("Other Chips Ltd", rand.Reader, t0); err != nil {
		t.Fatalf("other CA: %v", err)
	}
	minted, err := f.ca.Batch("TST", 4, rand.Reader, t0)
	if err != nil {
		t.Fatalf("mint chips: %v", err)
	}
	f.chips, f.spare = minted[:3], minted[3]

	key, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("seal key: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.Cert)
	f.reg = registry.New(st, roots, seal.NewSealer(key, rand.Reader))
	var file bytes.Buffer
	if err := manufacturer.WriteDelivery(&file, "Trusted Chips A/S", f.chips); err != nil {
		t.Fatalf("delivery: %v", err)
	}
	if added, _, err := f.reg.Import(f.ctx, &file, t0); err != nil || added != len(f.chips) {
		t.Fatalf("import: expected %d chips added, got %d (%v)", len(f.chips), added, err)
	}

	pub, priv, err := handoff.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("handoff key: %v", err)
	}
	f.signKey = priv
	f.issuer = handoff.NewIssuer(priv, issuerName, audience, 5*time.Minute, f.clock.Now, rand.Reader)

	logonKey, err := seal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("logon key: %v", err)
	}
	cfg := setup{
		Activation: activation.Config{Store: st, Registry: f.reg, Now: f.clock.Now, Rand: rand.Reader, KDF: testKDF},
		Logon: logon.Config{Store: st, Registry: f.reg, Key: logonKey, Origin: origin, Now: f.clock.Now, Rand: rand.Reader,
			KDF: kdf.DefaultParams()},
		API: api.Config{
			Handoff: handoff.NewVerifier(pub, issuerName, audience, f.clock.Now),
			Metrics: observe.NewMetrics(),
			Now:     f.clock.Now,
			Origin:  origin,
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.API.Ceremony, err = activation.New(cfg.Activation); err != nil {
		t.Fatalf("activation.New: %v", err)
	}
	if cfg.API.Logon, err = logon.New(cfg.Logon); err != nil {
		t.Fatalf("logon.New: %v", err)
	}
	f.logon = cfg.API.Logon
	if cfg.Counter != nil {
		cc := *cfg.Counter
		cc.Store, cc.Ceremony, cc.Now = st, cfg.API.Ceremony, f.clock.Now
		if cc.DocumentKey == nil {
			cc.DocumentKey = counter.DocumentKey(logonKey[:])
		}
		if cfg.API.Counter, err = counter.New(cc); err != nil {
			t.Fatalf("counter.New: %v", err)
		}
	}
	a, err := api.New(cfg.API)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	// As in the server: the access log gives handlers their logger, so refusal lines
	// land in f.logs too and the secret checks read them.
	f.handler = observe.AccessLog(observe.NewLogger(f.logs, slog.LevelDebug), mux)
	f.srv = httptest.NewServer(f.handler)
	t.Cleanup(f.srv.Close)
	return f
}

// failAtStep arms the store failpoint at step ("" disarms it).
func (f *fixture) failAtStep(step string) {
	if step == "" {
		f.failAt.Store(nil)
		return
	}
	f.failAt.Store(&step)
}

// token issues a handoff token for person, with userID, or "uid." + person when
// that is empty: every activation needs a user ID.
func (f *fixture) token(person, userID string) string {
	f.t.Helper()
	if userID == "" {
		userID = "uid." + person
	}
	tok, _, err := f.issuer.Issue(person, userID)
	if err != nil {
		f.t.Fatalf("issue handoff for %s: %v", person, err)
	}
	return tok
}

// requestID is a fresh request id, as the page makes one per handoff token.
func requestID() string { return rand.Text()[:22] }

// redeemReq is the page's redemption of tok, with a request id of its own.
func redeemReq(tok string) api.RedeemRequest {
	return api.RedeemRequest{Token: tok, RequestID: requestID()}
}

// virtualChip turns a minted chip into a virtual one on the fixture's clock.
func (f *fixture) virtualChip(m manufacturer.Chip) *virtual.Chip {
	f.t.Helper()
	vc, err := virtual.New(m.Config(f.clock.Now))
	if err != nil {
		f.t.Fatalf("virtual chip %s: %v", m.Serial, err)
	}
	return vc
}

func (f *fixture) snapshot() map[string][]string {
	f.t.Helper()
	return storetest.Snapshot(f.t, f.store)
}

func (f *fixture) assertUnchanged(before map[string][]string) {
	f.t.Helper()
	storetest.AssertUnchanged(f.t, f.store, before)
}

// client is one browser: a cookie jar, and the page's Origin on every request.
type client struct {
	f      *fixture
	http   *http.Client
	origin string
	header http.Header // more headers on every request, such as a proxy's X-Forwarded-For
}

func (f *fixture) newClient() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatalf("cookie jar: %v", err)
	}
	return &client{f: f, http: &http.Client{Jar: jar}, origin: origin}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request. A body that is []byte or string goes as it is; anything else
// is marshalled to JSON.
func (c *client) do(method, path string, body any) response {
	c.f.t.Helper()
	r, err := c.send(method, path, body)
	if err != nil {
		c.f.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// send is do for goroutines other than the test's, which must not call t.Fatal.
func (c *client) send(method, path string, body any) (response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.f.srv.URL+path, r)
	if err != nil {
		return response{}, err
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func (c *client) post(path string, body any) response { return c.do(http.MethodPost, path, body) }
func (c *client) get(path string) response            { return c.do(http.MethodGet, path, nil) }

// decodeOK expects a 200 and decodes its body into v.
func (r response) decodeOK(t testing.TB, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("expected 200, got %d: %s", r.status, r.body)
	}
	if err := api.DecodeStrict(bytes.NewReader(r.body), v); err != nil {
		t.Fatalf("decode %T: %v in %s", v, err, r.body)
	}
}

// state expects a 200 with the activation at step.
func (r response) state(t testing.TB, step string) api.State {
	t.Helper()
	var s api.State
	r.decodeOK(t, &s)
	if s.Step != step {
		t.Fatalf("expected step %q, got %q (%s)", step, s.Step, r.body)
	}
	return s
}

// expectError expects the status and the machine code, with the message key the page
// shows for it.
func (r response) expectError(t testing.TB, status int, code string) api.Error {
	t.Helper()
	var body struct {
		Error api.Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("expected %d %s, got %d with an undecodable body %q: %v", status, code, r.status, r.body, err)
	}
	if r.status != status || body.Error.Code != code {
		t.Fatalf("expected %d %s, got %d %s (%s)", status, code, r.status, body.Error.Code, r.body)
	}
	if !slices.Contains(api.ErrorCodes, code) {
		t.Errorf("code %q is missing from api.ErrorCodes", code)
	}
	if body.Error.Message != "error."+code {
		t.Errorf("expected message key %q, got %q", "error."+code, body.Error.Message)
	}
	return body.Error
}

// ceremony is one person activating one chip in one browser, step by step, as the
// page does it.
type ceremony struct {
	f        *fixture
	c        *client
	person   string
	token    string
	vc       *virtual.Chip
	sess     *session.Session
	state    api.State
	verifier []byte
	code     string // the last code read off the display
}

// begin redeems a fresh handoff for person and reads the state, as the page does on
// load.
func (f *fixture) begin(person string, vc *virtual.Chip) *ceremony {
	f.t.Helper()
	cm := &ceremony{f: f, c: f.newClient(), person: person, vc: vc, token: f.token(person, "")}
	cm.c.post("/api/v1/handoff", redeemReq(cm.token)).state(f.t, "password")
	cm.state = cm.c.get("/api/v1/activation").state(f.t, "password")
	return cm
}

// setPassword fetches the KDF parameters, derives the key and posts the verifier.
func (cm *ceremony) setPassword() {
	t := cm.f.t
	t.Helper()
	var p api.PasswordParams
	cm.c.get("/api/v1/password/params").decodeOK(t, &p)
	params := kdf.Params{Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads}
	if params != testKDF || len(p.Salt) != kdf.SaltSize {
		t.Fatalf("expected params %+v and a %d-byte salt, got %+v", testKDF, kdf.SaltSize, p)
	}
	priv, err := kdf.Derive(password, p.Salt, params)
	if err != nil {
		t.Fatalf("derive: %v", err)
	}
	cm.verifier = kdf.Verifier(priv)
	cm.state = cm.c.post("/api/v1/password", api.PasswordRequest{Verifier: cm.verifier}).state(t, "chip")
}

// helloPayload is the chip's raw hello reply, what the page forwards to the server.
func helloPayload(t testing.TB, vc *virtual.Chip) []byte {
	t.Helper()
	req, err := chip.Frame{Type: chip.TypeHello, RequestID: 0x0101}.Encode()
	if err != nil {
		t.Fatalf("encode hello: %v", err)
	}
	raw, err := vc.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("chip hello: %v", err)
	}
	fr, err := chip.Decode(raw)
	if err != nil || fr.Type != chip.TypeHelloReply {
		t.Fatalf("expected a hello reply, got %v (%v)", fr.Type, err)
	}
	return fr.Payload
}

// presentChip says hello to the chip over its link and forwards the hello.
func (cm *ceremony) presentChip() {
	t := cm.f.t
	t.Helper()
	cm.sess = session.New(cm.vc.Link(), 0x4000)
	h, err := cm.sess.Hello(cm.f.ctx)
	if err != nil || h.Serial != cm.vc.Serial() {
		t.Fatalf("session hello: expected serial %s, got %q (%v)", cm.vc.Serial(), h.Serial, err)
	}
	cm.state = cm.c.post("/api/v1/chip/hello", api.HelloRequest{Hello: helloPayload(t, cm.vc)}).state(t, "code")
	b := cm.state.Binding
	if b == nil || b.ChipSerial != h.Serial || !bytes.Equal(b.ChipPublicKey, h.PublicKey) ||
		!bytes.Equal(b.PasswordVerifier, cm.verifier) || b.UserID != cm.person || len(b.Nonce) < transcript.MinNonceSize {
		t.Fatalf("binding does not match the chip, verifier and person: %+v", b)
	}
}

// readCode presses the button and reads the display, as the person does.
func (cm *ceremony) readCode() string {
	cm.vc.Press()
	cm.code = cm.vc.Display()
	return cm.code
}

func (cm *ceremony) enterCode() {
	cm.f.t.Helper()
	cm.state = cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()}).state(cm.f.t, "sign")
}

// signBinding has the chip sign the transcript of b for activation id, pressing the
// button once the chip waits for it.
func (cm *ceremony) signBinding(id string, b *api.Binding) []byte {
	t := cm.f.t
	t.Helper()
	if b == nil {
		t.Fatal("no binding to sign")
	}
	hash, err := transcript.Binding{ActivationID: id, UserID: b.UserID, ChipSerial: b.ChipSerial,
		ChipPublicKey: b.ChipPublicKey, PasswordVerifier: b.PasswordVerifier, Nonce: b.Nonce}.Hash()
	if err != nil {
		t.Fatalf("transcript: %v", err)
	}
	ctx, cancel := context.WithTimeout(cm.f.ctx, 30*time.Second)
	defer cancel()
	pressed := make(chan struct{})
	go func() {
		defer close(pressed)
		for {
			changed := cm.vc.Changed() // before Waiting, so no change is missed
			if cm.vc.Waiting() {
				cm.vc.Press()
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	sig, err := cm.sess.Sign(ctx, chip.SignRequest{Hash: hash, Wait: time.Minute})
	cancel()
	<-pressed
	if err != nil {
		t.Fatalf("chip sign: %v", err)
	}
	return sig
}

func (cm *ceremony) sign() []byte {
	cm.f.t.Helper()
	return cm.signBinding(cm.state.ActivationID, cm.state.Binding)
}

func (cm *ceremony) postSignature(sig []byte) response {
	return cm.c.post("/api/v1/chip/signature", api.SignatureRequest{Signature: sig})
}

func (cm *ceremony) finish() {
	cm.f.t.Helper()
	cm.state = cm.postSignature(cm.sign()).state(cm.f.t, "completed")
}

// through runs the ceremony's steps up to and including the one named.
func (cm *ceremony) through(step string) *ceremony {
	cm.f.t.Helper()
	steps := []struct {
		name string
		run  func()
	}{{"password", cm.setPassword}, {"hello", cm.presentChip}, {"code", cm.enterCode}, {"signature", cm.finish}}
	i := slices.IndexFunc(steps, func(s struct {
		name string
		run  func()
	}) bool {
		return s.name == step
	})
	if i < 0 {
		cm.f.t.Fatalf("no step %q", step)
	}
	for _, s := range steps[:i+1] {
		s.run()
	}
	return cm
}

// activate is a whole activation of vc for person.
func (f *fixture) activate(person string, vc *virtual.Chip) *ceremony {
	f.t.Helper()
	return f.begin(person, vc).through("signature")
}

// row parses one line of the store's Dump: col="v", col=x'hex' or col=NULL,
// separated by spaces. Values are returned unquoted; bytes keep their x'..' form.
func row(t testing.TB, line string) (cols []string, vals map[string]string) {
	t.Helper()
	vals = map[string]string{}
	for rest := line; rest != ""; rest = strings.TrimPrefix(rest, " ") {
		col, after, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("dump line %q: no '=' in %q", line, rest)
		}
		var v string
		switch {
		case strings.HasPrefix(after, `"`):
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				t.Fatalf("dump line %q: %v", line, err)
			}
			v, _ = strconv.Unquote(q)
			rest = after[len(q):]
		case strings.HasPrefix(after, "NULL"):
			v, rest = "NULL", after[len("NULL"):]
		case strings.HasPrefix(after, "x'"):
			end := strings.Index(after[2:], "'")
			if end < 0 {
				t.Fatalf("dump line %q: unterminated bytes", line)
			}
			v, rest = after[:end+3], after[end+3:]
		default:
			t.Fatalf("dump line %q: cannot read value %q", line, after)
		}
		cols = append(cols, col)
		vals[col] = v
	}
	return cols, vals
}

// rows keys a dumped table's rows by their first column.
func rows(t testing.TB, lines []string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, l := range lines {
		cols, vals := row(t, l)
		out[vals[cols[0]]] = vals
	}
	return out
}

// changes names, per table and row key, the columns that must have changed and their
// new values; a key not there before names a row that must have been added, with at
// least those values.
type changes map[string]map[string]map[string]string

// assertChanged fails t unless after differs from before in exactly the given
// columns (to the given values) and the audit log gained exactly events.
func assertChanged(t testing.TB, before, after map[string][]string, want changes, events ...string) {
	t.Helper()
	for table := range after {
		if _, ok := before[table]; !ok {
			t.Errorf("table %s appeared", table)
		}
	}
	for table, lines := range before {
		if table == "audit_log" {
			continue
		}
		b, a := rows(t, lines), rows(t, after[table])
		for key, got := range a {
			if _, ok := b[key]; ok {
				continue
			}
			added, ok := want[table][key]
			if !ok {
				t.Errorf("%s: row %s added", table, key)
			}
			for col, v := range added {
				if got[col] != v {
					t.Errorf("%s %s (added): column %s expected %q, got %q", table, key, col, v, got[col])
				}
			}
		}
		for key, old := range b {
			got, ok := a[key]
			if !ok {
				t.Errorf("%s: row %s removed", table, key)
				continue
			}
			for col, v := range old {
				if nv, ok := want[table][key][col]; ok {
					v = nv
				}
				if got[col] != v {
					t.Errorf("%s %s: column %s expected %q, got %q", table, key, col, v, got[col])
				}
			}
		}
		for key := range want[table] {
			if _, ok := a[key]; !ok {
				t.Errorf("%s: expected row %s, which does not exist", table, key)
			}
		}
	}
	oldAudit, newAudit := before["audit_log"], after["audit_log"]
	if len(newAudit) < len(oldAudit) || !slices.Equal(oldAudit, newAudit[:len(oldAudit)]) {
		t.Fatalf("audit log rewritten\nexpected to start with:\n  %s\ngot:\n  %s",
			strings.Join(oldAudit, "\n  "), strings.Join(newAudit, "\n  "))
	}
	var got []string
	for _, l := range newAudit[len(oldAudit):] {
		_, vals := row(t, l)
		got = append(got, vals["event"])
	}
	if !slices.Equal(got, events) {
		t.Errorf("expected new audit events %q, got %q", events, got)
	}
}

// nanos is how the store writes a time, as Dump shows it.
func nanos(at time.Time) string { return strconv.FormatInt(at.UnixNano(), 10) }

// plus1 is a dumped integer column plus one.
func plus1(t testing.TB, v string) string {
	t.Helper()
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("not an integer: %q", v)
	}
	return strconv.Itoa(n + 1)
}
