package e2e_test

// The chip step and what it says, as issue 9 found it wanting: the hint on "Press
// Next", errors with their own words (NFC off, a device that is not a chip), the
// other ways when Bluetooth is off, the code typed as the chip shows it, messages
// that go when they stop being true, dev mode's virtual chip, and a quiet console.

import (
	"strings"
	"testing"

	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
	"mitidchip/server/store"
)

// checkAxe runs axe-core on the page as it is, in each language: no violations.
func checkAxe(t *testing.T, p *scenario.Page, axe *scenario.Axe, state string) {
	t.Helper()
	p.InEachLanguage(func(lang string) {
		r := p.Axe(axe)
		if r.Passes == 0 {
			t.Errorf("%s, %s: expected axe-core rules to pass, got none: did axe run?", state, lang)
		}
		for _, v := range r.Violations {
			t.Errorf("%s, %s: expected no WCAG 2.1 A/AA violations, got %s", state, lang, v)
		}
	})
}

// checkText checks that the element with id is shown and says the catalogue's key.
func checkText(t *testing.T, p *scenario.Page, id, key string, vars map[string]string) {
	t.Helper()
	want := p.Message(key, vars)
	if !p.Visible(id) {
		t.Fatalf("#%s: expected it shown, saying %q; it is hidden", id, want)
	}
	if got := p.Text(id); got != want {
		t.Fatalf("#%s: expected %q, got %q", id, want, got)
	}
}

// Item 1: "Press Next and hold your chip to the phone" says how, for each way.
func TestChipStepConnectHint(t *testing.T) {
	axe := scenario.LoadAxe(t)
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	b := harness.New(t)
	b.EmulateNFC(vc)
	b.EmulateChip(vc)
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-hint", ""))
	page.UseLanguage("en")
	page.CreatePassword(linkPassword)
	for _, kind := range []string{"nfc", "bluetooth", "virtual"} {
		page.ChooseTransport(kind)
		var vars map[string]string
		if kind == "virtual" {
			vars = map[string]string{"serial": scenario.Eval[string](page, "document.getElementById('virtual-serial').value")}
		}
		checkText(t, page, "connect-hint", "connect.hint."+kind, vars)
		checkAxe(t, page, axe, "connect step, "+kind)
		checkText(t, page, "connect-hint", "connect.hint."+kind, vars) // and in the other language
		page.Click("#connect-back")
		page.WaitStep("chip")
	}
}

// Item 2: NFC switched off on the phone is not "your browser can't": the page says to
// turn it on; once it is on, Next connects.
func TestChipStepNFCOff(t *testing.T) {
	axe := scenario.LoadAxe(t)
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000002")
	b := harness.New(t)
	tag := b.EmulateNFC(vc)
	page := toConnect(t, s, b, "e2e-person-nfc-off", "nfc")
	tag.SwitchNFC(false)
	page.Click("#connect-next")
	page.ExpectError("connect", page.Message("module.nfc_off", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)
	checkAxe(t, page, axe, "connect step, NFC off")

	tag.SwitchNFC(true)
	page.Connect()
	checkStoreState(t, s, page, store.StateChipPresented)
}

// Item 2: a Bluetooth device that is not a MitID chip gets its own words, not
// "you did not choose a chip"; the person then connects their chip by NFC.
func TestChipStepNotAChip(t *testing.T) {
	axe := scenario.LoadAxe(t)
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	b := harness.New(t)
	b.EmulateChip(vc, harness.NotAChip())
	b.EmulateNFC(vc)
	page := toConnect(t, s, b, "e2e-person-not-a-chip", "bluetooth")
	page.Click("#connect-next")
	page.ExpectError("connect", page.Message("module.not_a_chip", nil))
	checkStoreState(t, s, page, store.StatePasswordSet)
	checkAxe(t, page, axe, "connect step, not a chip")

	page.Click("#connect-back")
	page.ChooseTransport("nfc")
	page.Connect()
	checkStoreState(t, s, page, store.StateChipPresented)
}

// Item 2: with Bluetooth off, the chip step offers more than "Check again": NFC when
// this phone has it, or a phone with NFC, and Borgerservice.
func TestChipStepBluetoothOffOtherWays(t *testing.T) {
	axe := scenario.LoadAxe(t)
	for _, withNFC := range []bool{true, false} {
		name := map[bool]string{true: "NFC here", false: "no NFC here"}[withNFC]
		t.Run(name, func(t *testing.T) {
			s := scenario.Start(t)
			vc := devChip(t, s, "MC-000004")
			b := harness.New(t)
			b.EmulateChip(vc, harness.WithAdapter(harness.AdapterAbsent))
			if withNFC {
				b.EmulateNFC(vc)
			}
			page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-bt-off-"+strings.ReplaceAll(name, " ", "-"), ""))
			page.UseLanguage("en")
			page.CreatePassword(linkPassword)
			page.WaitJS("the transport check", "document.getElementById('transport-checking').hidden")
			if !page.Visible("bluetooth-off") || !page.Visible("transport-recheck") {
				t.Fatalf("chip step with Bluetooth off: expected the guidance and Check again, got guidance %v", page.Visible("bluetooth-off"))
			}
			if withNFC {
				checkText(t, page, "bluetooth-off-nfc", "transport.bluetooth_off_nfc", nil)
				if !page.Visible("transport-nfc") || page.Visible("bluetooth-off-phone") {
					t.Fatalf("Bluetooth off, NFC here: expected the NFC button and no other-phone advice, got button %v, advice %v",
						page.Visible("transport-nfc"), page.Visible("bluetooth-off-phone"))
				}
			} else {
				if page.Visible("bluetooth-off-nfc") {
					t.Fatal("Bluetooth off, no NFC here: expected no \"NFC above\", it is shown")
				}
				checkText(t, page, "bluetooth-off-phone", "unsupported.android", nil)
			}
			items := scenario.Eval[[]string](page, "[...document.querySelectorAll('#bluetooth-off li')].filter(li => li.checkVisibility()).map(li => li.textContent.trim())")
			if want := page.Message("unsupported.borgerservice", nil); len(items) != 2 || items[1] != want {
				t.Fatalf("Bluetooth off: expected two other ways, the last %q, got %q", want, items)
			}
			checkAxe(t, page, axe, "chip step, Bluetooth off, "+name)
		})
	}
}

// Item 4: the code typed as the chip shows it, "082 171", is taken whole and
// accepted; other separators are kept in the field too.
func TestChipStepCodeWithSpace(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000005")
	b := harness.New(t)
	b.EmulateNFC(vc)
	page := toConnect(t, s, b, "e2e-person-code-space", "nfc")
	page.Connect()
	if got := scenario.Eval[string](page, "document.getElementById('code').inputMode + ' ' + document.getElementById('code').autocomplete"); got != "numeric one-time-code" {
		t.Fatalf("code field: expected inputmode numeric and autocomplete one-time-code, got %q", got)
	}
	page.Fill("#code", "12-34.56")
	if got := scenario.Eval[string](page, "document.getElementById('code').value"); got != "12-34.56" {
		t.Fatalf("code field: typed %q, it holds %q", "12-34.56", got)
	}
	code := page.ReadCode(vc)
	shown := code[:3] + " " + code[3:]
	page.Fill("#code", shown)
	if got := scenario.Eval[string](page, "document.getElementById('code').value"); got != shown {
		t.Fatalf("code field: typed %q as the chip shows it, it holds %q", shown, got)
	}
	page.Click("#submit-code")
	page.WaitStep("sign")
	checkStoreState(t, s, page, store.StateCodeVerified)
}

// Item 5: each state shows one message, true now: the broken rule goes once the
// password is fixed, a mismatch is said once, and after a reload on the last step the
// page asks to connect the chip, not to press its button.
func TestChipStepNoStaleMessages(t *testing.T) {
	axe := scenario.LoadAxe(t)
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000001")
	b := harness.New(t)
	b.EmulateNFC(vc)
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-stale", ""))
	page.UseLanguage("en")

	const tenDigits = "Sommerhus 2837465910"
	page.TypePassword(tenDigits, tenDigits)
	page.Click("#next-password")
	page.ExpectError("password", page.Message("rule.ten_digits", nil))
	page.Fill("#password", linkPassword)
	page.Fill("#password-repeat", linkPassword)
	page.WaitJS("every password rule met", "[...document.querySelectorAll('#password-rules li')].every(li => li.dataset.state === 'met')")
	page.ExpectNoError()

	page.Fill("#password-repeat", linkPassword+"x")
	page.Click("#next-password")
	mismatch := page.Message("module.mismatch", nil)
	page.WaitJS("the mismatch announced", "document.getElementById('live').textContent.trim() === "+jsQuote(mismatch))
	shown := scenario.Eval[int](page, "[...document.querySelectorAll('main *:not(.sr-only)')].filter(el => el.children.length === 0 && el.checkVisibility() && el.textContent.trim() === "+jsQuote(mismatch)+").length")
	if shown != 1 {
		t.Fatalf("password step after Next with a mismatch: expected %q shown once, got %d times", mismatch, shown)
	}
	checkAxe(t, page, axe, "password step, mismatch")

	page.Fill("#password-repeat", linkPassword)
	page.Click("#next-password")
	page.WaitView("the chip step", scenario.PasswordTimeout, func(v scenario.View) bool { return v.Step == "chip" })
	page.ChooseTransport("nfc")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	b.WaitChip(vc, "waiting for its button", (*virtual.Chip).Waiting)
	checkText(t, page, "sign-hint", "sign.hint.nfc", nil)

	page.Reload()
	page.WaitJS("the offer to connect the chip again", "document.getElementById('reconnect').checkVisibility()")
	page.ExpectNoError()
	if got, want := scenario.Eval[string](page, "document.querySelector('#step-sign h2').textContent.trim()"), page.Message("sign.reconnect_title", nil); got != want {
		t.Fatalf("sign step after a reload: expected the heading %q, got %q", want, got)
	}
	checkText(t, page, "sign-reconnect-intro", "sign.reconnect_intro", nil)
	if page.Visible("sign-hint") {
		t.Fatalf("sign step after a reload: expected no %q while the chip is not connected, it is shown", page.Text("sign-hint"))
	}
	body := scenario.Eval[string](page, "document.querySelector('main').innerText")
	for _, key := range []string{"step.sign.title", "sign.hint.nfc", "sign.waiting"} {
		if m := page.Message(key, nil); strings.Contains(body, m) {
			t.Fatalf("sign step after a reload: expected no %q on the page, it says it", m)
		}
	}
	checkAxe(t, page, axe, "sign step after a reload")
	checkStoreState(t, s, page, store.StateCodeVerified)

	vc.Press() // the request from before the reload
	b.WaitChip(vc, "done with the old request", func(vc *virtual.Chip) bool { return !vc.Waiting() })
	page.Click("#reconnect")
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
}

// Item 10: in dev mode, on a browser without NFC or Bluetooth, the chip step offers
// the virtual chip as a way to connect, not "your browser cannot connect".
func TestChipStepDevModeVirtualChip(t *testing.T) {
	axe := scenario.LoadAxe(t)
	s := scenario.Start(t)
	b := harness.New(t, harness.WithoutWebBluetooth())
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-dev-virtual", ""))
	page.UseLanguage("en")
	page.CreatePassword(linkPassword)
	page.WaitJS("the transport check", "document.getElementById('transport-checking').hidden")
	if page.Visible("no-transport") {
		t.Fatalf("chip step in dev mode: expected no %q, it is shown", page.Message("unsupported.title", nil))
	}
	page.ExpectNoError()
	checkText(t, page, "transport-virtual", "transport.virtual_use", nil)
	checkAxe(t, page, axe, "chip step, dev mode without NFC or Bluetooth")

	serial := scenario.Eval[string](page, "document.getElementById('virtual-serial').value")
	vc := devChip(t, s, serial)
	page.ChooseTransport("virtual")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	checkStoreState(t, s, page, store.StateCompleted)
}

// Item 11: a production page logs nothing to the console, from the link to the chip
// step: no Permissions-Policy warning, no 404 for the dev chips, no error. In
// Chromium as it ships on Linux and as with Web Bluetooth on: without it, Chromium
// does not know the "bluetooth" feature and warns about it on every page.
func TestProductionConsoleQuiet(t *testing.T) {
	for _, webBluetooth := range []bool{false, true} {
		name := map[bool]string{false: "as shipped", true: "Web Bluetooth on"}[webBluetooth]
		t.Run(name, func(t *testing.T) {
			var opts []harness.Option
			if !webBluetooth {
				opts = append(opts, harness.WithoutWebBluetooth())
			}
			checkConsoleQuiet(t, !webBluetooth, opts...)
		})
	}
}

// checkConsoleQuiet: withNFC gives the browser Web NFC (a production chip behind it),
// so that one without Web Bluetooth can still connect and reaches the chip step.
func checkConsoleQuiet(t *testing.T, withNFC bool, opts ...harness.Option) {
	s := scenario.Start(t, scenario.Production())
	b := harness.New(t, opts...)
	if withNFC {
		b.EmulateNFC(s.ProductionChip(t, 0))
	}
	console := scenario.WatchConsole(t, b)
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-quiet", ""))
	page.CreatePassword(linkPassword)
	page.WaitJS("the transport check", "document.getElementById('transport-checking').hidden")
	page.Reload()
	page.WaitJS("the chip step after a reload", "document.body.dataset.step === 'chip' && document.getElementById('transport-checking').hidden")
	if got := console.All(); len(got) != 0 {
		t.Fatalf("production page: expected nothing in the console, got %d messages:\n%s", len(got), strings.Join(got, "\n"))
	}
}
