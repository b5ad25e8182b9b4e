package e2e_test

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

// Every step in Danish and in English shows its catalogue's words: each element that
// names a key shows that key's text in the page's language, no key is missing (the
// page would show ⟦key⟧ and say so in the console), no text on screen comes from
// outside the catalogues, and what a person reads is not the same in both languages
// unless it is a name or a number.
func TestLanguageCatalogues(t *testing.T) {
	var console *scenario.Console
	var cats map[string]map[string]string
	var seen []string
	scenario.Tour(t, func(p *scenario.Page, stop string) {
		if cats == nil {
			cats = map[string]map[string]string{}
			for _, lang := range scenario.Languages {
				cats[lang] = p.Server().Catalogue(t, lang)
			}
		}
		shown := map[string]map[string]string{} // lang → key → text, of visible elements
		p.InEachLanguage(func(lang string) {
			seen = append(seen, stop+"/"+lang)
			shown[lang] = checkWords(t, p, stop, lang, cats[lang])
		})
		for _, key := range slices.Sorted(maps.Keys(shown["da"])) {
			da, en := shown["da"][key], shown["en"][key]
			if da == en && !sameInBothLanguages(da) {
				t.Errorf("%s step: %s: expected Danish and English to differ, got %q in both", stop, key, da)
			}
		}
	}, scenario.OnBrowser(func(b *harness.Browser) { console = scenario.WatchConsole(t, b) }))

	checkVisitedAll(t, func(yield func(stop, lang string)) {
		for _, s := range seen {
			stop, lang, _ := strings.Cut(s, "/")
			yield(stop, lang)
		}
	})
	for _, msg := range console.Errors() {
		if strings.Contains(msg, "i18n") || strings.Contains(msg, "no message for") {
			t.Errorf("console: expected no complaint about the catalogues, got %q", msg)
		}
	}
}

// pageWords is what the page shows, as it names its catalogue keys.
type pageWords struct {
	Lang   string      `json:"lang"`
	Marker bool        `json:"marker"` // ⟦ anywhere in the document
	Keyed  []keyedText `json:"keyed"`
	Stray  []string    `json:"stray"` // visible text outside any keyed element
}

type keyedText struct {
	Key     string            `json:"key"`
	Vars    map[string]string `json:"vars"`
	Attr    string            `json:"attr"` // "" for the text content
	Text    string            `json:"text"`
	Visible bool              `json:"visible"`
}

const pageWordsJS = `(() => {
	const norm = (s) => s.replace(/\s+/g, ' ').trim();
	const keyed = [];
	for (const el of document.querySelectorAll('[data-i18n]')) {
		let vars = null;
		try { vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : null; } catch { vars = {'': 'unreadable data-i18n-vars'}; }
		if (vars) vars = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)]));
		const visible = el.tagName === 'TITLE' || el.checkVisibility({visibilityProperty: true});
		keyed.push({key: el.dataset.i18n, vars, attr: '', text: norm(el.textContent), visible});
	}
	for (const el of document.querySelectorAll('[data-i18n-attr]')) {
		for (const pair of el.dataset.i18nAttr.split(';')) {
			const at = pair.indexOf(':');
			if (at < 0) continue;
			const attr = pair.slice(0, at).trim();
			keyed.push({key: pair.slice(at + 1).trim(), vars: null, attr, text: norm(el.getAttribute(attr) || ''),
				visible: el.checkVisibility({visibilityProperty: true})});
		}
	}
	// Live regions speak catalogue text put together from code; they are not seen.
	const stray = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const text = norm(n.textContent);
		const el = n.parentElement;
		if (!text || el.closest('[data-i18n], script, noscript, #live, #status')) continue;
		if (!el.checkVisibility({visibilityProperty: true})) continue;
		stray.push(text);
	}
	return {lang: document.documentElement.lang, marker: document.documentElement.outerHTML.includes('⟦'), keyed, stray};
})()`

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// render is a catalogue text with its {placeholders} filled in, as the page does.
func render(text string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := vars[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

var spaces = regexp.MustCompile(`\s+`)

// checkWords checks the page against the catalogue cat of lang and returns the texts
// of the visible keyed elements by key.
func checkWords(t *testing.T, p *scenario.Page, stop, lang string, cat map[string]string) map[string]string {
	t.Helper()
	w := scenario.Eval[pageWords](p, pageWordsJS)
	if w.Lang != lang {
		t.Errorf("%s step: expected <html lang=%q>, got %q", stop, lang, w.Lang)
	}
	if w.Marker {
		t.Errorf("%s step, %s: expected no ⟦missing key⟧ marker, got one in the document", stop, lang)
	}
	if len(w.Keyed) == 0 {
		t.Fatalf("%s step, %s: expected elements naming catalogue keys, got none", stop, lang)
	}
	shown := map[string]string{}
	for _, k := range w.Keyed {
		where := k.Key
		if k.Attr != "" {
			where += " (" + k.Attr + ")"
		}
		text, ok := cat[k.Key]
		if !ok {
			t.Errorf("%s step, %s: %s: expected the key in the catalogue, got none", stop, lang, where)
			continue
		}
		want := strings.TrimSpace(spaces.ReplaceAllString(render(text, k.Vars), " "))
		if k.Text != want {
			t.Errorf("%s step, %s: %s: expected %q, got %q", stop, lang, where, want, k.Text)
		}
		if k.Visible {
			shown[where] = k.Text
		}
	}
	for _, s := range w.Stray {
		if !sameInBothLanguages(s) {
			t.Errorf("%s step, %s: expected every visible text from the catalogue, got %q outside it", stop, lang, s)
		}
	}
	return shown
}

// notWords are what reads the same in Danish and English: names, chip serials and
// numbers.
var notWords = regexp.MustCompile(`MitID|NFC|Bluetooth|MC-[0-9]+|[^\p{L}]`)

func sameInBothLanguages(text string) bool {
	return notWords.ReplaceAllString(text, "") == ""
}
