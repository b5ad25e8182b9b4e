package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mitidchip/server/store"
)

// storage is the library's op.Storage over our store.
type storage struct {
	st        Store
	keys      *keys
	now       func() time.Time
	rand      io.Reader
	logonPath string
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

// Bounds on what a client may send that is kept as given.
const (
	maxState = 1024
	maxNonce = 256
)

// authRequest is a stored request as the library sees it.
type authRequest struct{ r store.OIDCAuthRequest }

var _ op.AuthRequest = authRequest{}

func (a authRequest) GetID() string                       { return a.r.ID }
func (a authRequest) GetACR() string                      { return a.r.ACR }
func (a authRequest) GetAMR() []string                    { return a.r.AMR }
func (a authRequest) GetAudience() []string               { return []string{a.r.ClientID} }
func (a authRequest) GetAuthTime() time.Time              { return a.r.AuthTime }
func (a authRequest) GetClientID() string                 { return a.r.ClientID }
func (a authRequest) GetNonce() string                    { return a.r.Nonce }
func (a authRequest) GetRedirectURI() string              { return a.r.RedirectURI }
func (a authRequest) GetResponseType() zoidc.ResponseType { return zoidc.ResponseTypeCode }
func (a authRequest) GetResponseMode() zoidc.ResponseMode { return zoidc.ResponseModeQuery }
func (a authRequest) GetScopes() []string                 { return a.r.Scopes }
func (a authRequest) GetState() string                    { return a.r.State }
func (a authRequest) GetSubject() string                  { return a.r.PersonID }
func (a authRequest) Done() bool                          { return a.r.Finished() }

func (a authRequest) GetCodeChallenge() *zoidc.CodeChallenge {
	return &zoidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: zoidc.CodeChallengeMethod(a.r.CodeChallengeMethod)}
}

func invalid(format string, args ...any) error {
	return zoidc.ErrInvalidRequest().WithDescription(format, args...)
}

// CreateAuthRequest keeps a request the library has checked against its client
// (redirect URI matched exactly, response type, scopes), after our own rules: PKCE
// with S256, a nonce, the query response mode, the openid scope, no prompt=none.
func (s *storage) CreateAuthRequest(ctx context.Context, req *zoidc.AuthRequest, _ string) (op.AuthRequest, error) {
	switch {
	case req.CodeChallenge == "":
		return nil, invalid("PKCE is required: send code_challenge with code_challenge_method=S256")
	case req.CodeChallengeMethod != zoidc.CodeChallengeMethodS256:
		return nil, invalid("code_challenge_method must be S256")
	case parseRandom(req.CodeChallenge, 32) != nil:
		return nil, invalid("code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	case req.Nonce == "":
		return nil, invalid("nonce is required")
	case len(req.Nonce) > maxNonce || len(req.State) > maxState:
		return nil, invalid("nonce or state too long (at most %d and %d bytes)", maxNonce, maxState)
	case req.ResponseMode != "" && req.ResponseMode != zoidc.ResponseModeQuery:
		return nil, invalid("response_mode must be query")
	case !slices.Contains(req.Scopes, zoidc.ScopeOpenID):
		return nil, zoidc.ErrInvalidScope().WithDescription("the openid scope is required")
	case slices.Contains(req.Prompt, zoidc.PromptNone):
		// The provider keeps no session of its own: every logon is a ceremony.
		return nil, zoidc.ErrLoginRequired()
	}
	id, err := newRandom(s.rand, idBytes)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := store.OIDCAuthRequest{ID: id, ClientID: req.ClientID, RedirectURI: req.RedirectURI,
		Scopes: []string{zoidc.ScopeOpenID}, State: req.State, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod), CreatedAt: now, ExpiresAt: now.Add(AuthRequestLifetime)}
	if err := s.st.CreateAuthRequest(ctx, r); errors.Is(err, store.ErrNonceUsed) {
		return nil, invalid("this nonce was used in an earlier request: make a fresh one for every request")
	} else if err != nil {
		return nil, zoidc.ErrServerError().WithParent(err)
	}
	return authRequest{r}, nil
}

// AuthRequestByID is asked by the callback with the one-time handle Finish gave the
// browser (the library's "id" parameter), not the request's id: the id travels
// through the logon page's address, the handle only to the browser that logged on.
func (s *storage) AuthRequestByID(ctx context.Context, handle string) (op.AuthRequest, error) {
	if parseHandle(handle) != nil {
		return nil, invalid("no such logon")
	}
	r, err := s.st.AuthRequestByCallback(ctx, hash(handle))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid("no such logon")
	}
	if err != nil {
		return nil, zoidc.ErrServerError().WithParent(err)
	}
	if !s.now().Before(r.ExpiresAt) {
		return nil, invalid("the logon's time ran out")
	}
	return authRequest{r}, nil
}

// SaveAuthCode gives the request its code, once: a second visit to the callback
// (a reload) gets an error, sent to the client.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	now := s.now()
	err := s.st.IssueAuthCode(ctx, id, hash(code), now, now.Add(CodeLifetime))
	switch {
	case errors.Is(err, store.ErrCodeIssued):
		return zoidc.ErrInvalidRequest().WithDescription("the code for this logon was issued already")
	case errors.Is(err, store.ErrAuthRequestExpired):
		return zoidc.ErrInvalidRequest().WithDescription("the authorization request expired")
	case err != nil:
		return zoidc.ErrServerError().WithParent(err)
	}
	return nil
}

// AuthRequestByCode finds an unused, unexpired code. A code used before revokes
// the tokens it gave (RFC 6749 section 4.1.2): whoever holds it now may have stolen
// it.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.st.AuthRequestByCode(ctx, hash(code))
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !r.CodeUsedAt.IsZero() {
		d, _ := json.Marshal(map[string]string{"client": r.ClientID, "auth_request": r.ID}) // strings only
		if _, err := s.st.RevokeCodeTokens(ctx, hash(code), store.AuditEntry{At: now, Event: "oidc_code_replayed", Detail: string(d)}); err != nil {
			return nil, err
		}
		return nil, store.ErrCodeUsed
	}
	if !now.Before(r.CodeExpiresAt) {
		return nil, store.ErrCodeExpired
	}
	return authRequest{r}, nil
}

// DeleteAuthRequest keeps the request: its code's "used" mark must outlive the
// exchange, to refuse and answer a second use. The sweep removes it at its expiry.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken exchanges the code, atomically and once, for an access token.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(authRequest)
	if !ok || a.r.CodeHash == nil {
		return "", time.Time{}, zoidc.ErrUnsupportedGrantType()
	}
	id, err := newRandom(s.rand, idBytes)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	tok := store.OIDCToken{ID: id, CreatedAt: now, ExpiresAt: now.Add(AccessTokenLifetime)}
	d, _ := json.Marshal(map[string]string{"client": a.r.ClientID, "auth_request": a.r.ID}) // strings only
	err = s.st.RedeemAuthCode(ctx, a.r.CodeHash, now, tok, store.AuditEntry{At: now, Event: "oidc_code_redeemed", Detail: string(d)})
	switch {
	case errors.Is(err, store.ErrCodeUsed), errors.Is(err, store.ErrCodeExpired), errors.Is(err, store.ErrNotFound):
		return "", time.Time{}, zoidc.ErrInvalidGrant().WithDescription("invalid code")
	case err != nil:
		return "", time.Time{}, zoidc.ErrServerError().WithParent(err)
	}
	return id, tok.ExpiresAt, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, zoidc.ErrUnsupportedGrantType().WithDescription("no refresh tokens")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, zoidc.ErrInvalidGrant().WithDescription("no refresh tokens")
}

// TerminateSession: the provider keeps no session of its own (the end_session
// endpoint is not offered).
func (s *storage) TerminateSession(context.Context, string, string) error {
	return zoidc.ErrRequestNotSupported()
}

// RevokeToken: the revocation endpoint is not offered; access tokens live minutes.
func (s *storage) RevokeToken(context.Context, string, string, string) *zoidc.Error {
	return zoidc.ErrRequestNotSupported()
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) { return s.keys.signing(ctx) }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{Alg}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) { return s.keys.published(ctx) }

// GetClientByClientID: an unknown client is a plain error (the library answers it
// as the client's fault, never redirecting).
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.st.OIDCClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("unknown client")
	}
	if err != nil {
		return nil, zoidc.ErrServerError().WithParent(err)
	}
	return client{c: c, logonPath: s.logonPath}, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.GetClientByClientID(ctx, id)
	if err != nil {
		return err
	}
	if !c.(client).checkSecret(secret) {
		return errors.New("wrong client secret")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *zoidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest: the ID token says who (sub) and how (acr, amr), nothing
// more.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *zoidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	ui.Subject = req.GetSubject()
	return nil
}

// SetUserinfoFromToken answers userinfo for an unexpired access token of subject.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.st.OIDCToken(ctx, tokenID)
	if err != nil || t.PersonID != subject || !s.now().Before(t.ExpiresAt) {
		return errors.New("invalid or expired access token")
	}
	ui.Subject = t.PersonID
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *zoidc.IntrospectionResponse, string, string, string) error {
	return zoidc.ErrRequestNotSupported()
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile client authentication is not offered")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grant is not offered")
}

func (s *storage) Health(ctx context.Context) error { return s.st.Ping(ctx) }
