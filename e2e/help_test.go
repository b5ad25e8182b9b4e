package e2e_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// borgerservice is where a person finds and books a Citizen Service Centre.
const borgerservice = "https://www.borger.dk/borgerservice"

// expectShown fails unless the element the selector finds is visible and says the
// catalogue's text for key in the page's language.
func expectShown(t *testing.T, p *scenario.Page, selector, key string) {
	t.Helper()
	want := p.Message(key, nil)
	got := scenario.Eval[[]any](p, `(() => {
		const el = document.querySelector(`+jsString(selector)+`);
		return el ? [el.checkVisibility({visibilityProperty: true}), el.textContent.replace(/\s+/g, ' ').trim()] : [false, 'no such element'];
	})()`)
	if got[0] != true || got[1] != want {
		t.Errorf("%s (%s): expected %q shown, got %q (visible: %v)", selector, p.Lang(), want, got[1], got[0])
	}
}

// hrefOf is the absolute address the link points at.
func hrefOf(p *scenario.Page, selector string) string {
	return scenario.Eval[string](p, "document.querySelector("+jsString(selector)+").href")
}

// Item 6: after "Activation completed" the page says how to use the chip, in both
// languages (log on with user ID and password, connect, press the button; on an
// iPhone contactless without pressing the button; Bluetooth paired first), and
// links to that part of the help page, which says the same.
func TestCompletedShowsHowToUse(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000002")
	b := harness.New(t)
	b.EmulateNFC(vc)
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-howto", "e2e.howto"))
	page.CreatePassword("Rødgrød med fløde 42")
	page.ChooseTransport("nfc")
	page.Connect()
	page.EnterCode(page.ReadCode(vc))
	page.ConfirmOnChip(vc)
	page.ExpectCompleted()

	howTo := []struct{ selector, key string }{
		{"#how-to-use h3", "use.title"},
		{"#how-to-use ol li:nth-child(1)", "use.user_id"},
		{"#how-to-use ol li:nth-child(2)", "use.password"},
		{"#how-to-use ol li:nth-child(3)", "use.connect"},
		{"#how-to-use ol li:nth-child(4)", "use.press"},
		{"#how-to-use [data-i18n='use.iphone']", "use.iphone"},
		{"#how-to-use [data-i18n='use.bluetooth']", "use.bluetooth"},
		{"#use-more [data-i18n='use.more']", "use.more"},
	}
	page.InEachLanguage(func(lang string) {
		for _, c := range howTo {
			expectShown(t, page, c.selector, c.key)
		}
	})
	for _, link := range []string{"#use-more", "#help-link"} {
		if got := hrefOf(page, link); got != s.Origin+"/help#use" {
			t.Errorf("completed step: %s: expected a link to %s, got %q", link, s.Origin+"/help#use", got)
		}
	}

	help := scenario.OpenHelp(t, b, s, hrefOf(page, "#use-more"))
	for _, c := range howTo[:7] {
		sel := strings.Replace(strings.Replace(c.selector, "#how-to-use", "#use", 1), " h3", " h2", 1)
		expectShown(t, help, sel, c.key)
	}
}

// Item 6: the blocked page says for how long (this activation, for good; a new one
// from the app at once; the chip itself only after many more wrong codes) and what to
// do, with a link to find Borgerservice; its help link opens the entry of the error.
func TestBlockedSaysForHowLong(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	b := harness.New(t)
	b.EmulateChip(vc)
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-blocked", "e2e.blocked"))
	page.CreatePassword("Tre forkerte koder 17")
	page.ChooseTransport("bluetooth")
	page.Connect()
	page.ReadCode(vc)
	wrong := s.WrongCode(t, vc)
	page.SubmitCode(wrong)
	page.ExpectError("code", page.Message("error.code_wrong", nil), page.Message("code.tries_left.other", map[string]string{"n": "2"}))
	page.SubmitCode(wrong)
	page.ExpectError("code", page.Message("error.code_wrong", nil), page.Message("code.tries_left.one", nil))
	page.SubmitCode(wrong)
	page.WaitStep("blocked")

	page.InEachLanguage(func(lang string) {
		expectShown(t, page, "#step-blocked h2", "step.blocked.title")
		expectShown(t, page, "#blocked-how-long", "blocked.how_long")
		expectShown(t, page, "#step-blocked [data-i18n='blocked.next']", "blocked.next")
		expectShown(t, page, "#step-blocked [data-i18n='blocked.careful']", "blocked.careful")
		expectShown(t, page, "#blocked-borgerservice", "borgerservice.find")
	})
	if got := hrefOf(page, "#blocked-borgerservice"); got != borgerservice {
		t.Errorf("blocked step: expected a link to %s, got %q", borgerservice, got)
	}
	want := s.Origin + "/help#error-activation_blocked"
	if got := hrefOf(page, "#help-link"); got != want {
		t.Fatalf("blocked step: help link: expected %q, got %q", want, got)
	}
	help := scenario.OpenHelp(t, b, s, want)
	expectShown(t, help, "#error-activation_blocked dt", "error.activation_blocked")
	expectShown(t, help, "#error-activation_blocked dd", "help.error.activation_blocked")
}

// Item 7: the help page, at /help, Danish first and English by the same switch and
// stored choice as the activation page: the seed's instructions, where NFC sits,
// pairing Bluetooth on Android and Windows, every error message the page can show
// with what it means, and Borgerservice with a link to find one.
func TestHelpPage(t *testing.T) {
	s := scenario.Start(t)
	b := harness.New(t)
	help := scenario.OpenHelp(t, b, s, s.Origin+"/help")
	if got := help.Lang(); got != "da" {
		t.Fatalf("help page: expected Danish first, got %q", got)
	}
	sections := []struct{ selector, key string }{
		{"h1", "help.heading"},
		{"#activate h2", "help.activate.title"},
		{"#activate li:nth-child(1)", "help.activate.app"},
		{"#activate li:nth-child(8)", "help.activate.confirm"},
		{"#use h2", "use.title"},
		{"#use [data-i18n='use.iphone']", "use.iphone"},
		{"#nfc h3", "help.nfc.title"},
		{"#nfc [data-i18n='help.nfc.android']", "help.nfc.android"},
		{"#nfc [data-i18n='help.nfc.iphone']", "help.nfc.iphone"},
		{"#bluetooth h3", "help.bluetooth.title"},
		{"#bluetooth [data-i18n='help.bluetooth.android_pair']", "help.bluetooth.android_pair"},
		{"#bluetooth [data-i18n='help.bluetooth.windows_add']", "help.bluetooth.windows_add"},
		{"#errors h2", "help.errors.title"},
		{"#borgerservice h2", "help.borgerservice.title"},
		{"#find-borgerservice", "borgerservice.find"},
	}
	cat := map[string]map[string]string{}
	help.InEachLanguage(func(lang string) {
		for _, c := range sections {
			expectShown(t, help, c.selector, c.key)
		}
		// Every message the activation page can show has its entry.
		cat[lang] = s.Catalogue(t, lang)
		message := regexp.MustCompile(`^(error|module)\.[a-z_]+$`)
		var entries int
		for key := range cat[lang] {
			if !message.MatchString(key) || strings.HasSuffix(key, "_until") {
				continue
			}
			entries++
			id := strings.Replace(key, ".", "-", 1)
			expectShown(t, help, "#"+id+" dt", key)
			expectShown(t, help, "#"+id+" dd", "help."+key)
		}
		if n := scenario.Eval[int](help, "document.querySelectorAll('#error-list dt').length"); n != entries {
			t.Errorf("help page (%s): expected %d error messages listed, got %d", lang, entries, n)
		}
	})
	if got := hrefOf(help, "#find-borgerservice"); got != borgerservice {
		t.Errorf("help page: expected a link to %s, got %q", borgerservice, got)
	}

	// The stored choice: English on the activation page is English here.
	page := scenario.Open(t, b, s, s.NewLink(t, "e2e-person-help", "e2e.help"))
	page.WaitPasswordReady()
	page.SwitchLanguage("en")
	expectShown(t, page, "#footer-help [data-i18n='footer.help_link']", "footer.help_link")
	if got := hrefOf(page, "#footer-help"); got != s.Origin+"/help" {
		t.Errorf("footer: expected a link to %s/help, got %q", s.Origin, got)
	}
	help = scenario.OpenHelp(t, b, s, hrefOf(page, "#footer-help"))
	if got := help.Lang(); got != "en" {
		t.Fatalf("help page after English was chosen on the activation page: expected English, got %q", got)
	}
	expectShown(t, help, "h1", "help.heading")
	// And it opens at the section the link names.
	help = scenario.OpenHelp(t, b, s, s.Origin+"/help#error-chip_locked")
	if top := scenario.Eval[float64](help, "document.getElementById('error-chip_locked').getBoundingClientRect().top"); top < -1 || top > 5 {
		t.Errorf("help page at #error-chip_locked: expected the entry at the top of the window, got it at %v px", top)
	}
}

// Item 7 and item 9 on every step of the tour: the header's help link opens the
// part of the help that fits the step; the step indicator has four steps (done is
// none of them), aria-current="step" on the current one only, a tick and a hidden
// "completed" on each finished one; on a desktop every name on one line, on a
// phone the numbers and a caption "Step n of 4: name" on one line, in both languages.
func TestStepIndicatorAndHelpLink(t *testing.T) {
	type want struct {
		current string // data-for of the current step; "" for none
		done    int    // finished steps
		shown   bool   // the indicator is shown
		help    string // the help link's fragment
	}
	wants := map[string]want{
		"password":   {"password", 0, true, "#activate"},
		"chip":       {"connect", 1, true, "#connect"},
		"connect":    {"connect", 1, true, "#connect"},
		"code":       {"code", 2, true, "#activate"},
		"sign":       {"sign", 3, true, "#activate"},
		"completed":  {"", 4, true, "#use"},
		"code-wrong": {"code", 2, true, "#activate"},
		"blocked":    {"", 0, false, "#error-activation_blocked"},
		"error":      {"", 0, false, "#error-handoff_used"},
	}
	type indicator struct {
		Shown   bool     `json:"shown"`
		Steps   []string `json:"steps"`
		Current []string `json:"current"`
		Done    []string `json:"done"`
		Ticked  []string `json:"ticked"` // finished steps whose hidden "completed" is there
		Help    string   `json:"help"`
		HelpOn  bool     `json:"helpOn"`
	}
	const indicatorJS = `(() => {
		const lis = [...document.querySelectorAll('#progress li')];
		const help = document.getElementById('help-link');
		return {
			shown: document.getElementById('progress').checkVisibility(),
			steps: lis.map((li) => li.dataset.for),
			current: lis.filter((li) => li.getAttribute('aria-current') === 'step').map((li) => li.dataset.for),
			done: lis.filter((li) => li.classList.contains('done')).map((li) => li.dataset.for),
			ticked: lis.filter((li) => li.querySelector('.state').checkVisibility() &&
				getComputedStyle(li.querySelector('.num'), '::before').borderRightWidth !== '0px').map((li) => li.dataset.for),
			help: new URL(help.href).pathname + new URL(help.href).hash,
			helpOn: help.checkVisibility(),
		};
	})()`
	scenario.Tour(t, func(p *scenario.Page, stop string) {
		if stop == "help" {
			return
		}
		w := wants[stop]
		got := scenario.Eval[indicator](p, indicatorJS)
		if !got.HelpOn || got.Help != "/help"+w.help {
			t.Errorf("%s step: expected the help link shown, to /help%s, got %q (shown: %v)", stop, w.help, got.Help, got.HelpOn)
		}
		if want := []string{"password", "connect", "code", "sign"}; !slices.Equal(got.Steps, want) {
			t.Errorf("%s step: expected the steps %v, got %v", stop, want, got.Steps)
		}
		if got.Shown != w.shown {
			t.Errorf("%s step: expected the indicator shown %v, got %v", stop, w.shown, got.Shown)
		}
		if !w.shown {
			return
		}
		var current []string
		if w.current != "" {
			current = []string{w.current}
		}
		if !slices.Equal(got.Current, current) {
			t.Errorf("%s step: expected aria-current=step on %v, got %v", stop, current, got.Current)
		}
		if want := got.Steps[:w.done]; !slices.Equal(got.Done, want) || !slices.Equal(got.Ticked, want) {
			t.Errorf("%s step: expected %v finished, ticked and said so, got finished %v, ticked %v", stop, want, got.Done, got.Ticked)
		}
		p.InEachLanguage(func(lang string) {
			for _, c := range []string{"#progress li.done .state", "#progress li[aria-current=step] .label"} {
				for _, text := range scenario.Eval[[]string](p, "[...document.querySelectorAll("+jsString(c)+")].map((el) => el.textContent.trim())") {
					key := map[bool]string{true: "progress.done", false: "steps." + w.current}[strings.HasSuffix(c, ".state")]
					if want := p.Message(key, nil); text != want {
						t.Errorf("%s step (%s): %s: expected %q, got %q", stop, lang, c, want, text)
					}
				}
			}
			if stop == "password" || stop == "sign" {
				checkIndicatorFits(t, p, stop, lang, w.current)
			}
		})
	})
}

// checkIndicatorFits checks the indicator at a desktop's and a phone's size: on the
// desktop every step's name on one line, all in one row; on the phone the caption
// "Step n of 4: name", on one line, and the names for screen readers only.
func checkIndicatorFits(t *testing.T, p *scenario.Page, stop, lang, current string) {
	t.Helper()
	type layout struct {
		Lines    []float64 `json:"lines"` // each visible name's height in lines
		Tops     []float64 `json:"tops"`  // each step's top
		Names    int       `json:"names"` // names visible on screen
		Caption  string    `json:"caption"`
		CapLines float64   `json:"capLines"`
	}
	const layoutJS = `(() => {
		const lines = (el) => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight);
		const shown = (el) => el.checkVisibility() && el.getBoundingClientRect().width > 1;
		const labels = [...document.querySelectorAll('#progress .label')].filter(shown);
		const cap = document.getElementById('progress-caption');
		return {
			lines: labels.map(lines),
			tops: [...document.querySelectorAll('#progress li')].map((li) => Math.round(li.getBoundingClientRect().top)),
			names: labels.length,
			caption: shown(cap) ? cap.textContent.replace(/\s+/g, ' ').trim() : '',
			capLines: shown(cap) ? lines(cap) : 0,
		};
	})()`
	defer p.B.Do(chromedp.EmulateViewport(1280, 800))
	for _, v := range viewports {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.scale)}
		if v.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		p.B.Do(chromedp.EmulateViewport(v.width, v.height, opts...))
		got := scenario.Eval[layout](p, "new Promise((done) => requestAnimationFrame(() => done("+layoutJS+")))")
		where := stop + " step, " + lang + ", " + v.name
		if slices.Min(got.Tops) != slices.Max(got.Tops) {
			t.Errorf("%s: expected the four steps in one row, got tops %v", where, got.Tops)
		}
		if v.mobile {
			n := map[string]string{"password": "1", "connect": "2", "code": "3", "sign": "4"}[current]
			want := p.Message("progress.count", map[string]string{"n": n, "total": "4"}) + " " + p.Message("steps."+current, nil)
			if got.Names != 0 || got.Caption != want || got.CapLines > 1.2 {
				t.Errorf("%s: expected no names by the numbers and the caption %q on one line, got %d names, caption %q on %.1f lines", where, want, got.Names, got.Caption, got.CapLines)
			}
			continue
		}
		if got.Names != 4 || got.Caption != "" {
			t.Errorf("%s: expected the four names and no caption, got %d names, caption %q", where, got.Names, got.Caption)
		}
		for i, l := range got.Lines {
			if l > 1.2 {
				t.Errorf("%s: expected step %d's name on one line, got %.1f lines", where, i+1, l)
			}
		}
	}
}
