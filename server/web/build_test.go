package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

var (
	pageSrc   = os.DirFS("testdata/page")
	moduleSrc = os.DirFS("testdata/module")
)

// built is testdata built once for the tests that only read the result: a best-quality
// brotli build takes a good part of a second under -race.
var built struct {
	dir string
	man Manifest
}

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "webtest-")
	if err != nil {
		panic(err)
	}
	built.dir = filepath.Join(tmp, "public")
	built.man, err = Build(built.dir, pageSrc, moduleSrc)
	if err != nil {
		panic(fmt.Sprintf("building testdata: %v", err))
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// buildTestdata builds testdata/page and testdata/module into a fresh folder.
func buildTestdata(t *testing.T) (string, Manifest) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "public")
	man, err := Build(out, pageSrc, moduleSrc)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out, man
}

// readTree returns every file under dir by slash-separated name.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[name], err = os.ReadFile(filepath.Join(dir, name))
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return files
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildNames(t *testing.T) {
	out, man := built.dir, built.man
	want := []string{"app.css", "app.js", "i18n/da.json", "i18n/en.json", "logo.png", "logo.svg", "main.wasm", "wasm_exec.js"}
	if got := slices.Sorted(maps.Keys(man)); !slices.Equal(got, want) {
		t.Fatalf("manifest names: expected %v, got %v", want, got)
	}
	var onDisk Manifest
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, ManifestFile)), &onDisk); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if !maps.Equal(onDisk, man) {
		t.Errorf("manifest.json: expected %v, got %v", man, onDisk)
	}
	form := regexp.MustCompile(`^(.+)\.([0-9a-f]{12})(\.[a-z0-9]+)$`)
	for logical, hashed := range man {
		t.Run(logical, func(t *testing.T) {
			m := form.FindStringSubmatch(hashed)
			if m == nil || m[1]+m[3] != logical {
				t.Fatalf("expected %s to be named stem.<12 hex>.ext, got %s", logical, hashed)
			}
			published := mustRead(t, filepath.Join(out, hashed))
			sum := sha256.Sum256(published)
			if m[2] != hex.EncodeToString(sum[:])[:12] {
				t.Errorf("expected the hash of the published bytes %x, got %s", sum[:6], m[2])
			}
			if logical == "app.css" {
				return // rewritten; see TestBuildRewritesStylesheets
			}
			src := "testdata/page/" + logical
			if logical == "main.wasm" || logical == "wasm_exec.js" {
				src = "testdata/module/" + logical
			}
			if !bytes.Equal(published, mustRead(t, src)) {
				t.Errorf("expected %s published unchanged", logical)
			}
		})
	}
	tree := readTree(t, out)
	for name := range tree {
		if strings.Contains(name, "README") || strings.HasSuffix(name, "app.js") {
			t.Errorf("expected no %s in the output: notes are not published, assets only by hashed name", name)
		}
	}
	for _, page := range []string{"index.html", "chip.html", "help/index.html"} {
		if _, ok := tree[page]; !ok {
			t.Errorf("expected page %s in the output", page)
		}
	}
}

func TestBuildVariants(t *testing.T) {
	out, man := built.dir, built.man
	tree := readTree(t, out)
	decoders := map[string]func([]byte) ([]byte, error){
		".br": func(b []byte) ([]byte, error) { return io.ReadAll(brotli.NewReader(bytes.NewReader(b))) },
		".gz": func(b []byte) ([]byte, error) {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		},
	}
	for name, body := range tree {
		if strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") || name == ManifestFile {
			continue
		}
		br, gz, err := compress(body)
		if err != nil {
			t.Fatal(err)
		}
		for ext, fresh := range map[string][]byte{".br": br, ".gz": gz} {
			variant, ok := tree[name+ext]
			if !ok {
				if len(fresh) < len(body) {
					t.Errorf("%s: expected a %s variant, as it is smaller (%d < %d)", name, ext, len(fresh), len(body))
				}
				continue
			}
			if len(variant) >= len(body) {
				t.Errorf("%s%s: expected it only when smaller than %d bytes, got %d", name, ext, len(body), len(variant))
			}
			plain, err := decoders[ext](variant)
			if err != nil || !bytes.Equal(plain, body) {
				t.Errorf("%s%s: expected it to decode to the file (err %v)", name, ext, err)
			}
		}
	}
	for _, want := range []string{man["main.wasm"] + ".br", man["main.wasm"] + ".gz", "index.html.br"} {
		if _, ok := tree[want]; !ok {
			t.Errorf("expected %s in the output", want)
		}
	}
	if _, ok := tree[man["logo.png"]+".gz"]; ok {
		t.Error("expected no .gz for the already compressed logo.png")
	}
}

// assetsMeta is the manifest a page carries, decoded.
func assetsMeta(t *testing.T, page string) Manifest {
	t.Helper()
	m := regexp.MustCompile(`<meta name="assets" content="([^"]*)">`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("expected one assets meta, got %d in:\n%s", len(m), page)
	}
	var man Manifest
	if err := json.Unmarshal([]byte(html.UnescapeString(m[0][1])), &man); err != nil {
		t.Fatalf("assets meta: %v", err)
	}
	return man
}

func TestBuildRewritesPages(t *testing.T) {
	out, man := built.dir, built.man
	base := func(n string) string { return filepath.Base(man[n]) }
	tests := []struct {
		page      string
		contains  []string
		metaAfter string
	}{
		{"index.html", []string{
			`<link rel="stylesheet" href="` + man["app.css"] + `">`,
			`<link rel="icon" href="/` + man["logo.svg"] + `">`,
			`<link rel="preload" href="` + man["main.wasm"] + `" as="fetch" crossorigin>`,
			`<script src="` + man["app.js"] + `" defer></script>`,
			`<img src=` + man["logo.png"] + ` alt="">`,
			`<a href="https://www.mitid.dk/">`, `<a href="chip.html">`, `<a href="#main">`,
			`<!-- <script src="app.js"> in a comment is left alone -->`,
			`<textarea>src="app.js"</textarea>`,
		}, `<meta charset="utf-8">`},
		{"chip.html", []string{
			`<LINK REL=stylesheet HREF='` + man["app.css"] + `'>`,
			`<script src="/` + man["app.js"] + `" defer></script>`,
			`<a href="/">`,
		}, `<HEAD>`},
		{"help/index.html", []string{
			`href="../` + base("app.css") + `"`, `src="../` + base("logo.svg") + `"`, `href="../index.html"`,
		}, `<meta charset="utf-8">`},
	}
	for _, tc := range tests {
		t.Run(tc.page, func(t *testing.T) {
			page := string(mustRead(t, filepath.Join(out, tc.page)))
			for _, want := range tc.contains {
				if !strings.Contains(page, want) {
					t.Errorf("expected %q in:\n%s", want, page)
				}
			}
			if got := assetsMeta(t, page); !maps.Equal(got, man) {
				t.Errorf("meta manifest: expected %v, got %v", man, got)
			}
			if !strings.Contains(page, tc.metaAfter+`<meta name="assets"`) {
				t.Errorf("expected the assets meta right after %s, got:\n%s", tc.metaAfter, page)
			}
		})
	}
}

func TestBuildRewritesStylesheets(t *testing.T) {
	out, man := built.dir, built.man
	css := string(mustRead(t, filepath.Join(out, man["app.css"])))
	for _, want := range []string{
		`url("` + man["logo.svg"] + `")`,
		`url(` + man["logo.png"] + `)`,
		`url(missing-in-comment.png) is not a reference`,
		`url('data:image/svg+xml;utf8,`,
	} {
		if !strings.Contains(css, want) {
			t.Errorf("expected %q in:\n%s", want, css)
		}
	}
}

func TestBuildDeterministic(t *testing.T) {
	a, _ := buildTestdata(t)
	b, _ := buildTestdata(t)
	ta, tb := readTree(t, a), readTree(t, b)
	if !maps.EqualFunc(ta, tb, bytes.Equal) {
		t.Errorf("expected identical builds, got %v and %v", slices.Sorted(maps.Keys(ta)), slices.Sorted(maps.Keys(tb)))
	}
}

func TestBuildSkipsNonSources(t *testing.T) {
	src := fstest.MapFS{
		"index.html":      {Data: []byte(`<html><head></head></html>`)},
		"app.js":          {Data: []byte(`// app`)},
		".app.js.swp":     {Data: []byte(`swap`)},
		".git/config":     {Data: []byte(`[core]`)},
		"notes/README.md": {Data: []byte(`# notes`)},
		"embed.go":        {Data: []byte(`package page`)},
	}
	man, err := Build(filepath.Join(t.TempDir(), "out"), src)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if got := slices.Sorted(maps.Keys(man)); !slices.Equal(got, []string{"app.js"}) {
		t.Errorf("expected only app.js published, got %v", got)
	}
}

func TestBuildReplacesPreviousBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	page := []byte(`<html><head></head><script src="app.js"></script></html>`)
	first, err := Build(out, fstest.MapFS{"index.html": {Data: page}, "app.js": {Data: []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(out, fstest.MapFS{"index.html": {Data: page}, "app.js": {Data: []byte("2")}})
	if err != nil {
		t.Fatalf("rebuilding into a previous build: %v", err)
	}
	tree := readTree(t, out)
	if _, ok := tree[first["app.js"]]; ok {
		t.Errorf("expected the previous build's %s gone", first["app.js"])
	}
	if _, ok := tree[second["app.js"]]; !ok {
		t.Errorf("expected %s", second["app.js"])
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".public.build-*"))
	if len(leftovers) != 0 {
		t.Errorf("expected no temporary folders left, got %v", leftovers)
	}
}

func TestBuildRefusesToReplace(t *testing.T) {
	src := fstest.MapFS{"index.html": {Data: []byte(`<html><head></head></html>`)}}
	tests := []struct {
		name  string
		setup func(t *testing.T, out string)
	}{
		{"a folder with other files", func(t *testing.T, out string) {
			os.MkdirAll(out, 0o755)
			os.WriteFile(filepath.Join(out, "main.go"), []byte("package main"), 0o644)
		}},
		{"a folder whose manifest.json is a web app manifest", func(t *testing.T, out string) {
			os.MkdirAll(out, 0o755)
			os.WriteFile(filepath.Join(out, ManifestFile), []byte(`{"name":"x","icons":[]}`), 0o644)
		}},
		{"a file", func(t *testing.T, out string) {
			os.WriteFile(out, []byte("x"), 0o644)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			tc.setup(t, out)
			before := readTreeOrFile(t, out)
			if _, err := Build(out, src); err == nil {
				t.Fatal("expected Build to refuse, got no error")
			}
			if after := readTreeOrFile(t, out); !maps.EqualFunc(before, after, bytes.Equal) {
				t.Errorf("expected %s untouched: before %v, after %v", out, before, after)
			}
		})
	}
}

func readTreeOrFile(t *testing.T, p string) map[string][]byte {
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return map[string][]byte{"": mustRead(t, p)}
	}
	return readTree(t, p)
}

func TestBuildErrors(t *testing.T) {
	head := func(body string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`<html><head></head><body>` + body + `</body></html>`)}
	}
	tests := []struct {
		name    string
		srcs    []fs.FS
		wantErr string
	}{
		{"a reference to no source", []fs.FS{fstest.MapFS{"index.html": head(`<script src="gone.js"></script>`)}}, "gone.js"},
		{"a link to no page", []fs.FS{fstest.MapFS{"index.html": head(`<a href="nowhere.html">x</a>`)}}, "nowhere.html"},
		{"a file type not published", []fs.FS{fstest.MapFS{"notes.txt": {Data: []byte("x")}}}, ".txt"},
		{"a name in two sources", []fs.FS{
			fstest.MapFS{"app.js": {Data: []byte("1")}},
			fstest.MapFS{"app.js": {Data: []byte("2")}},
		}, "more than one"},
		{"a page without head", []fs.FS{fstest.MapFS{"index.html": {Data: []byte(`<p>hi</p>`)}}}, "<head>"},
		{"a tag that does not end", []fs.FS{fstest.MapFS{"index.html": {Data: []byte(`<html><head><link rel="icon"`)}}}, "does not end"},
		{"a stylesheet naming a stylesheet", []fs.FS{fstest.MapFS{
			"a.css": {Data: []byte(`@import url(b.css);`)},
			"b.css": {Data: []byte(`p{}`)},
		}}, "stylesheet"},
		{"a stylesheet naming no source", []fs.FS{fstest.MapFS{"a.css": {Data: []byte(`p{background:url(x.png)}`)}}}, "x.png"},
		{"a source named like the manifest", []fs.FS{fstest.MapFS{ManifestFile: {Data: []byte(`{}`)}}}, ManifestFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			_, err := Build(out, tc.srcs...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("expected an error naming %q, got %v", tc.wantErr, err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("expected no output folder after a failed build, got %v", err)
			}
		})
	}
	if _, err := Build("", pageSrc); err == nil {
		t.Error("expected an error for an empty output folder name")
	}
}

// TestBuildOn: a page built on another build links to that build's assets by their
// hashed names without copying them, and still refuses a reference to nothing.
func TestBuildOn(t *testing.T) {
	base := built.man
	src := fstest.MapFS{
		"tool.html": {Data: []byte(`<html><head><link rel="stylesheet" href="/app.css">` +
			`<link rel="icon" href="/logo.svg"><script src="tool.js"></script></head></html>`)},
		"tool.js": {Data: []byte(`console.log(1)`)},
	}
	out := filepath.Join(t.TempDir(), "tool")
	man, err := BuildOn(base, out, src)
	if err != nil {
		t.Fatalf("BuildOn: %v", err)
	}
	page := string(mustRead(t, filepath.Join(out, "tool.html")))
	for _, want := range []string{`href="/` + base["app.css"] + `"`, `href="/` + base["logo.svg"] + `"`, `src="` + man["tool.js"] + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("expected %s in:\n%s", want, page)
		}
	}
	if got := slices.Sorted(maps.Keys(man)); !slices.Equal(got, []string{"tool.js"}) {
		t.Errorf("manifest: expected only the build's own tool.js, got %v", got)
	}
	for name := range readTree(t, out) {
		if strings.HasPrefix(name, "app.") || strings.HasPrefix(name, "logo.") {
			t.Errorf("expected the base build's files left out, got %s", name)
		}
	}
	src["tool.html"] = &fstest.MapFile{Data: []byte(`<html><head><link rel="stylesheet" href="/gone.css"></head></html>`)}
	if _, err := BuildOn(base, filepath.Join(t.TempDir(), "bad"), src); err == nil || !strings.Contains(err.Error(), "gone.css") {
		t.Errorf("a reference in neither build: expected an error naming gone.css, got %v", err)
	}
}
