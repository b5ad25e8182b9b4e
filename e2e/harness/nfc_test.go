package harness_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mitidchip/chip"
	"mitidchip/e2e/harness"
)

// The fake takes every kind of BufferSource the real write() does, and the page
// reads the chip's answer in a reading event.
func TestNFCHello(t *testing.T) {
	url := servePage(t)
	vc := newChip(t)
	b := harness.New(t)
	tag := b.EmulateNFC(vc)
	b.Navigate(url)

	// One browser for all kinds, so no subtests: a Browser belongs to its test's
	// goroutine.
	kinds := []string{"arraybuffer", "typedarray", "dataview"}
	for i, kind := range kinds {
		id := uint16(i + 1)
		hello := encode(t, chip.Frame{Type: chip.TypeHello, RequestID: id})
		r := harness.Eval[pageResult](b, "harnessPage.nfcSend("+jsBytes(hello)+", '"+kind+"')")
		checkHello(t, vc, decode(t, r, chip.TypeHelloReply, id))
		if r.Serial != harness.TagSerialNumber {
			t.Errorf("%s: reading serialNumber: expected %q, got %q", kind, harness.TagSerialNumber, r.Serial)
		}
		reqs := tag.Requests()
		if len(reqs) != i+1 || !bytes.Equal(reqs[i], hello) {
			t.Fatalf("%s: chip requests: expected %d, the last % x; got %d", kind, i+1, hello, len(reqs))
		}
	}

	t.Setenv("E2E_ARTIFACTS", t.TempDir())
	path, err := b.Screenshot("nfc hello")
	if err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "nfc_hello.png" || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: expected a PNG named nfc_hello.png, got %s starting % x", path, png[:min(8, len(png))])
	}
}

// Every NFC error a user can meet, on one page: the tag leaving mid-write, a bad
// read, a corrupt answer, an aborted write, and the chip arriving late.
func TestNFCFaults(t *testing.T) {
	url := servePage(t)
	vc := newChip(t)
	b := harness.New(t)
	faults := []harness.Fault{harness.Lost, harness.Corrupt, harness.Silent}
	tag := b.EmulateNFC(vc, harness.TagAway(), harness.Faults(func([]byte) harness.Fault {
		if len(faults) == 0 {
			return harness.Answer
		}
		f := faults[0]
		faults = faults[1:]
		return f
	}))
	b.Navigate(url)
	hello := encode(t, chip.Frame{Type: chip.TypeHello, RequestID: 7})
	send := "harnessPage.nfcSend(" + jsBytes(hello) + ", 'typedarray')"

	// An aborted write never reaches the chip.
	if got := harness.Eval[string](b, "harnessPage.nfcAbortedWrite("+jsBytes(hello)+")"); got != "AbortError" {
		t.Fatalf("aborted write: expected AbortError, got %s", got)
	}
	tag.Hold()
	if n := len(tag.Requests()); n != 0 {
		t.Fatalf("chip requests after an aborted write: expected 0, got %d", n)
	}

	// The tag leaves during the write (Lost).
	if r := harness.Eval[pageResult](b, send); r.Error != "NetworkError: The NFC tag was removed during the write." {
		t.Fatalf("tag removed during write: expected NetworkError, got %+v", r)
	}

	// Written while away, answered once held (Corrupt).
	answer := make(chan pageResult, 1)
	go func() {
		r, _ := harness.EvalErr[pageResult](b, send)
		answer <- r
	}()
	tag.WaitScanning()
	tag.Hold()
	if r := <-answer; !errors.Is(decodeErr(r), chip.ErrChecksum) {
		t.Fatalf("corrupt answer: expected %v, got %v (%+v)", chip.ErrChecksum, decodeErr(r), r)
	}

	// A bad read while the write waits for the tag (the chip then stays Silent).
	tag.Remove()
	go func() {
		r, _ := harness.EvalErr[pageResult](b, send)
		answer <- r
	}()
	tag.WaitScanning()
	if n := tag.ReadingError(); n != 1 {
		t.Fatalf("readingerror: expected 1 reader, got %d", n)
	}
	tag.Hold()
	if r := <-answer; r.Error != "NotReadableError: The chip could not be read." {
		t.Fatalf("reading error: expected NotReadableError, got %+v", r)
	}

	// And then it works.
	checkHello(t, vc, decode(t, harness.Eval[pageResult](b, send), chip.TypeHelloReply, 7))
	if n := len(tag.Requests()); n != 3 {
		t.Fatalf("chip requests: expected 3 (corrupt, silent, answered), got %d", n)
	}
}
