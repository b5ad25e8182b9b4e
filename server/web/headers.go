package web

import "net/http"

// ContentSecurityPolicy allows only this origin's own files, and no inline script or
// style at all. 'wasm-unsafe-eval' is the single relaxation: compiling the Go module is
// a WebAssembly compile, which CSP counts as eval. It is sent on every response, the
// module worker's script included, which runs under its own response's policy.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; " +
	"img-src 'self' data:; " +
	"font-src 'self'; " +
	"connect-src 'self'; " +
	"worker-src 'self'; " +
	"manifest-src 'self'; " +
	"base-uri 'none'; " +
	"form-action 'self'; " +
	"frame-ancestors 'none'"

// PermissionsPolicy denies the powerful features the page has no use for, to it and to
// anything it could embed. It names only features every Chromium knows: for an unknown
// one the browser logs "Unrecognized feature" on every page. "bluetooth" is known only
// where Web Bluetooth is switched on (Chromium 156 on Linux ships it off, and warns);
// its default allowlist is already 'self', which is all the page needs, so naming it
// added nothing. There is no "nfc" feature at all, and Web NFC runs only in a
// top-level page; this page cannot be framed (frame-ancestors 'none').
const PermissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

// securityHeaders are set on every response.
var securityHeaders = [...][2]string{
	{"Content-Security-Policy", ContentSecurityPolicy},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"}, // for browsers older than frame-ancestors
	{"Cross-Origin-Opener-Policy", "same-origin"},
	// No other site may embed our responses (the module, the catalogues) as resources.
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Permissions-Policy", PermissionsPolicy},
	// Browsers ignore it over plain HTTP, so local runs are unaffected; without
	// includeSubDomains, so it binds only this host.
	{"Strict-Transport-Security", "max-age=31536000"},
}

// SecurityHeaders sets the security headers on every response next writes, errors
// and 404s included. Wrap the whole mux with it.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range securityHeaders {
			h.Set(kv[0], kv[1])
		}
		next.ServeHTTP(w, r)
	})
}
