package bridge

import (
	"context"
	"testing"
	"time"
)

func TestWithTimeout(t *testing.T) {
	far := time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		deadline time.Time // zero: ctx has none
		d        time.Duration
		wantMax  time.Duration // the resulting deadline is at most this far away
		wantMin  time.Duration
	}{
		{name: "no deadline takes d", d: time.Second, wantMin: 0, wantMax: time.Second},
		{name: "no deadline and no d takes the default", d: 0, wantMin: DefaultTimeout - time.Minute/2, wantMax: DefaultTimeout},
		{name: "own deadline wins over d", deadline: far, d: time.Second, wantMin: 59 * time.Minute, wantMax: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := context.Background()
			if !tc.deadline.IsZero() {
				var cancel context.CancelFunc
				parent, cancel = context.WithDeadline(parent, tc.deadline)
				defer cancel()
			}
			ctx, cancel := WithTimeout(parent, tc.d)
			defer cancel()
			dl, ok := ctx.Deadline()
			if !ok {
				t.Fatal("expected a deadline, got none")
			}
			if left := time.Until(dl); left > tc.wantMax || left < tc.wantMin {
				t.Errorf("deadline in %v: expected within [%v, %v]", left, tc.wantMin, tc.wantMax)
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name     string
		req, rsp []byte
		want     bool
	}{
		{name: "same id", req: []byte{1, 1, 0x12, 0x34}, rsp: []byte{1, 0x81, 0x12, 0x34, 0, 0}, want: true},
		{name: "other id", req: []byte{1, 1, 0x12, 0x34}, rsp: []byte{1, 0x81, 0x12, 0x35}, want: false},
		{name: "short response is let through", req: []byte{1, 1, 0x12, 0x34}, rsp: []byte{1}, want: true},
		{name: "short request cannot be matched", req: []byte{1}, rsp: []byte{1, 0x81, 0x12, 0x35}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Answers(tc.req, tc.rsp); got != tc.want {
				t.Errorf("Answers(% x, % x): expected %v, got %v", tc.req, tc.rsp, tc.want, got)
			}
		})
	}
}
