package e2e_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/chromedp/chromedp/kb"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// axe-core's WCAG 2.1 A and AA rules on every step of the page, in Danish and in
// English: no violations. On arrival at each step the focus is where a keyboard or
// screen reader user needs it, and an error is in the alert live region. The table
// of results is logged for the note.
func TestAccessibilityEveryStep(t *testing.T) {
	axe := scenario.LoadAxe(t)
	type row struct {
		stop, lang string
		report     scenario.AxeReport
	}
	var rows []row
	scenario.Tour(t, func(p *scenario.Page, stop string) {
		checkArrival(t, p, stop)
		p.InEachLanguage(func(lang string) {
			r := p.Axe(axe)
			rows = append(rows, row{stop, lang, r})
			if r.Passes == 0 {
				t.Errorf("%s step, %s: expected axe-core rules to pass, got none: did axe run?", stop, lang)
			}
			for _, v := range r.Violations {
				t.Errorf("%s step, %s: expected no WCAG 2.1 A/AA violations, got %s", stop, lang, v)
			}
		})
		if stop == scenario.TourStops[len(scenario.TourStops)-1] {
			checkAxeSees(t, p, axe)
		}
	})

	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(slices.Index(scenario.TourStops, a.stop), slices.Index(scenario.TourStops, b.stop)),
			cmp.Compare(slices.Index(scenario.Languages, a.lang), slices.Index(scenario.Languages, b.lang)))
	})
	var table strings.Builder
	w := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "step\tlanguage\tviolations\tpasses\tincomplete")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\n", r.stop, r.lang, len(r.report.Violations), r.report.Passes, r.report.Incomplete)
	}
	w.Flush()
	t.Logf("axe-core %s, tags %s (passes and incomplete count rules):\n%s", axe.Version, strings.Join(scenario.WCAG21AA, ","), table.String())

	checkVisitedAll(t, func(yield func(stop, lang string)) {
		for _, r := range rows {
			yield(r.stop, r.lang)
		}
	})
}

// checkArrival checks where the focus is as a tour stop is reached: on the step's
// heading, except where the person was typing (the password) or is sent back to
// correct what they typed (the code field after a wrong code); and that an error
// is in the alert live region, in the catalogue's words.
func checkArrival(t *testing.T, p *scenario.Page, stop string) {
	t.Helper()
	if stop == "help" {
		return // a page of its own, loaded afresh: the focus is where the browser puts it
	}
	focus := map[string]string{"password": "password-repeat", "code-wrong": "code"}
	if id, ok := focus[stop]; ok {
		if got := p.Focused(); !strings.HasPrefix(got, "input#"+id+" ") {
			t.Errorf("%s step: expected the focus in #%s, got %s", stop, id, got)
		}
	} else if step := scenario.Eval[string](p, "document.body.dataset.step"); !p.HeadingFocused(step) {
		t.Errorf("%s step: expected the focus on the heading of #step-%s, got %s", stop, step, p.Focused())
	}
	alert := map[string]string{"code-wrong": "error.code_wrong", "error": "fatal.handoff_used"}
	if key, ok := alert[stop]; ok {
		lang := scenario.Eval[string](p, "document.documentElement.lang")
		want := p.Server().Text(t, lang, key)
		live := scenario.Eval[string](p, "document.querySelector('[role=alert], [aria-live=assertive]').textContent")
		if !strings.Contains(live, want) {
			t.Errorf("%s step: expected the alert live region to say %q, got %q", stop, want, live)
		}
	}
}

// checkAxeSees proves the check can fail: an image without a text alternative is
// a violation axe-core must report.
func checkAxeSees(t *testing.T, p *scenario.Page, axe *scenario.Axe) {
	t.Helper()
	scenario.Eval[bool](p, `(() => {
		const img = document.createElement('img');
		img.id = 'axe-canary';
		img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
		document.body.append(img);
		return true;
	})()`)
	defer scenario.Eval[bool](p, "(document.getElementById('axe-canary').remove(), true)")
	r := p.Axe(axe)
	if !slices.ContainsFunc(r.Violations, func(v scenario.AxeViolation) bool { return v.Rule == "image-alt" }) {
		t.Fatalf("axe-core on a page with an image without alt: expected an image-alt violation, got %v", r.Violations)
	}
}

// checkVisitedAll fails unless every tour stop was seen in every language.
func checkVisitedAll(t *testing.T, seen func(yield func(stop, lang string))) {
	t.Helper()
	got := map[string]bool{}
	seen(func(stop, lang string) { got[stop+"/"+lang] = true })
	var missing []string
	for _, stop := range scenario.TourStops {
		for _, lang := range scenario.Languages {
			if !got[stop+"/"+lang] {
				missing = append(missing, stop+"/"+lang)
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("tour: expected every step in every language, got none for %v", missing)
	}
}

// The whole activation with the keyboard alone: Tab, Shift+Tab, Enter, Space and
// typing, no clicks, over Web Bluetooth (a key press is the user activation the
// device chooser needs). Each new step puts the focus on its heading, and a wrong
// code is announced through the alert live region.
func TestKeyboardOnlyActivation(t *testing.T) {
	s := scenario.Start(t)
	vc := devChip(t, s, "MC-000003")
	const person = "e2e-person-keyboard"
	b := harness.New(t)
	b.EmulateChip(vc)
	const password = "Tastatur og kaffe 58"

	page := scenario.Open(t, b, s, s.NewLink(t, person, "e2e.keyboard"))
	page.WaitPasswordReady()
	expectHeadingFocus(t, page, "password")

	// The language by keyboard: back to the switch in the header, Enter.
	want := map[string]string{"da": "en", "en": "da"}[page.Lang()]
	page.TabBackTo("#lang-toggle")
	page.Press(kb.Enter)
	page.WaitJS("the page in "+want, "document.documentElement.lang === "+jsString(want))

	page.TabTo("#password")
	page.Press(password)
	page.TabTo("#password-repeat")
	page.Press(password)
	page.TabTo("#show-password")
	page.Press(" ") // Space ticks a checkbox
	if typ := scenario.Eval[string](page, "document.getElementById('password').type"); typ != "text" {
		t.Fatalf("Space on \"show passwords\": expected the password shown (type text), got type %q", typ)
	}
	page.WaitJS("every password rule met", "[...document.querySelectorAll('#password-rules li')].every(li => li.dataset.state === 'met')")
	page.TabTo("#next-password")
	page.Press(kb.Enter)
	page.WaitStep("chip")
	expectHeadingFocus(t, page, "chip")

	page.WaitJS("the Bluetooth option", "document.getElementById('transport-checking').hidden && document.getElementById('transport-bluetooth').checkVisibility()")
	page.TabTo("#transport-bluetooth")
	page.Press(" ") // Space presses a button
	page.WaitStep("connect")
	expectHeadingFocus(t, page, "connect")

	page.TabTo("#connect-next")
	page.Press(kb.Enter) // the key press is the user activation requestDevice needs
	page.WaitStep("code")
	expectHeadingFocus(t, page, "code")

	// A wrong code first: said in the alert region, focus back in the field.
	code := page.ReadCode(vc)
	page.TabTo("#code")
	page.Press(s.WrongCode(t, vc) + kb.Enter) // Enter in the field submits
	wrong := page.Message("error.code_wrong", nil)
	b.WaitJS("document.getElementById('error').checkVisibility() && document.getElementById('live').textContent.includes(" + jsString(wrong) + ")")
	if got := scenario.Eval[map[string]string](page, `(() => {
		const live = document.getElementById('live');
		return {role: live.getAttribute('role') || '', live: live.getAttribute('aria-live') || '', text: live.textContent};
	})()`); got["role"] != "alert" && got["live"] != "assertive" && got["live"] != "polite" {
		t.Fatalf("#live: expected a live region (role=alert or aria-live), got %v", got)
	}
	if got := page.Focused(); !strings.HasPrefix(got, "input#code ") {
		t.Fatalf("after a wrong code: expected the focus in the code field, got %s", got)
	}
	if invalid := scenario.Eval[string](page, "document.getElementById('code').getAttribute('aria-invalid') || ''"); invalid != "true" {
		t.Fatalf("after a wrong code: expected the code field aria-invalid=true, got %q", invalid)
	}
	// The field's text is selected: typing replaces it.
	page.Press(code)
	if got := scenario.Eval[string](page, "document.getElementById('code').value"); got != code {
		t.Fatalf("code field after typing over the wrong code: expected %q, got %q", code, got)
	}
	page.TabTo("#submit-code")
	page.Press(kb.Enter)
	page.WaitStep("sign")
	expectHeadingFocus(t, page, "sign")

	page.ConfirmOnChip(vc)
	page.ExpectCompleted()
	expectHeadingFocus(t, page, "completed")
	checkBound(t, s, person, vc, password)
}

func expectHeadingFocus(t *testing.T, p *scenario.Page, step string) {
	t.Helper()
	if !p.HeadingFocused(step) {
		t.Fatalf("%s step: expected the focus on its heading, got %s", step, p.Focused())
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Text and controls at 200%, the two ways a person gets there: the page zoomed to
// 200% in a 640 px window (a viewport of 320 CSS px, the width of WCAG 1.4.10), and
// the browser's text size at 200% on a 390 px phone (WCAG 1.4.4). On every step, in
// both languages, nothing reaches past the edges and nothing is cut off, so nobody
// has to scroll sideways or loses words.
func TestReflowAt200Percent(t *testing.T) {
	var seen []string
	scenario.Tour(t, func(p *scenario.Page, stop string) {
		p.InEachLanguage(func(lang string) {
			seen = append(seen, stop+"/"+lang)
			for _, e := range []scenario.Enlarged{scenario.PageZoom200, scenario.TextSize200} {
				p.Enlarge(e)
				got := scenario.Eval[[]float64](p, "[document.documentElement.clientWidth, parseFloat(getComputedStyle(document.body).fontSize)]")
				if int64(got[0]) != e.Width || int64(got[1]) != e.FontSize {
					t.Fatalf("%s step, %s: expected a viewport of %d CSS px and text of %d px, got %v px and %v px", stop, e.Name, e.Width, e.FontSize, got[0], got[1])
				}
				for _, what := range p.Outside() {
					t.Errorf("%s step, %s, %s: expected everything within the viewport, got %s", stop, lang, e.Name, what)
				}
			}
		})
		if stop == scenario.TourStops[len(scenario.TourStops)-1] {
			checkOutsideSees(t, p)
		}
	})
	checkVisitedAll(t, func(yield func(stop, lang string)) {
		for _, s := range seen {
			stop, lang, _ := strings.Cut(s, "/")
			yield(stop, lang)
		}
	})
}

// checkOutsideSees proves the check can fail: a line of text wider than the
// viewport must be reported.
func checkOutsideSees(t *testing.T, p *scenario.Page) {
	t.Helper()
	scenario.Eval[bool](p, `(() => {
		const p = document.createElement('p');
		p.id = 'reflow-canary';
		p.textContent = 'x'.repeat(400);
		p.style.overflowWrap = 'normal';
		document.querySelector('main').append(p);
		return true;
	})()`)
	defer scenario.Eval[bool](p, "(document.getElementById('reflow-canary').remove(), true)")
	got := p.Outside()
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "p#reflow-canary has text") }) {
		t.Fatalf("a line of 400 letters: expected it reported outside the viewport, got %v", got)
	}
}
