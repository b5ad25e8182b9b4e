package web

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// rawTextTags hold text, not markup, up to their end tag; an src="..." inside a
// <script> or a <textarea> is not an attribute.
var rawTextTags = map[string]bool{"script": true, "style": true, "textarea": true, "title": true}

// rewriteHTML passes the value of every src and href attribute through link, and puts
// meta after the <meta charset> that opens <head> (so the charset stays within the
// first 1024 bytes), or right after <head> when there is none. It is a small scanner,
// not a parser: enough for pages we write ourselves, with an error rather than a guess
// when a tag does not end.
func rewriteHTML(src []byte, link func(string) (string, error), meta []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(src) + len(meta))
	headAt, charsetAt := -1, -1
	inHead := false
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], '<')
		if j < 0 {
			out.Write(src[i:])
			break
		}
		j += i
		out.Write(src[i:j])
		rest := src[j:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return nil, errors.New("a comment does not end")
			}
			i = j + 4 + end + 3
			out.Write(src[j:i])
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?' || rest[1] == '/'):
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				return nil, errors.New("a tag does not end")
			}
			i = j + end + 1
			if rest[1] == '/' && tagName(rest[2:]) == "head" {
				inHead = false
			}
			out.Write(src[j:i])
		case len(rest) > 1 && isLetter(rest[1]):
			t, err := scanTag(src, j, link, &out)
			if err != nil {
				return nil, err
			}
			i = t.end
			switch {
			case t.name == "head" && headAt < 0:
				headAt, inHead = out.Len(), true
			case t.name == "meta" && t.charset && inHead && charsetAt < 0:
				charsetAt = out.Len()
			case t.name == "body":
				inHead = false
			}
			if rawTextTags[t.name] {
				end := indexFold(src[i:], "</"+t.name)
				if end < 0 {
					return nil, fmt.Errorf("<%s> does not end", t.name)
				}
				out.Write(src[i : i+end])
				i += end
			}
		default: // a "<" that starts no tag, as in "a < b"
			out.WriteByte('<')
			i = j + 1
		}
	}
	if headAt < 0 {
		return nil, errors.New("no <head> to carry the asset manifest")
	}
	at := headAt
	if charsetAt >= 0 {
		at = charsetAt
	}
	b := out.Bytes()
	return slices.Concat(b[:at], meta, b[at:]), nil
}

type tag struct {
	name    string // lowercased
	charset bool   // has a charset attribute
	end     int    // index in src just past the closing '>'
}

// scanTag copies the start tag at src[start] to out, rewriting src and href values.
func scanTag(src []byte, start int, link func(string) (string, error), out *bytes.Buffer) (tag, error) {
	t := tag{name: tagName(src[start+1:])}
	i := start + 1 + len(t.name)
	copied := start // src[start:copied] is already in out
	for {
		for i < len(src) && (isSpace(src[i]) || src[i] == '/') {
			i++
		}
		if i >= len(src) {
			return t, fmt.Errorf("<%s> does not end", t.name)
		}
		if src[i] == '>' {
			t.end = i + 1
			out.Write(src[copied:t.end])
			return t, nil
		}
		nameStart := i
		i++ // a name's first character may be anything, even '='
		for i < len(src) && !isSpace(src[i]) && src[i] != '/' && src[i] != '>' && src[i] != '=' {
			i++
		}
		attr := string(lower(src[nameStart:i]))
		if attr == "charset" {
			t.charset = true
		}
		k := i
		for k < len(src) && isSpace(src[k]) {
			k++
		}
		if k >= len(src) || src[k] != '=' {
			continue // an attribute without a value
		}
		i = k + 1
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		var vs, ve int // the value is src[vs:ve]
		switch {
		case i >= len(src):
			return t, fmt.Errorf("<%s> does not end", t.name)
		case src[i] == '"' || src[i] == '\'':
			q := bytes.IndexByte(src[i+1:], src[i])
			if q < 0 {
				return t, fmt.Errorf("an attribute of <%s> has no closing quote", t.name)
			}
			vs, ve = i+1, i+1+q
			i = ve + 1
		default:
			vs = i
			for i < len(src) && !isSpace(src[i]) && src[i] != '>' {
				i++
			}
			ve = i
		}
		if attr != "src" && attr != "href" {
			continue
		}
		v, err := link(string(src[vs:ve]))
		if err != nil {
			return t, fmt.Errorf("<%s %s>: %w", t.name, attr, err)
		}
		out.Write(src[copied:vs])
		out.WriteString(v)
		copied = ve
	}
}

// cssURL matches url(...) with a double-quoted, single-quoted or bare value.
var cssURL = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^'"()\s]*))\s*\)`)

// rewriteCSS passes the value of every url(...) outside a comment through link.
func rewriteCSS(src []byte, link func(string) (string, error)) ([]byte, error) {
	comments := cssComments(src)
	var out bytes.Buffer
	last := 0
	for _, m := range cssURL.FindAllSubmatchIndex(src, -1) {
		if inSpans(comments, m[0]) {
			continue
		}
		vs, ve := m[2], m[3]
		for g := 4; vs < 0; g += 2 {
			vs, ve = m[g], m[g+1]
		}
		v, err := link(string(src[vs:ve]))
		if err != nil {
			return nil, fmt.Errorf("url(): %w", err)
		}
		out.Write(src[last:vs])
		out.WriteString(v)
		last = ve
	}
	out.Write(src[last:])
	return out.Bytes(), nil
}

// cssComments are the [start, end) spans of /* ... */ comments; one that does not end
// runs to the end of the file, as in a browser.
func cssComments(src []byte) [][2]int {
	var spans [][2]int
	for i := 0; ; {
		s := bytes.Index(src[i:], []byte("/*"))
		if s < 0 {
			return spans
		}
		s += i
		e := bytes.Index(src[s+2:], []byte("*/"))
		if e < 0 {
			return append(spans, [2]int{s, len(src)})
		}
		i = s + 2 + e + 2
		spans = append(spans, [2]int{s, i})
	}
}

func inSpans(spans [][2]int, at int) bool {
	for _, sp := range spans {
		if at >= sp[0] && at < sp[1] {
			return true
		}
	}
	return false
}

func tagName(b []byte) string {
	n := 0
	for n < len(b) && (isLetter(b[n]) || b[n] >= '0' && b[n] <= '9' || b[n] == '-' || b[n] == ':') {
		n++
	}
	return string(lower(b[:n]))
}

// indexFold is bytes.Index ignoring case. (Searching bytes.ToLower(s) would not do: it
// can change the length of non-ASCII text, and with it the offsets.)
func indexFold(s []byte, needle string) int {
	n := []byte(needle)
	for i := 0; i+len(n) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(n)], n) {
			return i
		}
	}
	return -1
}

func lower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
