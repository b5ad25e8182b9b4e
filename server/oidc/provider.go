// Package oidc makes the server an OpenID Connect provider, so that sites log people
// on with their MitID chip: discovery, JWKS, the authorization code flow with PKCE
// (S256) required, ID tokens signed with ES256 that say who logged on (sub) and how
// (acr, amr), and userinfo. The protocol is github.com/zitadel/oidc's op package; this
// package is its storage over our store, the rules the library leaves to us, and
// Finish, which the logon ceremony calls. docs/oidc.md describes it.
package oidc

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/cors"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mitidchip/server/store"
)

// What an ID token says about how the person logged on, and how long things live
// (decisions 56 to 60).
const (
	// ACR names the logon: the MitID user ID's password and a hardware chip pressed.
	// It is this project's URN, not an NSIS assurance level: a deployment maps it to
	// https://data.gov.dk/concept/core/nsis/loa/... once it is certified as one.
	ACR = "urn:mitidchip:acr:password-and-chip"
	// AuthRequestLifetime is how long a person has, from the site's redirect, to log on.
	AuthRequestLifetime = 10 * time.Minute
	// CodeLifetime is how long an authorization code may wait for its exchange.
	CodeLifetime = 60 * time.Second
	// IDTokenLifetime and AccessTokenLifetime: the ID token is read at once by the
	// site; the access token serves userinfo only.
	IDTokenLifetime     = 5 * time.Minute
	AccessTokenLifetime = 5 * time.Minute
	// LogonPath is the logon page, which the authorize endpoint sends the browser to.
	LogonPath = "/logon"
	// The endpoints, under the issuer.
	AuthorizePath = "/oidc/authorize"
	CallbackPath  = AuthorizePath + "/callback"
	TokenPath     = "/oidc/token"
	UserinfoPath  = "/oidc/userinfo"
	KeysPath      = "/oidc/keys"
	DiscoveryPath = "/.well-known/openid-configuration"
	// maxTokenRequest bounds a token request's body.
	maxTokenRequest = 16 << 10
)

// AMR is how the person proved who they are (RFC 8176): a password (pwd), a
// hardware key (hwk), so more than one factor (mfa).
var AMR = []string{"pwd", "hwk", "mfa"}

// Errors Finish returns; test with errors.Is.
var (
	ErrAuthRequestUnknown        = errors.New("oidc: no such authorization request")
	ErrAuthRequestExpired  error = expiredError{}
	ErrAuthRequestFinished       = errors.New("oidc: the authorization request was finished already")
)

// expiredError is ErrAuthRequestExpired; the logon ceremony, which does not import
// this package, tells it by its method.
type expiredError struct{}

func (expiredError) Error() string            { return "oidc: the authorization request expired" }
func (expiredError) AuthRequestExpired() bool { return true }

// AuthRequests is what the logon ceremony calls when a person has logged on for a
// site (the logon package declares the same interface).
type AuthRequests interface {
	// Finish completes OIDC authorization request id for personID, logged on at
	// authTime with password and chip; it returns the URL the browser goes to next.
	Finish(ctx context.Context, id, personID string, authTime time.Time) (string, error)
	// Site names the site request id is for (the logon page says it).
	Site(ctx context.Context, id string) (string, error)
	// Cancel ends request id without a logon; the browser goes back to the site.
	Cancel(ctx context.Context, id string) (string, error)
}

var _ AuthRequests = (*Provider)(nil)

// Store is what the provider needs of the store.
type Store interface {
	store.OIDCStore
	Ping(ctx context.Context) error
}

// Config configures New.
type Config struct {
	Store  Store
	Origin string // the issuer: the server's origin as browsers see it
	Sealer Sealer // seals the signing keys
	// SealKey derives the key that encrypts codes and access tokens (HKDF-SHA256), so
	// that every instance sharing the store and the seal key shares it too.
	SealKey [32]byte
	Now     func() time.Time
	Rand    io.Reader
}

// Provider is the OpenID Connect provider.
type Provider struct {
	op      *op.Provider
	storage *storage
	origin  string
}

// New makes the provider, and the first signing key if the store has none.
func New(ctx context.Context, c Config) (*Provider, error) {
	if c.Store == nil || c.Sealer == nil || c.Now == nil || c.Rand == nil {
		return nil, errors.New("oidc: Store, Sealer, Now and Rand are required")
	}
	u, err := url.Parse(c.Origin)
	if err != nil || u.Host == "" || u.Path != "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, fmt.Errorf("oidc: issuer %q: want https://host[:port] (plain http only on loopback)", c.Origin)
	}
	k := &keys{st: c.Store, sealer: c.Sealer}
	if err := k.ensure(ctx, c.Rand, c.Now()); err != nil {
		return nil, err
	}
	cryptoKey, err := hkdf.Key(sha256.New, c.SealKey[:], nil, "mitid-chip oidc codes and access tokens", 32)
	if err != nil {
		return nil, err
	}
	s := &storage{st: c.Store, keys: k, now: c.Now, rand: c.Rand, logonPath: LogonPath}
	cfg := &op.Config{CodeMethodS256: true, SupportedScopes: []string{zoidc.ScopeOpenID},
		SupportedClaims: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "c_hash", "at_hash"}}
	copy(cfg.CryptoKey[:], cryptoKey)
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(AuthorizePath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(TokenPath)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(UserinfoPath)),
		op.WithCustomKeysEndpoint(op.NewEndpoint(KeysPath)),
		// Sites' scripts may read the public endpoints; nothing here uses cookies.
		op.WithCORSOptions(&cors.Options{AllowedOrigins: []string{"*"}, AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type"}}),
	}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(cfg, s, op.StaticIssuer(c.Origin), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	return &Provider{op: p, storage: s, origin: c.Origin}, nil
}

// Register mounts the provider's endpoints on mux. Only these are offered: no
// introspection, revocation, end_session or device flow.
func (p *Provider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+DiscoveryPath, p.discovery)
	mux.Handle("GET "+AuthorizePath, p.op)
	mux.Handle("GET "+CallbackPath, p.op)
	mux.Handle("POST "+TokenPath, http.MaxBytesHandler(p.op, maxTokenRequest))
	mux.Handle("OPTIONS "+TokenPath, p.op)
	mux.Handle("GET "+UserinfoPath, p.op)
	mux.Handle("POST "+UserinfoPath, http.MaxBytesHandler(p.op, maxTokenRequest))
	mux.Handle("OPTIONS "+UserinfoPath, p.op)
	mux.Handle("GET "+KeysPath, p.op)
}

// discovery is the library's discovery document without the endpoints and grants
// this provider does not offer.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.origin)
	d := op.CreateDiscoveryConfig(ctx, p.op, p.storage)
	d.IntrospectionEndpoint, d.RevocationEndpoint, d.EndSessionEndpoint = "", "", ""
	d.DeviceAuthorizationEndpoint, d.CheckSessionIframe = "", ""
	d.IntrospectionEndpointAuthMethodsSupported, d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil, nil
	d.RevocationEndpointAuthMethodsSupported, d.RevocationEndpointAuthSigningAlgValuesSupported = nil, nil
	d.TokenEndpointAuthSigningAlgValuesSupported = nil
	d.GrantTypesSupported = []zoidc.GrantType{zoidc.GrantTypeCode}
	d.ResponseTypesSupported = []string{string(zoidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(zoidc.ResponseModeQuery)}
	d.TokenEndpointAuthMethodsSupported = []zoidc.AuthMethod{zoidc.AuthMethodBasic, zoidc.AuthMethodNone}
	d.CodeChallengeMethodsSupported = []zoidc.CodeChallengeMethod{zoidc.CodeChallengeMethodS256}
	d.ACRValuesSupported = []string{ACR}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(d)
}

// Finish completes authorization request id for personID, logged on at authTime
// with password and chip, and returns the provider's callback for the browser: it
// carries a one-time handle, not the request's id, and issues the code to the
// site's redirect URI. An unknown, expired or finished id changes nothing.
func (p *Provider) Finish(ctx context.Context, id, personID string, authTime time.Time) (string, error) {
	if err := ParseAuthRequestID(id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrAuthRequestUnknown, err)
	}
	if personID == "" || authTime.IsZero() {
		return "", errors.New("oidc: finish: a person and a logon time are required")
	}
	r, err := p.storage.st.AuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrAuthRequestUnknown
	}
	if err != nil {
		return "", err
	}
	handle, err := newRandom(p.storage.rand, handleBytes)
	if err != nil {
		return "", err
	}
	now := p.storage.now()
	d, _ := json.Marshal(map[string]string{"client": r.ClientID, "auth_request": id}) // strings only
	_, err = p.storage.st.FinishAuthRequest(ctx, store.OIDCFinish{ID: id, PersonID: personID, AuthTime: authTime,
		ACR: ACR, AMR: AMR, CallbackHash: hash(handle), At: now,
		Audit: store.AuditEntry{At: now, Event: "oidc_logon", Detail: string(d)}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrAuthRequestUnknown
	case errors.Is(err, store.ErrAuthRequestExpired):
		return "", ErrAuthRequestExpired
	case errors.Is(err, store.ErrAuthRequestFinished):
		return "", ErrAuthRequestFinished
	case err != nil:
		return "", err
	}
	return strings.TrimSuffix(p.origin, "/") + CallbackPath + "?id=" + handle, nil
}

// Site is the name of the site authorization request id is for, for the logon page
// to say where the person logs on: ErrAuthRequestUnknown if there is no such
// request, ErrAuthRequestFinished if a logon finished it, and ErrAuthRequestExpired,
// with the name, if its time ran out (the page then offers the way back, Cancel).
func (p *Provider) Site(ctx context.Context, id string) (string, error) {
	if err := ParseAuthRequestID(id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrAuthRequestUnknown, err)
	}
	r, err := p.storage.st.AuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrAuthRequestUnknown
	}
	if err != nil {
		return "", err
	}
	c, err := p.storage.st.OIDCClient(ctx, r.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrAuthRequestUnknown
	}
	if err != nil {
		return "", err
	}
	switch {
	case r.Finished():
		return "", ErrAuthRequestFinished
	case !p.storage.now().Before(r.ExpiresAt):
		return c.Name, ErrAuthRequestExpired
	}
	return c.Name, nil
}

// Cancel ends authorization request id without a logon, as the person chose to go
// back to the site, and returns where the browser goes: the request's registered
// redirect URI with error=access_denied and the site's state (OpenID Connect Core
// 3.1.2.6), built by the library as it builds every answer. A request whose time ran
// out is answered the same way, so the person is never left on the logon page. An
// unknown or finished request is an error and changes nothing.
func (p *Provider) Cancel(ctx context.Context, id string) (string, error) {
	if err := ParseAuthRequestID(id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrAuthRequestUnknown, err)
	}
	now := p.storage.now()
	d, _ := json.Marshal(map[string]string{"auth_request": id}) // strings only
	r, err := p.storage.st.CancelAuthRequest(ctx, id, now, store.AuditEntry{At: now, Event: "oidc_logon_cancelled", Detail: string(d)})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrAuthRequestUnknown
	case errors.Is(err, store.ErrAuthRequestFinished):
		return "", ErrAuthRequestFinished
	case err != nil:
		return "", err
	}
	answer := zoidc.ErrAccessDenied().WithDescription("the person cancelled the logon")
	answer.State = r.State
	return op.AuthResponseURL(r.RedirectURI, zoidc.ResponseTypeCode, zoidc.ResponseModeQuery, answer, p.op.Encoder())
}
