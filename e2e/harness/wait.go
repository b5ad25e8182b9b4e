package harness

import (
	"encoding/json"
	"time"

	"mitidchip/chip/virtual"
)

// pollEvery is how often Until and WaitJS look again. Each look is one cheap
// round trip, and nothing the tests wait for is faster than a frame.
const pollEvery = 20 * time.Millisecond

// Until calls cond until it returns true, and fails the test at the deadline,
// naming what it waited for. Prefer a wait on an event (WaitChip, the chip link's
// channels) when there is one.
func (b *Browser) Until(what string, cond func() bool) {
	b.t.Helper()
	b.until(what, func() (bool, error) { return cond(), nil })
}

// until is Until for a condition that can fail to be checked; the last such
// error is named when the deadline passes.
func (b *Browser) until(what string, cond func() (bool, error)) {
	b.t.Helper()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return
		}
		select {
		case <-b.ctx.Done():
			if err != nil {
				b.t.Fatalf("harness: waited for %s until the deadline (%v); last check: %v", what, b.ctx.Err(), err)
			}
			b.t.Fatalf("harness: waited for %s until the deadline: %v", what, b.ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitJS waits until the JavaScript expression is truthy in the page. Exceptions
// count as false, so the expression may touch things that do not exist yet.
func (b *Browser) WaitJS(expression string) {
	b.t.Helper()
	probe := "(() => { try { return !!(" + expression + "); } catch (e) { return false; } })()"
	b.until("JavaScript "+abbreviate(expression), func() (bool, error) {
		return EvalErr[bool](b, probe)
	})
}

// WaitText waits until the text of the first element matching the CSS selector
// contains text.
func (b *Browser) WaitText(selector, text string) {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	want, _ := json.Marshal(text)
	b.WaitJS("document.querySelector(" + string(sel) + ").textContent.includes(" + string(want) + ")")
}

// WaitChip waits until cond holds for the virtual chip, waking on each change of
// its display or button state rather than polling.
func (b *Browser) WaitChip(vc *virtual.Chip, what string, cond func(*virtual.Chip) bool) {
	b.t.Helper()
	for {
		changed := vc.Changed() // before cond, so no change is missed in between
		if cond(vc) {
			return
		}
		select {
		case <-changed:
		case <-b.ctx.Done():
			b.t.Fatalf("harness: waited for the chip to be %s until the deadline: %v", what, b.ctx.Err())
		}
	}
}
