// Package strictjson reads the JSON bodies of API requests strictly: one object whose
// member names match exactly, once each, and a Content-Type that says so.
package strictjson

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Decode reads exactly one JSON object from r into v, a pointer to a struct.
//
// It is json v2 (github.com/go-json-experiment/json, the upstream of encoding/json/v2)
// with its defaults, which encoding/json does not have: member names match the
// field's tag exactly (case-sensitive), a duplicate name is refused (encoding/json lets
// the last one win, so `{"code":"1","code":"2"}` would mean what a reviewer did not
// read), and invalid UTF-8, including an escaped lone surrogate, is refused rather than
// replaced. On top of that, unknown members are refused, and so is anything after the
// object but whitespace.
//
// The top-level value must be an object: every body of the API is one, and json v2
// would otherwise take a bare `null` as an empty struct. Inside the object, null for a
// string or []byte field leaves it empty, as encoding/json does. A []byte field is a
// string of standard base64 with padding, as encoding/json writes it; unlike
// encoding/json, an array of numbers and line breaks in the base64 (RFC 4648, section
// 3.3) are refused.
//
// An error from r (such as *http.MaxBytesError) is wrapped, so errors.As finds it.
func Decode(r io.Reader, v any) error {
	dec := jsontext.NewDecoder(r)
	if k := dec.PeekKind(); k != '{' {
		if k == 0 { // PeekKind hides the cause; reading the token reports it
			if _, err := dec.ReadToken(); err != nil {
				return &decodeError{"before the object", err}
			}
		}
		return fmt.Errorf("strictjson: want a JSON object, got %s", k)
	}
	if err := json.UnmarshalDecode(dec, v, json.RejectUnknownMembers(true)); err != nil {
		return &decodeError{"", err}
	}
	switch _, err := dec.ReadToken(); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return &decodeError{"after the object", err}
	}
	return errors.New("strictjson: more than one JSON value")
}

// maxReason bounds the message of a decode error: json v2 quotes the member names it
// refuses, and a name may be as long as the body, so an unbounded message would let a
// client write as much as it sends into the log.
const maxReason = 160

// decodeError is a failure of Decode: where, and why, with the message cut to
// maxReason and the cause still there for errors.As.
type decodeError struct {
	where string
	err   error
}

func (e *decodeError) Error() string {
	msg := "strictjson: "
	if e.where != "" {
		msg += e.where + ": "
	}
	return msg + clip(e.err.Error(), maxReason)
}

func (e *decodeError) Unwrap() error { return e.err }

// CheckContentType accepts a Content-Type header of the media type application/json,
// with no parameter but an optional charset=utf-8 (names and values case-insensitive,
// as RFC 9110 has them). A type that only starts with application/json
// (application/jsonx, application/json-seq) is refused. The error quotes at most a
// short, printable prefix of the header, so it can be logged.
//
// RFC 2231 parameters (name*=...) are refused outright: mime.ParseMediaType drops one
// it cannot decode, which would let any parameter through.
func CheckContentType(header string) error {
	typ, params, err := mime.ParseMediaType(header)
	switch {
	case strings.Contains(header, "*"):
		return fmt.Errorf("strictjson: content type %s: no '*' may appear", quote(header))
	case err != nil:
		return fmt.Errorf("strictjson: content type %s: %w", quote(header), err)
	case typ != "application/json":
		return fmt.Errorf("strictjson: content type %s is not application/json", quote(header))
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			return fmt.Errorf("strictjson: content type %s: only charset=utf-8 may follow application/json", quote(header))
		}
	}
	return nil
}

// maxQuote is how many bytes of a header an error quotes.
const maxQuote = 64

// quote is a header for an error message: clipped to maxQuote, in double quotes, with
// any quote or backslash in it as '?' (escaping them could double its length).
func quote(s string) string {
	return `"` + strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, clip(s, maxQuote)) + `"`
}

// clip is s for a log line: at most limit bytes of it, each byte outside printable
// ASCII as '?', and the full length when cut.
func clip(s string, limit int) string {
	n := len(s)
	if n > limit {
		s = s[:limit]
	}
	b := make([]byte, 0, len(s)+24)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	if n > limit {
		b = fmt.Appendf(b, "...[%d bytes]", n)
	}
	return string(b)
}
