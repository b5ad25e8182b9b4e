package oidc_test

import (
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"

	"mitidchip/server/oidc"
)

func TestValidateRedirectURI(t *testing.T) {
	for _, ok := range []string{"https://site.example/cb", "https://site.example:8443/a/b?x=1", "http://127.0.0.1:8081/callback",
		"http://localhost/cb", "http://[::1]:9/cb"} {
		if err := oidc.ValidateRedirectURI(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/cb", "site.example/cb", "http://site.example/cb", "https://site.example/cb#frag",
		"https://site.example/cb#", "https://user:pw@site.example/cb", "javascript:alert(1)", "https:///cb", "https://site.example/a b",
		"https://site.example/æ", "HTTPS://site.example/cb", "ftp://site.example/cb", "https://site.example/cb\n",
		"https://site.example/" + strings.Repeat("a", oidc.MaxRedirectURI), "http://127.0.0.1.evil.example/cb"} {
		if err := oidc.ValidateRedirectURI(bad); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

func TestNewClient(t *testing.T) {
	now := time.Now()
	c, secret, err := oidc.NewClient("demo-kommune", "Demo Kommune", []string{"https://a.example/cb"}, false, rand.Reader, now)
	if err != nil || len(secret) < 43 || len(c.SecretHash) != 32 || strings.Contains(string(c.SecretHash), secret) {
		t.Fatalf("confidential client: %+v, secret %d chars, %v", c, len(secret), err)
	}
	if c, secret, err := oidc.NewClient("spa", "A page", []string{"https://a.example/cb"}, true, rand.Reader, now); err != nil || secret != "" || c.SecretHash != nil {
		t.Errorf("public client: %+v, %q, %v", c, secret, err)
	}
	for name, args := range map[string][]string{
		"bad id":         {"Bad ID", "n", "https://a.example/cb"},
		"no name":        {"ok", " ", "https://a.example/cb"},
		"twice":          {"ok", "n", "https://a.example/cb", "https://a.example/cb"},
		"bad uri":        {"ok", "n", "http://a.example/cb"},
		"no uri":         {"ok", "n"},
		"name two lines": {"ok", "a\nb", "https://a.example/cb"},
	} {
		if _, _, err := oidc.NewClient(args[0], args[1], args[2:], false, rand.Reader, now); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
}

// FuzzValidateRedirectURI: what passes is an absolute https (or loopback http) URI
// without a fragment or user info, which parses back to itself.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://site.example/cb", "http://127.0.0.1:8081/cb", "https://a#b", "http://x/", "https://u@h/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if oidc.ValidateRedirectURI(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.String() != s || u.Fragment != "" || u.User != nil || u.Host == "" {
			t.Fatalf("%q passed: %+v %v", s, u, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("%q passed with scheme %q", s, u.Scheme)
		}
	})
}

// FuzzParseAuthRequestID: what passes is 22 base64url characters.
func FuzzParseAuthRequestID(f *testing.F) {
	for _, s := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "", "AAAAAAAAAAAAAAAAAAAAAB", "../../../../../../../x", "AAAAAAAAAAAAAAAAAAAAA="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if oidc.ParseAuthRequestID(s) != nil {
			return
		}
		if len(s) != 22 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("%q passed", s)
		}
	})
}
