package handoff

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIss = "https://app-backend.mitid.example"
	testAud = "https://activation.mitid.example"
	testJTI = "c2VlZGVkLXRva2VuLWlkLTE" // 23 chars of base64url
)

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	verifyAt = t0.Add(time.Minute)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// seededRand is a deterministic random source, so keys and token ids repeat per seed.
func seededRand(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

type keys struct {
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
	other ed25519.PrivateKey // a key the verifier does not trust
}

func testKeys(t testing.TB) keys {
	t.Helper()
	pub, priv, err := GenerateKey(seededRand(1))
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	_, other, err := GenerateKey(seededRand(2))
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return keys{pub: pub, priv: priv, other: other}
}

// baseClaims is a valid payload as any issuer implementation might write it; cases
// change one thing at a time.
func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIss,
		"sub": "person-1",
		"aud": []string{testAud},
		"exp": t0.Add(5 * time.Minute).Unix(),
		"iat": t0.Unix(),
		"jti": testJTI,
		"pur": Purpose,
	}
}

// craft signs claims with method and key, after letting edit change the claims and
// header; it is how the tests make tokens the Issuer would never make.
func craft(t testing.TB, method jwt.SigningMethod, key any, edit func(h map[string]any, c jwt.MapClaims)) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, baseClaims())
	tok.Header["typ"] = TokenType
	if edit != nil {
		edit(tok.Header, tok.Claims.(jwt.MapClaims))
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign crafted token: %v", err)
	}
	return s
}

// segment replaces part i (0 header, 1 payload, 2 signature) of a token.
func segment(token string, i int, f func(string) string) string {
	parts := strings.Split(token, ".")
	parts[i] = f(parts[i])
	return strings.Join(parts, ".")
}

func b64json(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var sentinels = []error{ErrMalformed, ErrSignature, ErrExpired, ErrAudience, ErrPurpose, ErrIssuer, ErrClaims}

// checkOneSentinel fails unless err matches exactly one of the package's errors, so
// callers can map errors to messages without ambiguity.
func checkOneSentinel(t testing.TB, err error) {
	t.Helper()
	var n int
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q matches %d sentinel errors, want exactly 1", err, n)
	}
}

func TestVerify(t *testing.T) {
	k := testKeys(t)
	pubPEM, err := EncodePublicKeyPEM(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	issued, issuedClaims, err := NewIssuer(k.priv, testIss, testAud, 5*time.Minute, fixedClock(t0), seededRand(3)).Issue("person-1", "")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	edit := func(f func(h map[string]any, c jwt.MapClaims)) func(t *testing.T) string {
		return func(t *testing.T) string { return craft(t, jwt.SigningMethodEdDSA, k.priv, f) }
	}
	fixed := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }
	crafted := Claims{TokenID: testJTI, PersonID: "person-1", Purpose: Purpose, Expiry: t0.Add(5 * time.Minute), IssuedAt: t0}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		now   time.Time // verifyAt if zero
		want  error     // nil: accepted
		claim *Claims   // checked when accepted
	}{
		{name: "valid from Issuer", token: fixed(issued), claim: &issuedClaims},
		{name: "valid crafted", token: edit(nil), claim: &crafted},
		{name: "valid with user id and UUID jti", token: edit(func(_ map[string]any, c jwt.MapClaims) {
			c["uid"] = "Søren Kierkegaard 1813"
			c["jti"] = "6f1c2b7e-3d4a-4c8e-9b1f-2a7d5e9c0b13"
		}), claim: &Claims{TokenID: "6f1c2b7e-3d4a-4c8e-9b1f-2a7d5e9c0b13", PersonID: "person-1", UserID: "Søren Kierkegaard 1813", Purpose: Purpose, Expiry: t0.Add(5 * time.Minute), IssuedAt: t0}},
		{name: "typ with application/ prefix", token: edit(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "application/" + TokenType }), claim: &crafted},
		{name: "aud as a single string", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = testAud }), claim: &crafted},

		{name: "expired", token: edit(nil), now: t0.Add(5*time.Minute + Leeway), want: ErrExpired},
		{name: "expired long ago", token: edit(nil), now: t0.Add(24 * time.Hour), want: ErrExpired},
		{name: "just inside leeway after exp", token: edit(nil), now: t0.Add(5*time.Minute + Leeway - time.Second), claim: &crafted},
		{name: "not yet valid: nbf ahead", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = verifyAt.Add(2 * time.Minute).Unix() }), want: ErrClaims},
		{name: "not yet valid: iat ahead beyond leeway", token: edit(func(_ map[string]any, c jwt.MapClaims) {
			c["iat"] = verifyAt.Add(Leeway + time.Second).Unix()
			c["exp"] = verifyAt.Add(5 * time.Minute).Unix()
		}), want: ErrClaims},
		{name: "iat ahead within leeway", token: edit(func(_ map[string]any, c jwt.MapClaims) {
			c["iat"] = verifyAt.Add(Leeway - time.Second).Unix()
		}), claim: &Claims{TokenID: testJTI, PersonID: "person-1", Purpose: Purpose, Expiry: t0.Add(5 * time.Minute), IssuedAt: verifyAt.Add(Leeway - time.Second)}},

		{name: "tampered payload", token: fixed(segment(issued, 1, func(string) string {
			c := baseClaims()
			c["sub"] = "person-2"
			return b64json(c)
		})), want: ErrSignature},
		{name: "tampered header", token: fixed(segment(issued, 0, func(string) string {
			return b64json(map[string]any{"alg": "EdDSA", "typ": "JWT"})
		})), want: ErrSignature},
		{name: "tampered signature", token: fixed(segment(issued, 2, func(s string) string {
			b, _ := base64.RawURLEncoding.DecodeString(s)
			b[10] ^= 0x01
			return base64.RawURLEncoding.EncodeToString(b)
		})), want: ErrSignature},
		{name: "signature missing", token: fixed(segment(issued, 2, func(string) string { return "" })), want: ErrSignature},
		{name: "signed by another key", token: func(t *testing.T) string { return craft(t, jwt.SigningMethodEdDSA, k.other, nil) }, want: ErrSignature},
		{name: "alg none", token: func(t *testing.T) string {
			return craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)
		}, want: ErrSignature},
		{name: "alg none on real payload", token: fixed(segment(segment(issued, 0, func(string) string {
			return b64json(map[string]any{"alg": "none", "typ": TokenType})
		}), 2, func(string) string { return "" })), want: ErrSignature},
		{name: "HS256 with raw public key as secret", token: func(t *testing.T) string {
			return craft(t, jwt.SigningMethodHS256, []byte(k.pub), nil)
		}, want: ErrSignature},
		{name: "HS256 with public key PEM as secret", token: func(t *testing.T) string {
			return craft(t, jwt.SigningMethodHS256, pubPEM, nil)
		}, want: ErrSignature},
		{name: "unknown alg", token: fixed(segment(issued, 0, func(string) string {
			return b64json(map[string]any{"alg": "Ed448", "typ": TokenType})
		})), want: ErrSignature},
		{name: "alg missing", token: fixed(segment(issued, 0, func(string) string {
			return b64json(map[string]any{"typ": TokenType})
		})), want: ErrSignature},

		{name: "wrong audience", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{"https://other.example"} }), want: ErrAudience},
		{name: "audience prefix of ours", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{testAud[:len(testAud)-1]} }), want: ErrAudience},
		{name: "two audiences including ours", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{testAud, "https://other.example"} }), want: ErrAudience},
		{name: "audience missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "aud") }), want: ErrAudience},
		{name: "wrong issuer", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "https://evil.example" }), want: ErrIssuer},
		{name: "issuer missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "iss") }), want: ErrIssuer},
		{name: "wrong purpose", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["pur"] = "mitid-login" }), want: ErrPurpose},
		{name: "purpose missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "pur") }), want: ErrPurpose},
		{name: "typ JWT", token: edit(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" }), want: ErrPurpose},
		{name: "typ missing", token: edit(func(h map[string]any, _ jwt.MapClaims) { delete(h, "typ") }), want: ErrPurpose},
		{name: "crit header", token: edit(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"exp"} }), want: ErrMalformed},

		{name: "jti missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "jti") }), want: ErrClaims},
		{name: "jti too short", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["jti"] = "abc" }), want: ErrClaims},
		{name: "jti too long", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["jti"] = strings.Repeat("a", maxTokenIDLen+1) }), want: ErrClaims},
		{name: "jti with odd characters", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["jti"] = "abcdefghijklmnop'; drop" }), want: ErrClaims},
		{name: "sub missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "sub") }), want: ErrClaims},
		{name: "sub with control character", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["sub"] = "person\n1" }), want: ErrClaims},
		{name: "sub too long", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["sub"] = strings.Repeat("p", maxPersonID+1) }), want: ErrClaims},
		{name: "uid too long", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["uid"] = strings.Repeat("u", maxUserID+1) }), want: ErrClaims},
		{name: "exp missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") }), want: ErrClaims},
		{name: "iat missing", token: edit(func(_ map[string]any, c jwt.MapClaims) { delete(c, "iat") }), want: ErrClaims},
		{name: "lifetime too long", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = t0.Add(MaxLifetime + time.Second).Unix() }), want: ErrClaims},
		{name: "exp before iat", token: edit(func(_ map[string]any, c jwt.MapClaims) {
			c["iat"] = verifyAt.Add(20 * time.Second).Unix()
			c["exp"] = verifyAt.Add(10 * time.Second).Unix()
		}), want: ErrClaims},
		{name: "exp not a number", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = "soon" }), want: ErrMalformed},
		{name: "sub not a string", token: edit(func(_ map[string]any, c jwt.MapClaims) { c["sub"] = 42 }), want: ErrMalformed},

		{name: "oversized token", token: fixed(issued + strings.Repeat("A", MaxTokenSize-len(issued)+1)), want: ErrMalformed},
		{name: "padded segments", token: fixed(segment(issued, 2, func(s string) string { return s + "==" })), want: ErrMalformed},
		{name: "empty", token: fixed(""), want: ErrMalformed},
		{name: "one segment", token: fixed("eyJhbGciOiJFZERTQSJ9"), want: ErrMalformed},
		{name: "two segments", token: fixed("a.b"), want: ErrMalformed},
		{name: "four segments", token: fixed(issued + ".x"), want: ErrMalformed},
		{name: "dots only", token: fixed(".."), want: ErrMalformed},
		{name: "not base64", token: fixed("!!!.@@@.###"), want: ErrMalformed},
		{name: "header not JSON", token: fixed(segment(issued, 0, func(string) string { return base64.RawURLEncoding.EncodeToString([]byte("not json")) })), want: ErrMalformed},
		{name: "payload not JSON", token: fixed(segment(issued, 1, func(string) string { return base64.RawURLEncoding.EncodeToString([]byte("[1,2")) })), want: ErrMalformed},
		{name: "URL fragment left on", token: fixed("#t=" + issued), want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = verifyAt
			}
			v := NewVerifier(k.pub, testIss, testAud, fixedClock(now))
			got, err := v.Verify(tc.token(t))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: got error %v, want success", err)
				}
				if got != *tc.claim {
					t.Fatalf("Verify claims:\n got %+v\nwant %+v", got, *tc.claim)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got error %v, want %v", err, tc.want)
			}
			checkOneSentinel(t, err)
			t.Logf("error: %v", err)
			if got != (Claims{}) {
				t.Fatalf("Verify returned claims %+v with an error, want zero Claims", got)
			}
		})
	}
}

// Replay is the store's job: Verify is stateless and accepts the same token again.
// This test pins that down so nobody relies on Verify for it.
func TestVerifyDoesNotDetectReplay(t *testing.T) {
	k := testKeys(t)
	token, want, err := NewIssuer(k.priv, testIss, testAud, 5*time.Minute, fixedClock(t0), seededRand(3)).Issue("person-1", "user-1")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	v := NewVerifier(k.pub, testIss, testAud, fixedClock(verifyAt))
	for i := range 2 {
		got, err := v.Verify(token)
		if err != nil {
			t.Fatalf("Verify #%d: got error %v, want success (replay is detected by the store)", i+1, err)
		}
		if got != want {
			t.Fatalf("Verify #%d claims:\n got %+v\nwant %+v", i+1, got, want)
		}
	}
}

func TestVerifierMisconfigured(t *testing.T) {
	k := testKeys(t)
	token, _, err := NewIssuer(k.priv, testIss, testAud, 5*time.Minute, fixedClock(t0), seededRand(3)).Issue("person-1", "")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	tests := []struct {
		name string
		v    *Verifier
		want error
	}{
		{name: "no issuer", v: NewVerifier(k.pub, "", testAud, fixedClock(verifyAt)), want: ErrIssuer},
		{name: "no audience", v: NewVerifier(k.pub, testIss, "", fixedClock(verifyAt)), want: ErrAudience},
		{name: "short public key", v: NewVerifier(k.pub[:31], testIss, testAud, fixedClock(verifyAt)), want: ErrSignature},
		{name: "nil public key", v: NewVerifier(nil, testIss, testAud, fixedClock(verifyAt)), want: ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	k := testKeys(t)
	iss := NewIssuer(k.priv, testIss, testAud, 5*time.Minute+500*time.Millisecond, fixedClock(t0.Add(700*time.Millisecond)), seededRand(3))
	token, c, err := iss.Issue("person-1", "user-1")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	want := Claims{TokenID: c.TokenID, PersonID: "person-1", UserID: "user-1", Purpose: Purpose, IssuedAt: t0, Expiry: t0.Add(5 * time.Minute)}
	if c != want {
		t.Fatalf("Issue claims:\n got %+v\nwant %+v", c, want)
	}
	if id, err := base64.RawURLEncoding.DecodeString(c.TokenID); err != nil || len(id) != 16 {
		t.Fatalf("token id %q: got %d bytes (err %v), want 16 random bytes in base64url", c.TokenID, len(id), err)
	}

	var header map[string]any
	hb, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil || json.Unmarshal(hb, &header) != nil {
		t.Fatalf("token header %q does not decode: %v", hb, err)
	}
	if header["alg"] != "EdDSA" || header["typ"] != TokenType || len(header) != 2 {
		t.Fatalf("token header: got %v, want alg EdDSA and typ %s only", header, TokenType)
	}

	_, c2, err := iss.Issue("person-1", "user-1")
	if err != nil {
		t.Fatalf("second Issue: %v", err)
	}
	if c2.TokenID == c.TokenID {
		t.Fatalf("two Issue calls gave the same token id %q, want distinct ids", c.TokenID)
	}

	got, err := NewVerifier(k.pub, testIss, testAud, fixedClock(verifyAt)).Verify(token)
	if err != nil {
		t.Fatalf("Verify of issued token: %v", err)
	}
	if got != c {
		t.Fatalf("Verify claims differ from Issue claims:\n got %+v\nwant %+v", got, c)
	}
}

func TestIssueErrors(t *testing.T) {
	k := testKeys(t)
	clock := fixedClock(t0)
	tests := []struct {
		name     string
		iss      *Issuer
		personID string
		userID   string
	}{
		{name: "zero lifetime", iss: NewIssuer(k.priv, testIss, testAud, 0, clock, seededRand(1)), personID: "p"},
		{name: "lifetime over max", iss: NewIssuer(k.priv, testIss, testAud, MaxLifetime+time.Second, clock, seededRand(1)), personID: "p"},
		{name: "lifetime under a second", iss: NewIssuer(k.priv, testIss, testAud, 500*time.Millisecond, clock, seededRand(1)), personID: "p"},
		{name: "no issuer", iss: NewIssuer(k.priv, "", testAud, time.Minute, clock, seededRand(1)), personID: "p"},
		{name: "no audience", iss: NewIssuer(k.priv, testIss, "", time.Minute, clock, seededRand(1)), personID: "p"},
		{name: "empty person id", iss: NewIssuer(k.priv, testIss, testAud, time.Minute, clock, seededRand(1)), personID: ""},
		{name: "person id with newline", iss: NewIssuer(k.priv, testIss, testAud, time.Minute, clock, seededRand(1)), personID: "p\n"},
		{name: "user id too long", iss: NewIssuer(k.priv, testIss, testAud, time.Minute, clock, seededRand(1)), personID: "p", userID: strings.Repeat("u", maxUserID+1)},
		{name: "user id invalid UTF-8", iss: NewIssuer(k.priv, testIss, testAud, time.Minute, clock, seededRand(1)), personID: "p", userID: "\xff"},
		{name: "short private key", iss: NewIssuer(k.priv[:32], testIss, testAud, time.Minute, clock, seededRand(1)), personID: "p"},
		{name: "random source fails", iss: NewIssuer(k.priv, testIss, testAud, time.Minute, clock, iotest.ErrReader(errors.New("no entropy"))), personID: "p"},
		{name: "token over size limit", iss: NewIssuer(k.priv, strings.Repeat("i", MaxTokenSize), testAud, time.Minute, clock, seededRand(1)), personID: "p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, c, err := tc.iss.Issue(tc.personID, tc.userID)
			if err == nil {
				t.Fatalf("Issue: got token %q, want an error", token)
			}
			if token != "" || c != (Claims{}) {
				t.Fatalf("Issue returned token %q and claims %+v with error %v, want neither", token, c, err)
			}
		})
	}
}

// FuzzVerify checks that Verify never panics, classifies every failure, and accepts
// nothing but the exact tokens a real Issuer made.
func FuzzVerify(f *testing.F) {
	k := testKeys(f)
	valid := map[string]Claims{}
	for i, p := range []struct{ person, user string }{{"person-1", ""}, {"person-2", "Åse 1234"}} {
		tok, c, err := NewIssuer(k.priv, testIss, testAud, 5*time.Minute, fixedClock(t0), seededRand(byte(10+i))).Issue(p.person, p.user)
		if err != nil {
			f.Fatalf("Issue: %v", err)
		}
		valid[tok] = c
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(tok + "A")
		f.Add(strings.Replace(tok, ".", "..", 1))
		f.Add(segment(tok, 2, func(string) string { return "" }))
		f.Add(segment(tok, 0, func(string) string { return b64json(map[string]any{"alg": "none", "typ": TokenType}) }))
		f.Add(segment(tok, 0, func(string) string { return b64json(map[string]any{"alg": "HS256", "typ": TokenType}) }))
		f.Add(segment(tok, 1, func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }))
	}
	f.Add(craft(f, jwt.SigningMethodEdDSA, k.other, nil))
	f.Add(craft(f, jwt.SigningMethodHS256, []byte(k.pub), nil))
	f.Add("")
	f.Add("..")

	v := NewVerifier(k.pub, testIss, testAud, fixedClock(verifyAt))
	f.Fuzz(func(t *testing.T, token string) {
		got, err := v.Verify(token)
		if err != nil {
			checkOneSentinel(t, err)
			if got != (Claims{}) {
				t.Fatalf("Verify returned claims %+v with error %v", got, err)
			}
			return
		}
		want, ok := valid[token]
		if !ok {
			t.Fatalf("Verify accepted %q (claims %+v), which no Issuer made", token, got)
		}
		if got != want {
			t.Fatalf("Verify claims:\n got %+v\nwant %+v", got, want)
		}
	})
}

// TestVerifyDocExample pins the wire format: the example in docs/handoff.md, made once
// by an Issuer, must keep verifying, so issuers in other languages can rely on it.
func TestVerifyDocExample(t *testing.T) {
	const token = "eyJhbGciOiJFZERTQSIsInR5cCI6Im1pdGlkLWhhbmRvZmYrand0In0.eyJpc3MiOiJodHRwczovL2FwcC1iYWNrZW5kLm1pdGlkLmV4YW1wbGUiLCJzdWIiOiJmM2E5YzFlMC1wZXJzb24iLCJhdWQiOlsiaHR0cHM6Ly9hY3RpdmF0aW9uLm1pdGlkLmRrIl0sImV4cCI6MTc3MjM2NjcwMCwiaWF0IjoxNzcyMzY2NDAwLCJqdGkiOiJ4c0ZRcVJKU0N4eDhhY0lOU01SazR3IiwicHVyIjoibWl0aWQtY2hpcC1hY3RpdmF0aW9uIn0.PBthom_Jih55GPBesVOmZGVExGfW1rzS2LkiXzIUr9fyfUkopY8UzYgi6Nk0Ln38B1P7UlStLI9E7-VhTQqnAw"
	const pubPEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEALa3rpjyOoDqKCUz79x/1Ir22j+RYXlk4pC7MGLMiS3Q=\n-----END PUBLIC KEY-----\n"
	pub, err := ParsePublicKeyPEM([]byte(pubPEM))
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM: %v", err)
	}
	got, err := NewVerifier(pub, "https://app-backend.mitid.example", "https://activation.mitid.dk", fixedClock(verifyAt)).Verify(token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Claims{TokenID: "xsFQqRJSCxx8acINSMRk4w", PersonID: "f3a9c1e0-person", Purpose: Purpose, IssuedAt: t0, Expiry: t0.Add(5 * time.Minute)}
	if got != want {
		t.Fatalf("Verify claims:\n got %+v\nwant %+v", got, want)
	}
}
