package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/activation"
)

// An iPhone (its user agent; Web NFC and Web Bluetooth removed before load) is told
// at once, before any password field, that it cannot connect, in the catalogue's
// words, and hands over with a code; a second browser that can connect (emulated
// Bluetooth) opens /continue, enters the code and finishes the same activation. The
// iPhone's cookie is dead afterwards, and the code does not work twice.
func TestHandoverFromIPhone(t *testing.T) {
	// Production: in dev mode the virtual chip works in any browser, so the page
	// would let the iPhone on.
	s := scenario.Start(t, scenario.Production())
	vc := s.ProductionChip(t, 0)
	const person = "e2e-person-iphone"
	const password = "Æblekage på altanen 58"

	a := harness.New(t, harness.WithoutWebBluetooth())
	a.EmulateIPhone()
	phone := scenario.Open(t, a, s, s.NewLink(t, person, "e2e.iphone"))
	phone.WaitStep("device")
	for _, lang := range []string{"da", "en"} {
		phone.UseLanguage(lang)
		for id, key := range map[string]string{"device-title": "device.iphone.title", "device-body": "device.iphone.body"} {
			if got, want := scenario.Eval[string](phone, "document.getElementById('"+id+"').textContent.trim()"), s.Text(t, lang, key); got != want {
				t.Errorf("iPhone, %s, #%s: expected %q, got %q", lang, id, want, got)
			}
		}
	}
	if visible(phone, "password") || visible(phone, "step-password") {
		t.Fatal("iPhone: expected no password field, it is shown")
	}
	id := scenario.Eval[string](phone, "fetch('/api/v1/activation').then((r) => r.json()).then((j) => j.activation_id)")

	phone.Click("#handover-start")
	phone.WaitStep("handover")
	phone.WaitJS("the QR code", "document.getElementById('handover-qr').complete && document.getElementById('handover-qr').naturalWidth > 0")
	code := scenario.Eval[string](phone, "document.getElementById('handover-code').textContent")
	if len(code) != 9 || code[4] != '-' {
		t.Fatalf("handover code: expected ABCD-EFGH, got %q", code)
	}
	if got, want := scenario.Eval[string](phone, "document.getElementById('handover-where').textContent"), s.Origin+"/continue"; got != want {
		t.Errorf("where to go on the other device: expected %q, got %q", want, got)
	}

	b := harness.New(t)
	b.EmulateChip(vc)
	other := scenario.Open(t, b, s, s.Origin+"/continue")
	other.UseLanguage("en")
	other.WaitStep("continue")
	other.Type("#handover-input", strings.ToLower(code))
	other.Click("#continue-submit")
	other.CreatePassword(password)
	other.ChooseTransport("bluetooth")
	other.Connect()
	other.EnterCode(other.ReadCode(vc))
	other.ConfirmOnChip(vc)
	other.ExpectCompleted()
	if got, want := scenario.Eval[string](other, "document.querySelector('#step-completed h2').textContent.trim()"), s.Text(t, "en", "step.completed.title"); got != want {
		t.Fatalf("completed heading: expected %q, got %q", want, got)
	}
	if got := scenario.Eval[string](other, "fetch('/api/v1/activation').then((r) => r.json()).then((j) => j.activation_id)"); got != id {
		t.Fatalf("the other device's activation: expected the iPhone's %s, got %s", id, got)
	}

	checkBound(t, s, person, vc, password)
	entries, err := s.Store.AuditEntries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range entries {
		events = append(events, e.Event)
	}
	for _, want := range []string{"handoff_redeemed", "handover_created", "handover_redeemed", "password_set", "activation_completed"} {
		if !slices.Contains(events, want) {
			t.Errorf("audit of %s: expected %s, got %v", id, want, events)
		}
	}

	if got := scenario.Eval[string](phone, "fetch('/api/v1/activation').then((r) => r.json()).then((j) => j.error.code)"); got != "no_session" {
		t.Errorf("the iPhone's cookie after the handover: expected no_session, got %q", got)
	}
	// The QR code's link on a third tab: the code worked once.
	phone.B.Navigate(s.Origin + "/continue#c=" + strings.ReplaceAll(code, "-", ""))
	want := s.Text(t, "en", "error.handover_used")
	phone.WaitJS("the code refused as used", "document.body.dataset.step === 'continue' && document.getElementById('error').textContent.trim() === "+jsQuote(want))
}

// The iPhone that made a code watches it, by the server's state: when the code's
// minutes are up (on the server's clock) the page says so by itself and offers a new
// code and Borgerservice; when the other device redeems the new code, the page says,
// by itself and for good, that the person continued there, with no button left.
// Both in the catalogue's words in each language, and axe-clean.
func TestHandoverWatched(t *testing.T) {
	clock := &scenario.Clock{}
	s := scenario.Start(t, scenario.Production(), scenario.WithClock(clock))
	axe := scenario.LoadAxe(t)
	a := harness.New(t, harness.WithoutWebBluetooth())
	a.EmulateIPhone()
	phone := scenario.Open(t, a, s, s.NewLink(t, "e2e-person-watch", ""))
	phone.WaitStep("device")
	clean := func(state, lang string) {
		t.Helper()
		r := phone.Axe(axe)
		if r.Passes == 0 {
			t.Errorf("%s, %s: expected axe-core rules to pass, got none: did axe run?", state, lang)
		}
		for _, v := range r.Violations {
			t.Errorf("%s, %s: expected no WCAG 2.1 A/AA violations, got %s", state, lang, v)
		}
	}

	phone.Click("#handover-start")
	phone.WaitStep("handover")
	first := scenario.Eval[string](phone, "document.getElementById('handover-code').textContent")
	if got, want := phone.Text("step-handover"), phone.Message("handover.after", nil); !strings.Contains(got, want) {
		t.Errorf("the handover step: expected it to say %q, got %q", want, got)
	}

	// The code's minutes pass unused.
	clock.Advance(activation.HandoverTTL)
	phone.ExpectError("device", phone.Message("handover.expired", nil))
	phone.InEachLanguage(func(lang string) {
		if got, want := phone.Text("error"), phone.Message("handover.expired", nil); got != want {
			t.Errorf("expired, %s: expected %q, got %q", lang, want, got)
		}
		for _, id := range []string{"handover-start", "borgerservice-link"} {
			if !phone.Visible(id) {
				t.Errorf("expired, %s: expected #%s offered, it is hidden", lang, id)
			}
		}
		clean("expired", lang)
	})
	phone.Click("#handover-start")
	phone.WaitStep("handover")
	phone.ExpectNoError()
	code := scenario.Eval[string](phone, "document.getElementById('handover-code').textContent")
	if code == first {
		t.Fatalf("a new code after the expired one: expected another than %s, got the same", first)
	}

	// The other device redeems the new code.
	b := harness.New(t)
	other := scenario.Open(t, b, s, s.Origin+"/continue")
	other.WaitStep("continue")
	other.Type("#handover-input", code)
	other.Click("#continue-submit")
	other.WaitStep("password")

	phone.WaitStep("handed")
	if got := scenario.Eval[string](phone, "document.getElementById('live').textContent.trim()"); !strings.Contains(got, phone.Message("handed.title", nil)) {
		t.Errorf("handed over: expected the alert region to say %q, got %q", phone.Message("handed.title", nil), got)
	}
	phone.InEachLanguage(func(lang string) {
		for id, key := range map[string]string{"handed-title": "handed.title", "handed-body": "handed.body"} {
			if got, want := phone.Text(id), phone.Message(key, nil); got != want {
				t.Errorf("handed over, %s, #%s: expected %q, got %q", lang, id, want, got)
			}
		}
		if got := scenario.Eval[[]string](phone, "[...document.querySelectorAll('main button, main input, main a')].filter((e) => e.checkVisibility({visibilityProperty: true})).map((e) => e.id || e.textContent.trim())"); len(got) != 0 {
			t.Errorf("handed over, %s: expected nothing left to press on the page, got %q", lang, got)
		}
		clean("handed", lang)
	})
}

// A browser that can connect never sees the handover: the link leads straight to
// the password, and no handover is made.
func TestCapableBrowserNoHandover(t *testing.T) {
	s := scenario.Start(t)
	b := harness.New(t)
	b.EmulateNFC(devChip(t, s, "MC-000002"))
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-capable", ""))
	page.WaitPasswordReady()
	if !scenario.Eval[bool](page, "document.getElementById('step-device')?.hidden === true && document.getElementById('step-handover')?.hidden === true") {
		t.Fatal("a browser with Web NFC: expected the handover states to exist and stay hidden")
	}
	id := scenario.Eval[string](page, "fetch('/api/v1/activation').then((r) => r.json()).then((j) => j.activation_id)")
	entries, err := s.Store.AuditEntries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Event, "handover_") {
			t.Errorf("audit: expected no handover, got %s", e.Event)
		}
	}
}

// jsQuote is s as a single-quoted JavaScript string literal.
func jsQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
