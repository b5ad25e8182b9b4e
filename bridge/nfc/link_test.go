package nfc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mitidchip/bridge/dom"
	"mitidchip/chip"
)

// fakeTag is a chip held to the phone: each Write is answered by the readings that
// onWrite returns, delivered to later Reads. With no readings left, Read waits for ctx.
type fakeTag struct {
	onWrite  func(req []byte) []fakeReading
	writeErr error

	mu       sync.Mutex
	readings []fakeReading
	writes   int
	inFlight int
	maxInFly int
	deadline time.Time // of the last Write's context; zero when it had none
}

type fakeReading struct {
	records []chip.NDEFRecord
	err     error
}

func (f *fakeTag) Write(ctx context.Context, rec chip.NDEFRecord) error {
	if f.writeErr != nil {
		return f.writeErr
	}
	if rec.Type != chip.NDEFRecordType {
		return fmt.Errorf("fake tag: expected record type %q, got %q", chip.NDEFRecordType, rec.Type)
	}
	f.mu.Lock()
	f.deadline, _ = ctx.Deadline()
	f.writes++
	f.inFlight++
	f.maxInFly = max(f.maxInFly, f.inFlight)
	f.readings = nil // Tag.Read only returns readings after the last Write
	f.mu.Unlock()
	var rs []fakeReading
	if f.onWrite != nil {
		rs = f.onWrite(rec.Data)
	}
	f.mu.Lock()
	f.readings = append(f.readings, rs...)
	f.mu.Unlock()
	return nil
}

func (f *fakeTag) Read(ctx context.Context) ([]chip.NDEFRecord, error) {
	f.mu.Lock()
	if len(f.readings) > 0 {
		r := f.readings[0]
		f.readings = f.readings[1:]
		if len(f.readings) == 0 {
			f.inFlight--
		}
		f.mu.Unlock()
		return r.records, r.err
	}
	f.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func frame(t testing.TB, typ chip.Type, id uint16, n int) []byte {
	t.Helper()
	b, err := chip.Frame{Type: typ, RequestID: id, Payload: bytes.Repeat([]byte{0x5a}, n)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func idOf(b []byte) uint16 { id, _ := chip.PeekRequestID(b); return id }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func records(recs ...chip.NDEFRecord) fakeReading { return fakeReading{records: recs} }

func TestRoundTrip(t *testing.T) {
	url := chip.NDEFRecord{Type: "U", Data: []byte("\x04mitid.dk")}
	tests := []struct {
		name     string
		readings func(t *testing.T, req []byte) []fakeReading
	}{
		{"answer at once", func(t *testing.T, req []byte) []fakeReading {
			return []fakeReading{records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), 500)))}
		}},
		{"answer beside a URL record", func(t *testing.T, req []byte) []fakeReading {
			return []fakeReading{records(url, chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), 500)))}
		}},
		{"readings without a frame skipped", func(t *testing.T, req []byte) []fakeReading {
			return []fakeReading{records(url), records(), records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), 500)))}
		}},
		{"own request read back skipped", func(t *testing.T, req []byte) []fakeReading {
			return []fakeReading{records(chip.ToNDEF(req)), records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), 500)))}
		}},
		{"stale answer skipped", func(t *testing.T, req []byte) []fakeReading {
			return []fakeReading{records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req)-1, 3))), records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), 500)))}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag := &fakeTag{onWrite: func(req []byte) []fakeReading { return tc.readings(t, req) }}
			l := New(tag)
			got, err := l.RoundTrip(testCtx(t), frame(t, chip.TypeHello, 9, 0))
			if err != nil {
				t.Fatalf("expected a response, got %v", err)
			}
			if want := frame(t, chip.TypeHelloReply, 9, 500); !bytes.Equal(got, want) {
				t.Errorf("expected the %d-byte answer, got % x", len(want), got)
			}
		})
	}
}

func TestRoundTripFails(t *testing.T) {
	tests := []struct {
		name     string
		writeErr error
		readings []fakeReading
		giveUp   bool // the page gives up once the request is written
		want     []error
	}{
		{name: "tag taken away", writeErr: &dom.Error{Name: "NetworkError", Message: "Failed to write due to an IO error."},
			want: []error{chip.ErrDisconnected, dom.ErrNetwork}},
		{name: "write aborted", writeErr: &dom.Error{Name: "AbortError"}, want: []error{chip.ErrDisconnected}},
		{name: "permission refused", writeErr: &dom.Error{Name: "NotAllowedError"}, want: []error{dom.ErrNotAllowed}},
		{name: "fakeReading error", readings: []fakeReading{{err: ErrRead}}, want: []error{ErrRead}},
		{name: "two frame records", readings: []fakeReading{records(chip.ToNDEF([]byte{1}), chip.ToNDEF([]byte{2}))}, want: []error{chip.ErrNDEFManyFrame}},
		{name: "oversized record", readings: []fakeReading{records(chip.ToNDEF(make([]byte, chip.MaxFrame+1)))}, want: []error{chip.ErrOversized}},
		{name: "no answer", readings: nil, giveUp: true, want: []error{context.Canceled}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			tag := &fakeTag{writeErr: tc.writeErr, onWrite: func([]byte) []fakeReading {
				if tc.giveUp {
					cancel()
				}
				return tc.readings
			}}
			_, err := New(tag).RoundTrip(ctx, frame(t, chip.TypeHello, 1, 0))
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("expected %v in %v", w, err)
				}
			}
		})
	}
}

// TestRoundTripTimeout checks the deadline the tag is given rather than waiting for
// one to pass: the link's own timeout when the caller set none, else the caller's.
func TestRoundTripTimeout(t *testing.T) {
	tag := &fakeTag{onWrite: func(req []byte) []fakeReading {
		return []fakeReading{records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), 0)))}
	}}
	l := New(tag, WithTimeout(time.Hour))
	from := time.Now()
	if _, err := l.RoundTrip(context.Background(), frame(t, chip.TypeHello, 1, 0)); err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	if d, lo, hi := tag.deadline, from.Add(time.Hour), time.Now().Add(time.Hour); d.Before(lo) || d.After(hi) {
		t.Errorf("no deadline of the caller's: expected the link's own, between %v and %v, got %v", lo, hi, d)
	}

	callers := time.Now().Add(2 * time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), callers)
	defer cancel()
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 2, 0)); err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	if !tag.deadline.Equal(callers) {
		t.Errorf("the caller's deadline: expected %v, got %v", callers, tag.deadline)
	}
}

func TestRoundTripBadRequest(t *testing.T) {
	tag := &fakeTag{}
	l := New(tag)
	for name, req := range map[string][]byte{"empty": nil, "too large": make([]byte, chip.MaxFrame+1)} {
		if _, err := l.RoundTrip(testCtx(t), req); err == nil {
			t.Errorf("%s request: expected an error, got none", name)
		}
	}
	if tag.writes != 0 {
		t.Errorf("writes for bad requests: expected 0, got %d", tag.writes)
	}
}

func TestRoundTripSerialized(t *testing.T) {
	tag := &fakeTag{}
	tag.onWrite = func(req []byte) []fakeReading {
		return []fakeReading{records(chip.ToNDEF(frame(t, chip.TypeHelloReply, idOf(req), int(idOf(req)))))}
	}
	l := New(tag)
	ctx := testCtx(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func(id uint16) {
			got, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, id, 0))
			switch {
			case err != nil:
				errs <- fmt.Errorf("request %d: %w", id, err)
			case idOf(got) != id:
				errs <- fmt.Errorf("request %d: expected its own answer, got id %d", id, idOf(got))
			default:
				errs <- nil
			}
		}(uint16(i + 1))
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if tag.maxInFly != 1 {
		t.Errorf("requests in flight at once: expected 1, got %d", tag.maxInFly)
	}
}

// FuzzRoundTrip feeds an arbitrary record as the chip's fakeReading: the link must
// return an error or a frame of the request's id, never hang or panic.
func FuzzRoundTrip(f *testing.F) {
	f.Add(chip.NDEFRecordType, frame(f, chip.TypeHelloReply, 1, 40))
	f.Add(chip.NDEFRecordType, []byte{1, 0x81, 0, 2})
	f.Add("U", []byte("\x04mitid.dk"))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		tag := &fakeTag{onWrite: func([]byte) []fakeReading {
			return []fakeReading{records(chip.NDEFRecord{Type: typ, Data: data}), {err: ErrRead}}
		}}
		got, err := New(tag).RoundTrip(context.Background(), frame(t, chip.TypeHello, 1, 0))
		if err != nil {
			return
		}
		if id, ok := chip.PeekRequestID(got); (ok && id != 1) || len(got) > chip.MaxFrame {
			t.Fatalf("accepted a %d-byte frame with id %d for request 1", len(got), id)
		}
	})
}
