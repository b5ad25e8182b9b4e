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

// failure is person's wrong codes and locks on serial: the empty one when they have
// none.
func (f *fixture) failure(serial, person string) store.ChipFailure {
	f.t.Helper()
	fs, err := f.store.ChipFailures(f.ctx, serial)
	if err != nil {
		f.t.Fatalf("failures on chip %s: %v", serial, err)
	}
	for _, x := range fs {
		if x.PersonID == person {
			return x
		}
	}
	return store.ChipFailure{Serial: serial, PersonID: person}
}

// lockOut sends wrong codes for vc from fresh sessions of person, as many as each
// takes before it is blocked, until the person is locked out of the chip: exactly
// ChipLockAfter of them. The answer that locks says until when; lockOut returns that.
func (f *fixture) lockOut(person string, vc *virtual.Chip, seed []byte) time.Time {
	f.t.Helper()
	sent := 0
	for sent < activation.ChipLockAfter {
		cm := f.begin(person, vc).through("hello")
		for range activation.BlockAfter {
			res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(f.t, f, seed)})
			sent++
			e := errorOf(f.t, res)
			switch e.Code {
			case "code_wrong", "activation_blocked":
				continue
			case "chip_locked":
			default:
				f.t.Fatalf("%s: wrong code %d: expected code_wrong, activation_blocked or chip_locked, got %d %s", person, sent, res.status, e.Code)
			}
			until := f.failure(vc.Serial(), person).LockedUntil
			expectRetry(f.t, res, e, f.clock.Now(), until)
			if sent != activation.ChipLockAfter || res.status != http.StatusForbidden {
				f.t.Fatalf("%s: expected the %dth wrong code to lock them out with a 403, got %d chip_locked at the %dth", person, activation.ChipLockAfter, res.status, sent)
			}
			return until
		}
	}
	f.t.Fatalf("%s: not locked out of chip %s after %d wrong codes", person, vc.Serial(), sent)
	return time.Time{}
}

// TestChipLockRace: twenty sessions of one person on one chip each send one wrong code
// at the same moment. The lock is checked in the store's step that counts, so exactly
// ChipLockAfter codes count; every other request is refused with chip_locked, says
// when to try again, and changes nothing.
func TestChipLockRace(t *testing.T) {
	const sessions = 20
	f := newFixture(t, generous)
	m := f.chips[0]
	vc := f.virtualChip(m)
	cms := make([]*ceremony, sessions)
	for i := range cms {
		cms[i] = f.begin("attacker", vc).through("hello")
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
		t.Errorf("expected exactly %d codes counted, one of which locked the person out; got %d counted, %d locking", activation.ChipLockAfter, counted, locking)
	}
	if got := f.failure(m.Serial, "attacker"); got.FailedCodes != activation.ChipLockAfter || got.Locks != 1 || !got.LockedUntil.Equal(until) {
		t.Errorf("attacker: expected %d wrong codes, lock 1 until %v; got %d, lock %d until %v", activation.ChipLockAfter, until, got.FailedCodes, got.Locks, got.LockedUntil)
	}
	if c := f.chipRow(m.Serial); c.Attempts != activation.ChipLockAfter {
		t.Errorf("chip: expected %d attempts counted, got %d", activation.ChipLockAfter, c.Attempts)
	}
}

// TestChipLockLifts: a person's lock lifts by itself. While it holds, even their right
// code is refused, changes nothing and says when to try again; their second lock
// lasts twice as long; once it lifts their right code is accepted and their count is
// forgotten; and 400 days after a lock they are not locked out.
func TestChipLockLifts(t *testing.T) {
	f := newFixture(t, generous)
	m := f.chips[0]
	vc := f.virtualChip(m)

	until := f.lockOut("holder", vc, m.Seed)
	if want := t0.Add(activation.ChipFirstLock); !until.Equal(want) {
		t.Fatalf("first lock: expected until %v, got %v", want, until)
	}
	f.clock.Advance(until.Sub(f.clock.Now()) - time.Second)
	cm := f.begin("holder", vc).through("hello")
	before := f.snapshot()
	res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: cm.readCode()})
	expectRetry(t, res, res.expectError(t, http.StatusForbidden, "chip_locked"), f.clock.Now(), until)
	f.assertUnchanged(before)

	// The first lock lifts; the person locks themselves out again, for twice as long.
	f.clock.Advance(time.Second)
	start := f.clock.Now()
	until = f.lockOut("holder", vc, m.Seed)
	if want := start.Add(2 * activation.ChipFirstLock); !until.Equal(want) {
		t.Fatalf("second lock: expected until %v, got %v", want, until)
	}

	f.clock.Advance(until.Sub(f.clock.Now()))
	f.begin("holder", vc).through("code")
	if got := f.failure(m.Serial, "holder"); got.FailedCodes != 0 || got.Locks != 0 || !got.LockedUntil.IsZero() {
		t.Errorf("after the right code: expected no wrong codes, no locks; got %d, %d, until %v", got.FailedCodes, got.Locks, got.LockedUntil)
	}

	// Locked out once more (in a new attempt window), they come back 400 days later.
	f.clock.Advance(activation.ChipAttemptWindow)
	f.lockOut("holder", vc, m.Seed)
	f.clock.Advance(400 * 24 * time.Hour)
	f.begin("holder", vc).through("code")
}

// TestChipLockStranger is issue 8's stranger: someone who read a chip's hello (a chip
// answers any reader without a press) locks themselves out of it with wrong codes
// from several activations of their own. That locks no one else: the holder is never
// answered chip_locked; the chip's attempt window, which the stranger's codes filled,
// holds the holder until it ends and says so (too_many_codes); then the holder's right
// code is accepted, while the stranger stays refused and is told until when. The
// stranger's next lock is longer and again holds only them, and 400 days later no one
// is locked out.
func TestChipLockStranger(t *testing.T) {
	f := newFixture(t, generous)
	m := f.chips[0]
	vc := f.virtualChip(m)
	strangerRefused := func(until time.Time) { // a new session of the stranger: wrong and right codes refused
		t.Helper()
		cm := f.begin("stranger", vc).through("hello")
		before := f.snapshot()
		for _, code := range []string{wrongCode(t, f, m.Seed), cm.readCode()} {
			res := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: code})
			expectRetry(t, res, res.expectError(t, http.StatusForbidden, "chip_locked"), f.clock.Now(), until)
		}
		f.assertUnchanged(before)
	}

	until := f.lockOut("stranger", vc, m.Seed)
	if want := t0.Add(activation.ChipFirstLock); !until.Equal(want) {
		t.Fatalf("stranger's lock: expected until %v, got %v", want, until)
	}
	strangerRefused(until)

	// The holder at once: not locked out; the window the stranger filled says when.
	holder := f.begin("holder", vc).through("hello")
	windowEnd := t0.Add(activation.ChipAttemptWindow)
	before := f.snapshot()
	res := holder.c.post("/api/v1/chip/code", api.CodeRequest{Code: holder.readCode()})
	expectRetry(t, res, res.expectError(t, http.StatusTooManyRequests, "too_many_codes"), f.clock.Now(), windowEnd)
	f.assertUnchanged(before)

	// At the window's end the holder's right code is accepted; the stranger, still
	// locked out, filled no new window.
	f.clock.Advance(windowEnd.Sub(f.clock.Now()))
	strangerRefused(until)
	holder.enterCode()
	if got := f.failure(m.Serial, "holder"); got.FailedCodes != 0 || got.Locks != 0 {
		t.Errorf("holder: expected no wrong codes or locks, got %+v", got)
	}
	strangerRefused(until)

	// The stranger's lock lifts and, in a fresh window, they lock themselves out
	// again, for twice as long: the holder's next right code, once the window they
	// filled ends, is accepted all the same.
	f.clock.Advance(activation.ChipAttemptWindow)
	start := f.clock.Now()
	second := f.lockOut("stranger", vc, m.Seed)
	if want := start.Add(2 * activation.ChipFirstLock); !second.Equal(want) {
		t.Fatalf("stranger's second lock: expected until %v, got %v", want, second)
	}
	f.clock.Advance(activation.ChipAttemptWindow)
	f.begin("holder", vc).through("code")
	strangerRefused(second)

	// 400 days later no one is locked out: the stranger's wrong code counts again.
	f.clock.Advance(400 * 24 * time.Hour)
	fs, err := f.store.ChipFailures(f.ctx, m.Serial)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range fs {
		if x.LockedAt(f.clock.Now()) {
			t.Errorf("400 days later: %s is locked out until %v", x.PersonID, x.LockedUntil)
		}
	}
	cm := f.begin("stranger", vc).through("hello")
	if e := cm.c.post("/api/v1/chip/code", api.CodeRequest{Code: wrongCode(t, f, m.Seed)}).expectError(t, http.StatusUnprocessableEntity, "code_wrong"); e.TriesLeft == nil || *e.TriesLeft != activation.BlockAfter-1 {
		t.Errorf("400 days later: expected the stranger's wrong code counted, %d tries left; got %v", activation.BlockAfter-1, e.TriesLeft)
	}
}

// TestChipAttempts: at most ChipAttempts codes per chip are checked in its attempt
// window, whatever sessions and persons send them; the next ones, right or wrong, are
// refused with too_many_codes, count toward nothing and say when to try again.
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
	f.begin("holder", vc).through("code") // the tenth attempt: right

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
	if c, got := f.chipRow(m.Serial), f.failure(m.Serial, "guesser-late"); got.FailedCodes != 1 || c.Attempts != 1 || e.RetryAfter != nil {
		t.Errorf("next window: expected 1 wrong code in 1 attempt and no retry_after, got %d in %d and %v", got.FailedCodes, c.Attempts, e.RetryAfter)
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
				until = f.failure(m.Serial, "holder").LockedUntil
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
