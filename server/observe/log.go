package observe

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Attribute keys naming a secret get their value replaced before a line is written:
// the last guard against a password, seed, one-time code or token reaching the log
// because someone logged the wrong field. A key is matched lowercased: containing one
// of secretKeyWords, or ending in one of secretKeySuffixes (so "handoff_token" is
// redacted but "token_id", the token's public id, is not).
var (
	secretKeyWords    = []string{"password", "passwd", "secret", "cookie", "authorization"}
	secretKeySuffixes = []string{"token", "seed", "otp", "otp_code", "one_time_code"}
)

const redacted = "[redacted]"

// NewLogger makes the server's JSON logger. Attributes whose key names a secret (see
// secretKeyWords; "password", "otp_code", "Cookie", ...) are written as "[redacted]".
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: redact,
	}))
}

func redact(_ []string, a slog.Attr) slog.Attr {
	key := strings.ToLower(a.Key)
	for _, w := range secretKeyWords {
		if strings.Contains(key, w) {
			return slog.String(a.Key, redacted)
		}
	}
	for _, s := range secretKeySuffixes {
		if strings.HasSuffix(key, s) {
			return slog.String(a.Key, redacted)
		}
	}
	return a
}

// AccessLog writes one line per request after it is answered: request id, method,
// route pattern, status, duration and body bytes, plus the activation id when the
// handler called SetActivation. It never logs the path, query string or any header,
// since those can carry tokens and personal data; the fragment never reaches a server.
// Handlers get the request's logger from Logger(r.Context()). Like Instrument, it must
// wrap the mux directly to learn the route.
func AccessLog(l *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri, r := withInfo(r)
		ri.mu.Lock()
		if ri.id == "" {
			ri.id = rand.Text()
		}
		id := ri.id
		ri.mu.Unlock()
		r = r.WithContext(WithLogger(r.Context(), l.With(slog.String("request_id", id))))
		w.Header().Set("X-Request-Id", id)

		rec := &recorder{ResponseWriter: w}
		panicked := true
		defer func() {
			status := rec.finalStatus(panicked)
			method := r.Method
			if !knownMethods[method] {
				method = otherMethod
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			attrs := []slog.Attr{
				slog.String("method", method),
				slog.String("route", routeOf(r, ri)),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int64("bytes", rec.bytes),
			}
			if panicked {
				attrs = append(attrs, slog.Bool("panic", true))
			}
			Logger(r.Context()).LogAttrs(r.Context(), level, "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
		panicked = false
	})
}
