// The page's words: one flat catalogue per language (i18n/da.json, i18n/en.json),
// applied to elements that name their key in data-i18n / data-i18n-attr.

export const LANGUAGES = ['da', 'en'];
const STORAGE_KEY = 'mitid.lang';

export class I18n {
  // load(lang) resolves to the catalogue object for lang.
  constructor(load) {
    this.load = load;
    this.lang = 'da';
    this.catalogue = {};
  }

  async use(lang) {
    const catalogue = await this.load(lang);
    if (catalogue === null || typeof catalogue !== 'object') {
      throw new Error(`i18n: the ${lang} catalogue is not an object`);
    }
    this.catalogue = catalogue;
    this.lang = lang;
  }

  has(key) {
    return Object.hasOwn(this.catalogue, key) && typeof this.catalogue[key] === 'string';
  }

  // t renders a missing key as ⟦key⟧ rather than falling back to another language,
  // so a gap in a catalogue shows on the page and in the tests' console. A
  // placeholder whose name ends in _at is a moment (milliseconds since 1970), written
  // as this language writes a time of day (moment), so it follows a change of
  // language like the words around it.
  t(key, vars) {
    if (!this.has(key)) {
      console.error(`i18n: missing key "${key}" in the ${this.lang} catalogue`);
      return `⟦${key}⟧`;
    }
    const text = this.catalogue[key];
    if (!vars) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => {
      if (!Object.hasOwn(vars, name)) return whole;
      return name.endsWith('_at') ? this.moment(Number(vars[name])) : String(vars[name]);
    });
  }

  // moment writes a time of day, with "tomorrow" or the date when it is not today.
  moment(at, now = Date.now()) {
    const locale = this.lang === 'da' ? 'da-DK' : 'en-GB';
    const d = new Date(at);
    const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }).format(d);
    const days = localDay(d) - localDay(new Date(now));
    if (days <= 0) return this.t('time.today', { time });
    if (days === 1) return this.t('time.tomorrow', { time });
    const date = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long' }).format(d);
    return this.t('time.later', { date, time });
  }

  // set gives el the text of key and remembers key and vars on it, so a change of
  // language re-renders text that was set from code, not only the page's own.
  set(el, key, vars) {
    el.dataset.i18n = key;
    if (vars) el.dataset.i18nVars = JSON.stringify(vars);
    else delete el.dataset.i18nVars;
    el.textContent = this.t(key, vars);
  }

  apply(root) {
    for (const el of root.querySelectorAll('[data-i18n]')) {
      el.textContent = this.t(el.dataset.i18n, varsOf(el));
    }
    // data-i18n-attr="aria-label:key; placeholder:other.key"
    for (const el of root.querySelectorAll('[data-i18n-attr]')) {
      for (const pair of el.dataset.i18nAttr.split(';')) {
        const at = pair.indexOf(':');
        if (at < 0) continue;
        el.setAttribute(pair.slice(0, at).trim(), this.t(pair.slice(at + 1).trim()));
      }
    }
  }
}

// localDay numbers the days of the local calendar.
function localDay(d) {
  return Math.floor((d.getTime() - d.getTimezoneOffset() * 60000) / 86400000);
}

function varsOf(el) {
  if (!el.dataset.i18nVars) return undefined;
  try {
    return JSON.parse(el.dataset.i18nVars);
  } catch {
    return undefined;
  }
}

// storedLanguage is the person's earlier choice, or Danish: MitID.dk is Danish first.
export function storedLanguage(storage) {
  try {
    const lang = storage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(lang) ? lang : 'da';
  } catch {
    return 'da';
  }
}

export function storeLanguage(storage, lang) {
  try {
    storage.setItem(STORAGE_KEY, lang);
  } catch {
    // Storage refused (a private window): the choice lasts for this page only.
  }
}
