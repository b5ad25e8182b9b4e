package ble

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

// fakePort is the chip's GATT side: it reassembles written chunks and, once a whole
// request frame has arrived, hands it to onRequest, which may notify the link.
type fakePort struct {
	link      *Link
	onRequest func(req []byte)
	writeErr  error

	mu       sync.Mutex
	re       chip.Reassembler
	inFlight int // requests written but not yet answered
	maxInFly int
	chunks   int
	deadline time.Time // of the last Write's context; zero when it had none
}

func (p *fakePort) Write(ctx context.Context, chunk []byte) error {
	if p.writeErr != nil {
		return p.writeErr
	}
	p.mu.Lock()
	p.deadline, _ = ctx.Deadline()
	p.chunks++
	req, err := p.re.Add(chunk)
	if req != nil {
		p.inFlight++
		p.maxInFly = max(p.maxInFly, p.inFlight)
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("fake chip: %w", err)
	}
	if req != nil && p.onRequest != nil {
		p.onRequest(req)
	}
	return nil
}

func (p *fakePort) answered() {
	p.mu.Lock()
	p.inFlight--
	p.mu.Unlock()
}

func newLink(t *testing.T, onRequest func(l *Link, p *fakePort, req []byte), opts ...Option) (*Link, *fakePort) {
	t.Helper()
	p := &fakePort{}
	l := New(p, opts...)
	p.link = l
	if onRequest != nil {
		p.onRequest = func(req []byte) { onRequest(l, p, req) }
	}
	return l, p
}

func frame(t testing.TB, typ chip.Type, id uint16, payloadLen int) []byte {
	t.Helper()
	payload := make([]byte, payloadLen)
	for i := range payload {
		payload[i] = byte(i*13 + 1)
	}
	b, err := chip.Frame{Type: typ, RequestID: id, Payload: payload}.Encode()
	if err != nil {
		t.Fatalf("encoding test frame: %v", err)
	}
	return b
}

func split(t testing.TB, b []byte) [][]byte {
	t.Helper()
	c, err := chip.Split(b)
	if err != nil {
		t.Fatalf("splitting test frame: %v", err)
	}
	return c
}

func idOf(req []byte) uint16 {
	id, _ := chip.PeekRequestID(req)
	return id
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		reqPayload int
		rspPayload int
	}{
		{"one chunk each way", 0, 0},
		{"multi-chunk response", 0, 700},
		{"multi-chunk request and response", 300, chip.MaxPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []byte
			l, p := newLink(t, func(l *Link, _ *fakePort, req []byte) {
				want = frame(t, chip.TypeHelloReply, idOf(req), tc.rspPayload)
				for _, c := range split(t, want) {
					l.Notify(c)
				}
			})
			req := frame(t, chip.TypeHello, 7, tc.reqPayload)
			got, err := l.RoundTrip(testCtx(t), req)
			if err != nil {
				t.Fatalf("expected a response, got error %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("expected the %d-byte response, got %d bytes", len(want), len(got))
			}
			if wantChunks := len(split(t, req)); p.chunks != wantChunks {
				t.Errorf("chunks written: expected %d, got %d", wantChunks, p.chunks)
			}
		})
	}
}

func TestRoundTripChunkErrors(t *testing.T) {
	tests := []struct {
		name   string
		notify func(rsp [][]byte) [][]byte // the notifications the chip sends
		want   error
	}{
		{"lost chunk", func(r [][]byte) [][]byte { return [][]byte{r[0], r[2]} }, chip.ErrChunkLost},
		{"first chunk lost", func(r [][]byte) [][]byte { return [][]byte{r[1]} }, chip.ErrChunkLost},
		{"duplicate chunk", func(r [][]byte) [][]byte { return [][]byte{r[0], r[0]} }, chip.ErrChunkDuplicate},
		{"unreadable notification", func(r [][]byte) [][]byte { return [][]byte{nil} }, chip.ErrChunkMalformed},
		{"oversized notification", func(r [][]byte) [][]byte { return [][]byte{make([]byte, 21)} }, chip.ErrChunkMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newLink(t, func(l *Link, _ *fakePort, req []byte) {
				for _, c := range tc.notify(split(t, frame(t, chip.TypeHelloReply, idOf(req), 100))) {
					l.Notify(c)
				}
			})
			_, err := l.RoundTrip(testCtx(t), frame(t, chip.TypeHello, 1, 0))
			if !errors.Is(err, tc.want) {
				t.Fatalf("expected %v, got %v", tc.want, err)
			}
		})
	}
}

// TestRoundTripGivesUp: the chip takes the request, answers in part or not at all,
// and the page gives up; the link reports the context's end.
func TestRoundTripGivesUp(t *testing.T) {
	tests := []struct {
		name   string
		notify func(l *Link, rsp [][]byte)
	}{
		{"no answer", func(*Link, [][]byte) {}},
		{"last chunk lost", func(l *Link, r [][]byte) {
			for _, c := range r[:len(r)-1] {
				l.Notify(c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			l, _ := newLink(t, func(l *Link, _ *fakePort, req []byte) {
				tc.notify(l, split(t, frame(t, chip.TypeHelloReply, idOf(req), 100)))
				cancel()
			})
			_, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 1, 0))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("expected context.Canceled, got %v", err)
			}
		})
	}
}

// TestRoundTripTimeout checks the deadline the port is given rather than waiting for
// one to pass: the link's own timeout when the caller set none, else the caller's.
func TestRoundTripTimeout(t *testing.T) {
	l, p := newLink(t, func(l *Link, _ *fakePort, req []byte) {
		for _, c := range split(t, frame(t, chip.TypeHelloReply, idOf(req), 0)) {
			l.Notify(c)
		}
	}, WithTimeout(time.Hour))
	from := time.Now()
	if _, err := l.RoundTrip(context.Background(), frame(t, chip.TypeHello, 1, 0)); err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	if d, lo, hi := p.deadline, from.Add(time.Hour), time.Now().Add(time.Hour); d.Before(lo) || d.After(hi) {
		t.Errorf("no deadline of the caller's: expected the link's own, between %v and %v, got %v", lo, hi, d)
	}

	callers := time.Now().Add(2 * time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), callers)
	defer cancel()
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 2, 0)); err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	if !p.deadline.Equal(callers) {
		t.Errorf("the caller's deadline: expected %v, got %v", callers, p.deadline)
	}
}

func TestRoundTripDisconnect(t *testing.T) {
	answer := true
	l, _ := newLink(t, func(l *Link, _ *fakePort, req []byte) {
		if !answer {
			l.Notify(split(t, frame(t, chip.TypeHelloReply, idOf(req), 100))[0])
			go l.Disconnected() // as the gattserverdisconnected event would, later
			return
		}
		for _, c := range split(t, frame(t, chip.TypeHelloReply, idOf(req), 100)) {
			l.Notify(c)
		}
	})
	ctx := testCtx(t)
	answer = false
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 1, 0)); !errors.Is(err, chip.ErrDisconnected) {
		t.Fatalf("mid-exchange: expected chip.ErrDisconnected, got %v", err)
	}
	answer = true
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 2, 0)); !errors.Is(err, chip.ErrDisconnected) {
		t.Fatalf("after the drop: expected chip.ErrDisconnected, got %v", err)
	}
	l.Reconnected()
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 3, 0)); err != nil {
		t.Fatalf("after reconnecting: expected a response, got %v", err)
	}
}

func TestRoundTripWriteFails(t *testing.T) {
	tests := []struct {
		name     string
		writeErr error
		want     []error
		notWant  error
	}{
		{"GATT server gone", &dom.Error{Name: "NetworkError", Message: "GATT Server is disconnected."},
			[]error{chip.ErrDisconnected, dom.ErrNetwork}, nil},
		{"not permitted", &dom.Error{Name: "NotSupportedError", Message: "GATT operation not permitted."},
			[]error{dom.ErrNotSupported}, chip.ErrDisconnected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, p := newLink(t, nil)
			p.writeErr = tc.writeErr
			_, err := l.RoundTrip(testCtx(t), frame(t, chip.TypeHello, 1, 0))
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("expected %v in the error, got %v", w, err)
				}
			}
			if tc.notWant != nil && errors.Is(err, tc.notWant) {
				t.Errorf("expected no %v in the error, got %v", tc.notWant, err)
			}
		})
	}
}

func TestRoundTripSerialized(t *testing.T) {
	l, p := newLink(t, func(l *Link, p *fakePort, req []byte) {
		rsp := split(t, frame(t, chip.TypeHelloReply, idOf(req), 40+int(idOf(req))))
		go func() { // answer later, as a real chip would
			p.answered()
			for _, c := range rsp {
				l.Notify(c)
			}
		}()
	})
	ctx := testCtx(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func(id uint16) {
			got, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, id, 0))
			switch {
			case err != nil:
				errs <- fmt.Errorf("request %d: %w", id, err)
			case idOf(got) != id || len(got) != 10+40+int(id):
				errs <- fmt.Errorf("request %d: expected its own answer, got id %d (%d bytes)", id, idOf(got), len(got))
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
	if p.maxInFly != 1 {
		t.Errorf("requests in flight at once: expected 1, got %d", p.maxInFly)
	}
}

func TestStaleAnswerDropped(t *testing.T) {
	first, giveUp := context.WithCancel(testCtx(t))
	defer giveUp()
	var late [][]byte
	l, _ := newLink(t, func(l *Link, _ *fakePort, req []byte) {
		if idOf(req) == 1 {
			late = split(t, frame(t, chip.TypeHelloReply, 1, 50)) // held back until the page gave up
			giveUp()
			return
		}
		for _, c := range late {
			l.Notify(c)
		}
		for _, c := range split(t, frame(t, chip.TypeHelloReply, idOf(req), 30)) {
			l.Notify(c)
		}
	})
	if _, err := l.RoundTrip(first, frame(t, chip.TypeHello, 1, 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("first request: expected context.Canceled, got %v", err)
	}
	got, err := l.RoundTrip(testCtx(t), frame(t, chip.TypeHello, 2, 0))
	if err != nil || idOf(got) != 2 {
		t.Fatalf("second request: expected the answer with id 2, got id %d, error %v", idOf(got), err)
	}
}

func TestNotifyWithoutRequest(t *testing.T) {
	l, _ := newLink(t, func(l *Link, _ *fakePort, req []byte) {
		for _, c := range split(t, frame(t, chip.TypeHelloReply, idOf(req), 30)) {
			l.Notify(c)
		}
	})
	// Half a frame nobody asked for must not poison the next exchange.
	l.Notify(split(t, frame(t, chip.TypeHelloReply, 9, 100))[0])
	l.Notify(nil)
	if _, err := l.RoundTrip(testCtx(t), frame(t, chip.TypeHello, 1, 0)); err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
}

func TestClose(t *testing.T) {
	l, _ := newLink(t, func(l *Link, _ *fakePort, _ []byte) { go l.Close() })
	ctx := testCtx(t)
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 1, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("pending: expected ErrClosed, got %v", err)
	}
	l.Reconnected()
	if _, err := l.RoundTrip(ctx, frame(t, chip.TypeHello, 2, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: expected ErrClosed, got %v", err)
	}
}

func TestRoundTripBadRequest(t *testing.T) {
	l, p := newLink(t, nil)
	for name, req := range map[string][]byte{"empty": nil, "too large": make([]byte, chip.MaxFrame+1)} {
		if _, err := l.RoundTrip(testCtx(t), req); err == nil {
			t.Errorf("%s request: expected an error, got none", name)
		}
	}
	if p.chunks != 0 {
		t.Errorf("chunks written for bad requests: expected 0, got %d", p.chunks)
	}
}

// FuzzNotify feeds arbitrary notifications to a pending request: the link must
// answer with an error or with a frame of the request's id, never hang or panic.
func FuzzNotify(f *testing.F) {
	for _, n := range []int{0, 30, 200} {
		var seed []byte
		for _, c := range split(f, frame(f, chip.TypeHelloReply, 1, n)) {
			seed = append(seed, byte(len(c)))
			seed = append(seed, c...)
		}
		f.Add(seed)
	}
	f.Add([]byte{3, 0, 1, 9, 3, 0, 1, 9})
	f.Fuzz(func(t *testing.T, in []byte) {
		l, _ := newLink(t, func(l *Link, _ *fakePort, _ []byte) {
			for rest := in; len(rest) > 0; {
				n := min(int(rest[0]), len(rest)-1)
				l.Notify(rest[1 : 1+n])
				rest = rest[1+n:]
			}
			l.Disconnected() // ends the wait if the notifications did not
		})
		got, err := l.RoundTrip(context.Background(), frame(t, chip.TypeHello, 1, 0))
		if err != nil {
			return
		}
		if id, ok := chip.PeekRequestID(got); (ok && id != 1) || len(got) > chip.MaxFrame {
			t.Fatalf("accepted a %d-byte frame with id %d for request 1", len(got), id)
		}
	})
}
