package web

import (
	"bytes"
	"strings"
	"testing"
)

const testMeta = `<meta name="assets" content="{}">`

func testLinker(from string) func(string) (string, error) {
	man := Manifest{"app.js": "app.0123456789ab.js", "img/logo.svg": "img/logo.ba9876543210.svg"}
	return linker(from, man, nil, map[string]bool{"index.html": true, "sub/page.html": true})
}

func TestRewriteHTML(t *testing.T) {
	tests := []struct {
		name string
		from string
		in   string
		want string
	}{
		{"double quotes", "index.html",
			`<head><script src="app.js"></script></head>`,
			`<head>` + testMeta + `<script src="app.0123456789ab.js"></script></head>`},
		{"single quotes and upper case", "index.html",
			`<HEAD><SCRIPT SRC='app.js'></SCRIPT></HEAD>`,
			`<HEAD>` + testMeta + `<SCRIPT SRC='app.0123456789ab.js'></SCRIPT></HEAD>`},
		{"unquoted, spaces round =", "index.html",
			`<head><img src = img/logo.svg alt=x></head>`,
			`<head>` + testMeta + `<img src = img/logo.ba9876543210.svg alt=x></head>`},
		{"absolute path", "index.html",
			`<head><link href="/img/logo.svg"></head>`,
			`<head>` + testMeta + `<link href="/img/logo.ba9876543210.svg"></head>`},
		{"relative from a sub folder", "sub/page.html",
			`<head><link href="../img/logo.svg"><script src="../app.js"></script></head>`,
			`<head>` + testMeta + `<link href="../img/logo.ba9876543210.svg"><script src="../app.0123456789ab.js"></script></head>`},
		{"not a reference", "index.html",
			`<head><a href="https://x.dk/app.js"><a href="app.js?v=1"><a href="#app.js"><a href="//cdn/app.js"><a href="sub/page.html"><a href="/"></head>`,
			`<head>` + testMeta + `<a href="https://x.dk/app.js"><a href="app.js?v=1"><a href="#app.js"><a href="//cdn/app.js"><a href="sub/page.html"><a href="/"></head>`},
		{"other attributes are left alone", "index.html",
			`<head><div data-src="app.js" title="src=app.js" srcset="app.js"></div></head>`,
			`<head>` + testMeta + `<div data-src="app.js" title="src=app.js" srcset="app.js"></div></head>`},
		{"raw text is left alone", "index.html",
			`<head><title>src="app.js"</title><style>a{b:c}</style></head><body><textarea><img src="app.js"></TEXTAREA></body>`,
			`<head>` + testMeta + `<title>src="app.js"</title><style>a{b:c}</style></head><body><textarea><img src="app.js"></TEXTAREA></body>`},
		{"comments are left alone", "index.html",
			`<!-- <head> --><head><!-- <script src="app.js"> --></head>`,
			`<!-- <head> --><head>` + testMeta + `<!-- <script src="app.js"> --></head>`},
		{"meta goes after the charset", "index.html",
			`<!DOCTYPE html><head lang="da"><meta charset=utf-8><title>t</title></head>`,
			`<!DOCTYPE html><head lang="da"><meta charset=utf-8>` + testMeta + `<title>t</title></head>`},
		{"a charset after head is not followed", "index.html",
			`<head></head><body><meta charset="utf-8"></body>`,
			`<head>` + testMeta + `</head><body><meta charset="utf-8"></body>`},
		{"a stray < and self-closing tags", "index.html",
			`<head><link href="app.js"/></head><p>1 < 2 <br/></p>`,
			`<head>` + testMeta + `<link href="app.0123456789ab.js"/></head><p>1 < 2 <br/></p>`},
		{"non-ASCII text", "index.html",
			`<head><title>Aktivér İ</title></head><p>Næste → <img src="app.js"></p>`,
			`<head>` + testMeta + `<title>Aktivér İ</title></head><p>Næste → <img src="app.0123456789ab.js"></p>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rewriteHTML([]byte(tc.in), testLinker(tc.from), []byte(testMeta))
			if err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("expected\n%s\ngot\n%s", tc.want, got)
			}
		})
	}
}

func TestRewriteHTMLErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"no head", `<html><body></body></html>`, "no <head>"},
		{"unterminated comment", `<head><!-- x`, "comment"},
		{"unterminated tag", `<head><img src="app.js"`, "does not end"},
		{"unterminated quote", `<head><img src="app.js>`, "closing quote"},
		{"unterminated end tag", `<head></head`, "does not end"},
		{"unterminated script", `<head><script>x`, "<script> does not end"},
		{"missing asset", `<head><img src="gone.png"></head>`, "gone.png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rewriteHTML([]byte(tc.in), testLinker("index.html"), []byte(testMeta))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("expected an error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestRewriteCSS(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bare", `a{b:url(img/logo.svg)}`, `a{b:url(img/logo.ba9876543210.svg)}`},
		{"quoted, spaced, upper case", `a{b:URL( "img/logo.svg" )} c{d:url('/img/logo.svg')}`,
			`a{b:URL( "img/logo.ba9876543210.svg" )} c{d:url('/img/logo.ba9876543210.svg')}`},
		{"data and external", `a{b:url(data:image/png;base64,AA==)} c{d:url("https://x.dk/a.png")}`,
			`a{b:url(data:image/png;base64,AA==)} c{d:url("https://x.dk/a.png")}`},
		{"comments", `/* url(gone.png) */a{b:url(img/logo.svg)}/* url(gone.png)`,
			`/* url(gone.png) */a{b:url(img/logo.ba9876543210.svg)}/* url(gone.png)`},
		{"empty", `a{b:url()}`, `a{b:url()}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rewriteCSS([]byte(tc.in), testLinker("app.css"))
			if err != nil {
				t.Fatalf("expected no error, got %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("expected\n%s\ngot\n%s", tc.want, got)
			}
		})
	}
	if _, err := rewriteCSS([]byte(`a{b:url(gone.png)}`), testLinker("app.css")); err == nil {
		t.Error("expected an error for a url() naming no source")
	}
}

func FuzzRewriteHTML(f *testing.F) {
	for _, s := range []string{
		`<!DOCTYPE html><html><head><meta charset="utf-8"><script src="app.js"></script></head><body></body></html>`,
		`<HEAD><LINK HREF='img/logo.svg'></HEAD><textarea>x</textarea>`,
		`<head><img src=app.js alt=x/></head><!-- c --><p>1 < 2</p>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := rewriteHTML(in, testLinker("index.html"), []byte(testMeta))
		if err != nil {
			return
		}
		if !bytes.Contains(out, []byte(testMeta)) {
			t.Fatalf("expected the meta in the output, got %q", out)
		}
		// Rewriting only swaps app.js for a longer name, so without a reference the
		// page comes back with just the meta added.
		if !bytes.Contains(in, []byte("app.js")) && !bytes.Contains(in, []byte("logo.svg")) && len(out) != len(in)+len(testMeta) {
			t.Fatalf("expected only the meta added to %q, got %q", in, out)
		}
	})
}

func FuzzRewriteCSS(f *testing.F) {
	f.Add([]byte(`a{b:url("img/logo.svg")} /* url(x) */ c{d:url(app.js)}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := rewriteCSS(in, testLinker("app.css"))
		if err == nil && !bytes.Contains(in, []byte("app.js")) && !bytes.Contains(in, []byte("logo.svg")) && !bytes.Equal(in, out) {
			t.Fatalf("expected %q unchanged, got %q", in, out)
		}
	})
}
