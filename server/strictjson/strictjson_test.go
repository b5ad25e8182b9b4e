package strictjson_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"mitidchip/server/strictjson"
)

// The request bodies of server/api (ceremony.go), copied: Decode must read what the
// page sends them as exactly as encoding/json did.
type (
	redeemRequest struct {
		Token string `json:"token"`
	}
	passwordRequest struct {
		Verifier []byte `json:"verifier"`
	}
	helloRequest struct {
		Hello []byte `json:"hello"`
	}
	codeRequest struct {
		Code string `json:"code"`
	}
	signatureRequest struct {
		Signature []byte `json:"signature"`
	}
)

// pair has two members, so duplicates and order are tested beyond one-field bodies.
type pair struct {
	A string `json:"a"`
	B []byte `json:"b"`
}

// nested has an object member, for duplicates one level down.
type nested struct {
	Inner pair `json:"inner"`
}

// target is a type Decode reads into, and what its members are.
type target struct {
	name   string
	new    func() any
	fields map[string]bool // member name → whether it is a []byte (base64) field
}

// targets are the flat types the fuzz oracle understands; tests refer to them by index.
var targets = []target{
	{"redeem", func() any { return new(redeemRequest) }, map[string]bool{"token": false}},
	{"password", func() any { return new(passwordRequest) }, map[string]bool{"verifier": true}},
	{"hello", func() any { return new(helloRequest) }, map[string]bool{"hello": true}},
	{"code", func() any { return new(codeRequest) }, map[string]bool{"code": false}},
	{"signature", func() any { return new(signatureRequest) }, map[string]bool{"signature": true}},
	{"pair", func() any { return new(pair) }, map[string]bool{"a": false, "b": true}},
}

const (
	redeem = iota
	password
	hello
	code
	signature
	twoFields
	nestedObject // not in targets: only the table tests use it
)

func newTarget(i int) any {
	if i == nestedObject {
		return new(nested)
	}
	return targets[i].new()
}

// decodeCases are the table of TestDecode and the fuzzer's seeds.
var decodeCases = []struct {
	name   string
	target int
	body   string
	want   any // the decoded value; nil when the body is refused
}{
	// Accepted: what the page sends.
	{"token", redeem, `{"token":"eyJhbGciOiJFZERTQSJ9.e30.c2ln"}`, &redeemRequest{"eyJhbGciOiJFZERTQSJ9.e30.c2ln"}},
	{"verifier", password, `{"verifier":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`, &passwordRequest{seq(32)}},
	{"hello", hello, `{"hello":"CVRTVC0wMDAwMDE="}`, &helloRequest{[]byte("\tTST-000001")}},
	{"code", code, `{"code":"123456"}`, &codeRequest{"123456"}},
	{"signature", signature, `{"signature":"MEUCIQ=="}`, &signatureRequest{[]byte{0x30, 0x45, 0x02, 0x21}}},
	{"base64 with + and /", signature, `{"signature":"+/8="}`, &signatureRequest{[]byte{0xfb, 0xff}}},
	{"empty base64", signature, `{"signature":""}`, &signatureRequest{[]byte{}}},
	{"null string", redeem, `{"token":null}`, &redeemRequest{}},
	{"null bytes", hello, `{"hello":null}`, &helloRequest{}},
	{"empty object", redeem, `{}`, &redeemRequest{}},
	{"whitespace around", code, " \t\r\n{ \"code\" : \"1\" }\n\n ", &codeRequest{"1"}},
	{"escaped name", code, `{"c\u006fde":"1"}`, &codeRequest{"1"}},
	{"surrogate pair", redeem, `{"token":"\ud83d\ude00"}`, &redeemRequest{"\U0001F600"}},
	{"escaped NUL", redeem, `{"token":"a\u0000"}`, &redeemRequest{"a\x00"}},
	{"two members, any order", twoFields, `{"b":"AQ==","a":"x"}`, &pair{"x", []byte{1}}},
	{"nested", nestedObject, `{"inner":{"a":"x","b":"AQ=="}}`, &nested{pair{"x", []byte{1}}}},

	// Refused: names.
	{"name in upper case", redeem, `{"TOKEN":"x"}`, nil},
	{"name capitalised", redeem, `{"Token":"x"}`, nil},
	{"name by Unicode folding", redeem, `{"to\u212Aen":"x"}`, nil}, // K, the Kelvin sign
	{"duplicate", code, `{"code":"111111","code":"222222"}`, nil},
	{"duplicate, escaped", code, `{"code":"1","c\u006fde":"2"}`, nil},
	{"duplicate, two members", twoFields, `{"a":"x","b":"AQ==","a":"y"}`, nil},
	{"nested duplicate", nestedObject, `{"inner":{"a":"x","a":"y"}}`, nil},
	{"unknown member", redeem, `{"token":"x","admin":true}`, nil},
	{"unknown member only", code, `{"extra":1}`, nil},
	{"unknown nested member", nestedObject, `{"inner":{"c":1}}`, nil},

	// Refused: more or less than one object.
	{"two objects", code, `{"code":"1"}{"code":"2"}`, nil},
	{"trailing bracket", code, `{"code":"1"}]`, nil},
	{"trailing number", code, `{"code":"1"} 1`, nil},
	{"cut short", code, `{"code":"1"`, nil},
	{"empty", code, ``, nil},
	{"only whitespace", code, " \n", nil},
	{"null", code, `null`, nil},
	{"array", code, `[]`, nil},
	{"string", code, `"123456"`, nil},
	{"byte order mark", code, "\xef\xbb\xbf{}", nil},

	// Refused: values.
	{"number for a string", code, `{"code":123456}`, nil},
	{"object for a string", code, `{"code":{}}`, nil},
	{"not base64", password, `{"verifier":"not base64"}`, nil},
	{"base64 without padding", password, `{"verifier":"AQ"}`, nil},
	{"base64url", password, `{"verifier":"-_8="}`, nil},
	{"base64 with a line break", password, `{"verifier":"AAAA\nAAAA"}`, nil},
	{"array for bytes", password, `{"verifier":[1,2]}`, nil},
	{"invalid UTF-8", redeem, "{\"token\":\"\xff\"}", nil},
	{"lone high surrogate", redeem, `{"token":"\ud800"}`, nil},
	{"lone low surrogate", redeem, `{"token":"\udc00x"}`, nil},
	{"control character", redeem, "{\"token\":\"a\nb\"}", nil},
}

func TestDecode(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			got := newTarget(c.target)
			err := strictjson.Decode(strings.NewReader(c.body), got)
			if c.want == nil {
				if err == nil {
					t.Fatalf("expected %q refused, got %+v", c.body, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("expected %q accepted, got %v", c.body, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("expected %+v, got %+v", c.want, got)
			}
			// What server/api did before: encoding/json, unknown fields refused.
			old := newTarget(c.target)
			dec := json.NewDecoder(strings.NewReader(c.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(old); err != nil || !reflect.DeepEqual(got, old) {
				t.Fatalf("encoding/json read %q as %+v (%v), Decode as %+v", c.body, old, err, got)
			}
		})
	}
}

// TestDecodeWhatThePageSends: bodies as encoding/json writes them (the page's base64 is
// Go's base64.StdEncoding too) come back unchanged, for every length of []byte.
func TestDecodeWhatThePageSends(t *testing.T) {
	for n := 0; n <= 70; n++ {
		for _, v := range []any{
			&passwordRequest{seq(n)}, &helloRequest{seq(n)}, &signatureRequest{seq(n)},
			&redeemRequest{base64.RawURLEncoding.EncodeToString(seq(n))}, &codeRequest{strings.Repeat("7", n)},
		} {
			body, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := strictjson.Decode(bytes.NewReader(body), got); err != nil || !reflect.DeepEqual(got, v) {
				t.Fatalf("expected %s to decode to %+v, got %+v (%v)", body, v, got, err)
			}
		}
	}
}

// TestDecodeReadError: a reader's error reaches the caller, wherever it strikes, so
// server/api can answer 413 to a body over its limit.
func TestDecodeReadError(t *testing.T) {
	const limit = 64
	cases := []struct{ name, body string }{
		{"in the value", `{"token":"` + strings.Repeat("A", 2*limit) + `"}`},
		{"in the name", `{"` + strings.Repeat("A", 2*limit) + `":"x"}`},
		{"in trailing whitespace", `{"token":"x"}` + strings.Repeat(" ", 2*limit)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(c.body)), limit)
			err := strictjson.Decode(r, new(redeemRequest))
			var tooBig *http.MaxBytesError
			if !errors.As(err, &tooBig) || tooBig.Limit != limit {
				t.Fatalf("expected an *http.MaxBytesError with limit %d, got %v", limit, err)
			}
		})
	}
	t.Run("any reader error", func(t *testing.T) {
		broken := errors.New("connection reset")
		r := io.MultiReader(strings.NewReader(`{"token":"x"} `), iotest.ErrReader(broken))
		if err := strictjson.Decode(r, new(redeemRequest)); !errors.Is(err, broken) {
			t.Fatalf("expected the reader's error, got %v", err)
		}
	})
	t.Run("one byte at a time", func(t *testing.T) {
		var got redeemRequest
		err := strictjson.Decode(iotest.OneByteReader(strings.NewReader(`{"token":"x"} `)), &got)
		if err != nil || got.Token != "x" {
			t.Fatalf("expected token x, got %+v (%v)", got, err)
		}
	})
}

// TestDecodeErrorBounded: a refused member name is as long as the client likes; the
// error, which is logged, is not.
func TestDecodeErrorBounded(t *testing.T) {
	long := strings.Repeat("\x01é", 4096)
	for _, body := range []string{`{"` + long + `":1}`, `{"token":"x","token` + long + `":1}`, `{"token":"x" ` + long + `}`} {
		err := strictjson.Decode(strings.NewReader(body), new(redeemRequest))
		if err == nil {
			t.Fatalf("expected a %d-byte body refused", len(body))
		}
		if msg := err.Error(); len(msg) > 256 || !printable(msg) {
			t.Fatalf("expected at most 256 printable bytes, got %d: %q", len(msg), msg)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	cases := []struct {
		name   string
		header string
		ok     bool
	}{
		{"plain", "application/json", true},
		{"charset", "application/json; charset=utf-8", true},
		{"case-insensitive", "Application/JSON;Charset=UTF-8", true},
		{"quoted charset", `application/json; charset="utf-8"`, true},
		{"space before parameter", "application/json ; charset=utf-8", true},
		{"prefix only: jsonx", "application/jsonx", false},
		{"prefix only: json-seq", "application/json-seq", false},
		{"prefix only: json+", "application/json+foo", false},
		{"other parameter", "application/json;foo=bar", false},
		{"charset and another", "application/json; charset=utf-8; foo=bar", false},
		{"other charset", "application/json; charset=latin1", false},
		{"charset twice, the same", "application/json; charset=utf-8; charset=utf-8", true},
		{"charset twice, differing", "application/json; charset=utf-8; charset=latin1", false},
		{"trailing semicolon", "application/json;", true},
		{"RFC 2231 parameter mime drops", "application/json; foo*=x", false},
		{"RFC 2231 charset", "application/json; charset*=utf-8''utf-8", false},
		{"text/plain", "text/plain", false},
		{"form", "application/x-www-form-urlencoded", false},
		{"suffix", "application/problem+json", false},
		{"wildcard", "application/*", false},
		{"empty", "", false},
		{"no subtype", "application/", false},
		{"malformed parameter", "application/json; charset", false},
		{"junk after type", "application/json garbage", false},
		{"control byte", "application/json\x00", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := strictjson.CheckContentType(c.header)
			if c.ok != (err == nil) {
				t.Fatalf("%q: expected accepted=%v, got %v", c.header, c.ok, err)
			}
		})
	}
}

// TestCheckContentTypeErrorBounded: the refused header is quoted short and printable.
func TestCheckContentTypeErrorBounded(t *testing.T) {
	for _, h := range []string{"text/" + strings.Repeat("a\x1b[2J", 100000), "application/json; x=" + strings.Repeat("é", 1000), strings.Repeat("\xff", 300), "text/plain; x=\"" + strings.Repeat(`\"`, 300)} {
		err := strictjson.CheckContentType(h)
		if err == nil {
			t.Fatalf("expected a %d-byte header refused", len(h))
		}
		if msg := err.Error(); len(msg) > 200 || !printable(msg) {
			t.Fatalf("expected at most 200 printable bytes, got %d: %q", len(msg), msg)
		}
	}
}

// seq is n bytes 0, 1, 2, ...
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
