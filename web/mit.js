// Mit MitID (/mit): what the logged-on person sees at MitID.dk: their user ID, their
// active chip, and Log off. The server serves this page to a logged-on person only;
// a session that ends meanwhile sends the person to the logon page.

const manifest = (() => {
  const meta = document.querySelector('meta[name="assets"]');
  try {
    const m = meta ? JSON.parse(meta.content) : {};
    return m !== null && typeof m === 'object' ? m : {};
  } catch {
    return {};
  }
})();

function asset(name) {
  const file = Object.hasOwn(manifest, name) ? manifest[name] : name;
  return new URL(file, document.baseURI).href;
}

const byId = (id) => document.getElementById(id);

async function main() {
  const [{ I18n, storedLanguage, storeLanguage }, { createApi }] = await Promise.all([
    import(asset('i18n.js')),
    import(asset('api.js')),
  ]);
  const api = createApi();
  const i18n = new I18n(async (lang) => {
    const res = await fetch(asset(`i18n/${lang}.json`), { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`i18n: ${lang} catalogue: HTTP ${res.status}`);
    return res.json();
  });
  let local = null;
  try {
    local = globalThis.localStorage ?? null;
  } catch {
    local = null;
  }
  try {
    await i18n.use(storedLanguage(local));
  } catch (err) {
    console.error(err);
    await i18n.use('da');
  }
  let mine = null;
  const toggle = byId('lang-toggle');
  const apply = () => {
    document.documentElement.lang = i18n.lang;
    toggle.lang = i18n.lang === 'da' ? 'en' : 'da';
    i18n.apply(document);
    if (mine) fill(mine);
  };
  toggle.addEventListener('click', async () => {
    const next = i18n.lang === 'da' ? 'en' : 'da';
    try {
      await i18n.use(next);
    } catch (err) {
      console.error(err);
      return;
    }
    storeLanguage(local, next);
    apply();
  });
  toggle.hidden = false;

  const when = (iso) => new Intl.DateTimeFormat(i18n.lang === 'da' ? 'da-DK' : 'en-GB',
    { dateStyle: 'long', timeStyle: 'short' }).format(new Date(iso));

  function fill(m) {
    byId('mit-user-id').textContent = m.user_id;
    const chip = m.chip;
    byId('mit-chip-facts').hidden = !chip;
    byId('mit-no-chip').hidden = Boolean(chip);
    if (chip) {
      byId('mit-chip-serial').textContent = chip.serial;
      byId('mit-chip-activated').textContent = when(chip.activated_at);
      if (chip.last_used_at) byId('mit-chip-last-used').textContent = when(chip.last_used_at);
      else i18n.set(byId('mit-chip-last-used'), 'mit.never');
    }
  }

  function showError(key) {
    const el = byId('error');
    el.replaceChildren();
    const p = document.createElement('p');
    i18n.set(p, key);
    el.append(p);
    el.hidden = false;
    byId('live').textContent = p.textContent;
  }

  try {
    mine = await api.mit();
  } catch (err) {
    if (err?.code === 'not_logged_on') {
      location.replace('/logon');
      return;
    }
    apply();
    byId('step-start').hidden = true;
    byId('step-mit').hidden = false;
    showError(`error.${err?.code ?? 'internal'}`);
    return;
  }
  apply();
  byId('step-start').hidden = true;
  const section = byId('step-mit');
  section.hidden = false;
  document.body.dataset.step = 'mit';
  section.querySelector('.error-slot').append(byId('error'));
  section.querySelector('h2').focus();

  byId('logoff').addEventListener('click', async () => {
    try {
      await api.logoff();
    } catch (err) {
      if (err?.code !== 'not_logged_on') {
        showError(i18n.has(`error.${err?.code}`) ? `error.${err.code}` : 'error.internal');
        return;
      }
    }
    location.assign('/logon');
  });
}

main().catch((err) => console.error('mit: the page could not start:', err));
