package handoff

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer signs handoff tokens. In production it lives in the MitID app's backend; this
// server uses it only in dev mode and in tests.
type Issuer struct {
	priv     ed25519.PrivateKey
	issuer   string
	audience string
	ttl      time.Duration
	purpose  string // "" means Purpose
	now      func() time.Time
	rand     io.Reader
}

// For returns an Issuer like i whose tokens are for purpose (Purpose or
// PurposeBlockChip); Issue refuses any other.
func (i *Issuer) For(purpose string) *Issuer {
	j := *i
	j.purpose = purpose
	return &j
}

// NewIssuer returns an Issuer whose tokens live for ttl (at most MaxLifetime; Issue
// refuses more). A nil now means time.Now and a nil rand means crypto/rand.Reader.
func NewIssuer(priv ed25519.PrivateKey, issuer, audience string, ttl time.Duration, now func() time.Time, rand io.Reader) *Issuer {
	return &Issuer{priv: priv, issuer: issuer, audience: audience, ttl: ttl, now: now, rand: rand}
}

// Issue signs a token for personID (and the person's MitID user id, if any) with a
// random 128-bit token id. It returns the claims exactly as Verify will report them.
func (i *Issuer) Issue(personID, userID string) (string, Claims, error) {
	if len(i.priv) != ed25519.PrivateKeySize {
		return "", Claims{}, fmt.Errorf("issue handoff token: private key is %d bytes, want %d", len(i.priv), ed25519.PrivateKeySize)
	}
	if i.ttl <= 0 || i.ttl > MaxLifetime {
		return "", Claims{}, fmt.Errorf("issue handoff token: lifetime %v outside (0, %v]", i.ttl, MaxLifetime)
	}
	if i.issuer == "" || i.audience == "" {
		return "", Claims{}, errors.New("issue handoff token: issuer and audience must be set")
	}
	purpose := i.purpose
	if purpose == "" {
		purpose = Purpose
	}
	if !knownPurpose(purpose) {
		return "", Claims{}, fmt.Errorf("issue handoff token: unknown purpose %q", purpose)
	}
	if !validPersonID(personID) {
		return "", Claims{}, fmt.Errorf("issue handoff token: person id must be 1 to %d bytes of printable UTF-8", maxPersonID)
	}
	if !validUserID(userID) {
		return "", Claims{}, fmt.Errorf("issue handoff token: user id must be empty or up to %d printable characters", maxUserID)
	}

	r := i.rand
	if r == nil {
		r = rand.Reader
	}
	var id [16]byte
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return "", Claims{}, fmt.Errorf("issue handoff token: read random token id: %w", err)
	}

	now := time.Now
	if i.now != nil {
		now = i.now
	}
	// JWT times are whole seconds; truncate first so the returned Claims equal what
	// Verify reads back.
	iat := now().Truncate(time.Second).UTC()
	c := Claims{
		TokenID:  base64.RawURLEncoding.EncodeToString(id[:]),
		PersonID: personID,
		UserID:   userID,
		Purpose:  purpose,
		IssuedAt: iat,
		Expiry:   iat.Add(i.ttl.Truncate(time.Second)),
	}
	if !c.Expiry.After(c.IssuedAt) {
		return "", Claims{}, fmt.Errorf("issue handoff token: lifetime %v is under one second", i.ttl)
	}

	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   c.PersonID,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(c.Expiry),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ID:        c.TokenID,
		},
		Purpose: c.Purpose,
		UserID:  c.UserID,
	})
	tok.Header["typ"] = TokenType
	s, err := tok.SignedString(i.priv)
	if err != nil {
		return "", Claims{}, fmt.Errorf("issue handoff token: sign: %w", err)
	}
	if len(s) > MaxTokenSize {
		return "", Claims{}, fmt.Errorf("issue handoff token: token is %d bytes, over the %d verifiers accept (issuer or audience too long)", len(s), MaxTokenSize)
	}
	return s, c, nil
}
