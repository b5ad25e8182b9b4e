package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mitidchip/credential/password"
)

var languages = []string{"da", "en"}

// sameInBothLanguages are keys whose text is a name, not a word to translate.
var sameInBothLanguages = map[string]bool{"app.brand": true}

// parseCatalogue reads a flat JSON object of string values, refusing what
// encoding/json would let pass: a repeated key (the last would silently win), a
// value that is not a string, anything after the object.
func parseCatalogue(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("expected an object, got %v (%v)", tok, err)
	}
	out := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // object keys are always strings
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		value, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: expected a string value, got %v", key, tok)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s: key appears twice", key)
		}
		out[key] = value
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("expected the end after the object, got %v", err)
	}
	return out, nil
}

func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCatalogue(data)
	if err != nil {
		t.Fatalf("i18n/%s.json: %v", lang, err)
	}
	return c
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// files lists the page sources with the given extension.
func files(t *testing.T, ext string) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(os.DirFS("."), ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(name, ext) {
			out = append(out, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %s files found", ext)
	}
	return out
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestParseCatalogue(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"flat strings", `{"a.b": "x", "c": "y"}`, true},
		{"empty object", `{}`, true},
		{"repeated key", `{"a": "x", "a": "y"}`, false},
		{"number value", `{"a": 1}`, false},
		{"nested object", `{"a": {"b": "c"}}`, false},
		{"not an object", `["a"]`, false},
		{"trailing value", `{"a": "x"} {}`, false},
		{"cut short", `{"a": "x"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCatalogue([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Errorf("parseCatalogue(%s): expected ok=%t, got error %v", tc.in, tc.ok, err)
			}
		})
	}
}

func TestCataloguesMatch(t *testing.T) {
	da, en := catalogue(t, "da"), catalogue(t, "en")
	for _, pair := range []struct {
		name     string
		from, to map[string]string
	}{{"en", da, en}, {"da", en, da}} {
		for key := range pair.from {
			if _, ok := pair.to[key]; !ok {
				t.Errorf("key %q: expected in i18n/%s.json, got none", key, pair.name)
			}
		}
	}
	for _, lang := range languages {
		for key, value := range catalogue(t, lang) {
			if strings.TrimSpace(value) == "" {
				t.Errorf("%s %q: expected text, got %q", lang, key, value)
			}
			if value != strings.TrimSpace(value) {
				t.Errorf("%s %q: expected no leading or trailing space, got %q", lang, key, value)
			}
		}
	}
	for key, d := range da {
		e, ok := en[key]
		if !ok {
			continue
		}
		if d == e && !sameInBothLanguages[key] {
			t.Errorf("key %q: expected an English text, got the Danish one %q", key, d)
		}
		if pd, pe := placeholders(d), placeholders(e); !slices.Equal(pd, pe) {
			t.Errorf("key %q: expected the same placeholders, got da %v and en %v", key, pd, pe)
		}
	}
}

var (
	dataI18n     = regexp.MustCompile(`\sdata-i18n="([^"]*)"`)
	dataI18nAttr = regexp.MustCompile(`\sdata-i18n-attr="([^"]*)"`)
	// An element whose opening tag names a key, with its text up to the next tag.
	keyedElement = regexp.MustCompile(`<([a-z0-9]+)\b[^>]*\sdata-i18n="([^"]*)"[^>]*>([^<]*)</([a-z0-9]+)>`)
	// The same with an element inside, which a change of language would wipe out.
	keyedParent = regexp.MustCompile(`<[a-z0-9]+\b[^>]*\sdata-i18n="([^"]*)"[^>]*>[^<]*<[a-z]`)
	space       = regexp.MustCompile(`\s+`)
)

// TestHTMLKeys checks every key the HTML names, and that the Danish text the page
// shows before its script runs is the catalogue's.
func TestHTMLKeys(t *testing.T) {
	da, en := catalogue(t, "da"), catalogue(t, "en")
	for _, name := range files(t, ".html") {
		page := read(t, name)
		var keys []string
		for _, m := range dataI18n.FindAllStringSubmatch(page, -1) {
			keys = append(keys, m[1])
		}
		for _, m := range dataI18nAttr.FindAllStringSubmatch(page, -1) {
			for _, pair := range strings.Split(m[1], ";") {
				attr, key, ok := strings.Cut(pair, ":")
				if !ok || strings.TrimSpace(attr) == "" {
					t.Errorf("%s: data-i18n-attr %q: expected attr:key pairs", name, m[1])
					continue
				}
				keys = append(keys, strings.TrimSpace(key))
			}
		}
		for _, key := range keys {
			if _, ok := da[key]; !ok {
				t.Errorf("%s: key %q: expected in i18n/da.json, got none", name, key)
			}
			if _, ok := en[key]; !ok {
				t.Errorf("%s: key %q: expected in i18n/en.json, got none", name, key)
			}
		}
		for _, m := range keyedParent.FindAllStringSubmatch(page, -1) {
			t.Errorf("%s: data-i18n=%q: expected text only inside, got an element", name, m[1])
		}
		for _, m := range keyedElement.FindAllStringSubmatch(page, -1) {
			tag, key, text, closing := m[1], m[2], m[3], m[4]
			if tag != closing {
				t.Errorf("%s: <%s data-i18n=%q>: expected text only inside, got a <%s> in it", name, tag, key, closing)
				continue
			}
			text = strings.TrimSpace(space.ReplaceAllString(html.UnescapeString(text), " "))
			if want, ok := da[key]; ok && text != "" && text != want {
				t.Errorf("%s: <%s data-i18n=%q>: expected the Danish text %q, got %q", name, tag, key, want, text)
			}
		}
	}
}

var (
	jsString      = regexp.MustCompile("'([^'\\\\\n]*)'|`([^`\\\\$\n]*)`")
	jsKeyTemplate = regexp.MustCompile("`([a-z_]+(?:\\.[a-z0-9_]+)*\\.)\\$\\{")
)

// TestJSKeys checks the keys the scripts name as literals ('step.code.title'), and
// that every key prefix they complete at run time (`rule.${reason}`) has keys.
func TestJSKeys(t *testing.T) {
	da := catalogue(t, "da")
	prefixes := map[string]bool{}
	for key := range da {
		first, _, _ := strings.Cut(key, ".")
		prefixes[first] = true
	}
	looksLikeKey := regexp.MustCompile(`^[a-z_]+(\.[a-z0-9_]+)+$`)
	for _, name := range files(t, ".js") {
		src := read(t, name)
		for _, m := range jsString.FindAllStringSubmatch(src, -1) {
			s := m[1] + m[2]
			first, _, _ := strings.Cut(s, ".")
			if !looksLikeKey.MatchString(s) || !prefixes[first] || strings.HasSuffix(s, ".js") || strings.HasSuffix(s, ".json") {
				continue
			}
			if _, ok := da[s]; !ok {
				t.Errorf("%s: key %q: expected in the catalogues, got none", name, s)
			}
		}
		for _, m := range jsKeyTemplate.FindAllStringSubmatch(src, -1) {
			found := false
			for key := range da {
				if strings.HasPrefix(key, m[1]) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: key prefix %q: expected keys starting with it, got none", name, m[1])
			}
		}
	}
}

// TestServerErrorCodes reads server/api/codes.go as text: the page needs a message
// for every code there, whatever state the server package is in.
func TestServerErrorCodes(t *testing.T) {
	src := read(t, filepath.Join("..", "server", "api", "codes.go"))
	start := strings.Index(src, "ErrorCodes = []string{")
	if start < 0 {
		t.Fatal("server/api/codes.go: expected `ErrorCodes = []string{`, got none")
	}
	end := strings.Index(src[start:], "}")
	if end < 0 {
		t.Fatal("server/api/codes.go: expected the end of ErrorCodes, got none")
	}
	codes := regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(src[start:start+end], -1)
	if len(codes) == 0 {
		t.Fatal("server/api/codes.go: expected codes in ErrorCodes, got none")
	}
	for _, lang := range languages {
		c := catalogue(t, lang)
		for _, m := range codes {
			if _, ok := c["error."+m[1]]; !ok {
				t.Errorf("server code %q: expected key %q in i18n/%s.json, got none", m[1], "error."+m[1], lang)
			}
		}
	}
}

func TestPasswordReasons(t *testing.T) {
	for _, lang := range languages {
		c := catalogue(t, lang)
		for _, r := range password.Reasons() {
			if _, ok := c["rule."+string(r)]; !ok {
				t.Errorf("password reason %q: expected key %q in i18n/%s.json, got none", r, "rule."+string(r), lang)
			}
		}
	}
}

// TestModuleErrorCodes takes the module's codes from its documented contract, the
// table under "## Error codes" in docs/module-api.md.
func TestModuleErrorCodes(t *testing.T) {
	doc := read(t, filepath.Join("..", "docs", "module-api.md"))
	_, table, ok := strings.Cut(doc, "## Error codes")
	if !ok {
		t.Fatal("docs/module-api.md: expected a section \"## Error codes\", got none")
	}
	if next := strings.Index(table, "\n## "); next >= 0 {
		table = table[:next]
	}
	codes := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(table, -1)
	if len(codes) == 0 {
		t.Fatal("docs/module-api.md: expected rows of error codes, got none")
	}
	for _, lang := range languages {
		c := catalogue(t, lang)
		for _, m := range codes {
			if _, ok := c["module."+m[1]]; !ok {
				t.Errorf("module code %q: expected key %q in i18n/%s.json, got none", m[1], "module."+m[1], lang)
			}
		}
	}
}

// TestHelpEntries: the help page lists every message the activation page can show
// (help.js: each error.* and module.* key but the *_until variants of one), and each
// needs what it means and what to do, help.<key>, in both languages.
func TestHelpEntries(t *testing.T) {
	src := read(t, "help.js")
	if !strings.Contains(src, "const MESSAGE = /^(error|module)\\.[a-z_]+$/;") || !strings.Contains(src, "key.endsWith('_until')") {
		t.Fatal("help.js: expected the rule that picks the messages, MESSAGE and the _until exception, got neither")
	}
	message := regexp.MustCompile(`^(error|module)\.[a-z_]+$`)
	var n int
	for _, lang := range languages {
		c := catalogue(t, lang)
		for key := range c {
			if !message.MatchString(key) || strings.HasSuffix(key, "_until") {
				continue
			}
			n++
			if _, ok := c["help."+key]; !ok {
				t.Errorf("message %q: expected what it means and what to do, key %q, in i18n/%s.json, got none", key, "help."+key, lang)
			}
		}
	}
	if n == 0 {
		t.Fatal("expected error.* and module.* messages in the catalogues, got none")
	}
}

var idAttr = regexp.MustCompile(`\sid="([^"]+)"`)

func ids(page string) map[string]int {
	out := map[string]int{}
	for _, m := range idAttr.FindAllStringSubmatch(page, -1) {
		out[m[1]]++
	}
	return out
}

// The dev mode's virtual chip page lives with dev mode, out of the production build;
// it is held to the same rules as the pages here.
const (
	devPage   = "../server/dev/page/chip.html"
	devScript = "../server/dev/page/chip.js"
)

// TestPageHooks keeps the ids the browser tests find things by.
func TestPageHooks(t *testing.T) {
	have := ids(read(t, "index.html"))
	for _, id := range []string{
		"step-start", "step-password", "step-chip", "step-connect", "step-code", "step-sign",
		"step-completed", "step-blocked", "step-error",
		"password", "password-repeat", "next-password", "password-strength", "password-rules", "password-mismatch",
		"transport-nfc", "transport-bluetooth", "transport-virtual", "transport-recheck", "virtual-serial", "no-transport",
		"connect-next", "connect-back", "code", "submit-code", "sign-retry", "reconnect",
		"error", "error-title", "error-retry", "resume", "live", "status", "lang-toggle", "progress",
		"step-device", "step-handover", "step-continue", "device-title", "handover-start", "handover-code", "handover-qr", "handover-input", "continue-submit", "borgerservice-link",
		"help-link", "progress-caption", "how-to-use", "blocked-how-long",
	} {
		if have[id] != 1 {
			t.Errorf("index.html: expected one element with id %q, got %d", id, have[id])
		}
	}
	for id, n := range have {
		if n > 1 {
			t.Errorf("index.html: expected id %q once, got %d times", id, n)
		}
	}
}

// TestReferences checks that ids named by the scripts and by for, aria-describedby
// and aria-labelledby exist in the page they belong to.
func TestReferences(t *testing.T) {
	byID := regexp.MustCompile(`(?:getElementById|byId|\$)\('([^']+)'\)`)
	refs := regexp.MustCompile(`\s(?:for|aria-describedby|aria-labelledby)="([^"]+)"`)
	pages := map[string][]string{
		"index.html": {"app.js", "page.js", "step-password.js", "step-chip.js", "step-code.js", "step-sign.js", "step-device.js"},
		"help.html":  {"help.js"},
		"block.html": {"block.js"},
		"mit.html":   {"mit.js", "step-password.js", "step-chip.js"},
		devPage:      {devScript},
	}
	for page, scripts := range pages {
		src := read(t, page)
		have := ids(src)
		for _, m := range refs.FindAllStringSubmatch(src, -1) {
			for _, id := range strings.Fields(m[1]) {
				if have[id] == 0 {
					t.Errorf("%s: %s: expected an element with id %q, got none", page, strings.TrimSpace(m[0]), id)
				}
			}
		}
		for _, script := range scripts {
			for _, m := range byID.FindAllStringSubmatch(read(t, script), -1) {
				if have[m[1]] == 0 {
					t.Errorf("%s: expected an element with id %q in %s, got none", script, m[1], page)
				}
			}
		}
	}
}

// TestContentSecurityPolicy: the server's policy forbids inline script and style, so
// the pages must not need them; and server data reaches the page as text only.
func TestContentSecurityPolicy(t *testing.T) {
	tests := []struct {
		name string
		bad  *regexp.Regexp
	}{
		{"inline script", regexp.MustCompile(`(?i)<script\b[^>]*>\s*[^<\s]`)},
		{"style element", regexp.MustCompile(`(?i)<style\b`)},
		{"style attribute", regexp.MustCompile(`(?i)\sstyle=`)},
		{"event handler attribute", regexp.MustCompile(`(?i)\son[a-z]+=`)},
		{"javascript: URL", regexp.MustCompile(`(?i)javascript:`)},
		{"positive tabindex", regexp.MustCompile(`tabindex="[1-9]`)},
	}
	scriptTag := regexp.MustCompile(`(?i)<script\b[^>]*>`)
	for _, name := range append(files(t, ".html"), devPage) {
		page := read(t, name)
		for _, tag := range scriptTag.FindAllString(page, -1) {
			if !strings.Contains(tag, " src=") {
				t.Errorf("%s: expected every script to have a src, got %q", name, tag)
			}
		}
		for _, tc := range tests {
			if m := tc.bad.FindString(page); m != "" {
				t.Errorf("%s: %s: expected none, got %q", name, tc.name, m)
			}
		}
	}
	markup := regexp.MustCompile(`\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function\(`)
	for _, name := range append(files(t, ".js"), devScript) {
		if m := markup.FindString(read(t, name)); m != "" {
			t.Errorf("%s: expected text-only DOM updates, got %q", name, m)
		}
	}
}
