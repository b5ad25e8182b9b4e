// What the pages' entry scripts (app.js, logon.js, mit.js, block.js,
// borgerservice.js, help.js) share: storage and element lookup, the catalogues in the
// stored language and the header's language switch, the messages for errors, the
// connection kept in this tab, and the view that shows one step at a time with its
// error area and live regions.
//
// An entry imports it as it imports every sibling, `import(asset('page.js'))`; the
// entry's own manifest reader cannot move here (see the top of app.js).

export const byId = (id) => document.getElementById(id);

// storage is globalThis.localStorage or .sessionStorage (kind), or null where there is none.
export function storage(kind) {
  try {
    return globalThis[kind] ?? null;
  } catch {
    return null; // access itself throws when storage is disabled
  }
}

// startLanguage is the page's I18n (from i18n.js, the module i18nMod) with the
// catalogue of the language stored in local, or Danish when that one does not load.
export async function startLanguage(i18nMod, asset, local) {
  const i18n = new i18nMod.I18n(async (lang) => {
    const res = await fetch(asset(`i18n/${lang}.json`), { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`i18n: ${lang} catalogue: HTTP ${res.status}`);
    return res.json();
  });
  try {
    await i18n.use(i18nMod.storedLanguage(local));
  } catch (err) {
    console.error(err);
    await i18n.use('da');
  }
  return i18n;
}

// applyLanguage puts the catalogue's words in the page; the switch (#lang-toggle)
// names the other language in that language.
export function applyLanguage(i18n) {
  document.documentElement.lang = i18n.lang;
  byId('lang-toggle').lang = i18n.lang === 'da' ? 'en' : 'da';
  i18n.apply(document);
}

// languageSwitch makes #lang-toggle change the language, store the choice in local
// and call apply(), and shows it: before the catalogues load, a press would do nothing.
export function languageSwitch(i18n, i18nMod, local, apply) {
  const toggle = byId('lang-toggle');
  toggle.addEventListener('click', async () => {
    const next = i18n.lang === 'da' ? 'en' : 'da';
    try {
      await i18n.use(next);
    } catch (err) {
      console.error(err);
      return;
    }
    i18nMod.storeLanguage(local, next);
    apply();
  });
  toggle.hidden = false;
}

// messages gives the page's message for an error: keyOf is the error's own key
// where the catalogue has it (else error.internal or module.internal, logged as
// who's); messageOf adds when to try again where until (code → key) names the
// error's code and the server said when.
export function messages(i18n, until, who) {
  function keyOf(err) {
    if (err && typeof err.key === 'string' && i18n.has(err.key)) return err.key;
    console.error(`${who}: no message for`, err);
    return err && err.key && err.key.startsWith('module.') ? 'module.internal' : 'error.internal';
  }
  function untilOf(err) {
    if (!Object.hasOwn(until, err?.code) || !Number.isFinite(err.retryAt)) return null;
    return { key: until[err.code], vars: { retry_at: err.retryAt } };
  }
  return { keyOf, until: untilOf, messageOf: (err) => untilOf(err) ?? keyOf(err) };
}

const KINDS = ['nfc', 'bluetooth', 'virtual'];

// transportStore keeps how the chip was connected ({kind, …}) in session (this tab
// only) under key, for step-chip.js: get, set, clear.
export function transportStore(session, key) {
  return {
    get() {
      try {
        const v = JSON.parse(session?.getItem(key) ?? 'null');
        return v && KINDS.includes(v.kind) ? v : null;
      } catch {
        return null;
      }
    },
    set(v) {
      try {
        session?.setItem(key, JSON.stringify(v));
      } catch {
        // Without storage the page asks for the transport again.
      }
    },
    clear() {
      try {
        session?.removeItem(key);
      } catch {
        // nothing stored
      }
    },
  };
}

// createView shows one view (a `main section[data-view]`, id step-<name>) at a time,
// keeps body[data-step] in line with it, and owns the error area (#error) and the
// two live regions (#live, #status). With progress (view → the step's data-for in
// #progress) it keeps the step indicator too, its caption's label from
// stepLabel(step); with help (view → fragment) it points #help-link at the view's
// section of the help page.
export function createView(i18n, { progress: steps = null, stepLabel = null, help = null } = {}) {
  const errorEl = byId('error');
  const alertRegion = byId('live');
  const statusRegion = byId('status');
  const progress = steps ? byId('progress') : null;
  const helpLink = help ? byId('help-link') : null;

  function speak(region, text) {
    // A live region speaks only when its text changes; the trailing no-break space
    // flips, so the same message twice is spoken twice.
    const flip = region.dataset.flip === '1' ? '' : '\u00a0';
    region.dataset.flip = flip ? '1' : '0';
    region.textContent = text + flip;
  }

  function clearError() {
    errorEl.hidden = true;
    errorEl.replaceChildren();
  }

  function pointHelp(fragment) {
    if (helpLink) helpLink.hash = fragment;
  }

  function showProgress(name) {
    const at = steps[name];
    progress.hidden = !at;
    const items = [...progress.querySelectorAll('li')];
    const now = items.findIndex((li) => li.dataset.for === at);
    items.forEach((li, i) => {
      if (i === now) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      const done = Boolean(at) && (now < 0 || i < now);
      li.classList.toggle('done', done);
      li.querySelector('.state').hidden = !done;
    });
    // A narrow screen shows "Step 2 of 4: Connect chip" under the numbers.
    byId('progress-caption').hidden = now < 0;
    if (now >= 0) {
      i18n.set(byId('progress-count'), 'progress.count', { n: now + 1, total: items.length });
      i18n.set(byId('progress-label'), stepLabel(at));
    }
  }

  return {
    clearError,
    pointHelp,
    alert: (text) => speak(alertRegion, text),
    status: (text) => speak(statusRegion, text),

    show(name, { focus = true } = {}) {
      const section = byId(`step-${name}`);
      for (const s of document.querySelectorAll('main section[data-view]')) s.hidden = s !== section;
      document.body.dataset.step = name;
      if (name !== 'error') delete document.body.dataset.error;
      if (progress) showProgress(name);
      if (help) pointHelp(help[name] ?? '');
      clearError();
      (section.querySelector('.error-slot') ?? section).append(errorEl);
      if (focus) section.querySelector('h2').focus();
    },

    // showError puts messages (catalogue keys, or {key, vars}) in the current step's
    // error area, as a list if asked, and announces them.
    showError(items, { list = false } = {}) {
      const parts = items.map((it) => (typeof it === 'string' ? { key: it } : it));
      const holder = list ? document.createElement('ul') : errorEl;
      errorEl.replaceChildren();
      for (const { key, vars } of parts) {
        const el = document.createElement(list ? 'li' : 'p');
        i18n.set(el, key, vars);
        holder.append(el);
      }
      if (list) errorEl.append(holder);
      errorEl.hidden = false;
      speak(alertRegion, parts.map(({ key, vars }) => i18n.t(key, vars)).join(' '));
    },
  };
}
