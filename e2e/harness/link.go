package harness

import (
	"github.com/chromedp/cdproto/bluetoothemulation"
)

// Fault is what a chip link does with one whole request frame, so tests can walk
// every error a user can meet.
type Fault int

const (
	// Answer: the chip answers, as it should.
	Answer Fault = iota
	// Silent: the chip takes the request and never answers.
	Silent
	// Lost: the link drops before the answer. Bluetooth disconnects right after
	// the last request chunk is acknowledged; an NFC write fails with a
	// NetworkError, as when the tag leaves the field mid-write.
	Lost
	// Corrupt: the answer arrives with its last byte flipped, so it fails its
	// checksum.
	Corrupt
)

func (f Fault) String() string {
	switch f {
	case Answer:
		return "answer"
	case Silent:
		return "silent"
	case Lost:
		return "lost"
	case Corrupt:
		return "corrupt"
	}
	return "fault(?)"
}

// Adapter states for the emulated Bluetooth adapter.
const (
	AdapterOn     = bluetoothemulation.CentralStatePoweredOn
	AdapterOff    = bluetoothemulation.CentralStatePoweredOff
	AdapterAbsent = bluetoothemulation.CentralStateAbsent
)

// LinkOption configures EmulateChip or EmulateNFC. An option that does not concern
// a transport is ignored by it.
type LinkOption func(*linkConfig)

type linkConfig struct {
	faults        func(request []byte) Fault
	adapter       bluetoothemulation.CentralState
	cancelChooser bool
	tagAway       bool
	notAChip      bool
}

func newLinkConfig(opts []LinkOption) linkConfig {
	c := linkConfig{adapter: AdapterOn, faults: func([]byte) Fault { return Answer }}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Faults decides, for each whole request frame the chip receives, what the link
// does with it. The function runs on a harness goroutine; it must not call
// t.Fatal. Without it every request is answered.
func Faults(f func(request []byte) Fault) LinkOption {
	return func(c *linkConfig) { c.faults = f }
}

// FaultAt applies fault to the n-th request (1-based) and answers the others.
func FaultAt(n int, fault Fault) LinkOption {
	seen := 0
	return Faults(func([]byte) Fault {
		seen++ // requests arrive one at a time, from one goroutine
		if seen == n {
			return fault
		}
		return Answer
	})
}

// WithAdapter sets the Bluetooth adapter's state (default AdapterOn). Note that
// Chromium's getAvailability() reports whether an adapter is present, so it is true
// for AdapterOff; requestDevice then rejects with NotFoundError, as the person
// closes a chooser that says Bluetooth is off. AdapterAbsent makes
// getAvailability() false and requestDevice reject at once.
func WithAdapter(state bluetoothemulation.CentralState) LinkOption {
	return func(c *linkConfig) { c.adapter = state }
}

// CancelChooser makes the person close Chromium's device chooser without picking
// the chip: requestDevice rejects with NotFoundError.
func CancelChooser() LinkOption { return func(c *linkConfig) { c.cancelChooser = true } }

// NotAChip makes the Bluetooth device one that the chooser lists for the chip's
// service but that lacks it when the page connects (a battery service instead): a
// device that is not a MitID chip.
func NotAChip() LinkOption { return func(c *linkConfig) { c.notAChip = true } }

// TagAway starts with the NFC chip away from the phone: writes wait until
// (*Tag).Hold.
func TagAway() LinkOption { return func(c *linkConfig) { c.tagAway = true } }
