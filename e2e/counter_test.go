package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/activation"
	"mitidchip/server/activity"
	"mitidchip/server/api"
	"mitidchip/server/store"
	"mitidchip/server/store/storetest"
)

// Borgerservice's console (docs/borgerservice.md) in Chromium: caseworkers are
// people with a MitID of their own, given the role by `mitid-chip staff grant`.

const (
	counterOffice   = "Aarhus"                        // shown as "Borgerservice Aarhus"
	citizenPassword = "Kanelsnegl i vindueskarmen 42" // the citizen's new password
)

// caseworker is a caseworker at the console: their browser (chip A emulated over
// Bluetooth), their chip and the console page once logged on.
type caseworker struct {
	t      *testing.T
	s      *scenario.Server
	person string
	vc     *virtual.Chip
	b      *harness.Browser
	page   *scenario.Page
}

// newCaseworker activates person's MitID with vc over Bluetooth in a browser of
// its own (as any citizen does) and has the operator grant them the caseworker role
// at counterOffice through the CLI.
func newCaseworker(t *testing.T, s *scenario.Server, person string, vc *virtual.Chip) *caseworker {
	t.Helper()
	b := harness.New(t)
	b.EmulateChip(vc)
	page := toConnect(t, s, b, person, "bluetooth")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	// The console in a browser of its own: Chromium's Bluetooth emulation is set up
	// once per browser, before its first page (as in TestLogon).
	b = harness.New(t)
	b.EmulateChip(vc)
	if out := s.Staff(t, "grant", "--person", person, "--office", counterOffice); !strings.Contains(out, counterOffice) {
		t.Fatalf("staff grant: expected the office in its answer, got %q", out)
	}
	return &caseworker{t: t, s: s, person: person, vc: vc, b: b}
}

// logOn opens /borgerservice, which sends the browser to the logon page, logs on
// with the user ID, the password and a press of the caseworker's chip, and waits
// until the console asks for a citizen.
func (cw *caseworker) logOn() *scenario.Page {
	cw.t.Helper()
	p := scenario.Open(cw.t, cw.b, cw.s, cw.s.Origin+"/borgerservice")
	p.WaitStep("credentials")
	p.LogOnWith(scenario.UserIDOf(cw.person), linkPassword)
	p.ChooseTransport("bluetooth")
	p.WaitStep("connect")
	p.Click("#connect-next")
	p.PressWhenAsked(cw.vc)
	p.WaitJS("the console", "location.pathname === '/borgerservice' && document.body.dataset.step === 'find'")
	cw.page = p
	return p
}

// find looks the citizen up and waits for their page.
func (cw *caseworker) find(person string) {
	cw.t.Helper()
	p := cw.page
	p.Fill("#person-id", person)
	p.Click("#find")
	p.WaitJS("the citizen "+person, "document.body.dataset.step === 'citizen' && "+
		"document.getElementById('citizen-person-id').textContent === "+jsQuote(person))
}

// idCheck fills in the ID check; expiry is YYYY-MM-DD.
func (cw *caseworker) idCheck(docType, number, expiry string) {
	cw.t.Helper()
	p := cw.page
	scenario.Eval[bool](p, "(() => { const s = document.getElementById('doc-type'); s.value = "+jsQuote(docType)+
		"; s.dispatchEvent(new Event('change', { bubbles: true })); return s.value === "+jsQuote(docType)+"; })()")
	p.Fill("#doc-number", number)
	// A date input's typed form depends on the browser's locale; its value does not.
	if !scenario.Eval[bool](p, "(() => { const d = document.getElementById('doc-expiry'); d.value = "+jsQuote(expiry)+
		"; return d.value === "+jsQuote(expiry)+"; })()") {
		cw.t.Fatalf("the expiry date input refused %s", expiry)
	}
}

// startActivation records a valid ID check for the citizen shown and waits for the
// QR code.
func (cw *caseworker) startActivation() {
	cw.t.Helper()
	cw.idCheck("passport", "AB 1234567", futureDate())
	cw.page.Click("#start-activation")
	cw.page.WaitStep("started")
	cw.page.WaitJS("the QR code", "document.getElementById('counter-qr').complete && document.getElementById('counter-qr').naturalWidth > 0")
}

// futureDate is a document's expiry five years from now.
func futureDate() string { return time.Now().AddDate(5, 0, 0).Format(time.DateOnly) }

// qrText draws the console's QR code (an SVG image) onto a canvas in the page, with
// a white margin, reads it back as a PNG and decodes it with ZXing's QR reader, as a
// phone's camera app would: the link a person's phone gets.
func qrText(t *testing.T, p *scenario.Page, selector string) string {
	t.Helper()
	uri := scenario.Eval[string](p, `(async () => {
		const img = document.querySelector(`+jsQuote(selector)+`);
		await img.decode();
		const c = document.createElement('canvas');
		c.width = 600;
		c.height = 600;
		const g = c.getContext('2d');
		g.fillStyle = '#fff';
		g.fillRect(0, 0, c.width, c.height);
		g.imageSmoothingEnabled = false;
		g.drawImage(img, 50, 50, 500, 500);
		return c.toDataURL('image/png');
	})()`)
	raw, ok := strings.CutPrefix(uri, "data:image/png;base64,")
	if !ok {
		t.Fatalf("QR code: expected a PNG data URL from the canvas, got %.40q", uri)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("QR code: the PNG's base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("QR code: decode the PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("QR code: bitmap: %v", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("QR code: ZXing cannot read it: %v", err)
	}
	return res.GetText()
}

// activateAsCitizen finishes an activation a console started, in page: the note that
// it was started at Borgerservice, the password, chip vc over NFC (tag), completed.
// It returns the activation's id.
func activateAsCitizen(t *testing.T, p *scenario.Page, vc *virtual.Chip) string {
	t.Helper()
	p.UseLanguage("en")
	p.WaitPasswordReady()
	if got, want := p.Text("assisted-note"), "This activation was started at Borgerservice "+counterOffice+"."; got != want || !p.Visible("assisted-note") {
		t.Fatalf("citizen's page: expected the note %q, got %q (visible %v)", want, got, p.Visible("assisted-note"))
	}
	p.UseLanguage("da")
	if got, want := p.Text("assisted-note"), p.Message("activation.assisted", map[string]string{"office": counterOffice}); got != want {
		t.Fatalf("citizen's page in Danish: expected the note %q, got %q", want, got)
	}
	p.UseLanguage("en")
	p.CreatePassword(citizenPassword)
	p.ChooseTransport("nfc")
	p.Connect()
	p.EnterCode(p.ReadCode(vc))
	p.ConfirmOnChip(vc)
	p.ExpectCompleted()
	return scenario.Eval[string](p, "fetch('/api/v1/activation').then((r) => r.json()).then((j) => j.activation_id)")
}

// checkAssistedAudit finds the assisted start in the activation's audit, naming the
// caseworker and the office and the document's type, never its number.
func checkAssistedAudit(t *testing.T, s *scenario.Server, id, caseworker string) {
	t.Helper()
	entries, err := s.Store.AuditEntries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	found := false
	for _, e := range entries {
		events = append(events, e.Event)
		if strings.Contains(e.Detail, "1234567") {
			t.Errorf("audit of %s: %s carries the document number: %s", id, e.Event, e.Detail)
		}
		if e.Event != activation.EventAssistedStarted {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Fatalf("audit of %s: %s detail %q: %v", id, e.Event, e.Detail, err)
		}
		if d["caseworker"] != caseworker || d["office"] != counterOffice || d["document_type"] != "passport" || d["via"] != "borgerservice" {
			t.Errorf("audit of %s: expected caseworker %s at %s with a passport, got %s", id, caseworker, counterOffice, e.Detail)
		}
		found = true
	}
	if !found {
		t.Fatalf("audit of %s: expected %s, got %v", id, activation.EventAssistedStarted, events)
	}
	for _, want := range []string{"handover_created", "handover_redeemed", "password_set", "activation_completed"} {
		if !slices.Contains(events, want) {
			t.Errorf("audit of %s: expected %s, got %v", id, want, events)
		}
	}
}

// A caseworker logs on to the console with chip A over Bluetooth, finds a citizen
// in the demo register, records the ID check and gets a QR code; a phone's QR reader
// (ZXing) reads it off the page's image, a second browser opens what it read, and
// the citizen activates chip B over NFC. The store binds chip B to the citizen; the
// audit names the caseworker and the office.
func TestCounterQRJourney(t *testing.T) {
	s := scenario.Start(t)
	axe := scenario.LoadAxe(t)
	const cwPerson, citizen = "e2e-caseworker-qr", "borger-1"
	chipA, chipB := devChip(t, s, "MC-000001"), devChip(t, s, "MC-000002")
	cw := newCaseworker(t, s, cwPerson, chipA)
	p := cw.logOn()
	if got, want := p.Text("counter-me"), p.Message("counter.me", map[string]string{"office": counterOffice, "minutes": "10"}); got != want {
		t.Fatalf("console: expected %q, got %q", want, got)
	}
	cw.find(citizen)
	if got := p.Text("citizen-name"); got != "Mette Hansen" {
		t.Fatalf("console: the demo register's name: expected Mette Hansen, got %q", got)
	}
	cw.startActivation()
	link := scenario.Eval[string](p, "document.getElementById('counter-link').href")
	if !strings.HasPrefix(link, s.Origin+"/continue#c=") {
		t.Fatalf("console link: expected %s/continue#c=…, got %q", s.Origin, link)
	}
	if got := scenario.Eval[string](p, "document.getElementById('doc-number').value"); got != "" {
		t.Fatalf("console: expected the document number gone from the page, got %q", got)
	}
	read := qrText(t, p, "#counter-qr")
	if read != link {
		t.Fatalf("QR code: expected the link %q, read %q", link, read)
	}

	b := harness.New(t)
	b.EmulateNFC(chipB)
	phone := scenario.Open(t, b, s, read)
	id := activateAsCitizen(t, phone, chipB)
	checkBound(t, s, citizen, chipB, citizenPassword)
	checkAssistedAudit(t, s, id, cwPerson)

	// The citizen logs on at MitID.dk on their phone (user ID, password, chip B over
	// NFC): Mit MitID says the activation was started at Borgerservice Aarhus.
	mit := citizenLogsOn(t, s, b, citizen)
	mit.Approve(chipB)
	if got := mit.Text("mit-chip-serial"); got != chipB.Serial() {
		t.Fatalf("Mit MitID chip: expected %s, got %q", chipB.Serial(), got)
	}
	mitSays(t, mit, "activity.logged_on", "activity.activation_completed", "activity.assisted_started")
	mit.SwitchLanguage("en")
	if got, want := mitActivity(mit), "Activation started at Borgerservice "+counterOffice; !slices.Contains(got, want) {
		t.Fatalf("Mit MitID's activity: expected %q, got %q", want, got)
	}
	checkAxe(t, mit, axe, "Mit MitID after an assisted activation")

	// The console still works for the next citizen: the caseworker stayed logged on.
	p.Click("#done")
	p.WaitStep("find")

	// Chip B is lost after all: the caseworker blocks it at the counter. The block
	// ends every MitID.dk session logged on with it, so the citizen's Mit MitID sends
	// them to log on; a logon with chip B is refused in the catalogue's words. (A
	// person without a working chip cannot log on to see their activity: the console
	// showed the block, and server/activity gives it with the office.)
	cw.find(citizen)
	p.Click("#block-chip")
	p.WaitJS("the chip blocked", "document.getElementById('citizen-block').hidden && document.getElementById('error').hidden")
	consoleSays(p, "activity.counter_blocked")
	if got := officeEvents(t, s, citizen); !slices.Contains(got, activity.CounterBlocked) {
		t.Fatalf("%s's activity: expected %s at %s, got %v", citizen, activity.CounterBlocked, counterOffice, got)
	}
	mit.B.Navigate(s.Origin + "/mit")
	mit.WaitStep("credentials")
	if got := scenario.Eval[string](mit, "location.pathname"); got != "/logon" {
		t.Fatalf("Mit MitID after the block: expected the logon page, got %q", got)
	}
	refused := citizenLogsOn(t, s, b, citizen)
	refused.PressChip(chipB)
	refused.ExpectErrorWithin(scenario.StepTimeout, "press", refused.Message("error.chip_blocked", nil))
	checkAxe(t, refused, axe, "logon refused: chip blocked at the counter")
}

// Continue on this device: the console logs the caseworker off before the
// citizen's activation opens in the same browser. The test holds the page's redeem
// of the code, so the password step cannot show yet, and checks then that the
// console's session is gone (no cookie; the console API says not logged on); let
// go, the citizen finishes there.
func TestCounterContinueHere(t *testing.T) {
	s := scenario.Start(t)
	const cwPerson, citizen = "e2e-caseworker-here", "borger-3"
	chipA, chipB := devChip(t, s, "MC-000003"), devChip(t, s, "MC-000004")
	cw := newCaseworker(t, s, cwPerson, chipA)
	cw.b.EmulateNFC(chipB) // the counter's tablet has the citizen's chip at hand too
	p := cw.logOn()
	cw.find(citizen)
	cw.startActivation()

	held := cw.b.Hold("*/api/v1/handover/redeem")
	p.Click("#continue-here")
	cw.b.Until("the page redeeming the code", func() bool { return len(held.Requests()) > 0 })
	if got := scenario.Eval[string](p, "location.pathname"); got != "/continue" {
		t.Fatalf("continue here: expected the browser at /continue, got %q", got)
	}
	if got := scenario.Eval[string](p, "fetch('/api/v1/counter').then((r) => r.json()).then((j) => j.error.code)"); got != "not_logged_on" {
		t.Fatalf("continue here: the console API from this browser: expected not_logged_on, got %q", got)
	}
	if got := scenario.Eval[string](p, "fetch('/api/v1/mit').then((r) => r.json()).then((j) => j.error ? j.error.code : 'logged on')"); got != "not_logged_on" {
		t.Fatalf("continue here: Mit MitID from this browser: expected not_logged_on, got %q", got)
	}
	if names := cookieNames(t, cw.b); slices.Contains(names, logonCookie) {
		t.Fatalf("continue here: expected the MitID.dk cookie %s gone, the browser has %v", logonCookie, names)
	}
	if p.Visible("step-password") {
		t.Fatal("continue here: the password step shows before the check")
	}
	held.Release()
	id := activateAsCitizen(t, p, chipB)
	checkBound(t, s, citizen, chipB, citizenPassword)
	checkAssistedAudit(t, s, id, cwPerson)
}

// logonCookie is the MitID.dk session's cookie on http://127.0.0.1.
var logonCookie = api.LogonCookieName(false)

// cookieNames are the names of the cookies the browser holds for its page.
func cookieNames(t *testing.T, b *harness.Browser) []string {
	t.Helper()
	res, err := chromedp.Call(b.Context(), network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("the browser's cookies: %v", err)
	}
	var names []string
	for _, c := range res.Cookies {
		names = append(names, c.Name)
	}
	return names
}

// counterTables are what an assisted activation writes; a refused one leaves them.
var counterTables = []string{"assisted_activations", "activation_sessions", "used_handoffs", "handovers", "persons", "chips", "chip_blocks"}

// counterRows is the store's rows in counterTables. (The console's own use, the
// logon session's last use, changes with every request, refused or not.)
func counterRows(t *testing.T, s *scenario.Server) map[string][]string {
	t.Helper()
	all := storetest.Snapshot(t, s.Store.(storetest.Dumper))
	out := map[string][]string{}
	for _, table := range counterTables {
		out[table] = all[table]
	}
	return out
}

// refusedAt expects the console to show the refusal key on step, and the rows an
// activation writes as they were.
func refusedAt(t *testing.T, s *scenario.Server, p *scenario.Page, step, key string, before map[string][]string) {
	t.Helper()
	p.ExpectError(step, p.Message(key, nil))
	if after := counterRows(t, s); !reflect.DeepEqual(before, after) {
		t.Fatalf("%s: expected the store unchanged, got %v, was %v", key, after, before)
	}
}

// officeEvents are the kinds of the person's activity at counterOffice, as their
// self-service activity (server/activity) gives them.
func officeEvents(t *testing.T, s *scenario.Server, person string) []activity.Kind {
	t.Helper()
	page, err := activity.Of(context.Background(), s.Store, person, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var out []activity.Kind
	for _, e := range page.Events {
		if e.Office == counterOffice {
			out = append(out, e.Kind)
		}
	}
	return out
}

// consoleSays waits until the console's list of the citizen's recent activity has
// the line for key at the office, in the page's language.
func consoleSays(p *scenario.Page, key string) {
	want := p.Message(key, map[string]string{"office": counterOffice})
	p.WaitJS("the activity line "+want, "[...document.querySelectorAll('#citizen-activity li')].some((li) => li.textContent.endsWith("+jsQuote(want)+"))")
}

// citizenLogsOn opens the logon page at MitID.dk in b, the citizen's browser (vc
// emulated over NFC there), types the citizen's user ID (the store's) and
// citizenPassword and chooses NFC; the press of vc is the caller's.
func citizenLogsOn(t *testing.T, s *scenario.Server, b *harness.Browser, person string) *scenario.Page {
	t.Helper()
	who, err := s.Store.Person(context.Background(), person)
	if err != nil {
		t.Fatalf("store: person %s: %v", person, err)
	}
	p := scenario.OpenLogon(t, b, s, "/logon")
	p.LogOnWith(who.UserID, citizenPassword)
	p.ChooseTransport("nfc")
	return p
}

// mitActivity is the lines of Mit MitID's activity list, newest first, as the
// citizen reads them.
func mitActivity(p *scenario.Page) []string {
	return scenario.Eval[[]string](p, "[...document.querySelectorAll('#activity-list .activity-what')].map((s) => s.textContent)")
}

// mitSays expects Mit MitID's activity, in Danish and in English, to have the line
// of each key in the catalogue's words with counterOffice filled in, in that order
// (newest first; other lines may come between), and no placeholder left unfilled.
func mitSays(t *testing.T, p *scenario.Page, keys ...string) {
	t.Helper()
	p.InEachLanguage(func(lang string) {
		first := p.Message(keys[0], map[string]string{"office": counterOffice})
		p.WaitJS("Mit MitID's activity in "+lang+" with "+first,
			"[...document.querySelectorAll('#activity-list .activity-what')].some((s) => s.textContent === "+jsQuote(first)+")")
		lines := mitActivity(p)
		at := 0
		for _, k := range keys {
			want := p.Message(k, map[string]string{"office": counterOffice})
			i := slices.Index(lines[at:], want)
			if i < 0 {
				t.Fatalf("Mit MitID's activity in %s: expected %q (after the lines of %v, newest first), got %q", lang, want, keys, lines)
			}
			at += i + 1
		}
		for _, l := range lines {
			if strings.ContainsAny(l, "{}⟦⟧") {
				t.Fatalf("Mit MitID's activity in %s: a line with a placeholder or a missing key: %q", lang, l)
			}
		}
	})
}

// Every state of the console, axe-clean in Danish and English (and pictured with
// -screenshots), with the refusals a caseworker meets in it, each answered in the
// catalogue's words with nothing written: an unknown person, their own MitID, an
// expired document, a missing number, a second activation (ended by the
// caseworker), a withdrawn role (the next request). At the counter the caseworker
// unlocks a chip the citizen locked by wrong codes, and the citizen then activates
// it; and blocks a lost chip. The citizen's activity says both happened at
// Borgerservice Aarhus.
func TestCounterStates(t *testing.T) {
	s := scenario.Start(t)
	axe := scenario.LoadAxe(t)
	const cwPerson = "e2e-caseworker-states"
	chipA, lost, locked := devChip(t, s, "MC-000001"), devChip(t, s, "MC-000002"), devChip(t, s, "MC-000003")
	cw := newCaseworker(t, s, cwPerson, chipA)

	// borger-3 has an active chip; borger-2 locked themselves out of another.
	cb := harness.New(t)
	cb.EmulateNFC(lost)
	own := scenario.Open(t, cb, s, s.NewLink(t, "borger-3", "soeren.oe"))
	own.UseLanguage("en")
	own.CreatePassword(citizenPassword)
	own.ChooseTransport("nfc")
	own.Connect()
	own.EnterCode(own.ReadCode(lost))
	own.ConfirmOnChip(lost)
	own.ExpectCompleted()
	lockOut(t, s, "borger-2", locked)

	p := cw.logOn()
	p.SwitchLanguage("en")
	seen := map[string]bool{}
	visit := func(state string, picture bool) {
		t.Helper()
		seen[state] = true
		p.InEachLanguage(func(lang string) {
			r := p.Axe(axe)
			if r.Passes == 0 {
				t.Errorf("console %s, %s: axe-core passed no rules: did it run?", state, lang)
			}
			for _, v := range r.Violations {
				t.Errorf("console %s, %s: expected no WCAG 2.1 A/AA violations, got %s", state, lang, v)
			}
			if picture {
				shoot(t, p, *screenshots, "counter-"+state, lang)
			}
		})
		p.SwitchLanguage("en")
	}
	visit("find", true)

	before := counterRows(t, s)
	p.Fill("#person-id", "nobody-here")
	p.Click("#find")
	refusedAt(t, s, p, "find", "error.citizen_unknown", before)
	visit("find-unknown", false)

	// Unlock at the counter; the citizen then enters codes again.
	cw.find("borger-2")
	unlock := "#citizen-locks button[data-serial=" + jsQuote(locked.Serial()) + "]"
	p.WaitJS("the unlock button", "document.querySelector("+jsQuote(unlock)+") !== null")
	visit("citizen-locked", true)
	p.Click(unlock)
	p.WaitJS("the lock gone", "document.body.dataset.step === 'citizen' && document.querySelectorAll('#citizen-locks li').length === 0")
	consoleSays(p, "activity.counter_unlocked")
	if f := failureOf(t, s, locked.Serial(), "borger-2"); f.LockedAt(s.Now()) {
		t.Fatalf("after the unlock: expected borger-2 no longer locked out, locked until %v", f.LockedUntil)
	}
	if got := officeEvents(t, s, "borger-2"); !slices.Contains(got, activity.CounterUnlocked) {
		t.Fatalf("borger-2's activity: expected %s at %s, got %v", activity.CounterUnlocked, counterOffice, got)
	}
	cb = harness.New(t)
	cb.EmulateNFC(locked)
	again := scenario.Open(t, cb, s, s.NewLink(t, "borger-2", ""))
	again.UseLanguage("en")
	again.CreatePassword(citizenPassword)
	again.ChooseTransport("nfc")
	again.Connect()
	again.EnterCode(again.ReadCode(locked))
	again.ConfirmOnChip(locked)
	again.ExpectCompleted()
	checkBound(t, s, "borger-2", locked, citizenPassword)
	// The citizen logs on at MitID.dk with that chip (over NFC): Mit MitID says it was
	// unlocked at Borgerservice Aarhus, before the activation.
	mit := citizenLogsOn(t, s, cb, "borger-2")
	mit.Approve(locked)
	mitSays(t, mit, "activity.logged_on", "activity.activation_completed", "activity.counter_unlocked", "activity.chip_locked")
	mit.SwitchLanguage("en")
	if got, want := mitActivity(mit), "Chip unlocked at Borgerservice "+counterOffice; !slices.Contains(got, want) {
		t.Fatalf("Mit MitID's activity: expected %q, got %q", want, got)
	}
	checkAxe(t, mit, axe, "Mit MitID after the unlock at the counter")

	// Their own MitID: not even looked up.
	p.Click("#another")
	before = counterRows(t, s)
	p.Fill("#person-id", cwPerson)
	p.Click("#find")
	refusedAt(t, s, p, "find", "error.own_activation", before)

	cw.find("borger-3")
	if got := p.Text("citizen-chip"); !strings.HasPrefix(got, lost.Serial()+", ") {
		t.Fatalf("console: expected borger-3's chip %s, got %q", lost.Serial(), got)
	}
	visit("citizen", true)
	before = counterRows(t, s)
	cw.idCheck("driving_licence", "DL 998877", time.Now().AddDate(0, 0, -2).Format(time.DateOnly))
	p.Click("#start-activation")
	refusedAt(t, s, p, "citizen", "error.document_expired", before)
	visit("citizen-expired", false)
	cw.idCheck("passport", "", futureDate())
	p.Click("#start-activation")
	refusedAt(t, s, p, "citizen", "error.fields_invalid", before)

	cw.startActivation()
	visit("started", true)
	p.Click("#done")
	cw.find("borger-3")
	p.WaitJS("the activation under way", "document.getElementById('citizen-under-way').checkVisibility()")
	visit("citizen-under-way", true)
	before = counterRows(t, s)
	cw.idCheck("passport", "AB 1234567", futureDate())
	p.Click("#start-activation")
	refusedAt(t, s, p, "citizen", "error.activation_under_way", before)
	p.Click("#end-activation")
	p.WaitJS("the activation ended", "!document.getElementById('citizen-under-way').checkVisibility() && document.getElementById('error').hidden")
	consoleSays(p, "activity.counter_ended")

	// Block the lost chip.
	p.Click("#block-chip")
	p.WaitJS("the chip blocked", "document.getElementById('citizen-block').hidden && document.getElementById('error').hidden")
	consoleSays(p, "activity.counter_blocked")
	if got, want := p.Text("citizen-chip"), p.Message("counter.no_chip", nil); got != want {
		t.Fatalf("console after the block: expected %q, got %q", want, got)
	}
	if c, err := s.Store.Chip(context.Background(), lost.Serial()); err != nil || c.Status != store.ChipRevoked {
		t.Fatalf("store: expected %s revoked, got %s (%v)", lost.Serial(), c.Status, err)
	}
	if got := officeEvents(t, s, "borger-3"); !slices.Contains(got, activity.CounterBlocked) {
		t.Fatalf("borger-3's activity: expected %s at %s, got %v", activity.CounterBlocked, counterOffice, got)
	}
	if got, want := s.Text(t, "en", "activity.counter_blocked"), "Chip blocked at Borgerservice {office}"; got != want {
		t.Fatalf("catalogue: expected %q, got %q", want, got)
	}
	visit("citizen-blocked", false)

	// The role withdrawn: the next request is refused.
	s.Staff(t, "revoke", "--person", cwPerson)
	p.Click("#another")
	before = counterRows(t, s)
	p.Fill("#person-id", "borger-1")
	p.Click("#find")
	refusedAt(t, s, p, "denied", "error.not_caseworker", before)
	visit("denied", true)

	for _, want := range []string{"find", "citizen", "citizen-locked", "started", "citizen-under-way", "denied"} {
		if !seen[want] {
			t.Errorf("console state %s: not visited", want)
		}
	}
}
