package observe

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// Bounds for Clip: a header value the client chose (Origin, Content-Type), and the
// reason of a refusal, which can quote a request.
const (
	MaxHeaderLogged = 64
	MaxReasonLogged = 512
)

// Clip is the one way text that a client chose reaches a log line: at most max bytes
// of it (cut at a character boundary), every character that is not printable
// (control characters, invalid UTF-8, format characters such as bidi overrides)
// replaced by '?', and, when it was cut, its whole length after it:
// "https://evil.example/AAAA...(524288 bytes)". However much is sent, the line grows
// by at most max plus a few bytes.
func Clip(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if i+size > max {
			b.WriteString("...(" + strconv.Itoa(len(s)) + " bytes)")
			break
		}
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// AccessLog writes one line per request after it is answered: request id, method,
// route pattern, status, duration and body bytes, plus the activation id when the
// handler called SetActivation and the client address when it called SetClient. It never logs the path, query string or any header,
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
