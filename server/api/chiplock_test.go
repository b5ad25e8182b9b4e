package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/server/activation"
	"mitidchip/server/api"
	"mitidchip/server/registry"
	"mitidchip/server/store"
)

// generous lifts the per-address limits, which these tests are not about.
// generous lifts the limits on addresses and on a person's handoffs, which these
// tests of the chip's own limits would otherwise meet first (one stranger, one
// address, many sessions).
func generous(c *setup) {
	c.API.HandoffPerMinute, c.API.CodesPerMinute, c.API.RequestsPerMinute = 1000, 1000, 10000
	c.Activation.HandoffsPerHour, c.Activation.OpenSessions = 1000, 1000
}

// errorOf decodes a refusal's body.
func errorOf(t testing.TB, r response) api.Error {
	t.Helper()
	var body struct {
		Error api.Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("expected an error body, got %d %q: %v", r.status, r.body, err)
	}
	return body.Error
}

// expectRetry checks that a refusal says when to try again: retry_after seconds (and
// the Retry-After header) from the server's now, and retry_at, both for until.
func expectRetry(t testing.TB, r response, e api.Error, now, until time.Time) {
	t.Helper()
	after := int((until.Sub(now) + time.Second - 1) / time.Second)
	if e.RetryAfter == nil || *e.RetryAfter != after || e.RetryAt != until.UTC().Format(time.RFC3339) {
		t.Errorf("%s: expected retry_after %d and retry_at %s, got %v and %q", e.Code, after, until.UTC().Format(time.RFC3339), e.RetryAfter, e.RetryAt)
	}
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(after) {
		t.Errorf("%s: expected header Retry-After %d, got %q", e.Code, after, got)
	}
}

func (f *fixture) chipRow(serial string) store.Chip {
	f.t.Helper()
	c, err := f.store.Chip(f.ctx, serial)
	if err != nil {
		f.t.Fatalf("chip %s: %v", serial, err)
	}
	return c
}

// lockChip sends wrong codes for vc from fresh sessions of person until the chip
// locks, and returns when the lock lifts.
func (f *fixture) lockChip(person string, vc *virtual.Chip, seed []byte) time.Time {
	f.t.Helper()
	for range activation.ChipLockAfter {
		cm := f.begin(person, vc).through("hello")
		for range activation.BlockAfter {
			res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(f.t, f, seed)})
			if e := errorOf(f.t, res); e.Code == "chip_locked" {
				c := f.chipRow(vc.Serial())
				expectRetry(f.t, res, e, f.clock.Now(), c.LockedUntil)
				return c.LockedUntil
			}
		}
	}
	f.t.Fatalf("chip %s: not locked after %d wrong codes", vc.Serial(), activation.ChipLockAfter*activation.BlockAfter)
	return time.Time{}
}

// TestChipLockRace: twenty sessions of one attacker on one chip each send one wrong
// code at the same moment. The lock is checked in the store's step that counts, so
// exactly ChipLockAfter codes count; every other request is refused with chip_locked,
// says when to try again, and changes nothing.
func TestChipLockRace(t *testing.T) {
	const sessions = 20
	f := newFixture(t, generous)
	m := f.chips[0]
	vc := f.virtualChip(m)
	cms := make([]*ceremony, sessions)
	for i := range cms {
		cms[i] = f.begin(fmt.Sprintf("attacker-%02d", i), vc).through("hello")
	}
	bad := wrongCode(t, f, m.Seed)
	before := f.snapshot()

	start := make(chan struct{})
	answers := make([]response, sessions)
	errs := make([]error, sessions)
	var wg sync.WaitGroup
	for i, cm := range cms {
		wg.Go(func() {
			<-start
			answers[i], errs[i] = cm.c.send(http.MethodPost, "/api/v1/chip/code", api.CodeRequest{Code: bad})
		})
	}
	close(start)
	wg.Wait()

	after := f.snapshot()
	oldSessions, newSessions := rows(t, before["activation_sessions"]), rows(t, after["activation_sessions"])
	until := t0.Add(activation.ChipFirstLock)
	counted, locking := 0, 0
	for i, cm := range cms {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		id := cm.state.ActivationID
		e := errorOf(t, answers[i])
		switch newSessions[id]["wrong_codes"] {
		case "1":
			counted++
			switch e.Code {
			case "code_wrong":
			case "chip_locked": // the code that locked it
				locking++
				expectRetry(t, answers[i], e, t0, until)
			default:
				t.Errorf("request %d, counted: expected code_wrong or chip_locked, got %d %s", i, answers[i].status, e.Code)
			}
		case "0":
			if answers[i].status != http.StatusForbidden || e.Code != "chip_locked" {
				t.Errorf("request %d, not counted: expected 403 chip_locked, got %d %s", i, answers[i].status, e.Code)
			}
			expectRetry(t, answers[i], e, t0, until)
			if fmt.Sprint(oldSessions[id]) != fmt.Sprint(newSessions[id]) {
				t.Errorf("request %d, refused: session changed\nfrom %v\nto   %v", i, oldSessions[id], newSessions[id])
			}
		default:
			t.Errorf("request %d: session has %s wrong codes", i, newSessions[id]["wrong_codes"])
		}
	}
	if counted != activation.ChipLockAfter || locking != 1 {
		t.Errorf("expected exactly %d codes counted, one of which locked the chip; got %d counted, %d locking", activation.ChipLockAfter, counted, locking)
	}
	c := f.chipRow(m.Serial)
	if c.FailedCodes != activation.ChipLockAfter || c.Locks != 1 || !c.LockedUntil.Equal(until) {
		t.Errorf("chip: expected %d wrong codes, lock 1 until %v; got %d, lock %d until %v", activation.ChipLockAfter, until, c.FailedCodes, c.Locks, c.LockedUntil)
	}
}

// TestChipLockLifts: a lock lifts by itself. While it holds, even the right code is
// refused, changes nothing and says when to try again; a second lock lasts twice as
// long; once it lifts the right code is accepted and everything is forgotten; and 400
// days after a lock the chip is not locked.
func TestChipLockLifts(t *testing.T) {
	f := newFixture(t, generous)
	m := f.chips[0]
	vc := f.virtualChip(m)

	until := f.lockChip("stranger", vc, m.Seed)
	if want := t0.Add(activation.ChipFirstLock); !until.Equal(want) {
		t.Fatalf("first lock: expected until %v, got %v", want, until)
	}
	f.clock.Advance(until.Sub(f.clock.Now()) - time.Second)
	cm := f.begin("holder", vc).through("hello")
	before := f.snapshot()
	res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()})
	expectRetry(t, res, res.expectError(t, http.StatusForbidden, "chip_locked"), f.clock.Now(), until)
	f.assertUnchanged(before)

	// The first lock lifts; the stranger locks the chip again, for twice as long.
	f.clock.Advance(time.Second)
	start := f.clock.Now()
	until = f.lockChip("stranger", vc, m.Seed)
	if want := start.Add(2 * activation.ChipFirstLock); !until.Equal(want) {
		t.Fatalf("second lock: expected until %v, got %v", want, until)
	}

	f.clock.Advance(until.Sub(f.clock.Now()))
	f.begin("holder", vc).through("code")
	if c := f.chipRow(m.Serial); c.FailedCodes != 0 || c.Locks != 0 || !c.LockedUntil.IsZero() {
		t.Errorf("after the right code: expected no wrong codes, no locks; got %d, %d, until %v", c.FailedCodes, c.Locks, c.LockedUntil)
	}

	// Lock it once more (in a new attempt window) and come back 400 days later.
	f.clock.Advance(activation.ChipAttemptWindow)
	f.lockChip("stranger", vc, m.Seed)
	f.clock.Advance(400 * 24 * time.Hour)
	f.begin("holder", vc).through("code")
}

// TestChipAttempts: at most ChipAttempts codes per chip are checked in its attempt
// window, whatever sessions send them; the next ones, right or wrong, are refused
// with too_many_codes, count toward nothing and say when to try again.
func TestChipAttempts(t *testing.T) {
	f := newFixture(t, generous)
	m := f.chips[0]
	vc := f.virtualChip(m)
	sent := 0
	for sent < activation.ChipAttempts-1 {
		cm := f.begin(fmt.Sprintf("guesser-%d", sent), vc).through("hello")
		for i := 0; i < activation.BlockAfter && sent < activation.ChipAttempts-1; i, sent = i+1, sent+1 {
			cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)})
		}
	}
	f.begin("holder", vc).through("code") // the tenth attempt: right, so nothing is locked

	end := t0.Add(activation.ChipAttemptWindow)
	f.clock.Advance(end.Sub(f.clock.Now()) - time.Second)
	cm := f.begin("guesser-late", vc).through("hello")
	before := f.snapshot()
	for _, code := range []string{wrongCode(t, f, m.Seed), cm.readCode()} {
		res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: code})
		expectRetry(t, res, res.expectError(t, http.StatusTooManyRequests, "too_many_codes"), f.clock.Now(), end)
		f.assertUnchanged(before)
	}

	f.clock.Advance(time.Second)
	e := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)}).expectError(t, http.StatusUnprocessableEntity, "code_wrong")
	if c := f.chipRow(m.Serial); c.FailedCodes != 1 || c.Attempts != 1 || e.RetryAfter != nil {
		t.Errorf("next window: expected 1 wrong code in 1 attempt and no retry_after, got %d in %d and %v", c.FailedCodes, c.Attempts, e.RetryAfter)
	}
}

// TestCodeForChipBoundSince: a session that presented a chip before someone else
// bound it cannot count wrong codes against the holder's chip.
func TestCodeForChipBoundSince(t *testing.T) {
	f := newFixture(t, nil)
	m := f.chips[0]
	vc := f.virtualChip(m)
	stranger := f.begin("stranger", vc).through("hello")
	f.activate("holder", vc)
	before := f.snapshot()
	stranger.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)}).expectError(t, http.StatusConflict, "chip_taken")
	f.assertUnchanged(before)
}

// skewed is a fixture whose server clock runs ahead of the fixture's (real) clock by
// what skew holds.
func skewed(t *testing.T, skew *atomic.Int64) *fixture {
	return newFixture(t, func(c *setup) {
		generous(c)
		real := c.Activation.Now
		now := func() time.Time { return real().Add(time.Duration(skew.Load())) }
		c.Activation.Now, c.API.Now = now, now
	})
}

// chipAt is m as a virtual chip whose clock runs ahead of the fixture's by ahead.
func (f *fixture) chipAt(m manufacturer.Chip, ahead time.Duration) *virtual.Chip {
	f.t.Helper()
	vc, err := virtual.New(m.Config(func() time.Time { return f.clock.Now().Add(ahead) }))
	if err != nil {
		f.t.Fatalf("virtual chip %s: %v", m.Serial, err)
	}
	return vc
}

// TestServerClockAhead: with the server's clock two minutes ahead, the chip's right
// codes are wrong, count, and lock the chip; the lock lifts with time, so once the
// clock is fixed the chip works again as soon as the lock has run out.
func TestServerClockAhead(t *testing.T) {
	var skew atomic.Int64
	skew.Store(int64(2 * time.Minute))
	f := skewed(t, &skew)
	m := f.chips[0]
	vc := f.virtualChip(m) // the chip's clock is right

	var until time.Time
	for n := 0; until.IsZero(); n++ {
		cm := f.begin("holder", vc).through("hello")
		for range activation.BlockAfter {
			f.clock.Advance(registry.Period) // a fresh code each time
			res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()})
			if e := errorOf(t, res); e.Code == "chip_locked" {
				until = f.chipRow(m.Serial).LockedUntil
				break
			} else if e.Code != "code_wrong" && e.Code != "activation_blocked" {
				t.Fatalf("right code under a clock 2 minutes ahead: expected code_wrong, got %s", e.Code)
			}
		}
		if n > activation.ChipLockAfter {
			t.Fatal("the chip never locked")
		}
	}
	if c := f.chipRow(m.Serial); c.LastStep != 0 {
		t.Errorf("expected no step recorded, got %d", c.LastStep)
	}

	skew.Store(0) // NTP fixes the clock: the lock still holds, and says until when
	cm := f.begin("holder", vc).through("hello")
	before := f.snapshot()
	res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()})
	expectRetry(t, res, res.expectError(t, http.StatusForbidden, "chip_locked"), f.clock.Now(), until)
	f.assertUnchanged(before)

	f.clock.Advance(until.Sub(f.clock.Now()))
	cm.enterCode()
}

// TestBothClocksAhead: with the server's and the chip's clocks both two minutes
// ahead, the code is accepted at a step of the future. Once both clocks are fixed,
// that step holds back none of the chip's codes: the next one is accepted at once.
func TestBothClocksAhead(t *testing.T) {
	var skew atomic.Int64
	skew.Store(int64(2 * time.Minute))
	f := skewed(t, &skew)
	m := f.chips[0]
	f.begin("holder", f.chipAt(m, 2*time.Minute)).through("code")
	future := f.chipRow(m.Serial).LastStep
	if want := registry.StepAt(f.clock.Now().Add(2 * time.Minute)); future != want {
		t.Fatalf("expected the step of the skewed clocks, %d, recorded; got %d", want, future)
	}

	skew.Store(0)
	f.clock.Advance(registry.Period)
	f.begin("holder", f.chipAt(m, 0)).through("code")
	if got, want := f.chipRow(m.Serial).LastStep, registry.StepAt(f.clock.Now()); got != want {
		t.Errorf("expected the real step %d recorded, got %d", want, got)
	}
}
