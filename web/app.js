// The activation page: takes the handoff token from the address, asks the server
// where the activation is, and shows that step; the step modules do the rest.
//
// The server publishes every file but the HTML under a content-hashed name only, so a
// static `import './x.js'` would not resolve. app.js finds its sibling modules, the
// Go module and the catalogues through the manifest in <meta name="assets">, and the
// page's <link rel="modulepreload"> tags (rewritten to the same hashed names) fetch
// the modules in parallel with this one.

// The token must leave the address bar before anything else can read or log it.
const token = takeToken();
const manifest = readManifest();
// The password form from the HTML, before anything else loads, where it is sure to be the step.
showEarly();

// A new link opened in this same tab changes only the fragment, which loads nothing:
// start over with it.
addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('t')) location.reload();
});

function takeToken() {
  const t = new URLSearchParams(location.hash.slice(1)).get('t');
  if (t !== null) history.replaceState(history.state, '', location.pathname + location.search);
  return t || null;
}

// showEarly shows the password form as the HTML has it, at once, when this is a
// fresh link from the app (#t=) in a browser that can connect (the same test as
// step-device.js canConnect) or in dev mode: the redemption's answer is then the
// password step, unless the link fails or this tab used it before. So the person can
// type while the scripts, the catalogue and the server's answer come (decision 42);
// render() then shows the server's step, or the true error. The words are the HTML's
// Danish until the catalogue of a stored English choice arrives.
function showEarly() {
  const bt = navigator.bluetooth;
  const capable = 'NDEFReader' in window || (typeof bt === 'object' && bt !== null) ||
    document.querySelector('meta[name="mitid-dev"]') !== null;
  const section = document.getElementById('step-password');
  if (token === null || location.pathname === '/continue' || !capable || !section) return false;
  for (const s of document.querySelectorAll('main section[data-view]')) s.hidden = s !== section;
  document.body.dataset.step = 'password';
  const progress = document.getElementById('progress');
  if (progress) {
    progress.hidden = false;
    progress.querySelector('li[data-for="password"]')?.setAttribute('aria-current', 'step');
  }
  return true;
}

// readManifest stays in each entry script: it must run before the first import,
// and the shared module (page.js) is itself found through it.
function readManifest() {
  const meta = document.querySelector('meta[name="assets"]');
  if (!meta) return {};
  try {
    const m = JSON.parse(meta.content);
    return m !== null && typeof m === 'object' ? m : {};
  } catch (err) {
    console.error('app: the asset manifest is not JSON:', err);
    return {};
  }
}

// asset is the URL of a published file by its logical name ("i18n/da.json"); without
// a manifest (the sources served as they are, in a test) the name is the file.
function asset(name) {
  const file = Object.hasOwn(manifest, name) ? manifest[name] : name;
  return new URL(file, document.baseURI).href;
}

// Server or page errors that end the flow on this page: a title, what to do next, and
// at most one button that works.
const TERMINAL = {
  handoff_invalid: { title: 'fatal.handoff_invalid', next: 'next.restart_app' },
  handoff_expired: { title: 'fatal.handoff_expired', next: 'next.restart_app' },
  handoff_used: { title: 'fatal.handoff_used', next: 'next.same_tab', resume: true },
  too_many_sessions: { title: 'fatal.too_many_sessions', next: 'next.same_tab', resume: true },
  too_many_handoffs: { title: 'fatal.too_many_handoffs', next: 'next.restart_app_later' },
  no_session: { title: 'fatal.no_session', next: 'next.restart_app' },
  session_expired: { title: 'fatal.session_expired', next: 'next.restart_app' },
  chip_unknown: { title: 'fatal.chip_unknown', next: 'next.other_chip', retry: 'action.other_chip' },
  chip_not_attested: { title: 'fatal.chip_not_attested', next: 'next.other_chip', retry: 'action.other_chip' },
  chip_revoked: { title: 'fatal.chip_revoked', next: 'next.other_chip', retry: 'action.other_chip' },
  chip_blocked: { title: 'fatal.chip_blocked', next: 'next.order_chip', retry: 'action.other_chip' },
  chip_taken: { title: 'fatal.chip_taken', next: 'next.other_chip', retry: 'action.other_chip' },
  chip_locked: { title: 'fatal.chip_locked', next: 'next.chip_locked', retry: 'action.retry' },
  module_load: { title: 'fatal.module_load', next: 'next.reload', retry: 'action.reload' },
};

// The messages for refusals that lift by themselves, when the server said when.
const UNTIL = { chip_locked: 'error.chip_locked_until', too_many_codes: 'error.too_many_codes_until' };

// Where each view sits in the step indicator; views not named here hide it. 'done'
// is no step of its own: every step shows as finished.
const PROGRESS = { password: 'password', chip: 'connect', connect: 'connect', code: 'code', sign: 'sign', completed: 'done' };

// The section of the help page (help.html) the header's help link opens, by view; the
// error view opens the entry of its error.
const HELP = { password: 'activate', chip: 'connect', connect: 'connect', code: 'activate', sign: 'activate', completed: 'use', blocked: 'error-activation_blocked' };

const TRANSPORT_KEY = 'mitid.transport';

// A redemption of a handoff token waiting for its answer: the token and the request
// id this tab chose for it. It is kept in sessionStorage (this tab only) until an
// answer arrives, so that a try whose answer was lost (a dropped connection, a server
// restart) is repeated with the same id, from the retry button or after a reload,
// and the server gives this tab, and no other, the activation that try started.
const REDEEM_KEY = 'mitid.redeem';
// Errors after which the same redemption is tried again.
const PASSING = ['network', 'internal', 'rate_limited'];

async function main() {
  const moduleJS = import(asset('module.js'));
  // The Go module starts loading at once; steps wait for it only when they need it.
  const loading = moduleJS.then((m) => m.loadModule(asset));
  let loaded = null;
  loading.then((l) => { loaded = l; }, () => {});

  const [page, i18nMod, { createApi }, { setupHistory }, moduleMod, ...stepMods] = await Promise.all([
    import(asset('page.js')),
    import(asset('i18n.js')),
    import(asset('api.js')),
    import(asset('history.js')),
    moduleJS,
    import(asset('step-password.js')),
    import(asset('step-chip.js')),
    import(asset('step-code.js')),
    import(asset('step-sign.js')),
    import(asset('step-device.js')),
  ]);
  const deviceMod = stepMods.pop();
  const continued = deviceMod.continuing();

  const { byId, storage } = page;
  const api = createApi();
  const session = storage('sessionStorage');
  const redemption = redemptionOf(session, token);
  const start = () => (redemption ? redeem(api, session, redemption) : api.state());
  const pending = continued ? null : start();
  pending?.catch(() => {}); // handled in boot

  const local = storage('localStorage');
  const i18n = await page.startLanguage(i18nMod, asset, local);
  const { keyOf, messageOf, until } = page.messages(i18n, UNTIL, 'app');

  const view = page.createView(i18n, { progress: PROGRESS, stepLabel: (at) => `steps.${at}`, help: HELP });
  // Back and Forward move between the steps where the server's state allows it.
  view.show = setupHistory({
    show: view.show,
    state: () => api.state(),
    render: (state) => render(state),
    revisit: (name, state) => {
      flow.state = state;
      if (name === 'chip') flow.transport.clear();
      return chip.enter(state);
    },
    say: (key) => view.showError([key]),
    fail: (err) => fail(err),
  });
  const applyLanguage = () => page.applyLanguage(i18n);
  applyLanguage();
  page.languageSwitch(i18n, i18nMod, local, applyLanguage);

  const flow = {
    i18n,
    api,
    state: null,
    linked: false, // whether the module holds a link to the chip in this page's life
    // Dev mode: the server adds this meta (server.DevMeta); only then are there virtual chips.
    dev: document.querySelector('meta[name="mitid-dev"]') !== null,
    mitid: () => loading.then((l) => l.mitid),
    mitidNow: () => (loaded ? loaded.mitid : null),
    derive: async (password, params) => moduleMod.deriveVerifier(asset, (await loading).wasm, password, params),
    show: view.show,
    showError: view.showError,
    clearError: view.clearError,
    status: view.status,
    alert: view.alert,
    keyOf,
    messageOf,
    fail,
    render,
    refresh,
    transport: page.transportStore(session, TRANSPORT_KEY),
  };
  const [password, chip, code, sign] = stepMods.map((m) => m.setup(flow));
  const device = deviceMod.setup(flow);
  // A new link is a new activation: forget how an earlier one in this tab connected.
  if (token) flow.transport.clear();

  let onRetry = null;
  byId('error-retry').addEventListener('click', () => onRetry?.());
  byId('resume').addEventListener('click', () => boot(api.state()));

  function render(state) {
    flow.state = state;
    showAssisted(state?.assisted_office);
    switch (state && state.step) {
      case 'password': return device.gate(state, () => password.enter(state));
      case 'chip': return chip.enter(state);
      case 'code': return code.enter(state);
      case 'sign': return sign.enter(state);
      case 'completed':
        flow.transport.clear();
        if (flow.linked) flow.mitidNow()?.disconnect().catch(() => {});
        flow.linked = false;
        showUserId(state.user_id);
        return view.show('completed');
      case 'blocked': return view.show('blocked');
    }
    console.error('app: unknown step in', state);
    return terminal('internal', { retry: () => boot(api.state()) });
  }

  // An activation a caseworker started at Borgerservice says so (docs/borgerservice.md).
  function showAssisted(office) {
    const el = byId('assisted-note');
    el.hidden = typeof office !== 'string' || office === '';
    if (!el.hidden) i18n.set(el, 'activation.assisted', { office });
  }

  // The person logs on with the user ID from now on: the completed page says it.
  function showUserId(userId) {
    const el = byId('completed-user-id');
    el.hidden = typeof userId !== 'string' || userId === '';
    if (!el.hidden) i18n.set(el, 'completed.user_id', { user_id: userId });
  }

  async function refresh() {
    try {
      render(await api.state());
    } catch (err) {
      fail(err);
    }
  }

  async function fail(err) {
    const c = err && typeof err.code === 'string' ? err.code : 'internal';
    if (c === 'internal' && !err?.key) console.error('app:', err);
    if (c === 'activation_blocked') return view.show('blocked');
    if (c === 'already_completed') return refresh();
    if (c === 'out_of_order') {
      // Another tab moved the activation on: show where it is now, and say why.
      await refresh();
      return view.showError(['error.out_of_order']);
    }
    if (Object.hasOwn(TERMINAL, c)) return terminal(c, { body: until(err) });
    return view.showError([messageOf(err)]);
  }

  function terminal(c, { retry, body } = {}) {
    const conf = TERMINAL[c] ?? { title: 'fatal.internal', next: 'next.retry' };
    if (c.startsWith('chip_')) {
      flow.mitidNow()?.disconnect().catch(() => {});
      flow.linked = false;
      flow.transport.clear();
    }
    i18n.set(byId('error-title'), i18n.has(`fatal.${c}`) ? `fatal.${c}` : conf.title);
    const { key, vars } = body ?? { key: keyOf({ key: `error.${c}` }) };
    i18n.set(byId('error-body'), key, vars);
    const next = byId('error-next');
    next.hidden = !conf.next;
    if (conf.next) i18n.set(next, conf.next);
    onRetry = retry ?? (conf.retry === 'action.reload' ? () => location.reload() : conf.retry ? refresh : null);
    const button = byId('error-retry');
    button.hidden = onRetry === null;
    i18n.set(button, conf.retry ?? 'action.retry');
    byId('resume').hidden = !conf.resume;
    view.show('error');
    document.body.dataset.error = c;
    view.pointHelp(`error-${c}`);
    view.alert(`${byId('error-title').textContent} ${byId('error-body').textContent}`);
  }

  async function boot(request) {
    try {
      render(await request);
    } catch (err) {
      // Nothing was shown yet: a passing fault ends here with a retry, not inline.
      if (PASSING.includes(err?.code)) {
        return terminal(err.code, { retry: () => boot(start()) });
      }
      fail(err);
    }
  }

  if (continued) device.resume(continued.code);
  else boot(pending);
}

// redemptionOf is the redemption to make on load: of the token in the address, with
// the request id chosen for it before if this tab tried it already; without one, of
// a token whose answer never came (the tab was reloaded meanwhile); else none.
function redemptionOf(session, urlToken) {
  let kept = null;
  try {
    kept = JSON.parse(session?.getItem(REDEEM_KEY) ?? 'null');
  } catch {
    kept = null;
  }
  if (!kept || typeof kept.token !== 'string' || typeof kept.requestId !== 'string') kept = null;
  if (!urlToken) return kept;
  if (kept && kept.token === urlToken) return kept;
  const fresh = { token: urlToken, requestId: newRequestId() };
  try {
    session?.setItem(REDEEM_KEY, JSON.stringify(fresh));
  } catch {
    // Without storage the retry button still repeats the same id; a reload cannot.
  }
  return fresh;
}

// newRequestId is 16 random bytes as unpadded base64url.
function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

// redeem tries the redemption once; it is forgotten as soon as an answer says how it
// went, and kept for another try after a passing fault.
async function redeem(api, session, r) {
  const forget = () => {
    try {
      session?.removeItem(REDEEM_KEY);
    } catch {
      // nothing stored
    }
  };
  try {
    const state = await api.redeem(r.token, r.requestId);
    forget();
    return state;
  } catch (err) {
    if (!PASSING.includes(err?.code)) forget();
    throw err;
  }
}

main().catch((err) => {
  // Only a part of the page that did not load gets here, perhaps before any
  // catalogue: the start step's own Danish text says so.
  console.error('app: the page could not start:', err);
  document.getElementById('start-waiting').hidden = true;
  document.getElementById('start-failed').hidden = false;
  document.body.dataset.step = 'start-failed';
});
