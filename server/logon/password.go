package logon

import (
	"context"
	"errors"
	"fmt"

	"mitidchip/credential/kdf"
	"mitidchip/credential/transcript"
	"mitidchip/server/store"
)

// Changing the password at MitID.dk (docs/selfservice.md): a logged-on person proves
// the old password exactly as at logon (a fresh challenge signed with the key the
// old password and the stored salt give; every try counts toward the user ID's logon
// lock), gives the verifier of the new password derived with a new salt, and
// approves with the chip's press: the chip signs a logon transcript whose purpose is
// transcript.PurposePasswordChange and the new verifier's digest, which no logon
// accepts. Then the new verifier and salt replace the old in one transaction, and the
// person's other MitID.dk sessions end.

// The audit events of a password change.
const (
	EventPasswordChecked = "password_change_password" // the old password was right
	EventPasswordWrong   = "password_change_failed"   // {"reason": "password"}
	EventPasswordChanged = "password_changed"         // {"serial"}
)

// Change is a password change begun: the challenge the old password's key signs,
// how to derive that key (the person's stored salt and cost), and how to derive the
// new password's verifier (a new salt, the server's cost).
type Change struct {
	ChallengeID string
	Challenge   []byte
	KDF         store.KDF
	NewKDF      store.KDF
}

// BeginChange begins a change of password for the person logged on in s. A user
// ID whose logon is locked is refused (CodeLogonLocked) as a logon is.
func (c *Ceremony) BeginChange(ctx context.Context, s store.LogonSession) (Change, error) {
	p, err := c.cfg.Store.Person(ctx, s.PersonID)
	if err != nil {
		return Change{}, internal(err)
	}
	if !known(p) {
		return Change{}, refuse(CodeOutOfOrder, errors.New("the person has no password to change"))
	}
	id, err := c.random(16)
	if err != nil {
		return Change{}, internal(err)
	}
	challenge, err := c.randomBytes(challengeSize)
	if err != nil {
		return Change{}, internal(err)
	}
	salt, err := kdf.NewSalt(c.cfg.Rand)
	if err != nil {
		return Change{}, internal(err)
	}
	now := c.cfg.Now()
	ch := store.LogonChallenge{
		ID: id, Challenge: challenge, UserKey: c.UserKey(p.UserID), Purpose: store.PurposePasswordChange,
		NewKDF:    store.KDF{Salt: salt, Time: c.cfg.KDF.Time, MemoryKiB: c.cfg.KDF.MemoryKiB, Threads: c.cfg.KDF.Threads},
		CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL),
	}
	ch, named, err := c.cfg.Store.BeginLogon(ctx, ch, p.UserID, now)
	if err != nil {
		return Change{}, stored(err)
	}
	if named.ID != s.PersonID {
		return Change{}, internal(fmt.Errorf("user ID of %s names %q", s.PersonID, named.ID))
	}
	return Change{ChallengeID: ch.ID, Challenge: ch.Challenge, KDF: p.KDF, NewKDF: ch.NewKDF}, nil
}

// change reads the person's password change challengeID, refusing another's or
// another purpose's.
func (c *Ceremony) change(ctx context.Context, s store.LogonSession, challengeID string) (store.LogonChallenge, error) {
	ch, err := c.challenge(ctx, challengeID)
	if err != nil {
		return ch, err
	}
	if ch.Purpose != store.PurposePasswordChange || ch.PersonID != s.PersonID {
		return ch, refuse(CodeOutOfOrder, fmt.Errorf("challenge of purpose %q for %q is not %q's password change", ch.Purpose, ch.PersonID, s.PersonID))
	}
	return ch, nil
}

// ChangeOld checks the old password's proof over the change's challenge, as a
// logon's password step does and counting alike: a wrong one is CodeLogonFailed
// (or CodeLogonLocked when it locks) and uses the challenge up.
func (c *Ceremony) ChangeOld(ctx context.Context, s store.LogonSession, challengeID string, proof []byte) error {
	ch, err := c.change(ctx, s, challengeID)
	if err != nil {
		return err
	}
	_, _, err = c.prove(ctx, ch, proof, EventPasswordChecked, EventPasswordWrong)
	return err
}

// ChangeNew records the new password's verifier (refusing one that cannot serve:
// kdf.CheckVerifier) and answers the transcript the chip signs to approve it,
// without the chip's fields.
func (c *Ceremony) ChangeNew(ctx context.Context, s store.LogonSession, challengeID string, verifier []byte) (transcript.Logon, error) {
	if err := kdf.CheckVerifier(verifier); err != nil {
		return transcript.Logon{}, refuse(CodeVerifierInvalid, err)
	}
	ch, err := c.change(ctx, s, challengeID)
	if err != nil {
		return transcript.Logon{}, err
	}
	if !ch.PasswordOK {
		return transcript.Logon{}, refuse(CodeOutOfOrder, errors.New("the old password has not passed"))
	}
	ch, err = c.cfg.Store.SetNewVerifier(ctx, ch.ID, s.PersonID, verifier, c.cfg.Now())
	if err != nil {
		return transcript.Logon{}, stored(err)
	}
	p, err := c.cfg.Store.Person(ctx, s.PersonID)
	if err != nil {
		return transcript.Logon{}, internal(err)
	}
	return transcript.Logon{
		ChallengeID: ch.ID, Challenge: ch.Challenge, UserID: p.UserID, Origin: c.cfg.Origin,
		Purpose: transcript.PurposePasswordChange + transcript.PasswordChangeDigest(ch.NewVerifier), Nonce: ch.Nonce,
	}, nil
}

// Changed is a password changed: how many other MitID.dk sessions it ended.
type Changed struct {
	EndedSessions int
}

// ChangeChip completes the change with the chip's press: hello and signature as for
// a logon's chip step, over the change's transcript. Then the new verifier and salt
// are the person's, and their other sessions end. Every refusal writes nothing.
func (c *Ceremony) ChangeChip(ctx context.Context, s store.LogonSession, challengeID string, hello, signature []byte) (Changed, error) {
	ch, err := c.change(ctx, s, challengeID)
	if err != nil {
		return Changed{}, err
	}
	if ch.NewVerifier == nil {
		return Changed{}, refuse(CodeOutOfOrder, errors.New("no new password given"))
	}
	h, p, err := c.verifyChip(ctx, ch, hello, signature, transcript.PurposePasswordChange+transcript.PasswordChangeDigest(ch.NewVerifier))
	if err != nil {
		return Changed{}, err
	}
	now := c.cfg.Now()
	n, err := c.cfg.Store.ChangePassword(ctx, store.PasswordChange{
		ChallengeID: ch.ID, PersonID: p.ID, SessionID: s.ID, ChipSerial: h.Serial, Verifier: ch.NewVerifier, At: now,
		Audit: []store.AuditEntry{c.audit(p.ID, EventPasswordChanged, map[string]any{"logon": ch.ID, "serial": h.Serial, "session": s.ID})},
	})
	if err != nil {
		if errors.Is(err, store.ErrSessionEnded) {
			return Changed{}, refuse(CodeNotLoggedOn, err)
		}
		return Changed{}, stored(err)
	}
	return Changed{EndedSessions: n}, nil
}
