package bench_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mitidchip/server/logon"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

var derivations = flag.Int("derivations", 3, "times each page derives the password key per network profile, for the time from Next/Continue to the chip step")

// logonProbe records, in each document from its first script on, when the logon form
// can first be typed into (the user ID and the password field both shown, not
// disabled, not read-only: the activation probe's can-type, for both fields), and,
// on either page, when the person's form is submitted (Next on the activation's
// password, Continue on the logon) and when the page then first shows its chip step
// (body[data-step="chip"]): the password key derived in the worker and, for the
// logon, the proof checked by the server.
const logonProbe = `(() => {
	const m = {};
	Object.defineProperty(globalThis, Symbol.for('mitidchip.bench.logon'), { value: m });
	const typable = (id) => {
		const el = document.getElementById(id);
		return el !== null && el.checkVisibility() && !el.disabled && !el.readOnly;
	};
	const look = () => {
		if (m.canType === undefined && typable('user-id') && typable('logon-password')) m.canType = performance.now();
		if (m.submitted !== undefined && m.chip === undefined && document.body?.dataset.step === 'chip') m.chip = performance.now();
	};
	new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true });
	addEventListener('submit', (e) => {
		if (m.submitted === undefined && (e.target.id === 'logon-form' || e.target.id === 'password-form')) m.submitted = performance.now();
	}, true);
})();`

const logonProbeJS = "globalThis[Symbol.for('mitidchip.bench.logon')]"

type logonTimes struct {
	CanType   float64 `json:"canType"`
	Submitted float64 `json:"submitted"`
	Chip      float64 `json:"chip"`
}

// plainLogonPage writes a plain HTML page of the logon form: the user ID and password
// section of web/logon.html as it is, shown, with the page's style sheet and no
// script (a plain form needs none to be typed into). It is the yardstick for the
// logon page's time until the person can type.
func plainLogonPage(b *testing.B, root, dir string) {
	b.Helper()
	html, err := os.ReadFile(filepath.Join(root, "web", "logon.html"))
	if err != nil {
		b.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)<section id="step-credentials".*?</section>`).Find(html)
	if section == nil {
		b.Fatal("web/logon.html: no <section id=\"step-credentials\">")
	}
	section = []byte(strings.Replace(string(section), " hidden>", ">", 1))
	css, err := os.ReadFile(filepath.Join(root, "web", "style.css"))
	if err != nil {
		b.Fatal(err)
	}
	writeFiles(b, dir, map[string]string{
		"index.html": `<!doctype html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log på med MitID – MitID</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<main class="wrap">
<h1>Log på med MitID</h1>
` + string(section) + `
</main>
</body>
</html>
`,
		"style.css": string(css),
	})
}

// BenchmarkLogonPage measures the logon page (reportLogon); run it with -benchtime=1x (make bench).
func BenchmarkLogonPage(b *testing.B) {
	root, err := scenario.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	module := b.TempDir()
	if err := scenario.BuildModule(ctx, module, root, "./wasm"); err != nil {
		b.Fatal(err)
	}
	assets := b.TempDir()
	if _, err := scenario.Publish(assets, module); err != nil {
		b.Fatal(err)
	}
	s := scenario.Start(b, scenario.Assets(assets))
	if *derivations >= logon.LockAfter {
		b.Fatalf("-derivations: at most %d (a logon left at the chip step counts towards the lock)", logon.LockAfter-1)
	}
	reportLogon(b, os.Stdout, root, s)
}

// activate makes an activated person, over emulated Bluetooth in a browser of its own
// (the emulation is browser-wide, one chip per browser), with the dev chip serial.
func activate(b *testing.B, s *scenario.Server, person, password, serial string) {
	b.Helper()
	vc := s.Chips.Chip(serial)
	if vc == nil {
		b.Fatalf("dev chip %s: there is none", serial)
	}
	br := harness.New(b, harness.Timeout(firstUseTimeout))
	br.EmulateChip(vc)
	p := scenario.Open(b, br, s, s.NewLink(b, person, ""))
	p.CreatePassword(password)
	p.ChooseTransport("bluetooth")
	p.Connect()
	p.EnterCode(p.ReadCode(vc))
	p.ConfirmOnChip(vc)
	p.ExpectCompleted()
}

// reportLogon prints, for each profile, the logon page's time until the person can
// type their user ID and password against the plain logon page (cold loads,
// alternately, HTTP cache off), and the time from Continue to the chip step (the key
// derived, the proof sent and checked) against the activation page's time from Next
// on its password to its chip step, measured in the same run.
func reportLogon(b *testing.B, out io.Writer, root string, s *scenario.Server) {
	b.Helper()
	plainDir := filepath.Join(b.TempDir(), "plain-logon")
	plainLogonPage(b, root, plainDir)
	plain := httptest.NewServer(http.FileServer(http.Dir(plainDir)))
	defer plain.Close()

	br := harness.New(b, harness.Timeout(firstUseTimeout))
	ctx := br.Context()
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		b.Fatalf("turn the HTTP cache off: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: logonProbe}); err != nil {
		b.Fatalf("probe the pages: %v", err)
	}
	fmt.Fprintf(out, "\nLogon: %d cold loads of /logon and of the plain logon page per profile, alternately, median.\n", *pageLoads)
	fmt.Fprintf(out, "logon-can-type = navigation start to the user ID and password fields both shown and editable;\n")
	fmt.Fprintf(out, "plain-logon-page = the same form (web/logon.html's credentials section) as plain HTML, no script.\n")
	fmt.Fprintf(out, "logon-derive = Continue's submit to the chip step (Argon2id in the worker, the proof checked by the\n")
	fmt.Fprintf(out, "server); activation-derive = Next's submit on the password to the chip step; each pressed once the\n")
	fmt.Fprintf(out, "module runs; %d of each, median\n", *derivations)
	const password = "Blåbær-Kano-73!"
	for i, p := range profiles {
		// A person of its own for each profile: each logon here stops at the chip
		// step, and counts towards the user ID's lock (docs/logon.md).
		person := "bench-logon-" + p.name
		activate(b, s, person, password, fmt.Sprintf("MC-%06d", i+1))
		userID := scenario.UserIDOf(person)
		throttle(b, br, p)
		var mine, theirs []time.Duration
		for range *pageLoads {
			theirs = append(theirs, logonCanType(b, br, plain.URL+"/"))
			mine = append(mine, logonCanType(b, br, s.Origin+"/logon"))
		}
		m, t := median(mine), median(theirs)
		line(out, "logon-can-type/"+p.name, msf(m), "ms", msf(m)/msf(t), "plain-logon-page")
		line(out, "plain-logon-can-type/"+p.name, msf(t), "ms", 1, "plain-logon-page")

		var logon, activation []time.Duration
		for range *derivations {
			activation = append(activation, activationDerive(b, br, s, password))
			logon = append(logon, logonDerive(b, br, s, userID, password))
		}
		l, a := median(logon), median(activation)
		line(out, "logon-derive/"+p.name, msf(l), "ms", msf(l)/msf(a), "activation-derive")
		line(out, "activation-derive/"+p.name, msf(a), "ms", 1, "activation-derive")
	}
	throttle(b, br, profiles[0])
}

// logonCanType loads url from a blank tab without waiting for its load event and
// returns the time until both fields take typing.
func logonCanType(b *testing.B, br *harness.Browser, url string) time.Duration {
	b.Helper()
	br.Navigate("about:blank")
	if _, err := chromedp.Call(br.Context(), page.Navigate, page.NavigateParams{URL: url}); err != nil {
		b.Fatalf("navigate to %s: %v", url, err)
	}
	br.WaitJS(logonProbeJS + "?.canType !== undefined")
	return msd(harness.Eval[logonTimes](br, logonProbeJS).CanType)
}

// logonDerive logs on as far as the chip step and returns the page's time from
// Continue to it.
func logonDerive(b *testing.B, br *harness.Browser, s *scenario.Server, userID, password string) time.Duration {
	b.Helper()
	br.Navigate("about:blank")
	p := scenario.OpenLogon(b, br, s, "/logon")
	// From the same start as the activation's, whose Next waits for its rules: the
	// module running. (Continue pressed before it waits for the download too.)
	p.WaitJS("the module", "performance.getEntriesByName("+quote(scenario.StartedMark)+").length > 0")
	p.LogOnWith(userID, password)
	return derived(b, br)
}

// activationDerive opens a fresh activation link, creates the password and returns
// the page's time from Next to the chip step.
func activationDerive(b *testing.B, br *harness.Browser, s *scenario.Server, password string) time.Duration {
	b.Helper()
	br.Navigate("about:blank")
	p := scenario.Open(b, br, s, s.NewLink(b, freshPerson("bench-derive-"), ""))
	p.CreatePassword(password)
	return derived(b, br)
}

func derived(b *testing.B, br *harness.Browser) time.Duration {
	b.Helper()
	br.WaitJS(logonProbeJS + "?.chip !== undefined")
	t := harness.Eval[logonTimes](br, logonProbeJS)
	return msd(t.Chip - t.Submitted)
}
