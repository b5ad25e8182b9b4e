package scenario

// The actions and checks of the paths a person can stray onto: errors shown on a
// step rather than only steps reached, what the server holds about the activation,
// links that are expired or used, chips that are unknown, a second tab, a reload.
// A server stopped and started again is in restart.go.

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
	"mitidchip/server/dev"
	"mitidchip/server/store"
)

// View is what the page shows at one moment: its step (body[data-step]), the code
// of a terminal error and its heading, and the inline error's text.
type View struct {
	Step  string
	Code  string
	Title string
	Error string
}

func (s state) view() View { return View(s) }

func (v View) String() string { return state(v).String() }

// WaitView waits, within the given time, until cond holds for what the page shows. Unlike
// WaitStep, an error on the page is not a failure here: the paths are about errors.
func (p *Page) WaitView(what string, within time.Duration, cond func(View) bool) View {
	p.t.Helper()
	return waitView(p.t, p.B.Context(), what, within, cond)
}

func waitView(t testing.TB, ctx context.Context, what string, within time.Duration, cond func(View) bool) View {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last View
	var lastErr error
	for {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[state](stateJS))
		if err == nil {
			last = s.view()
			if cond(last) {
				return last
			}
		}
		lastErr = err
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("waiting for %s: not there after %v; the page is at %s (last look: %v)", what, within, last, lastErr)
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; the page is at %s", what, ctx.Err(), last)
		}
	}
}

// SwitchLanguage switches the page to lang with its switch, on any step, errors
// included, and waits until the page is in it.
func (p *Page) SwitchLanguage(lang string) {
	p.t.Helper()
	if p.Lang() != lang {
		p.Click("#lang-toggle")
	}
	// The heading in the catalogue's words for lang: the activation page's or the
	// help page's, as the heading names its key.
	heading := p.srv.Text(p.t, lang, Eval[string](p, "document.querySelector('h1').dataset.i18n"))
	probe := "document.documentElement.lang === " + quote(lang) + " && document.querySelector('h1').textContent.trim() === " + quote(heading)
	p.WaitView("the page in "+lang, StepTimeout, func(View) bool { return Eval[bool](p, probe) })
}

// View is what the page shows now.
func (p *Page) View() View {
	p.t.Helper()
	return Eval[state](p, stateJS).view()
}

// Lang is the page's language ("da" or "en").
func (p *Page) Lang() string { p.t.Helper(); return Eval[string](p, "document.documentElement.lang") }

// Message is the catalogue's text for key in the page's language, with {name}
// placeholders filled from vars, as the page renders it.
func (p *Page) Message(key string, vars map[string]string) string {
	p.t.Helper()
	msg := p.srv.Text(p.t, p.Lang(), key)
	for name, v := range vars {
		msg = strings.ReplaceAll(msg, "{"+name+"}", v)
	}
	return msg
}

// errorJS lists the messages of the inline error, one per line or list item, and
// what the alert live region said last.
const errorJS = `(() => {
	const e = document.getElementById('error');
	const items = e && !e.hidden ? [...e.querySelectorAll('p, li')].map(el => el.textContent.trim()) : [];
	return {items, live: document.getElementById('live').textContent.trim(), step: document.body.dataset.step || ''};
})()`

type shownError struct {
	Items []string `json:"items"`
	Live  string   `json:"live"`
	Step  string   `json:"step"`
}

// ExpectError waits until the page shows, on step, exactly the messages want in its
// error area, and checks that they were announced through the alert live region.
func (p *Page) ExpectError(step string, want ...string) {
	p.t.Helper()
	p.ExpectErrorWithin(StepTimeout, step, want...)
}

// ExpectErrorWithin is ExpectError for an error that takes up to within to come,
// such as the page's own timeout.
func (p *Page) ExpectErrorWithin(within time.Duration, step string, want ...string) {
	p.t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var got shownError
	for {
		var err error
		got, err = harness.EvalErr[shownError](p.B, errorJS)
		if err == nil && got.Step == step && slices.Equal(got.Items, want) {
			break
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			p.t.Fatalf("error on step %s: expected %q within %v, got %q on step %s (last look: %v)", step, want, within, got.Items, got.Step, err)
		case <-p.B.Context().Done():
			p.t.Fatalf("error on step %s: expected %q: %v", step, want, p.B.Context().Err())
		}
	}
	if announced := strings.Join(want, " "); got.Live != announced {
		p.t.Fatalf("alert live region on step %s: expected %q, got %q", step, announced, got.Live)
	}
}

// ExpectNoError checks that the page shows no inline error now.
func (p *Page) ExpectNoError() {
	p.t.Helper()
	if got := Eval[shownError](p, errorJS); len(got.Items) > 0 {
		p.t.Fatalf("step %s: expected no error shown, got %q", got.Step, got.Items)
	}
}

// ExpectTerminal waits for the page's error step for code and checks what it says in
// the catalogue's words: the heading fatal.<code>, the body error.<code> and the
// way forward next.
func (p *Page) ExpectTerminal(code, next string) {
	p.t.Helper()
	v := p.WaitView("the error step for "+code, StepTimeout, func(v View) bool { return v.Step == "error" && v.Code == code })
	if want := p.Message("fatal."+code, nil); v.Title != want {
		p.t.Fatalf("error step %s: heading expected %q, got %q", code, want, v.Title)
	}
	if want, got := p.Message("error."+code, nil), Eval[string](p, "document.getElementById('error-body').textContent.trim()"); got != want {
		p.t.Fatalf("error step %s: body expected %q, got %q", code, want, got)
	}
	if want, got := p.Message(next, nil), Eval[string](p, "document.getElementById('error-next').checkVisibility() ? document.getElementById('error-next').textContent.trim() : ''"); got != want {
		p.t.Fatalf("error step %s: what to do expected %q, got %q", code, want, got)
	}
}

// Visible reports whether the element with id is shown.
func (p *Page) Visible(id string) bool {
	p.t.Helper()
	return Eval[bool](p, "document.getElementById("+quote(id)+").checkVisibility({visibilityProperty: true})")
}

// Text is the trimmed text of the element with id.
func (p *Page) Text(id string) string {
	p.t.Helper()
	return Eval[string](p, "document.getElementById("+quote(id)+").textContent.trim()")
}

// Reload reloads the page, as the person pulls to refresh, and waits for it to load.
func (p *Page) Reload() {
	p.t.Helper()
	p.B.Do(chromedp.Reload())
}

// Fill replaces the value of an input with text typed with real key events.
func (p *Page) Fill(selector, text string) {
	p.t.Helper()
	Eval[bool](p, "(() => { const el = document.querySelector("+quote(selector)+"); el.value = ''; return true; })()")
	p.Type(selector, text)
}

// TypePassword fills in the password and its repeat once the form is ready, without
// going on.
func (p *Page) TypePassword(password, repeat string) {
	p.t.Helper()
	p.WaitPasswordReady()
	p.Fill("#password", password)
	p.Fill("#password-repeat", repeat)
}

// SubmitCode types a one-time code and presses Next, without waiting for the outcome.
func (p *Page) SubmitCode(code string) {
	p.t.Helper()
	p.WaitStep("code")
	p.Fill("#code", code)
	p.Click("#submit-code")
}

// Activation is the server's answer about the page's activation (docs/api.md), as
// the page itself would get it with its cookie.
type Activation struct {
	ID        string `json:"activation_id"`
	Step      string `json:"step"`
	TriesLeft *int   `json:"tries_left"`
	Serial    string `json:"chip_serial"`
	Error     string `json:"error"` // the error code when the server refused
}

// Activation asks the server, from the page, where its activation is.
func (p *Page) Activation() Activation {
	p.t.Helper()
	return Eval[Activation](p, `fetch('/api/v1/activation', {credentials: 'same-origin', cache: 'no-store'})
		.then(async (r) => {
			const body = await r.json();
			return r.ok ? body : {error: body && body.error ? body.error.code : 'http ' + r.status};
		})`)
}

// Session is the store's record of the activation.
func (s *Server) Session(t testing.TB, id string) store.Session {
	t.Helper()
	sess, err := s.Store.Session(context.Background(), id)
	if err != nil {
		t.Fatalf("store: session %s: %v", id, err)
	}
	return sess
}

// AuditEvents are the events of an activation's audit trail, oldest first.
func (s *Server) AuditEvents(t testing.TB, id string) []string {
	t.Helper()
	entries, err := s.Store.AuditEntries(context.Background(), id)
	if err != nil {
		t.Fatalf("store: audit trail of %s: %v", id, err)
	}
	events := make([]string, len(entries))
	for i, e := range entries {
		events[i] = e.Event
	}
	return events
}

// ExpiredLink mints an activation link whose token was issued age ago with the
// usual ten minutes to live, as when the person opens the app's link too late.
func (s *Server) ExpiredLink(t testing.TB, personID, userID string, age time.Duration) string {
	t.Helper()
	past := func() time.Time { return time.Now().Add(-age) }
	if userID == "" {
		userID = UserIDOf(personID)
	}
	tok, claims, err := s.issuer(t, past).Issue(personID, userID)
	if err != nil {
		t.Fatalf("scenario: expired link for %s: %v", personID, err)
	}
	if !claims.Expiry.Before(time.Now()) {
		t.Fatalf("scenario: expired link for %s: it expires at %v, not in the past", personID, claims.Expiry)
	}
	return s.Origin + "/#t=" + tok
}

// WrongCode is a six-digit code that the chip will not show for a while: none of
// the codes of the steps the server accepts now or in the next half minute.
func (s *Server) WrongCode(t testing.TB, vc *virtual.Chip) string {
	t.Helper()
	now := s.Now()
	chips, _, err := dev.EnsureChips(s.Config.DataDir, rand.Reader, now)
	if err != nil {
		t.Fatalf("scenario: the dev chips: %v", err)
	}
	i := slices.IndexFunc(chips, func(c manufacturer.Chip) bool { return c.Serial == vc.Serial() })
	if i < 0 {
		t.Fatalf("scenario: %s is not a dev chip", vc.Serial())
	}
	var near []string
	for step := -1; step <= 2; step++ {
		code, err := virtual.Code(chips[i].Seed, now.Add(time.Duration(step)*virtual.Period), virtual.Digits)
		if err != nil {
			t.Fatalf("scenario: code of %s: %v", vc.Serial(), err)
		}
		near = append(near, code)
	}
	for n := 0; ; n++ {
		if code := fmt.Sprintf("%06d", n*7919%1000000); !slices.Contains(near, code) {
			return code
		}
	}
}

// ForeignChip is a chip of another manufacturer, whose CA the server does not trust
// and whose serial it has never heard of.
func ForeignChip(t testing.TB, serial string) *virtual.Chip {
	t.Helper()
	ca, err := manufacturer.NewCA("Unknown Chip Works", rand.Reader, time.Now())
	if err != nil {
		t.Fatalf("scenario: foreign CA: %v", err)
	}
	m, err := ca.Mint(serial, rand.Reader, time.Now())
	if err != nil {
		t.Fatalf("scenario: foreign chip %s: %v", serial, err)
	}
	vc, err := virtual.New(m.Config(time.Now))
	if err != nil {
		t.Fatalf("scenario: foreign chip %s: %v", serial, err)
	}
	return vc
}

// Tab is another tab of the same browser, sharing its cookies, as when the person
// opens the app's link a second time.
type Tab struct {
	t   testing.TB
	ctx context.Context
	srv *Server
}

// OpenTab opens link in a new tab of p's browser. The tab closes when t ends.
func (p *Page) OpenTab(link string) *Tab {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.B.Context())
	p.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		p.t.Fatalf("open %s in a second tab: %v", link, err)
	}
	return &Tab{t: p.t, ctx: ctx, srv: p.srv}
}

// WaitView waits, within StepTimeout, until cond holds for what the tab shows.
func (tab *Tab) WaitView(what string, cond func(View) bool) View {
	tab.t.Helper()
	return waitView(tab.t, tab.ctx, what, StepTimeout, cond)
}

// Eval evaluates a JavaScript expression in the tab.
func (tab *Tab) Eval(expression string) string {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](expression, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.t.Fatalf("second tab: evaluate %s: %v", expression, err)
	}
	return v
}

// Click clicks the element with real mouse events.
func (tab *Tab) Click(selector string) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		tab.t.Fatalf("second tab: click %s: %v", selector, err)
	}
}
