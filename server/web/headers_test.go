package web

import (
	"net/http"
	"strings"
	"testing"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h, _, _ := newTestHandler(t)
	mux := http.NewServeMux()
	mux.Handle("GET /", h)
	mux.HandleFunc("POST /api/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /api/empty", func(http.ResponseWriter, *http.Request) {})
	wrapped := SecurityHeaders(mux)

	want := map[string]string{
		"Content-Security-Policy":      ContentSecurityPolicy,
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Permissions-Policy":           PermissionsPolicy,
		"Strict-Transport-Security":    "max-age=31536000",
	}
	requests := []struct {
		name, method, target string
		code                 int
	}{
		{"page", http.MethodGet, "/", 200},
		{"not modified", http.MethodGet, "/", 304},
		{"handler 404", http.MethodGet, "/app.js", 404},
		{"mux 405", http.MethodPut, "/api/fail", 405},
		{"handler 405", http.MethodPost, "/", 405},
		{"500", http.MethodPost, "/api/fail", 500},
		{"empty 200", http.MethodGet, "/api/empty", 200},
	}
	etag := etagOfPage(h)
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			hdr := map[string]string{}
			if rq.code == 304 {
				hdr["If-None-Match"] = etag
			}
			rec := serve(wrapped, rq.method, rq.target, hdr)
			if rec.Code != rq.code {
				t.Fatalf("expected %d, got %d", rq.code, rec.Code)
			}
			for k, v := range want {
				if got := rec.Header().Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s: expected %q once, got %q", k, v, got)
				}
			}
		})
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	directives := map[string]string{}
	for d := range strings.SplitSeq(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if _, dup := directives[name]; dup {
			t.Errorf("directive %s appears twice", name)
		}
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self' 'wasm-unsafe-eval'",
		"style-src":       "'self'",
		"img-src":         "'self' data:",
		"font-src":        "'self'",
		"connect-src":     "'self'",
		"worker-src":      "'self'",
		"manifest-src":    "'self'",
		"base-uri":        "'none'",
		"form-action":     "'self'",
		"frame-ancestors": "'none'",
	}
	for name, v := range want {
		if directives[name] != v {
			t.Errorf("%s: expected %q, got %q", name, v, directives[name])
		}
	}
	if len(directives) != len(want) {
		t.Errorf("expected exactly %d directives, got %v", len(want), directives)
	}
	for _, banned := range []string{"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*", "http:", "https:", "blob:"} {
		for _, tok := range strings.Fields(strings.ReplaceAll(ContentSecurityPolicy, ";", " ")) {
			if tok == banned {
				t.Errorf("expected no %s in the policy", banned)
			}
		}
	}
	if n := strings.Count(ContentSecurityPolicy, "'wasm-unsafe-eval'"); n != 1 {
		t.Errorf("expected 'wasm-unsafe-eval' once, in script-src, got %d", n)
	}
}

func TestPermissionsPolicy(t *testing.T) {
	features := map[string]string{}
	for f := range strings.SplitSeq(PermissionsPolicy, ",") {
		name, allow, _ := strings.Cut(strings.TrimSpace(f), "=")
		features[name] = allow
	}
	want := map[string]string{
		"camera": "()", "microphone": "()",
		"geolocation": "()", "payment": "()", "usb": "()",
	}
	for name, v := range want {
		if features[name] != v {
			t.Errorf("%s: expected %s, got %q", name, v, features[name])
		}
	}
	for _, unknown := range []string{"nfc", "bluetooth"} {
		if _, ok := features[unknown]; ok {
			t.Errorf("expected no %q: not every Chromium knows it, and an unknown feature is logged (\"Unrecognized feature\") on every page", unknown)
		}
	}
	if len(features) != len(want) {
		t.Errorf("expected exactly %v, got %v", want, features)
	}
}
