package handoff

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks handoff tokens with the app backend's public key.
//
// Verify is stateless: a token that verifies once verifies again until it expires.
// Redeeming a token once is the store's job, which records each TokenID atomically
// together with the activation it starts and refuses one it has seen.
type Verifier struct {
	pub      ed25519.PublicKey
	issuer   string
	audience string
	purpose  string
	now      func() time.Time
}

// NewVerifier returns a Verifier that accepts only tokens signed by the key matching
// pub, from issuer, for exactly audience, whose purpose is activation (Purpose). A
// nil now means time.Now.
func NewVerifier(pub ed25519.PublicKey, issuer, audience string, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{pub: slices.Clone(pub), issuer: issuer, audience: audience, purpose: Purpose, now: now}
}

// For returns a Verifier like v that accepts tokens of purpose alone (Purpose or
// PurposeBlockChip); a token of any other purpose is ErrPurpose. With a purpose this
// package does not know, it refuses every token.
func (v *Verifier) For(purpose string) *Verifier {
	w := *v
	w.purpose = purpose
	return &w
}

// Purpose is the one purpose v accepts.
func (v *Verifier) Purpose() string { return v.purpose }

// Verify checks token and returns its claims. The checks run in this order, and the
// first that fails decides the error: size (ErrMalformed); encoding and JSON
// (ErrMalformed); alg is EdDSA and the signature is good (ErrSignature); no "crit"
// header (ErrMalformed); issuer (ErrIssuer); audience, exactly one and equal
// (ErrAudience); typ header and "pur" claim, which must be v's purpose (ErrPurpose); exp present and not passed
// (ErrExpired); iat present and not in the future, nbf if present reached, lifetime
// at most MaxLifetime, jti, sub and uid well-formed (ErrClaims). Time checks allow
// Leeway of clock skew.
//
// Verify does not detect replay; see Verifier.
func (v *Verifier) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(token), MaxTokenSize)
	}
	// A verifier without issuer or audience would let the library skip those checks;
	// fail closed instead.
	if v.issuer == "" {
		return Claims{}, fmt.Errorf("%w: verifier has no issuer configured", ErrIssuer)
	}
	if v.audience == "" {
		return Claims{}, fmt.Errorf("%w: verifier has no audience configured", ErrAudience)
	}

	now := v.now()
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithStrictDecoding(), // one encoding per token, so a token has one spelling
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var wc wireClaims
	tok, err := parser.ParseWithClaims(token, &wc, v.key)
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenMalformed):
			return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return Claims{}, fmt.Errorf("%w: %v", ErrSignature, err)
		case errors.Is(err, jwt.ErrTokenInvalidClaims):
			// The library reports claim errors only after the signature verified;
			// check decides which one the caller sees.
		default:
			return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	c, cerr := v.check(tok.Header, &wc, now)
	if cerr != nil {
		return Claims{}, cerr
	}
	if err != nil {
		// The library objected to something check let through: fail closed.
		return Claims{}, fmt.Errorf("%w: %v", ErrClaims, err)
	}
	return c, nil
}

// key hands the library the one key there is. The library has already refused any
// alg but EdDSA; the type check keeps that true should the options ever change.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
		return nil, fmt.Errorf("alg %q is not EdDSA", t.Method.Alg())
	}
	return v.pub, nil
}

// check runs the claim checks, in the order Verify documents, on a token whose
// signature has been verified.
func (v *Verifier) check(header map[string]any, wc *wireClaims, now time.Time) (Claims, error) {
	if _, ok := header["crit"]; ok {
		return Claims{}, fmt.Errorf("%w: unsupported crit header", ErrMalformed)
	}
	if wc.Issuer != v.issuer {
		return Claims{}, fmt.Errorf("%w: iss %q, want %q", ErrIssuer, wc.Issuer, v.issuer)
	}
	if len(wc.Audience) != 1 || wc.Audience[0] != v.audience {
		return Claims{}, fmt.Errorf("%w: aud %q, want exactly [%q]", ErrAudience, []string(wc.Audience), v.audience)
	}
	if typ, _ := header["typ"].(string); !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, "application/"+TokenType) {
		return Claims{}, fmt.Errorf("%w: typ %q, want %q", ErrPurpose, typ, TokenType)
	}
	if !knownPurpose(v.purpose) {
		return Claims{}, fmt.Errorf("%w: verifier for unknown purpose %q", ErrPurpose, v.purpose)
	}
	if wc.Purpose != v.purpose {
		return Claims{}, fmt.Errorf("%w: pur %q, want %q", ErrPurpose, wc.Purpose, v.purpose)
	}

	if wc.ExpiresAt == nil {
		return Claims{}, fmt.Errorf("%w: exp missing", ErrClaims)
	}
	exp := wc.ExpiresAt.UTC()
	if !now.Before(exp.Add(Leeway)) {
		return Claims{}, fmt.Errorf("%w: expired at %v, now %v", ErrExpired, exp, now.UTC())
	}
	if wc.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: iat missing", ErrClaims)
	}
	iat := wc.IssuedAt.UTC()
	if now.Before(iat.Add(-Leeway)) {
		return Claims{}, fmt.Errorf("%w: issued at %v, in the future (now %v)", ErrClaims, iat, now.UTC())
	}
	if wc.NotBefore != nil && now.Before(wc.NotBefore.Add(-Leeway)) {
		return Claims{}, fmt.Errorf("%w: not valid before %v (now %v)", ErrClaims, wc.NotBefore.UTC(), now.UTC())
	}
	if life := exp.Sub(iat); life <= 0 || life > MaxLifetime {
		return Claims{}, fmt.Errorf("%w: lifetime %v outside (0, %v]", ErrClaims, life, MaxLifetime)
	}

	if !validTokenID(wc.ID) {
		return Claims{}, fmt.Errorf("%w: jti must be %d to %d characters of [A-Za-z0-9_-]", ErrClaims, minTokenIDLen, maxTokenIDLen)
	}
	if !validPersonID(wc.Subject) {
		return Claims{}, fmt.Errorf("%w: sub must be 1 to %d bytes of printable UTF-8", ErrClaims, maxPersonID)
	}
	if !validUserID(wc.UserID) {
		return Claims{}, fmt.Errorf("%w: uid must be empty or up to %d printable characters", ErrClaims, maxUserID)
	}
	return Claims{TokenID: wc.ID, PersonID: wc.Subject, UserID: wc.UserID, Purpose: wc.Purpose, Expiry: exp, IssuedAt: iat}, nil
}
