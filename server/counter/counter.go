// Package counter is Borgerservice's caseworker console as a plain Go state
// machine (docs/borgerservice.md): a caseworker logged on with their own MitID chip
// (server/logon), holding the caseworker role (store.Staff), checks a citizen's ID
// and starts the citizen's activation (activation.StartAssisted: the handoff's own
// path, no back door), looks at the citizen's chip and activity, blocks a lost chip
// and unlocks a chip the citizen is locked out of. Every act is audited with the
// caseworker and office. It knows nothing of HTTP; server/api is its adapter.
package counter

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"mitidchip/credential/userid"
	"mitidchip/server/activation"
	"mitidchip/server/activity"
	"mitidchip/server/block"
	"mitidchip/server/logon"
	"mitidchip/server/store"
)

// Lifetimes and limits (docs/decisions.md, "Borgerservice").
const (
	// IdleTTL is the console's own idle timeout: a logon session whose last console
	// request is this old may not use the console again (the caseworker logs on
	// again). Shorter than the MitID.dk session's (logon.IdleTTL).
	IdleTTL = 10 * time.Minute
	// PressTTL is how old the caseworker's chip press (the logon's) may be for a
	// sensitive act: an assisted activation, a block, an unlock, ending an
	// activation.
	PressTTL = 5 * time.Minute
	// PerHour is how many assisted activations one caseworker may start in an hour.
	PerHour = 30
	// RecentActivity is how many of the citizen's audit entries the console reads.
	RecentActivity = 10
	// MaxOffice bounds an office's name, in bytes.
	MaxOffice = 64
	// MaxPersonID bounds a person id typed at the counter, in bytes.
	MaxPersonID = 128
	// MaxDocumentNumber bounds a document number, in characters once normalized.
	MaxDocumentNumber = 32
)

// The document types a caseworker may record (the seed: "valid ID, such as a
// passport or driver's license").
const (
	DocPassport       = "passport"
	DocDrivingLicence = "driving_licence"
	DocNationalID     = "national_id"
	DocForeignID      = "foreign_id"
)

// DocumentTypes lists them, in the console's order.
var DocumentTypes = []string{DocPassport, DocDrivingLicence, DocNationalID, DocForeignID}

// Person is one entry of the national register as the console needs it.
type Person struct {
	ID     string
	Name   string
	UserID string // the MitID user ID the person chose, if the register has one
}

// Register looks a person up. Dev mode has a small demo register (server/dev); in
// production there is none and the person id is taken as given.
type Register interface {
	Person(id string) (Person, bool)
}

// Config is what the console needs.
type Config struct {
	Store    store.Store
	Ceremony *activation.Ceremony
	Register Register // nil: the person id as given
	// DocumentKey keys the hash the store keeps of a document number (32 bytes).
	DocumentKey []byte
	Now         func() time.Time
	// Zero means the default (IdleTTL, PressTTL, PerHour).
	IdleTTL, PressTTL time.Duration
	PerHour           int
	// Started, when set, is called for each assisted activation started (metrics).
	Started func(office string)
}

// Service runs the console.
type Service struct{ cfg Config }

// New checks cfg and returns the console.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Ceremony == nil || cfg.Now == nil || len(cfg.DocumentKey) < 32 {
		return nil, errors.New("counter: config needs Store, Ceremony, Now and a 32-byte DocumentKey")
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = IdleTTL
	}
	if cfg.PressTTL <= 0 {
		cfg.PressTTL = PressTTL
	}
	if cfg.PerHour <= 0 {
		cfg.PerHour = PerHour
	}
	return &Service{cfg: cfg}, nil
}

// DocumentKey derives the document-number key from the logon key: one key file
// fewer for operators, and a hash that cannot be compared with any other.
func DocumentKey(logonKey []byte) []byte {
	m := hmac.New(sha256.New, logonKey)
	m.Write([]byte("mitid-chip/borgerservice/document-number"))
	return m.Sum(nil)
}

// Caseworker is the person at the console, admitted for one request.
type Caseworker struct {
	PersonID string
	Office   string
	// PressedAt is when their chip was last pressed: the logon of their session.
	PressedAt time.Time
	// FreshUntil is when a sensitive act will need a fresh press.
	FreshUntil time.Time
}

// Admit checks, on every console request, that the logged-on person of ls holds the
// caseworker role now and that the console was used within IdleTTL under ls.
func (s *Service) Admit(ctx context.Context, ls store.LogonSession) (Caseworker, error) {
	now := s.cfg.Now()
	r, err := s.cfg.Store.UseConsole(ctx, store.ConsoleUse{
		LogonSessionID: ls.ID, PersonID: ls.PersonID, At: now, Idle: s.cfg.IdleTTL,
		Keep: ls.CreatedAt.Add(logon.AbsoluteTTL),
	})
	switch {
	case errors.Is(err, store.ErrNotStaff):
		return Caseworker{}, refuse(CodeNotCaseworker, err)
	case errors.Is(err, store.ErrConsoleIdle):
		return Caseworker{}, refuse(CodeConsoleIdle, err)
	case err != nil:
		return Caseworker{}, internal(err)
	}
	return Caseworker{PersonID: r.PersonID, Office: r.Office, PressedAt: ls.CreatedAt, FreshUntil: ls.CreatedAt.Add(s.cfg.PressTTL)}, nil
}

// fresh refuses a sensitive act when the caseworker's press is too old.
func (s *Service) fresh(cw Caseworker) error {
	if now := s.cfg.Now(); !now.Before(cw.FreshUntil) {
		return refuse(CodePressStale, fmt.Errorf("press at %v, fresh until %v", cw.PressedAt, cw.FreshUntil))
	}
	return nil
}

// Citizen is what the console shows of the person at the counter.
type Citizen struct {
	PersonID string
	Name     string // from the register; empty without one
	UserID   string // the store's, else the register's
	// Known: the person has been handed over (has a row in the store).
	Known bool
	Chip  *store.Chip // the active chip
	// Locks are the chips the person is locked out of now by wrong codes.
	Locks []store.ChipFailure
	// OpenActivation: the person has an activation under way.
	OpenActivation bool
	Activity       []activity.Event
}

// Look shows the caseworker the citizen with personID; the look is audited.
func (s *Service) Look(ctx context.Context, cw Caseworker, personID string) (Citizen, error) {
	c, err := s.citizen(ctx, cw, personID)
	if err != nil {
		return Citizen{}, err
	}
	if !c.Known {
		return c, nil // no row, no history to audit against
	}
	if err := s.cfg.Store.Audit(ctx, s.audit(cw, personID, EventViewed, nil)); err != nil {
		return Citizen{}, internal(err)
	}
	page, err := activity.Of(ctx, s.cfg.Store, personID, 0, RecentActivity)
	if err != nil {
		return Citizen{}, internal(err)
	}
	c.Activity = page.Events
	return c, nil
}

// citizen reads the citizen without auditing.
func (s *Service) citizen(ctx context.Context, cw Caseworker, personID string) (Citizen, error) {
	if !ValidPersonID(personID) {
		return Citizen{}, refuse(CodeFieldsInvalid, fmt.Errorf("person id of the wrong form (%d bytes)", len(personID)))
	}
	if personID == cw.PersonID {
		return Citizen{}, refuse(CodeOwnActivation, errors.New("the caseworker named themselves"))
	}
	c := Citizen{PersonID: personID}
	if s.cfg.Register != nil {
		p, ok := s.cfg.Register.Person(personID)
		if !ok {
			return Citizen{}, refuse(CodeCitizenUnknown, errors.New("not in the register"))
		}
		c.Name, c.UserID = p.Name, p.UserID
	}
	p, err := s.cfg.Store.Person(ctx, personID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c, nil
	case err != nil:
		return Citizen{}, internal(err)
	}
	c.Known = true
	if p.UserID != "" {
		c.UserID = p.UserID
	}
	chip, err := s.cfg.Store.ActiveChip(ctx, personID)
	switch {
	case err == nil:
		c.Chip = &chip
	case !errors.Is(err, store.ErrNotFound):
		return Citizen{}, internal(err)
	}
	fs, err := s.cfg.Store.PersonChipFailures(ctx, personID)
	if err != nil {
		return Citizen{}, internal(err)
	}
	now := s.cfg.Now()
	for _, f := range fs {
		if f.LockedAt(now) {
			c.Locks = append(c.Locks, f)
		}
	}
	open, err := s.openActivation(ctx, personID)
	if err != nil {
		return Citizen{}, err
	}
	c.OpenActivation = open
	return c, nil
}

// IDCheck is what the caseworker records at the counter.
type IDCheck struct {
	PersonID       string
	UserID         string // needed when neither the register nor the store has one
	DocumentType   string // one of DocumentTypes
	DocumentNumber string
	DocumentExpiry string // YYYY-MM-DD; the document is valid through that day
	ChipSerial     string // optional: the chip handed over at the counter
}

// Started is an assisted activation begun: the code that opens it, and when the
// code stops working.
type Started struct {
	ActivationID string
	Code         string
	ExpiresAt    time.Time
}

// Activate starts the citizen's activation from the caseworker's ID check. Every
// refusal writes nothing.
func (s *Service) Activate(ctx context.Context, cw Caseworker, req IDCheck) (Started, error) {
	if err := s.fresh(cw); err != nil {
		return Started{}, err
	}
	now := s.cfg.Now()
	doc, expires, err := checkDocument(req, now)
	if err != nil {
		return Started{}, err
	}
	if req.ChipSerial != "" && !block.ValidSerial(req.ChipSerial) {
		return Started{}, refuse(CodeFieldsInvalid, errors.New("chip serial of the wrong form"))
	}
	c, err := s.citizen(ctx, cw, req.PersonID)
	if err != nil {
		return Started{}, err
	}
	uid := c.UserID
	if uid == "" {
		uid = strings.TrimSpace(req.UserID)
		if len(uid) > logon.MaxUserIDInput {
			return Started{}, refuse(CodeUserIDNeeded, errors.New("user ID too long"))
		}
		if rs := userid.Check(uid); rs != nil {
			return Started{}, refuse(CodeUserIDNeeded, fmt.Errorf("user ID breaks the rules %v", rs))
		}
	}
	if c.OpenActivation {
		return Started{}, refuse(CodeActivationUnderWay, errors.New("an activation is open"))
	}
	detail := s.detail(cw, map[string]any{"document_type": req.DocumentType})
	if req.ChipSerial != "" {
		detail["serial"] = req.ChipSerial
	}
	a, err := s.cfg.Ceremony.StartAssisted(ctx, activation.AssistedStart{
		PersonID: req.PersonID, UserID: uid, Detail: detail,
		Check: store.Assisted{CaseworkerID: cw.PersonID, Office: cw.Office, DocumentType: req.DocumentType,
			DocumentHash: s.documentHash(req.DocumentType, doc), DocumentExpires: expires, ChipSerial: req.ChipSerial,
			MaxPerHour: s.cfg.PerHour},
	})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrTooManySessions):
		return Started{}, refuse(CodeActivationUnderWay, err)
	case errors.Is(err, store.ErrNotStaff):
		return Started{}, refuse(CodeNotCaseworker, err)
	case errors.Is(err, store.ErrTooManyAssisted):
		return Started{}, refuse(CodeTooManyAssisted, err)
	case errors.Is(err, store.ErrTooManyHandoffs):
		return Started{}, refuse(CodeTooManyHandoffs, err)
	case errors.Is(err, store.ErrUserIDTaken):
		return Started{}, refuse(CodeUserIDTaken, err)
	case activation.CodeOf(err) == activation.CodeUserIDMissing:
		return Started{}, refuse(CodeUserIDNeeded, err)
	default:
		return Started{}, internal(err)
	}
	if s.cfg.Started != nil {
		s.cfg.Started(cw.Office)
	}
	return Started{ActivationID: a.Session.ID, Code: a.Handover.Code, ExpiresAt: a.Handover.ExpiresAt}, nil
}

// EndActivations ends the citizen's activations under way, so a new one can start.
func (s *Service) EndActivations(ctx context.Context, cw Caseworker, personID string) (int, error) {
	if err := s.fresh(cw); err != nil {
		return 0, err
	}
	if _, err := s.citizen(ctx, cw, personID); err != nil {
		return 0, err
	}
	n, err := s.cfg.Store.EndActivations(ctx, personID, s.cfg.Now(), s.audit(cw, personID, EventEnded, nil))
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// Block blocks the citizen's active chip, which must be serial (the one the
// console showed), for good: store.BlockChip without a token.
func (s *Service) Block(ctx context.Context, cw Caseworker, personID, serial string) (time.Time, error) {
	if err := s.fresh(cw); err != nil {
		return time.Time{}, err
	}
	if !block.ValidSerial(serial) {
		return time.Time{}, refuse(CodeFieldsInvalid, errors.New("chip serial of the wrong form"))
	}
	if _, err := s.citizen(ctx, cw, personID); err != nil {
		return time.Time{}, err
	}
	now := s.cfg.Now()
	_, err := s.cfg.Store.BlockChip(ctx, store.BlockRequest{Serial: serial, PersonID: personID, Reason: store.BlockReasonLost, At: now},
		s.audit(cw, personID, EventBlocked, map[string]any{"serial": serial, "reason": store.BlockReasonLost}))
	switch {
	case errors.Is(err, store.ErrNoActiveChip):
		return time.Time{}, refuse(CodeNoActiveChip, err)
	case errors.Is(err, store.ErrChipChanged):
		return time.Time{}, refuse(CodeChipChanged, err)
	case err != nil:
		return time.Time{}, internal(err)
	}
	return now, nil
}

// Unlock lifts the lock the citizen's wrong codes put on serial (store.UnlockChip:
// the chip's wrong codes, locks and attempt window are forgotten).
func (s *Service) Unlock(ctx context.Context, cw Caseworker, personID, serial string) error {
	if err := s.fresh(cw); err != nil {
		return err
	}
	if !block.ValidSerial(serial) {
		return refuse(CodeFieldsInvalid, errors.New("chip serial of the wrong form"))
	}
	c, err := s.citizen(ctx, cw, personID)
	if err != nil {
		return err
	}
	locked := false
	for _, f := range c.Locks {
		locked = locked || f.Serial == serial
	}
	if !locked {
		return refuse(CodeChipNotLocked, fmt.Errorf("%s is not locked for the person", serial))
	}
	err = s.cfg.Store.UnlockChip(ctx, serial, s.audit(cw, personID, EventUnlocked, map[string]any{"serial": serial}))
	if err != nil {
		return internal(err)
	}
	return nil
}

// The audit events of the console; server/activity shows each in the citizen's
// activity with the office.
const (
	EventViewed   = "counter_citizen_viewed"
	EventEnded    = "counter_activations_ended"
	EventBlocked  = "counter_chip_blocked"
	EventUnlocked = "counter_chip_unlocked"
)

func (s *Service) detail(cw Caseworker, extra map[string]any) map[string]any {
	d := map[string]any{"caseworker": cw.PersonID, "office": cw.Office, "via": "borgerservice"}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// audit is an entry in the citizen's trail naming the caseworker and office; never
// a document number.
func (s *Service) audit(cw Caseworker, personID, event string, extra map[string]any) store.AuditEntry {
	b, _ := json.Marshal(s.detail(cw, extra)) // strings only: cannot fail
	return store.AuditEntry{At: s.cfg.Now(), PersonID: personID, Event: event, Detail: string(b)}
}

// openActivation reports whether the person has an activation under way: tried by
// the store's own count, in the redeem transaction, too.
func (s *Service) openActivation(ctx context.Context, personID string) (bool, error) {
	n, err := s.cfg.Store.OpenSessions(ctx, personID, s.cfg.Now())
	if err != nil {
		return false, internal(err)
	}
	return n > 0, nil
}

// checkDocument checks the ID document: its type, its number (normalized: upper
// case, without spaces and hyphens) and its expiry, which must not have passed.
func checkDocument(req IDCheck, now time.Time) (string, time.Time, error) {
	known := false
	for _, t := range DocumentTypes {
		known = known || req.DocumentType == t
	}
	if !known {
		return "", time.Time{}, refuse(CodeFieldsInvalid, errors.New("unknown document type"))
	}
	doc, ok := NormalizeDocumentNumber(req.DocumentNumber)
	if !ok {
		return "", time.Time{}, refuse(CodeFieldsInvalid, errors.New("document number of the wrong form"))
	}
	expires, err := time.Parse(time.DateOnly, req.DocumentExpiry)
	if err != nil || len(req.DocumentExpiry) != len(time.DateOnly) {
		return "", time.Time{}, refuse(CodeFieldsInvalid, errors.New("document expiry is not YYYY-MM-DD"))
	}
	if !now.Before(expires.AddDate(0, 0, 1)) { // valid through its expiry day (UTC)
		return "", time.Time{}, refuse(CodeDocumentExpired, fmt.Errorf("expired %s", req.DocumentExpiry))
	}
	if expires.After(now.AddDate(20, 0, 0)) {
		return "", time.Time{}, refuse(CodeFieldsInvalid, errors.New("document expiry more than 20 years ahead"))
	}
	return doc, expires, nil
}

// NormalizeDocumentNumber is a document number as typed, in upper case without
// spaces and hyphens, and whether it is 4 to MaxDocumentNumber letters and digits.
func NormalizeDocumentNumber(s string) (string, bool) {
	if len(s) > 4*MaxDocumentNumber {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-':
		case 'A' <= r && r <= 'Z' || '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() < 4 || b.Len() > MaxDocumentNumber {
		return "", false
	}
	return b.String(), true
}

// documentHash is what the store keeps of a document number.
func (s *Service) documentHash(docType, number string) []byte {
	m := hmac.New(sha256.New, s.cfg.DocumentKey)
	m.Write([]byte(docType + "\x00" + number))
	return m.Sum(nil)
}

// ValidPersonID: 1 to MaxPersonID bytes of printable ASCII.
func ValidPersonID(s string) bool {
	if s == "" || len(s) > MaxPersonID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ValidOffice: 1 to MaxOffice bytes of letters (any script), digits, spaces, "-"
// and "." — it is shown in the citizen's activity.
func ValidOffice(s string) bool {
	if s == "" || len(s) > MaxOffice || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !(r == ' ' || r == '-' || r == '.' || '0' <= r && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' ||
			r >= 0xC0 && r <= 0x24F && r != 0xD7 && r != 0xF7) {
			return false
		}
	}
	return true
}
