package server

import "testing"

func TestSecureCookieOrigins(t *testing.T) {
	for _, tc := range []struct {
		origin  string
		secure  bool
		wantErr bool
	}{
		{"https://mitid.example", true, false},
		{"http://127.0.0.1:8080", false, false},
		{"http://localhost:8080", false, false},
		{"http://mitid.example", false, true},
		{"ftp://x", false, true},
		{"https://mitid.example/path", false, true},
	} {
		secure, err := secureCookie(tc.origin)
		if (err != nil) != tc.wantErr || secure != tc.secure {
			t.Errorf("secureCookie(%q) = %v, %v; want secure %v, error %v", tc.origin, secure, err, tc.secure, tc.wantErr)
		}
	}
}
