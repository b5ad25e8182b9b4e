package bench_test

import (
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

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

var firstUseTimeout = 10 * time.Minute

var pageLoads = flag.Int("pageloads", 5, "cold loads of each page, per network profile, for the times until the person can type and the rules respond")

// profile is how the browser is slowed down: none, or the phone on slow 4G.
type profile struct {
	name      string
	latencyMs float64
	downBps   float64 // bytes per second; 0: not throttled
	upBps     float64
	cpuRate   float64 // 1: not throttled
}

var profiles = []profile{
	{name: "unthrottled", cpuRate: 1},
	// Slow 4G as DevTools has it, and a phone's CPU as four times slower.
	{name: "phone", latencyMs: 150, downBps: 1.6e6 / 8, upBps: 750e3 / 8, cpuRate: 4},
}

// probe records, in each document from its first script on, when the password field
// can first be typed into (shown, not disabled, not read-only), when the first
// character arrives in it (the input event), and when a rule of the list first
// answers that (its data-state leaves "pending"). The same for both pages.
const probe = `(() => {
	const m = {};
	Object.defineProperty(globalThis, Symbol.for('mitidchip.bench.page'), { value: m });
	const look = () => {
		const pw = document.getElementById('password');
		if (m.canType === undefined && pw && pw.checkVisibility() && !pw.disabled && !pw.readOnly) m.canType = performance.now();
		if (m.typed !== undefined && m.rules === undefined) {
			const li = document.querySelector('#password-rules li');
			if (li && li.dataset.state && li.dataset.state !== 'pending') m.rules = performance.now();
		}
	};
	new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true });
	addEventListener('input', (e) => {
		if (m.typed === undefined && e.target.id === 'password') {
			m.typed = performance.now();
			look();
		}
	}, true);
})();`

const probeJS = "globalThis[Symbol.for('mitidchip.bench.page')]"

// bytesUntil sums what the page got over the wire (transferSize: headers and body as
// sent, the HTTP cache being off) in the responses complete by t.
const bytesUntil = `((t) => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
	.filter((e) => e.responseEnd > 0 && e.responseEnd <= t).reduce((n, e) => n + e.transferSize, 0))`

type pageTimes struct {
	CanType float64 `json:"canType"`
	Typed   float64 `json:"typed"`
	Rules   float64 `json:"rules"`
}

// firstUse is one cold load: the times until the person can type and until the rules
// respond to the first character (typed as soon as the field takes it), and the bytes
// the page received before that answer.
type firstUse struct {
	canType, respond time.Duration
	bytes            int64
}

// plainPage writes a plain HTML page of the same form: the password step's section of
// web/index.html as it is, shown, with the page's style sheet and a few lines of
// script that tick the rules as the person types. It is the yardstick for the page.
func plainPage(b *testing.B, root, dir string) {
	b.Helper()
	index, err := os.ReadFile(filepath.Join(root, "web", "index.html"))
	if err != nil {
		b.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)<section id="step-password".*?</section>`).Find(index)
	if section == nil {
		b.Fatal("web/index.html: no <section id=\"step-password\">")
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
<title>Aktivér din MitID chip – MitID</title>
<link rel="stylesheet" href="style.css">
<script src="plain.js" defer></script>
</head>
<body>
<main class="wrap">
<h1>Aktivér din MitID chip</h1>
` + string(section) + `
</main>
</body>
</html>
`,
		"style.css": string(css),
		"plain.js": `const pw = document.getElementById('password');
const rules = document.querySelectorAll('#password-rules li');
// What was typed before this script arrived is judged as soon as it is here.
const judge = () => {
  const v = pw.value;
  const broken = new Set();
  if (v.length < 8) broken.add('too_short');
  if (v.length > 64) broken.add('too_long');
  if (/[0-9]{10}/.test(v)) broken.add('ten_digits');
  if (/password|adgangskode/i.test(v)) broken.add('forbidden_word');
  for (const li of rules) li.dataset.state = li.dataset.reasons.split(' ').some((r) => broken.has(r)) ? 'unmet' : 'met';
};
pw.addEventListener('input', judge);
if (pw.value !== '') judge();
`,
	})
}

// reportFirstUse prints, for each profile, the page's times until the person can type
// and until the rules respond, and its bytes before that, against the plain page, in
// one browser with its HTTP cache off, loading the two pages alternately.
//
// Each profile gets a server of its own, so that its redemptions stay under the limit
// per client address (decision 21) whatever -pageloads is.
func reportFirstUse(b *testing.B, out io.Writer, root, assets string) map[string][2]firstUse {
	b.Helper()
	plainDir := filepath.Join(b.TempDir(), "plain")
	plainPage(b, root, plainDir)
	plain := httptest.NewServer(http.FileServer(http.Dir(plainDir)))
	defer plain.Close()

	br := harness.New(b, harness.Timeout(firstUseTimeout))
	ctx := br.Context()
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		b.Fatalf("turn the HTTP cache off: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probe}); err != nil {
		b.Fatalf("probe the pages: %v", err)
	}
	fmt.Fprintf(out, "\nFirst use: %d cold loads of each page per profile, alternately, median. can-type = navigation start\n", *pageLoads)
	fmt.Fprintf(out, "to the password field shown and editable; rules-respond = the first character's input event to a rule\n")
	fmt.Fprintf(out, "leaving \"pending\" (typed as soon as the field takes it); bytes-before-interaction = transferSize of\n")
	fmt.Fprintf(out, "every response complete when the rules respond. plain-page = the same form as plain HTML with a\n")
	fmt.Fprintf(out, "few lines of script. phone = %s\n", describe(profiles[1]))
	res := map[string][2]firstUse{}
	for _, p := range profiles {
		throttle(b, br, p)
		pageSrv := scenario.Start(b, scenario.Assets(assets))
		var mine, theirs []firstUse
		for range *pageLoads {
			theirs = append(theirs, useOnce(b, br, plain.URL+"/"))
			mine = append(mine, useOnce(b, br, pageSrv.NewLink(b, freshPerson("bench-first-"), "")))
		}
		m, t := medianUse(mine), medianUse(theirs)
		res[p.name] = [2]firstUse{m, t}
		line(out, "can-type/"+p.name, msf(m.canType), "ms", msf(m.canType)/msf(t.canType), "plain-page")
		line(out, "rules-respond/"+p.name, msf(m.respond), "ms", msf(m.respond)/msf(t.respond), "plain-page")
		line(out, "bytes-before-interaction/"+p.name, float64(m.bytes), "B", float64(m.bytes)/float64(t.bytes), "plain-page")
	}
	throttle(b, br, profiles[0])
	return res
}

func describe(p profile) string {
	return fmt.Sprintf("latency %.0f ms, %.0f kbit/s down, %.0f kbit/s up, CPU x%.0f", p.latencyMs, p.downBps*8/1000, p.upBps*8/1000, p.cpuRate)
}

// throttle slows the tab's network and CPU down as the profile says.
func throttle(b *testing.B, br *harness.Browser, p profile) {
	b.Helper()
	ctx := br.Context()
	cond := &network.Conditions{Latency: p.latencyMs, DownloadThroughput: -1, UploadThroughput: -1}
	if p.downBps > 0 {
		cond.DownloadThroughput, cond.UploadThroughput = p.downBps, p.upBps
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{cond},
	}); err != nil {
		b.Fatalf("throttle the network (%s): %v", p.name, err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: p.cpuRate}); err != nil {
		b.Fatalf("throttle the CPU (%s): %v", p.name, err)
	}
}

// useOnce loads url from a blank tab without waiting for its load event (which the
// module's download holds back), types one character as soon as the field takes it,
// and waits for the rules to answer.
func useOnce(b *testing.B, br *harness.Browser, url string) firstUse {
	b.Helper()
	ctx := br.Context()
	br.Navigate("about:blank")
	if _, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url}); err != nil {
		b.Fatalf("navigate to %s: %v", url, err)
	}
	br.Logf("bench: loading %s", url)
	br.WaitJS(probeJS + "?.canType !== undefined")
	br.Logf("bench: can type")
	harness.Eval[bool](br, "(document.getElementById('password').focus(), true)")
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: "K"}); err != nil {
		b.Fatalf("type into %s: %v", url, err)
	}
	br.Logf("bench: typed")
	br.WaitJS(probeJS + "?.rules !== undefined")
	t := harness.Eval[pageTimes](br, probeJS)
	n := harness.Eval[float64](br, bytesUntil+"("+fmt.Sprint(t.Rules)+")")
	return firstUse{canType: msd(t.CanType), respond: msd(t.Rules - t.Typed), bytes: int64(n)}
}

func medianUse(us []firstUse) firstUse {
	var c, r []time.Duration
	var n []int64
	for _, u := range us {
		c, r, n = append(c, u.canType), append(r, u.respond), append(n, u.bytes)
	}
	return firstUse{canType: median(c), respond: median(r), bytes: medianInt(n)}
}

func msd(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
