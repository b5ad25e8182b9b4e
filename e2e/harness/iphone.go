package harness

import (
	"fmt"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// IPhoneUserAgent is Safari on an iPhone; every iPhone browser has Apple's engine.
const IPhoneUserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"

// noChipAPIs removes Web NFC and Web Bluetooth before any page script runs, as an
// iPhone (or Firefox) has neither.
const noChipAPIs = `(() => {
	delete window.NDEFReader;
	delete window.NDEFReadingEvent;
	try { delete Navigator.prototype.bluetooth; } catch {}
	try { Object.defineProperty(navigator, 'bluetooth', { value: undefined, configurable: true }); } catch {}
})();`

// EmulateIPhone makes the browser look like an iPhone to the page: its user agent,
// and no Web NFC and no Web Bluetooth. Call it before the page loads.
func (b *Browser) EmulateIPhone() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: IPhoneUserAgent, Platform: "iPhone",
	}); err != nil {
		b.t.Fatal(fmt.Errorf("harness: iPhone user agent: %w", err))
	}
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: noChipAPIs}); err != nil {
		b.t.Fatal(fmt.Errorf("harness: remove Web NFC and Web Bluetooth: %w", err))
	}
	b.Logf("emulating an iPhone: no Web NFC, no Web Bluetooth")
}
