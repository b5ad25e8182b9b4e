package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// lines decodes each JSON log line in buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLogLine(t *testing.T) {
	var buf bytes.Buffer
	h := AccessLog(NewLogger(&buf, slog.LevelInfo), newTestMux())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/activations/act-42/otp?x=1", nil))

	got := lines(t, &buf)
	if len(got) != 1 {
		t.Fatalf("expected 1 log line, got %d: %s", len(got), buf.String())
	}
	line := got[0]
	reqID := rec.Header().Get("X-Request-Id")
	if len(reqID) < 16 {
		t.Fatalf("expected an X-Request-Id of at least 16 characters, got %q", reqID)
	}
	want := map[string]any{
		"level":         "INFO",
		"msg":           "request",
		"method":        "POST",
		"route":         "POST /api/activations/{id}/otp",
		"status":        float64(200),
		"bytes":         float64(2),
		"request_id":    reqID,
		"activation_id": "act-42",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s: expected %v, got %v", k, v, line[k])
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms: expected a non-negative number, got %v", line["duration_ms"])
	}
	for _, k := range []string{"path", "query", "url", "uri"} {
		if _, ok := line[k]; ok {
			t.Errorf("expected no %q in the access log, got %v", k, line[k])
		}
	}
}

func TestAccessLogRequestIDsDiffer(t *testing.T) {
	h := AccessLog(slog.New(slog.DiscardHandler), http.NotFoundHandler())
	seen := map[string]bool{}
	for range 20 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		id := rec.Header().Get("X-Request-Id")
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestAccessLogStatus(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantCode  float64
		wantLevel string
	}{
		{"nothing written is 200", func(http.ResponseWriter, *http.Request) {}, 200, "INFO"},
		{"explicit 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 404, "INFO"},
		{"first status wins", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK)
		}, 418, "INFO"},
		{"informational is not the status", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, "INFO"},
		{"server error logs at error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}, 502, "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			AccessLog(NewLogger(&buf, slog.LevelInfo), tc.handler).
				ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			line := lines(t, &buf)[0]
			if line["status"] != tc.wantCode || line["level"] != tc.wantLevel {
				t.Errorf("expected status %v at %s, got %v at %v", tc.wantCode, tc.wantLevel, line["status"], line["level"])
			}
			if line["route"] != unmatchedRoute {
				t.Errorf("without a mux: expected route %q, got %v", unmatchedRoute, line["route"])
			}
		})
	}
}

func TestAccessLogPanic(t *testing.T) {
	var buf bytes.Buffer
	h := AccessLog(NewLogger(&buf, slog.LevelInfo), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("expected the panic to propagate, got %v", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	line := lines(t, &buf)[0]
	if line["status"] != float64(500) || line["panic"] != true || line["level"] != "ERROR" {
		t.Errorf("expected status 500, panic true, level ERROR; got %v, %v, %v", line["status"], line["panic"], line["level"])
	}
}

// TestAccessLogRedaction is the guard: a request full of secrets, handled by a careless
// handler, must leave none of them in the log.
func TestAccessLogRedaction(t *testing.T) {
	secrets := []string{
		"qs-secret-1f2e", "cookie-secret-3d4c", "bearer-secret-5b6a",
		"hunter2-pass-7a8b", "123456", "seed-JBSWY3DPEHPK3PXP",
	}
	var buf bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			Password string `json:"password"`
			OTP      string `json:"otp"`
		}
		_ = json.Unmarshal(body, &in)
		c, _ := r.Cookie("session")
		// Everything a careless handler might log by key.
		Logger(r.Context()).Info("login attempt",
			"password", in.Password,
			"new_password", in.Password,
			"otp", in.OTP,
			"otp_code", in.OTP,
			"Cookie", c.Value,
			"Authorization", r.Header.Get("Authorization"),
			"handoff_token", r.URL.Query().Get("token"),
			"seed", "seed-JBSWY3DPEHPK3PXP",
			slog.Group("req", "password", in.Password),
		)
		w.WriteHeader(http.StatusUnauthorized)
	})
	h := AccessLog(NewLogger(&buf, slog.LevelDebug), mux)
	req := httptest.NewRequest(http.MethodPost, "/api/login?token=qs-secret-1f2e#frag",
		strings.NewReader(`{"password":"hunter2-pass-7a8b","otp":"123456"}`))
	req.Header.Set("Cookie", "session=cookie-secret-3d4c")
	req.Header.Set("Authorization", "Bearer bearer-secret-5b6a")
	h.ServeHTTP(httptest.NewRecorder(), req)

	out := buf.String()
	if got := len(lines(t, &buf)); got != 2 {
		t.Fatalf("expected 2 log lines (handler's and access), got %d: %s", got, out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log carries secret %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, redacted) || !strings.Contains(out, `"status":401`) {
		t.Errorf("expected redacted fields and the access line with status 401, got:\n%s", out)
	}
}

func TestRedactKeys(t *testing.T) {
	tests := []struct {
		key      string
		redacted bool
	}{
		{"password", true}, {"NewPassword", true}, {"passwd", true}, {"client_secret", true},
		{"Cookie", true}, {"set-cookie", true}, {"Authorization", true},
		{"token", true}, {"handoff_token", true}, {"accessToken", true},
		{"seed", true}, {"totp_seed", true}, {"otp", true}, {"otp_code", true},
		{"token_id", false}, {"activation_id", false}, {"status", false},
		{"error_code", false}, {"route", false}, {"chip_serial", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got := redact(nil, slog.String(tc.key, "v")).Value.String() == redacted
			if got != tc.redacted {
				t.Errorf("key %q: expected redacted=%v, got %v", tc.key, tc.redacted, got)
			}
		})
	}
}

func TestNewLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, slog.LevelWarn)
	l.Info("quiet")
	l.Warn("loud")
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "loud" {
		t.Errorf("expected only the warning at level WARN, got %v", got)
	}
}

func TestContextHelpersOutsideRequest(t *testing.T) {
	ctx := context.Background()
	SetActivation(ctx, "x") // must not panic
	if id := RequestID(ctx); id != "" {
		t.Errorf("expected no request id outside a request, got %q", id)
	}
	if l := Logger(ctx); l != slog.Default() {
		t.Errorf("expected slog.Default outside a request, got %v", l)
	}
	var buf bytes.Buffer
	l := NewLogger(&buf, slog.LevelInfo)
	if got := Logger(WithLogger(ctx, l)); got != l {
		t.Errorf("expected the logger from WithLogger, got %v", got)
	}
}

func TestRequestIDInContext(t *testing.T) {
	var seen string
	h := AccessLog(slog.New(slog.DiscardHandler), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if seen == "" || seen != rec.Header().Get("X-Request-Id") {
		t.Errorf("expected the handler to see the response's request id %q, got %q", rec.Header().Get("X-Request-Id"), seen)
	}
}

func TestClip(t *testing.T) {
	cases := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short and printable", "https://activation.mitid.dk", 64, "https://activation.mitid.dk"},
		{"exactly max", "abcd", 4, "abcd"},
		{"cut, with the whole length", "abcdef", 4, "abcd...(6 bytes)"},
		{"control characters", "a\nb\x00c\x1b[31m", 64, "a?b?c?[31m"},
		{"invalid UTF-8", "a\xffb", 64, "a?b"},
		{"bidi override", "a\u202eb", 64, "a?b"},
		{"printable non-ASCII is kept", "Blåbær", 64, "Blåbær"},
		{"cut at a character boundary", "æøå", 3, "æ...(6 bytes)"},
		{"empty", "", 64, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Clip(c.in, c.max); got != c.want {
				t.Errorf("Clip(%q, %d): expected %q, got %q", c.in, c.max, c.want, got)
			}
		})
	}
	huge := strings.Repeat("A", 512<<10)
	if got := Clip(huge, MaxHeaderLogged); len(got) > MaxHeaderLogged+32 || !strings.HasSuffix(got, "...(524288 bytes)") {
		t.Errorf("Clip of 512 KiB: expected at most %d bytes ending in the length, got %d bytes: %q", MaxHeaderLogged+32, len(got), got)
	}
}

// TestClientOnLines: once a handler names the client's address, its own lines and the
// access line carry it.
func TestClientOnLines(t *testing.T) {
	var buf bytes.Buffer
	h := AccessLog(NewLogger(&buf, slog.LevelInfo), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetClient(r.Context(), "2001:db8:1:2::/64")
		Logger(r.Context()).Info("refused")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/x", nil))
	got := lines(t, &buf)
	if len(got) != 2 {
		t.Fatalf("expected 2 log lines, got %d: %s", len(got), buf.String())
	}
	for _, l := range got {
		if l["client"] != "2001:db8:1:2::/64" {
			t.Errorf("line %q: expected client 2001:db8:1:2::/64, got %v", l["msg"], l["client"])
		}
	}
}
