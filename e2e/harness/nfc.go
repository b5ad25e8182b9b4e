package harness

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
)

//go:embed nfc_fake.js
var nfcFake string

// The binding the fake reports through, and the controller it exposes to Go;
// both are spelled the same in nfc_fake.js.
const (
	nfcBinding    = "__mitidchipHarnessNFC"
	nfcController = `globalThis[Symbol.for("mitidchip.e2e.harness.nfc")]`
)

// TagSerialNumber is the serialNumber of every reading event: the NFC UID of the
// chip, not its printed serial.
const TagSerialNumber = "04:4d:49:54:49:44:01"

// Tag is a virtual chip behind the fake Web NFC: the page writes a request record
// to it, and it answers with a reading event carrying the response record.
type Tag struct {
	b   *Browser
	vc  *virtual.Chip
	cfg linkConfig

	work chan func() // the tag's state is touched only by the worker goroutine

	// the worker's state
	present bool
	waiting []nfcCall // writes made while the tag was away
	reply   []byte    // a response no reader has seen yet

	mu       sync.Mutex
	requests [][]byte
}

// nfcCall is one report of the fake. Data is base64 in JSON, as []byte is.
type nfcCall struct {
	Op      string      `json:"op"`
	ID      int         `json:"id"`
	Records []nfcRecord `json:"records"`

	// context is the document that made the call: write ids count from 1 in each
	// document, so a write is settled only in its own.
	context runtime.ExecutionContextID
}

type nfcRecord struct {
	RecordType string `json:"recordType"`
	MediaType  string `json:"mediaType,omitempty"`
	ID         string `json:"id,omitempty"`
	Data       []byte `json:"data"`
}

// EmulateNFC gives the page a fake Web NFC (NDEFReader and friends) whose tag is
// vc, held to the phone unless TagAway is given. Call it before Navigate: the fake
// is injected into each new document before the page's scripts run. Without it the
// page sees desktop Chromium's truth: no NDEFReader.
func (b *Browser) EmulateNFC(vc *virtual.Chip, opts ...LinkOption) *Tag {
	b.t.Helper()
	b.mu.Lock()
	again := b.nfc
	b.nfc = true
	b.mu.Unlock()
	if again {
		b.t.Fatal("harness: EmulateNFC called twice; one tag per browser")
	}
	tag := &Tag{b: b, vc: vc, cfg: newLinkConfig(opts), work: make(chan func())}
	tag.present = !tag.cfg.tagAway

	calls := chromedp.Events(b.bg, runtime.BindingCalled)
	if _, err := chromedp.Call(b.ctx, runtime.AddBinding, runtime.AddBindingParams{Name: nfcBinding}); err != nil {
		b.t.Fatalf("harness: NFC fake binding: %v", err)
	}
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: nfcFake}); err != nil {
		b.t.Fatalf("harness: inject NFC fake: %v", err)
	}
	b.wg.Go(func() {
		for {
			select {
			case f := <-tag.work:
				f()
			case <-b.bg.Done():
				return
			}
		}
	})
	b.background("nfc", func(ctx context.Context) error {
		for ev, err := range calls {
			if err != nil {
				return err
			}
			if ev.Name != nfcBinding {
				continue
			}
			var call nfcCall
			if err := json.Unmarshal([]byte(ev.Payload), &call); err != nil {
				return fmt.Errorf("report from the NFC fake %q: %w", ev.Payload, err)
			}
			call.context = ev.ExecutionContextID
			if !tag.do(ctx, func() { tag.onCall(ctx, call) }) {
				return nil
			}
		}
		return nil
	})
	return tag
}

// do runs f on the worker; false when the test ended first.
func (tag *Tag) do(ctx context.Context, f func()) bool {
	select {
	case tag.work <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

// doWait runs f on the worker and waits for it, failing the test at the deadline.
func (tag *Tag) doWait(what string, f func()) {
	tag.b.t.Helper()
	done := make(chan struct{})
	if !tag.do(tag.b.ctx, func() { f(); close(done) }) {
		tag.b.t.Fatalf("harness: NFC %s: %v", what, tag.b.ctx.Err())
	}
	select {
	case <-done:
	case <-tag.b.ctx.Done():
		tag.b.t.Fatalf("harness: NFC %s: %v", what, tag.b.ctx.Err())
	}
}

func (tag *Tag) onCall(ctx context.Context, call nfcCall) {
	tag.b.trace.add("nfc: page %s %d (%d records)", call.Op, call.ID, len(call.Records))
	switch call.Op {
	case "write":
		if !tag.present {
			tag.waiting = append(tag.waiting, call)
			return
		}
		tag.write(ctx, call)
	case "scan":
		tag.offerReply(ctx)
	}
	// "abort" needs nothing: the fake no longer lists an aborted write as pending,
	// and "scanstop" is the fake's own business.
}

// write is the tag taking one write while in the field.
func (tag *Tag) write(ctx context.Context, call nfcCall) {
	records := make([]chip.NDEFRecord, len(call.Records))
	for i, r := range call.Records {
		records[i] = chip.NDEFRecord{Type: r.RecordType, Data: r.Data}
	}
	if !tag.settle(ctx, call, "pending(%d)", call.ID) {
		tag.b.trace.add("nfc: write %d was aborted before the tag took it", call.ID)
		return
	}
	frame, frameErr := chip.FromNDEF(records)
	fault := Answer
	if frameErr == nil {
		fault = tag.cfg.faults(frame)
	}
	if fault == Lost {
		tag.b.trace.add("nfc: tag removed during write %d", call.ID)
		tag.present = false
		tag.settle(ctx, call, "fail(%d, %q, %q)", call.ID, "NetworkError", "The NFC tag was removed during the write.")
		return
	}
	if !tag.settle(ctx, call, "complete(%d)", call.ID) {
		tag.b.trace.add("nfc: write %d was aborted as the tag took it", call.ID)
		return
	}
	if frameErr != nil {
		tag.b.trace.add("nfc: written message holds no chip frame (%v); the chip ignores it", frameErr)
		return
	}
	tag.mu.Lock()
	tag.requests = append(tag.requests, frame)
	tag.mu.Unlock()
	tag.b.trace.add("nfc: request of %d bytes, %s", len(frame), fault)
	if fault == Silent {
		return
	}
	tag.b.wg.Go(func() {
		resp, err := tag.vc.Handle(ctx, frame)
		if err != nil {
			if ctx.Err() == nil {
				tag.b.fail(fmt.Errorf("nfc: virtual chip: %w", err))
			}
			return
		}
		if fault == Corrupt {
			resp[len(resp)-1] ^= 0xFF
		}
		tag.do(ctx, func() {
			tag.reply = resp
			tag.offerReply(ctx)
		})
	})
}

// offerReply shows the chip's answer to the scanning readers, if there are any and
// the tag is in the field; otherwise it waits for the next scan or Hold.
func (tag *Tag) offerReply(ctx context.Context) {
	if tag.reply == nil || !tag.present {
		return
	}
	rec := chip.ToNDEF(tag.reply)
	records, _ := json.Marshal([]nfcRecord{{RecordType: rec.Type, Data: rec.Data}})
	serial, _ := json.Marshal(TagSerialNumber)
	n, err := evalController[int](ctx, fmt.Sprintf("deliver(%s, %s)", serial, records))
	if err != nil {
		tag.b.trace.add("nfc: reading not delivered: %v", err)
		return
	}
	if n > 0 {
		tag.b.trace.add("nfc: reading of %d bytes to %d reader(s)", len(tag.reply), n)
		tag.reply = nil
	}
}

// settle calls the fake's pending, complete or fail for a write; false when the
// write is no longer pending (aborted, or the page went away).
func (tag *Tag) settle(ctx context.Context, call nfcCall, format string, args ...any) bool {
	method := fmt.Sprintf(format, args...)
	ok, err := evalController[bool](ctx, method, func(p *runtime.EvaluateParams) { p.ContextID = call.context })
	if err != nil {
		tag.b.trace.add("nfc: %s: %v", method, err)
		return false
	}
	return ok
}

// Hold brings the chip to the phone: writes made while it was away are taken,
// and a waiting answer is read.
func (tag *Tag) Hold() {
	tag.b.t.Helper()
	tag.doWait("hold", func() {
		tag.b.trace.add("nfc: tag held to the phone")
		tag.present = true
		waiting := tag.waiting
		tag.waiting = nil
		for _, call := range waiting {
			tag.write(tag.b.bg, call)
		}
		tag.offerReply(tag.b.bg)
	})
}

// Remove takes the chip away from the phone. A write made while it is away waits
// for Hold, as does an answer the chip has not shown yet.
func (tag *Tag) Remove() {
	tag.b.t.Helper()
	tag.doWait("remove", func() {
		tag.b.trace.add("nfc: tag removed")
		tag.present = false
	})
}

// ReadingError fires readingerror at every scanning reader, as when a tag is read
// badly, and returns how many readers got it.
func (tag *Tag) ReadingError() int {
	tag.b.t.Helper()
	var n int
	var err error
	tag.doWait("reading error", func() {
		n, err = evalController[int](tag.b.ctx, "readingError()")
	})
	if err != nil {
		tag.b.t.Fatalf("harness: NFC reading error: %v", err)
	}
	return n
}

// SwitchNFC switches the phone's NFC off or on: while it is off, scan() rejects with
// NotReadableError, as Chrome on Android does. It lasts until the page is reloaded.
func (tag *Tag) SwitchNFC(on bool) {
	tag.b.t.Helper()
	name := "NotReadableError"
	if on {
		name = ""
	}
	if _, err := evalController[bool](tag.b.ctx, "refuseScans("+strconv.Quote(name)+")"); err != nil {
		tag.b.t.Fatalf("harness: switch NFC on %v: %v", on, err)
	}
}

// WaitScanning waits until the page has at least one scan() in progress.
func (tag *Tag) WaitScanning() {
	tag.b.t.Helper()
	tag.b.until("a scanning NDEFReader", func() (bool, error) {
		n, err := evalController[int](tag.b.ctx, "scanning()")
		return n > 0, err
	})
}

// Requests returns the request frames the chip has received, in order: a write
// that was aborted or failed did not reach it.
func (tag *Tag) Requests() [][]byte {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	return append([][]byte(nil), tag.requests...)
}

var errNoFake = errors.New("the page has no NFC fake (was EmulateNFC called before Navigate?)")

func evalController[T any](ctx context.Context, method string, opts ...chromedp.EvaluateOption) (T, error) {
	expr := "(() => { const c = " + nfcController + "; return c ? c." + method + " : undefined; })()"
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if errors.Is(err, chromedp.ErrJSUndefined) {
		return v, errNoFake
	}
	return v, err
}
