package strictjson_test

import (
	"bytes"
	"encoding/json"
	"mime"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
	"unicode/utf8"

	"mitidchip/server/strictjson"
)

// FuzzDecode: Decode accepts a body exactly when an oracle built without it (nor json
// v2) does, and then reads the same value encoding/json reads.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		for k := range targets {
			f.Add(uint8(k), []byte(c.body))
		}
	}
	for _, s := range edges {
		for k := range targets {
			f.Add(uint8(k), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		tg := targets[int(kind)%len(targets)]
		got := tg.new()
		err := strictjson.Decode(bytes.NewReader(body), got)
		want := tg.new()
		ok := accepts(body, tg.fields, want)
		switch {
		case ok && err != nil:
			t.Fatalf("%s: oracle accepts %q, Decode refuses: %v", tg.name, body, err)
		case !ok && err == nil:
			t.Fatalf("%s: oracle refuses %q, Decode accepts it as %+v", tg.name, body, got)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("%s: %q: encoding/json reads %+v, Decode %+v", tg.name, body, want, got)
		}
		// The verdict does not depend on how the reader splits the body.
		slow := tg.new()
		if err2 := strictjson.Decode(iotest.OneByteReader(bytes.NewReader(body)), slow); (err2 == nil) != (err == nil) || (err == nil && !reflect.DeepEqual(slow, got)) {
			t.Fatalf("%s: %q read whole: %+v (%v); one byte at a time: %+v (%v)", tg.name, body, got, err, slow, err2)
		}
	})
}

// edges are more seeds: where encoding/json and json v2 might differ (escapes,
// surrogates, base64 padding and whitespace, NUL, U+2028).
var edges = []string{
	`{"token":"x"}` + "\x00", `{"token":"x",}`, `{"a":"x"}` + "\v", `{"a":"x"` + "\u2028" + `}`, `{"a":"` + "\u2028" + `"}`,
	`{"a":"\\ud800"}`, `{"a":"\ud800\udc00"}`, `{"a":"\udbff\udfff"}`, `{"a":"\ud800\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\ud800\\u0041"}`,
	`{"\u0062":"AQ=="}`, `{"a\u0000":"x"}`, `{"a":"\/"}`, `{"a":"x","a":"x"}`, `{"b":"AQ==","b":null}`, `{"extra":1e999}`,
	`{"b":"AQ=\u003d"}`, `{"b":"A\/8="}`, `{"b":"AQ\u000a=="}`, `{"b":"AQ\u000d=="}`, `{"b":"AQ\t=="}`, `{"b":"AQ =="}`,
	`{"b":"AR=="}`, `{"b":"AQ==="}`, `{"b":"====="}`, `{"b":"="}`, `{"b":"AQ=="}  ` + "\r\n\t",
}

// accepts is the oracle: whether body is one JSON object whose members are each one of
// fields (name → whether the field is []byte), at most once, by exact name, with values
// of the field's type. It uses only encoding/json (v1), which by itself would say yes
// to names in any case, to duplicates and to unknown names, so those are checked here
// on its token stream. When it says yes, into holds encoding/json's reading of body.
func accepts(body []byte, fields map[string]bool, into any) bool {
	// Syntax, exactly one value, nothing after it but whitespace.
	if !json.Valid(body) {
		return false
	}
	// encoding/json replaces invalid UTF-8 and lone surrogates with U+FFFD; the
	// contract is to refuse them.
	if !utf8.Valid(body) || loneSurrogate(body) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name := tok.(string) // valid JSON: a member name is a string
		isBytes, known := fields[name]
		if !known || seen[name] {
			return false
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return false
		}
		if isBytes && !base64Value(value) {
			return false
		}
	}
	// Value types: names are known to be exact now, so encoding/json is the judge.
	return json.Unmarshal(body, into) == nil
}

// base64Value reports whether a []byte field's value is what the contract allows and
// encoding/json might not: null or a string, whose base64 has no line breaks.
// encoding/json also reads an array of numbers into []byte, and skips line breaks in
// base64; the contract is the page's form only (RFC 4648, section 3.3).
func base64Value(value json.RawMessage) bool {
	if string(value) == "null" {
		return true
	}
	var s string
	return json.Unmarshal(value, &s) == nil && !strings.ContainsAny(s, "\r\n")
}

// loneSurrogate reports whether body, valid JSON, escapes a UTF-16 surrogate that is
// not half of a pair (high \uD800-\uDBFF, then at once low \uDC00-\uDFFF).
func loneSurrogate(body []byte) bool {
	hex := func(i int) rune { // the 4 hex digits at body[i:], or -1
		if i+4 > len(body) {
			return -1
		}
		r, err := strconv.ParseUint(string(body[i:i+4]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(r)
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if i+1 < len(body) && body[i+1] != 'u' { // another escape: skip the escaped byte (it may be '\\')
			i++
			continue
		}
		r := hex(i + 2)
		if !utf16.IsSurrogate(r) {
			i += 5
			continue
		}
		if i+7 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' && utf16.DecodeRune(r, hex(i+8)) != utf8.RuneError {
			i += 11
			continue
		}
		return true
	}
	return false
}

// FuzzCheckContentType: no header makes CheckContentType panic, and what it accepts is
// application/json by the mime package's reading.
func FuzzCheckContentType(f *testing.F) {
	for _, h := range []string{
		"application/json", "application/json; charset=utf-8", "Application/JSON;Charset=UTF-8",
		"application/jsonx", "application/json-seq", "application/json;foo=bar", "text/plain", "",
		`application/json; charset="utf-8"`, "application/json; charset*=utf-8''utf-8", "application/json;",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		err := strictjson.CheckContentType(h)
		if err != nil {
			if msg := err.Error(); len(msg) > 200 {
				t.Fatalf("%q: error of %d bytes", h, len(msg))
			}
			return
		}
		typ, params, perr := mime.ParseMediaType(h)
		if perr != nil || typ != "application/json" {
			t.Fatalf("accepted %q, which mime reads as %q (%v)", h, typ, perr)
		}
		for name, value := range params {
			if name != "charset" || !strings.EqualFold(value, "utf-8") {
				t.Fatalf("accepted %q with parameter %s=%q", h, name, value)
			}
		}
	})
}
