// Package observe is how the server is watched in operation: Prometheus metrics,
// structured access and event logs, and the health and readiness endpoints.
package observe

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
)

// unmatchedRoute is the route label and log value for a request no registered pattern
// matched (the mux's 404 or 405). The raw path is never used in its place: it is chosen
// by the client, so it would blow up metric cardinality and could carry personal data.
const unmatchedRoute = "unmatched"

type infoKey struct{}
type loggerKey struct{}

// requestInfo is what the observe middlewares and the handlers share about one request.
// It lives in the request context as a pointer, so a value a handler sets deep inside
// is seen by the middleware after the handler returns, whatever copies of the request
// (r.WithContext) were made in between.
type requestInfo struct {
	mu         sync.Mutex
	id         string
	route      string
	activation string
	client     string
}

func (ri *requestInfo) setRoute(p string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.route = p
}

func (ri *requestInfo) snapshot() (id, route, activation string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.id, ri.route, ri.activation
}

func (ri *requestInfo) clientAddr() string {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.client
}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(infoKey{}).(*requestInfo)
	return ri
}

// withInfo returns the request's shared info, adding a fresh one to a copy of the
// request when no observe middleware ran before.
func withInfo(r *http.Request) (*requestInfo, *http.Request) {
	if ri := infoFrom(r.Context()); ri != nil {
		return ri, r
	}
	ri := &requestInfo{}
	return ri, r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
}

// routeOf is the pattern the ServeMux matched. The mux writes it into the *Request it
// was given, which is r only when nothing between here and the mux copied the request;
// so whichever observe middleware sees it records it for the others.
func routeOf(r *http.Request, ri *requestInfo) string {
	if r.Pattern != "" {
		ri.setRoute(r.Pattern)
		return r.Pattern
	}
	if _, route, _ := ri.snapshot(); route != "" {
		return route
	}
	return unmatchedRoute
}

// SetActivation names the activation a request belongs to, so the access log line and
// every line from Logger(ctx) after this call carry it. It does nothing outside a
// request that went through AccessLog or Instrument.
func SetActivation(ctx context.Context, id string) {
	ri := infoFrom(ctx)
	if ri == nil {
		return
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.activation = id
}

// SetClient names the client's address (as the rate limits see it, behind any trusted
// proxy), so the access log line and every line from Logger(ctx) after this call
// carry it. It does nothing outside a request that went through AccessLog or
// Instrument.
func SetClient(ctx context.Context, addr string) {
	ri := infoFrom(ctx)
	if ri == nil {
		return
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.client = addr
}

// RequestID is the id AccessLog gave the request ("" outside one). It is also sent to
// the client as X-Request-Id, so a user's report can be matched to the log.
func RequestID(ctx context.Context) string {
	ri := infoFrom(ctx)
	if ri == nil {
		return ""
	}
	id, _, _ := ri.snapshot()
	return id
}

// WithLogger returns a context whose Logger is l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger is the logger for ctx: the one AccessLog or WithLogger put there (carrying the
// request id), with the activation id once SetActivation named it and the client's
// address once SetClient did. Outside a request it
// is slog.Default(), so a line is never lost.
func Logger(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	if l == nil {
		l = slog.Default()
	}
	if ri := infoFrom(ctx); ri != nil {
		if _, _, act := ri.snapshot(); act != "" {
			l = l.With(slog.String("activation_id", act))
		}
		if c := ri.clientAddr(); c != "" {
			l = l.With(slog.String("client", c))
		}
	}
	return l
}

// recorder notes the status and body size a handler produced.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += int64(n)
	return n, err
}

// Flush keeps streaming handlers working through the wrapper (a type assertion to
// http.Flusher does not look through Unwrap).
func (rec *recorder) Flush() {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// finalStatus is what the client got: 200 when the handler wrote nothing, 500 when it
// panicked before writing (net/http then drops the connection; 500 is what the
// metrics and logs should count it as).
func (rec *recorder) finalStatus(panicked bool) int {
	switch {
	case rec.status != 0:
		return rec.status
	case panicked:
		return http.StatusInternalServerError
	default:
		return http.StatusOK
	}
}
