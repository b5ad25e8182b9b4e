// The block page (block.html, at /block#t=<token>): a person who has lost their
// MitID chip blocks it from the MitID app's handoff, without the chip. The page
// shows which chip will be blocked (POST /api/v1/block/chip), and blocks it when the
// person confirms (POST /api/v1/block); docs/api.md. The token is taken from the
// fragment at once and kept in this tab's sessionStorage until the chip is blocked,
// so a reload still works and the address bar never shows it.
//
// Like help.js, it finds its sibling modules through <meta name="assets">.

const manifest = readManifest();

// The manifest reader stays in each entry script: it must run before the first
// import, and the shared module (page.js) is itself found through it.
function readManifest() {
  const meta = document.querySelector('meta[name="assets"]');
  if (!meta) return {};
  try {
    const m = JSON.parse(meta.content);
    return m !== null && typeof m === 'object' ? m : {};
  } catch (err) {
    console.error('block: the asset manifest is not JSON:', err);
    return {};
  }
}

function asset(name) {
  const file = Object.hasOwn(manifest, name) ? manifest[name] : name;
  return new URL(file, document.baseURI).href;
}

const TOKEN_KEY = 'mitid.block';

// The message for each refusal: the link's own words for the handoff's, the
// catalogue's error.<code> for the rest.
const MESSAGES = {
  no_link: 'block.no_link',
  handoff_invalid: 'block.link_invalid',
  handoff_expired: 'block.link_expired',
  handoff_used: 'block.link_used',
};
// Refusals after which the same request may simply be tried again.
const PASSING = ['network', 'internal', 'rate_limited'];

const VIEWS = ['block-loading', 'block-confirm', 'block-done', 'block-none', 'block-error'];

class BlockError extends Error {
  constructor(code) {
    super(`block: ${code}`);
    this.code = code;
  }
}

async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new BlockError('network');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    throw new BlockError('internal');
  }
  if (res.ok && data !== null && typeof data === 'object') return data;
  const err = data && typeof data.error === 'object' && data.error !== null ? data.error : {};
  throw new BlockError(typeof err.code === 'string' && /^[a-z_]+$/.test(err.code) ? err.code : 'internal');
}

// takeToken moves the token from the fragment to sessionStorage and clears the
// address bar; without a fragment it is the one this tab kept.
function takeToken(session) {
  const m = /^#t=([A-Za-z0-9_.-]+)$/.exec(location.hash);
  if (m) {
    try {
      session?.setItem(TOKEN_KEY, m[1]);
    } catch {
      // Storage refused: the token lives in this page only.
    }
    history.replaceState(null, '', location.pathname);
    return m[1];
  }
  try {
    return session?.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function forgetToken(session) {
  try {
    session?.removeItem(TOKEN_KEY);
  } catch {
    // Nothing kept.
  }
}

async function main() {
  const [page, i18nMod] = await Promise.all([import(asset('page.js')), import(asset('i18n.js'))]);
  const { byId } = page;
  const local = page.storage('localStorage');
  const session = page.storage('sessionStorage');
  const i18n = await page.startLanguage(i18nMod, asset, local);
  const token = takeToken(session);
  // What the page shows, to render again in the other language.
  const state = { chip: null, done: null, error: null };

  function dateTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    const locale = i18n.lang === 'da' ? 'da-DK' : 'en-GB';
    return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short' }).format(d);
  }

  function render() {
    page.applyLanguage(i18n);
    if (state.chip) {
      byId('block-serial').textContent = state.chip.chip_serial;
      byId('block-activated').textContent = dateTime(state.chip.activated_at);
    }
    if (state.done) {
      i18n.set(byId('block-done-body'), 'block.done_body', { serial: state.done.chip_serial, when: dateTime(state.done.blocked_at) });
    }
    if (state.error) {
      const key = MESSAGES[state.error] ?? (i18n.has(`error.${state.error}`) ? `error.${state.error}` : 'error.internal');
      i18n.set(byId('block-error-body'), key);
    }
  }

  // show makes view the one shown, and moves the focus to its heading so a screen
  // reader starts there; announce puts a message in a live region.
  function show(view) {
    for (const v of VIEWS) byId(v).hidden = v !== view;
    document.body.dataset.step = view;
    if (view === 'block-error') document.body.dataset.error = state.error;
    else delete document.body.dataset.error;
    render();
    byId(view).querySelector('h2')?.focus();
  }

  function announce(region, text) {
    byId(region).textContent = '';
    requestAnimationFrame(() => { byId(region).textContent = text; });
  }

  let retry = null;
  byId('block-retry').addEventListener('click', () => retry?.());
  function fail(code, again) {
    state.error = code;
    retry = again ?? null;
    byId('block-retry').hidden = !(retry && PASSING.includes(code));
    show('block-error');
    announce('live', byId('block-error-body').textContent);
  }

  async function load() {
    if (!token) {
      fail('no_link');
      return;
    }
    show('block-loading');
    try {
      state.chip = await post('/api/v1/block/chip', { token });
    } catch (err) {
      if (err.code === 'no_active_chip') {
        show('block-none');
        return;
      }
      fail(err.code, load);
      return;
    }
    show('block-confirm');
  }

  const submit = byId('block-submit');
  let busy = false;
  async function confirm() {
    if (busy) return;
    busy = true;
    submit.setAttribute('aria-disabled', 'true');
    byId('block-working').hidden = false;
    announce('status', i18n.t('block.blocking'));
    try {
      state.done = await post('/api/v1/block', { token, chip_serial: state.chip.chip_serial });
      forgetToken(session);
      show('block-done');
      announce('status', byId('block-done-body').textContent);
    } catch (err) {
      if (err.code === 'no_active_chip') show('block-none');
      else fail(err.code, confirm);
    } finally {
      busy = false;
      submit.removeAttribute('aria-disabled');
      byId('block-working').hidden = true;
    }
  }
  submit.addEventListener('click', confirm);

  render();
  page.languageSwitch(i18n, i18nMod, local, render);
  await load();
}

main().catch((err) => console.error('block: the page could not start:', err));
