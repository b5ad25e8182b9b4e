package scenario

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
)

// Timeouts of the steps, each inside the test's own deadline. The password step
// runs Argon2id in a worker; on a busy 2-core machine that takes seconds.
const (
	StepTimeout     = 60 * time.Second
	PasswordTimeout = 2 * time.Minute
)

// The performance marks the page sets (web/module.js, web/step-password.js).
const (
	// ReadyMark: the password form is shown and editable and the module answers.
	ReadyMark = "mitid:password-ready"
	// StartedMark: main.wasm is running (go.run returned to the page).
	StartedMark = "mitid:module-started"
)

// pollEvery is how often a wait looks at the page again.
const pollEvery = 25 * time.Millisecond

// Page is the activation page in one browser, as one person uses it.
type Page struct {
	t   testing.TB
	B   *harness.Browser
	srv *Server
}

// Open loads an activation link, as the MitID app hands the person over.
func Open(t testing.TB, b *harness.Browser, s *Server, link string) *Page {
	t.Helper()
	b.Navigate(link)
	return &Page{t: t, B: b, srv: s}
}

// state is what the waits look at: the step the page shows and any error on it.
type state struct {
	Step  string `json:"step"`
	Code  string `json:"code"`  // body[data-error]: a terminal error's code
	Title string `json:"title"` // the error step's heading
	Error string `json:"error"` // the visible inline error, if any
}

const stateJS = `(() => {
	const e = document.getElementById('error');
	const title = document.getElementById('error-title');
	return {
		step: document.body.dataset.step || '',
		code: document.body.dataset.error || '',
		title: title ? title.textContent.trim() : '',
		error: e && !e.hidden ? e.textContent.trim() : '',
	};
})()`

func (s state) String() string {
	out := fmt.Sprintf("step %q", s.Step)
	if s.Code != "" || s.Title != "" {
		out += fmt.Sprintf(", error %s: %q", s.Code, s.Title)
	}
	if s.Error != "" {
		out += fmt.Sprintf(", showing the error %q", s.Error)
	}
	return out
}

// failed is a state no happy path passes through: the wait stops there at once.
func (s state) failed() bool {
	switch s.Step {
	case "error", "blocked", "start-failed":
		return true
	}
	return s.Error != ""
}

// WaitStep waits until the page shows step (body[data-step]), within StepTimeout.
func (p *Page) WaitStep(step string) { p.t.Helper(); p.waitStep(step, StepTimeout) }

func (p *Page) waitStep(step string, within time.Duration) {
	p.t.Helper()
	p.wait("step "+step, within, func(s state) bool { return s.Step == step })
}

// wait polls the page until done holds, failing at once when the page shows an
// error and at the deadline otherwise, saying where the page was.
func (p *Page) wait(what string, within time.Duration, done func(state) bool) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last state
	var lastErr error
	for {
		s, err := harness.EvalErr[state](p.B, stateJS)
		if err == nil {
			if done(s) {
				return
			}
			if s.failed() {
				p.t.Fatalf("waiting for %s: the page failed: %s", what, s)
			}
			last = s
		}
		lastErr = err
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s: not there after %v; the page is at %s (last look: %v)", what, within, last, lastErr)
		}
		select {
		case <-tick.C:
		case <-p.B.Context().Done():
			p.t.Fatalf("waiting for %s: %v; the page is at %s", what, p.B.Context().Err(), last)
		}
	}
}

// WaitJS waits, within StepTimeout, until the expression is truthy; the page failing
// ends the wait at once.
func (p *Page) WaitJS(what, expression string) {
	p.t.Helper()
	probe := "(() => { try { return !!(" + expression + "); } catch (e) { return false; } })()"
	p.wait(what, StepTimeout, func(state) bool {
		ok, err := harness.EvalErr[bool](p.B, probe)
		return err == nil && ok
	})
}

// WaitPasswordReady waits until the person can use the password form.
func (p *Page) WaitPasswordReady() {
	p.t.Helper()
	p.WaitStep("password")
	p.WaitJS("the password form to be ready", "performance.getEntriesByName("+quote(ReadyMark)+").length > 0")
}

// UseLanguage switches the page to lang ("da" or "en") with its switch, if it is not
// in it already, and checks that the heading is in that language.
func (p *Page) UseLanguage(lang string) {
	p.t.Helper()
	// The switch shows once the page has its catalogues and the language is applied.
	p.WaitJS("the language switch", "document.getElementById('lang-toggle').checkVisibility()")
	if Eval[string](p, "document.documentElement.lang") != lang {
		p.Click("#lang-toggle")
	}
	heading := p.srv.Text(p.t, lang, "app.heading")
	p.WaitJS("the page in "+lang, "document.documentElement.lang === "+quote(lang)+
		" && document.querySelector('h1').textContent.trim() === "+quote(heading))
}

// CreatePassword types the password and its repeat with real key events and goes on,
// waiting until the page asks how to connect the chip.
func (p *Page) CreatePassword(password string) {
	p.t.Helper()
	p.WaitPasswordReady()
	p.Type("#password", password)
	p.Type("#password-repeat", password)
	// Every rule ticked: the module judged what was typed.
	p.WaitJS("every password rule met", "[...document.querySelectorAll('#password-rules li')].every(li => li.dataset.state === 'met')")
	p.Click("#next-password")
	p.waitStep("chip", PasswordTimeout)
}

// ChooseTransport picks "nfc", "bluetooth" or "virtual" once the page offers it.
func (p *Page) ChooseTransport(kind string) {
	p.t.Helper()
	p.WaitStep("chip")
	sel := "#transport-" + kind
	p.WaitJS("the "+kind+" option", "document.getElementById('transport-checking').hidden && "+
		"document.querySelector("+quote(sel)+").checkVisibility()")
	p.Click(sel)
	p.WaitStep("connect")
}

// Connect presses Next on "hold your chip to the phone" and waits for the code step.
func (p *Page) Connect() {
	p.t.Helper()
	p.WaitStep("connect")
	p.Click("#connect-next")
	p.WaitStep("code")
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// ReadCode presses the chip's button and reads the one-time code off its display.
func (p *Page) ReadCode(vc *virtual.Chip) string {
	p.t.Helper()
	if vc.Waiting() {
		p.t.Fatalf("read the code: chip %s is waiting to sign; a press would sign, not show a code", vc.Serial())
	}
	vc.Press()
	code := vc.Display()
	if !sixDigits.MatchString(code) {
		p.t.Fatalf("chip %s display: expected a 6-digit code, got %q", vc.Serial(), code)
	}
	return code
}

// EnterCode types the one-time code and waits for the last step.
func (p *Page) EnterCode(code string) {
	p.t.Helper()
	p.WaitStep("code")
	p.Type("#code", code)
	p.Click("#submit-code")
	p.WaitStep("sign")
}

// ConfirmOnChip waits until the chip waits for its button, as the page asks the
// person to press it, and presses it.
func (p *Page) ConfirmOnChip(vc *virtual.Chip) {
	p.t.Helper()
	p.WaitStep("sign")
	deadline := time.NewTimer(StepTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * pollEvery) // only to notice the page failing meanwhile
	defer tick.Stop()
	for {
		changed := vc.Changed() // before the check, so no change slips in between
		if vc.Waiting() {
			break
		}
		select {
		case <-changed:
		case <-tick.C:
			if s, err := harness.EvalErr[state](p.B, stateJS); err == nil && s.failed() {
				p.t.Fatalf("waiting for chip %s to ask for its button: the page failed: %s", vc.Serial(), s)
			}
		case <-deadline.C:
			p.t.Fatalf("waiting for chip %s to ask for its button: not after %v", vc.Serial(), StepTimeout)
		case <-p.B.Context().Done():
			p.t.Fatalf("waiting for chip %s to ask for its button: %v", vc.Serial(), p.B.Context().Err())
		}
	}
	vc.Press()
}

// ExpectCompleted waits for the last step and checks that it says "Activation
// completed" in the page's language, in the catalogue's words.
func (p *Page) ExpectCompleted() {
	p.t.Helper()
	p.WaitStep("completed")
	lang := Eval[string](p, "document.documentElement.lang")
	want := p.srv.Text(p.t, lang, "step.completed.title")
	got := Eval[string](p, "document.querySelector('#step-completed h2').textContent.trim()")
	if got != want {
		p.t.Fatalf("completed step heading (%s): expected %q, got %q", lang, want, got)
	}
	if !Eval[bool](p, "document.getElementById('step-completed').checkVisibility()") {
		p.t.Fatalf("completed step: expected it visible, it is not")
	}
}

// Type sends real key events, one per character, to the element.
func (p *Page) Type(selector, text string) {
	p.t.Helper()
	if err := chromedp.Do(p.B.Context(), chromedp.SendKeys(chromedp.CSS(selector), text)); err != nil {
		p.t.Fatalf("type into %s: %v", selector, err)
	}
}

// Click clicks the element with real mouse events.
func (p *Page) Click(selector string) { p.t.Helper(); p.B.Click(selector) }

// Eval evaluates a JavaScript expression in the page and decodes its value.
func Eval[T any](p *Page, expression string) T {
	p.t.Helper()
	v, err := harness.EvalErr[T](p.B, expression)
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// Text is a message of the page's catalogue for lang, as the server publishes it.
func (s *Server) Text(t testing.TB, lang, key string) string {
	t.Helper()
	b, err := Asset(s.Config.AssetsDir, "i18n/"+lang+".json")
	if err != nil {
		t.Fatalf("catalogue %s: %v", lang, err)
	}
	var cat map[string]string
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatalf("catalogue %s: %v", lang, err)
	}
	msg, ok := cat[key]
	if !ok {
		t.Fatalf("catalogue %s: no message %q", lang, key)
	}
	return strings.TrimSpace(msg)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
