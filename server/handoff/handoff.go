// Package handoff is the token the MitID app's backend signs to hand a person over to
// chip activation in the browser: an EdDSA-signed JWT the server checks with a public key.
package handoff

import (
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Purpose is the value of the "pur" claim of a token that starts a chip activation.
// A token signed by the same backend for anything else (a login, another product,
// blocking a chip) is refused by a Verifier for this purpose even though its
// signature is good.
const Purpose = "mitid-chip-activation"

// PurposeBlockChip is the "pur" claim of a token that lets the person block their
// active chip (lost or stolen) without the chip. It never starts an activation, and
// an activation token never blocks: each endpoint verifies with a Verifier for its
// own purpose (Verifier.For).
const PurposeBlockChip = "mitid-chip-block"

// knownPurpose reports whether p is a purpose this package issues and verifies.
func knownPurpose(p string) bool { return p == Purpose || p == PurposeBlockChip }

// TokenType is the JOSE "typ" header value (explicit typing, RFC 8725 §3.11), a second
// guard against a JWT made for another use being accepted as a handoff token.
const TokenType = "mitid-handoff+jwt"

// Limits the Verifier enforces. The Issuer keeps within them, so every token it makes
// verifies.
const (
	// MaxTokenSize bounds the raw token before any decoding; an Issuer's token is
	// about 400 bytes.
	MaxTokenSize = 4 << 10
	// Leeway is the clock skew tolerated between the app's backend and this server on
	// exp, iat and nbf.
	Leeway = 30 * time.Second
	// MaxLifetime is the longest exp-iat accepted: a handoff is used seconds after it
	// is made, so a long-lived token is a mistake or a stolen signing key at work.
	MaxLifetime = 15 * time.Minute

	minTokenIDLen = 16 // 96 bits of base64url; the Issuer makes 128-bit ids (22 chars)
	maxTokenIDLen = 64
	maxPersonID   = 128 // bytes
	maxUserID     = 48  // characters, the MitID user id limit
)

// Errors from Verify, each wrapped with the detail of what failed. Test with errors.Is;
// exactly one of them matches any failure. Show a person one generic message and log
// the detail.
var (
	ErrMalformed = errors.New("handoff token is malformed")
	ErrSignature = errors.New("handoff token signature or algorithm is invalid")
	ErrExpired   = errors.New("handoff token has expired")
	ErrAudience  = errors.New("handoff token is for another audience")
	ErrPurpose   = errors.New("handoff token is for another purpose")
	ErrIssuer    = errors.New("handoff token is from another issuer")
	ErrClaims    = errors.New("handoff token has invalid claims")
)

// Claims is what a verified token says.
type Claims struct {
	TokenID  string // jti: unique per token; the store redeems each one once
	PersonID string // sub: the person the app's backend identified
	UserID   string // uid: the person's MitID user id, if they already have one; may be empty
	Purpose  string // pur: what the token is for, the one purpose its Verifier accepts
	Expiry   time.Time
	IssuedAt time.Time
}

// wireClaims is the JSON payload. "pur" and "uid" are private claim names.
type wireClaims struct {
	jwt.RegisteredClaims
	Purpose string `json:"pur,omitempty"`
	UserID  string `json:"uid,omitempty"`
}

// validTokenID accepts base64url-alphabet ids (the Issuer's) and UUIDs, so that another
// issuer implementation fits, while keeping ids safe to store and log.
func validTokenID(s string) bool {
	if len(s) < minTokenIDLen || len(s) > maxTokenIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validText accepts non-empty, valid UTF-8 without control characters, so claim values
// can go into a database row or a log line as they are.
func validText(s string, maxBytes, maxRunes int) bool {
	if s == "" || len(s) > maxBytes || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func validPersonID(s string) bool { return validText(s, maxPersonID, maxPersonID) }

// validUserID allows the empty string: a person activating a first chip may have no
// user id yet.
func validUserID(s string) bool { return s == "" || validText(s, 4*maxUserID, maxUserID) }
