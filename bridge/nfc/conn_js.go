//go:build js && wasm

package nfc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/hack-pad/safejs"

	"mitidchip/bridge/dom"
	"mitidchip/chip"
)

// maxRecords bounds how many records of one reading are looked at; a chip's answer
// has one, a tag that also carries a URL two.
const maxRecords = 16

// Available reports whether the browser has Web NFC (Chrome for Android). Whether
// NFC is switched on shows only when Open is tried (dom.ErrNotReadable).
func Available() bool {
	return dom.IsFunction(safejs.Global(), "NDEFReader")
}

// Conn is an NFC link on one NDEFReader that scans from Open until Close.
type Conn struct {
	link     *Link
	reader   safejs.Value
	scan     dom.AbortController
	drop     []func() // remove the reading and readingerror listeners
	readings chan reading
	closed   chan struct{}
	once     sync.Once

	mu    sync.Mutex
	write *dom.AbortController // the write in flight, aborted by Close
}

type reading struct {
	records []chip.NDEFRecord
	err     error
}

// Open starts scanning for the chip. It must run on a goroutine started by a click
// handler: the first scan asks for permission, which needs the click's user
// activation, so scan() is called before anything is awaited.
func Open(ctx context.Context, opts ...Option) (*Conn, error) {
	ctor, err := dom.Get(safejs.Global(), "NDEFReader")
	if err != nil || ctor.Type() != safejs.TypeFunction {
		return nil, fmt.Errorf("nfc: %w", &dom.Error{Name: "NotSupportedError", Message: "this browser has no Web NFC"})
	}
	reader, err := ctor.New()
	if err != nil {
		return nil, fmt.Errorf("nfc: new NDEFReader: %w", dom.FromCall(err))
	}
	scan, err := dom.NewAbortController()
	if err != nil {
		return nil, fmt.Errorf("nfc: %w", err)
	}
	c := &Conn{reader: reader, scan: scan, readings: make(chan reading, 8), closed: make(chan struct{})}
	c.link = New(tag{c}, opts...)
	listeners := []struct {
		event string
		fn    func(safejs.Value)
	}{
		{"reading", func(ev safejs.Value) { c.deliver(recordsOf(ev)) }},
		{"readingerror", func(safejs.Value) { c.deliver(reading{err: ErrRead}) }},
	}
	for _, l := range listeners {
		remove, err := dom.Listen(reader, l.event, l.fn)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("nfc: listening for %s: %w", l.event, err)
		}
		c.drop = append(c.drop, remove)
	}
	if _, err := dom.AwaitCall(ctx, reader, "scan", map[string]any{"signal": scan.Signal}); err != nil {
		c.Close()
		return nil, fmt.Errorf("nfc: starting to scan: %w", err)
	}
	return c, nil
}

// deliver hands a reading to Read without blocking the event listener; if nobody
// has collected the last few, the oldest goes, since only the newest can be an answer.
func (c *Conn) deliver(r reading) {
	for {
		select {
		case c.readings <- r:
			return
		default:
		}
		select {
		case <-c.readings:
		default:
		}
	}
}

// recordsOf copies the records of a reading event. Only frame records' data is
// copied; other records are kept by type so FromNDEF can skip them.
func recordsOf(ev safejs.Value) reading {
	list, err := dom.Get(ev, "message", "records")
	if err != nil {
		return reading{err: fmt.Errorf("nfc: reading without records: %w", err)}
	}
	n, err := list.Length()
	if err != nil {
		return reading{err: fmt.Errorf("nfc: reading records: %w", dom.FromCall(err))}
	}
	if n > maxRecords {
		return reading{err: errors.New("nfc: reading has " + strconv.Itoa(n) + " records, more than " + strconv.Itoa(maxRecords))}
	}
	recs := make([]chip.NDEFRecord, 0, n)
	for i := range n {
		rec, err := list.Index(i)
		if err != nil {
			return reading{err: fmt.Errorf("nfc: record %d: %w", i, dom.FromCall(err))}
		}
		typ, err := dom.Get(rec, "recordType")
		if err != nil || typ.Type() != safejs.TypeString {
			continue // not a record we can name, so not ours
		}
		r := chip.NDEFRecord{}
		if r.Type, err = typ.String(); err != nil || r.Type != chip.NDEFRecordType {
			recs = append(recs, r)
			continue
		}
		data, err := dom.Get(rec, "data")
		if err == nil && !data.IsNull() && !data.IsUndefined() {
			if r.Data, err = dom.Bytes(data, chip.MaxFrame); err != nil {
				return reading{err: fmt.Errorf("nfc: frame record: %w", err)}
			}
		}
		recs = append(recs, r)
	}
	return reading{records: recs}
}

// RoundTrip sends one request frame and returns the response frame (chip.Link).
func (c *Conn) RoundTrip(ctx context.Context, request []byte) ([]byte, error) {
	return c.link.RoundTrip(ctx, request)
}

// Close stops scanning, aborts a write in flight and removes the listeners.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		for _, d := range c.drop {
			d()
		}
		c.mu.Lock()
		w := c.write
		c.mu.Unlock()
		if w != nil {
			_ = w.Abort()
		}
		_ = c.scan.Abort()
	})
	return nil
}

// tag is the Tag over the Conn's NDEFReader.
type tag struct{ c *Conn }

func (t tag) Write(ctx context.Context, rec chip.NDEFRecord) error {
	c := t.c
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	// Readings from before this write cannot be its answer.
	for drained := false; !drained; {
		select {
		case <-c.readings:
		default:
			drained = true
		}
	}
	data, err := dom.Uint8Array(rec.Data)
	if err != nil {
		return err
	}
	ac, err := dom.NewAbortController()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.write = &ac
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.write = nil
		c.mu.Unlock()
	}()
	message := map[string]any{"records": []any{map[string]any{"recordType": rec.Type, "data": data}}}
	_, err = dom.AwaitCall(ctx, c.reader, "write", message, map[string]any{"signal": ac.Signal})
	if ctx.Err() != nil {
		_ = ac.Abort() // the chip was never held to the phone; stop waiting for it
	}
	if err != nil {
		select {
		case <-c.closed:
			return ErrClosed // the AbortError is ours, from Close
		default:
		}
	}
	return err
}

func (t tag) Read(ctx context.Context) ([]chip.NDEFRecord, error) {
	select {
	case r := <-t.c.readings:
		return r.records, r.err
	case <-t.c.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
