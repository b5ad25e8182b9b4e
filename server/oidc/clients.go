package oidc

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mitidchip/server/store"
)

// MaxRedirectURI bounds a redirect URI's length.
const MaxRedirectURI = 2000

// clientIDRule: short, readable ids an operator types and a site configures.
var clientIDRule = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}$`)

// ValidateClientID checks a client id an operator chose.
func ValidateClientID(id string) error {
	if !clientIDRule.MatchString(id) {
		return fmt.Errorf("client id %q: want 2 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", id)
	}
	return nil
}

// ValidateRedirectURI checks a redirect URI an operator registers: absolute https
// with a host, or http on a loopback host (a site on the developer's own machine); no
// fragment (RFC 6749 section 3.1.2), no user info, nothing a browser would rewrite
// (it must come back byte for byte: the provider matches it exactly).
func ValidateRedirectURI(s string) error {
	if s == "" || len(s) > MaxRedirectURI {
		return fmt.Errorf("redirect URI: want 1 to %d characters", MaxRedirectURI)
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f {
			return fmt.Errorf("redirect URI %q: spaces, control and non-ASCII characters are not allowed (percent-encode them)", s)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("redirect URI %q: %w", s, err)
	}
	switch {
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("redirect URI %q: a fragment is not allowed", s)
	case u.User != nil:
		return fmt.Errorf("redirect URI %q: user info is not allowed", s)
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("redirect URI %q: want an absolute URI with a host", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return fmt.Errorf("redirect URI %q: want https (plain http only on a loopback host)", s)
	}
	if u.String() != s {
		return fmt.Errorf("redirect URI %q: not in canonical form (a browser would send %q)", s, u.String())
	}
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// NewClient is a client record for the store, with its secret, made from rand, when
// it is confidential (public false); secret is empty for a public client. The secret
// is shown once: the store keeps its hash.
func NewClient(id, name string, redirectURIs []string, public bool, rand io.Reader, now time.Time) (c store.OIDCClient, secret string, err error) {
	if err := ValidateClientID(id); err != nil {
		return c, "", err
	}
	if strings.TrimSpace(name) == "" || len(name) > 200 || strings.ContainsAny(name, "\n\r") {
		return c, "", errors.New("client name: want 1 to 200 characters on one line")
	}
	if len(redirectURIs) == 0 {
		return c, "", errors.New("at least one redirect URI is required")
	}
	seen := map[string]bool{}
	for _, u := range redirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return c, "", err
		}
		if seen[u] {
			return c, "", fmt.Errorf("redirect URI %q given twice", u)
		}
		seen[u] = true
	}
	c = store.OIDCClient{ID: id, Name: name, RedirectURIs: redirectURIs, CreatedAt: now}
	if !public {
		if secret, err = newRandom(rand, 32); err != nil {
			return c, "", err
		}
		c.SecretHash = hash(secret)
	}
	return c, secret, nil
}

// client is a registered client as the library sees it.
type client struct {
	c         store.OIDCClient
	logonPath string
}

var _ op.Client = client{}

func (c client) GetID() string                    { return c.c.ID }
func (c client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return nil }
func (c client) confidential() bool               { return c.c.SecretHash != nil }
func (c client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}
func (c client) GrantTypes() []zoidc.GrantType        { return []zoidc.GrantType{zoidc.GrantTypeCode} }
func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration       { return IDTokenLifetime }
func (c client) IsScopeAllowed(string) bool           { return false }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c client) ClockSkew() time.Duration             { return 0 }

func (c client) ApplicationType() op.ApplicationType {
	if c.confidential() {
		return op.ApplicationTypeWeb
	}
	return op.ApplicationTypeUserAgent
}

func (c client) AuthMethod() zoidc.AuthMethod {
	if c.confidential() {
		return zoidc.AuthMethodBasic
	}
	return zoidc.AuthMethodNone
}

// LoginURL is the logon page for authorization request id.
func (c client) LoginURL(id string) string {
	return c.logonPath + "?auth_request=" + url.QueryEscape(id)
}

// DevMode lets the library accept an http redirect URI for a public client. The
// library checks the exact match first and asks this only after; every registered
// URI passed ValidateRedirectURI (https, or http on loopback), so this relaxes
// nothing beyond what registration allowed.
func (c client) DevMode() bool { return true }

func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// checkSecret reports whether secret is the confidential client's.
func (c client) checkSecret(secret string) bool {
	return c.confidential() && subtle.ConstantTimeCompare(hash(secret), c.c.SecretHash) == 1
}
