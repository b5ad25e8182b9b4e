// The logon page at MitID.dk (/logon, docs/logon.md): the user ID and password, whose
// key is derived in a worker that answers only the proof over the server's challenge;
// then the chip, connected as on the activation page (step-chip.js), signs the logon
// transcript when its button is pressed; then the browser goes where the server says.
// Opened as /logon?auth_request=ID, the logon is for that OIDC authorization request.

const manifest = readManifest();
// The user ID and password form from the HTML, at once, before any import (decision 96).
const early = showEarly();

// showEarly shows the credentials step as the HTML has it, so the person can type
// while the scripts, the catalogue and (for a site's request) the site's name come;
// the words are the HTML's Danish until the catalogue of a stored English choice
// arrives, and main() continues from what was typed. The form's one submit listener
// is attached here, before the form is shown: it always prevents the native
// submission (a GET would put the password in the address), and a Continue pressed
// before main() is ready is only recorded, then carried out by main().
function showEarly() {
  const state = { wish: false, submit: null };
  const section = document.getElementById('step-credentials');
  const form = document.getElementById('logon-form');
  if (!section || !form) return state;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (state.submit) {
      state.submit();
      return;
    }
    state.wish = true;
    form.setAttribute('aria-busy', 'true');
    document.getElementById('logon-continue')?.setAttribute('aria-disabled', 'true');
    const working = document.getElementById('logon-progress');
    if (working) working.hidden = false;
  });
  for (const s of document.querySelectorAll('main section[data-view]')) s.hidden = s !== section;
  document.body.dataset.step = 'credentials';
  const progress = document.getElementById('progress');
  if (progress) {
    progress.hidden = false;
    progress.querySelector('li[data-for="credentials"]')?.setAttribute('aria-current', 'step');
  }
  const forSite = document.getElementById('logon-for-site');
  if (forSite) forSite.hidden = !new URLSearchParams(location.search).get('auth_request');
  document.getElementById('user-id')?.focus();
  return state;
}

// The manifest reader stays in each entry script: it must run before the first
// import, and the shared module (page.js) is itself found through it.
function readManifest() {
  const meta = document.querySelector('meta[name="assets"]');
  if (!meta) return {};
  try {
    const m = JSON.parse(meta.content);
    return m !== null && typeof m === 'object' ? m : {};
  } catch (err) {
    console.error('logon: the asset manifest is not JSON:', err);
    return {};
  }
}

function asset(name) {
  const file = Object.hasOwn(manifest, name) ? manifest[name] : name;
  return new URL(file, document.baseURI).href;
}

// Where each view sits in the step indicator.
const PROGRESS = { credentials: 'credentials', chip: 'connect', connect: 'connect', press: 'approve', done: 'done' };
// Refusals that send the person back to the user ID and password.
const AGAIN = ['logon_failed', 'logon_locked', 'logon_expired', 'logon_used', 'out_of_order', 'bad_request'];
const UNTIL = { logon_locked: 'error.logon_locked_until' };
const TRANSPORT_KEY = 'mitid.logon.transport';
// How long the chip waits for its button (docs/logon.md).
const PRESS_WAIT_MS = 60000;

async function main() {
  const moduleJS = import(asset('module.js'));
  const loading = moduleJS.then((m) => m.loadModule(asset));
  let loaded = null;
  loading.then((l) => { loaded = l; }, () => {});
  const [page, i18nMod, { createApi }, moduleMod, chipMod] = await Promise.all([
    import(asset('page.js')),
    import(asset('i18n.js')),
    import(asset('api.js')),
    moduleJS,
    import(asset('step-chip.js')),
  ]);
  const { byId } = page;
  const api = createApi();
  const local = page.storage('localStorage');
  const session = page.storage('sessionStorage');
  const i18n = await page.startLanguage(i18nMod, asset, local);
  const applyLanguage = () => page.applyLanguage(i18n);
  applyLanguage();
  page.languageSwitch(i18n, i18nMod, local, applyLanguage);
  const { keyOf, messageOf } = page.messages(i18n, UNTIL, 'logon');

  const authRequest = new URLSearchParams(location.search).get('auth_request') || '';
  // ?next= brings a logon for MitID.dk back to a page of this site: only the local
  // paths listed here (never another site's address).
  const RETURN_TO = new Set(['/mit', '/borgerservice']);
  const returnTo = new URLSearchParams(location.search).get('next');
  byId('logon-for-site').hidden = authRequest === '';
  const view = page.createView(i18n, { progress: PROGRESS, stepLabel: (at) => `logon.steps.${at}` });
  let site = ''; // the name of the site the logon is for, once the server said it
  let logon = null; // {challengeId, transcript} once the password passed

  const flow = {
    i18n,
    api,
    linked: false,
    dev: document.querySelector('meta[name="mitid-dev"]') !== null,
    mitid: () => loading.then((l) => l.mitid),
    mitidNow: () => (loaded ? loaded.mitid : null),
    show: view.show,
    clearError: view.clearError,
    status: view.status,
    fail,
    render,
    present,
    transport: page.transportStore(session, TRANSPORT_KEY),
  };
  const chip = chipMod.setup(flow);

  const form = byId('logon-form');
  const userField = byId('user-id');
  const passwordField = byId('logon-password');
  let busy = false;
  // The submit listener is showEarly's (it prevents the native submission); this is
  // what it does once the page is ready.
  async function submit() {
    if (busy) return;
    const userId = userField.value.trim();
    const password = passwordField.value;
    if (userId === '' || password === '') {
      view.showError([userId === '' ? 'logon.need_user_id' : 'logon.need_password']);
      (userId === '' ? userField : passwordField).focus();
      return;
    }
    setBusy(true);
    view.clearError();
    try {
      const begun = await api.logonBegin(userId, authRequest);
      const proof = await moduleMod.deriveProof(asset, (await loading).wasm, password, begun, begun.challenge);
      const passed = await api.logonPassword(begun.challenge_id, proof);
      logon = { challengeId: begun.challenge_id, transcript: passed.transcript };
      passwordField.value = '';
      setBusy(false);
      chip.enter();
    } catch (err) {
      setBusy(false);
      fail(err);
    }
  }
  byId('press-again').addEventListener('click', () => chip.enter());
  // Cancel and go back to the site: the provider answers it access_denied.
  let cancelling = false;
  async function cancel() {
    if (cancelling) return;
    cancelling = true;
    try {
      const answer = await api.logonCancel(authRequest);
      if (flow.linked) flow.mitidNow()?.disconnect().catch(() => {});
      go(answer?.next, '/logon');
    } catch (err) {
      cancelling = false;
      fail(err);
    }
  }
  byId('logon-cancel').addEventListener('click', cancel);
  byId('error-back').addEventListener('click', cancel);
  byId('error-retry').addEventListener('click', () => {
    logon = null;
    view.show('credentials');
  });

  function setBusy(on) {
    busy = on;
    form.setAttribute('aria-busy', String(on));
    byId('logon-continue').setAttribute('aria-disabled', String(on));
    byId('logon-progress').hidden = !on;
  }

  // present has the connected chip sign the logon transcript once its button is
  // pressed, and sends the hello and the signature to the server.
  async function present(connected) {
    if (!logon) throw Object.assign(new Error('logon: no password step'), { code: 'out_of_order', key: 'error.out_of_order' });
    view.show('press');
    byId('press-again').hidden = true;
    const mitid = await flow.mitid();
    const { signature } = await mitid.signLogon(logon.transcript, PRESS_WAIT_MS);
    return api.logonChip(logon.challengeId, connected.hello, signature);
  }

  function render(answer) {
    logon = null;
    flow.transport.clear();
    if (flow.linked) flow.mitidNow()?.disconnect().catch(() => {});
    flow.linked = false;
    byId('site-cancel').hidden = true;
    view.show('done');
    if (!authRequest && RETURN_TO.has(returnTo) && answer?.next === '/mit') {
      location.assign(returnTo);
      return;
    }
    go(answer?.next, '/mit');
  }

  // go sends the browser where the server said: a path here, or the provider's
  // callback or the site's redirect URI (http only as the server allows: loopback).
  function go(next, fallback) {
    let u = null;
    try {
      u = typeof next === 'string' ? new URL(next, location.href) : null;
    } catch {
      u = null;
    }
    location.assign(u && (u.protocol === 'https:' || u.protocol === 'http:') ? u.href : fallback);
  }

  function fail(err) {
    const code = err && typeof err.code === 'string' ? err.code : 'internal';
    if (AGAIN.includes(code)) {
      logon = null;
      view.show('credentials', { focus: false });
      view.showError([messageOf(err)]);
      (code === 'logon_failed' ? passwordField : userField).focus();
      return;
    }
    if (code === 'auth_request_invalid' || code === 'auth_request_expired' || code === 'internal') {
      i18n.set(byId('error-body'), keyOf(err));
      // No dead ends: a site's request that is over cannot be started again here;
      // one whose time ran out still takes the person back to the site, and any
      // other leaves MitID.dk's own logon.
      const over = code !== 'internal' && authRequest !== '';
      byId('error-retry').hidden = over;
      byId('error-back').hidden = !(code === 'auth_request_expired' && site !== '');
      if (site !== '') i18n.set(byId('error-back'), 'logon.back_to_site', { site });
      byId('error-mitid').hidden = !over || code === 'auth_request_expired';
      byId('site-cancel').hidden = over || site === '';
      view.show('error');
      document.body.dataset.error = code;
      view.alert(`${byId('error-title').textContent} ${byId('error-body').textContent}`);
      return;
    }
    // The chip's refusals and the module's: the challenge still stands, so the person
    // may connect (another) chip and press again.
    if (document.body.dataset.step === 'press') {
      byId('press-again').hidden = false;
    }
    view.showError([messageOf(err)]);
  }

  // ready hands the form's submit listener to submit, and says whether Continue was
  // pressed before (a wish the page has not carried out yet).
  function ready() {
    early.submit = submit;
    const wished = early.wish;
    early.wish = false;
    return wished;
  }

  if (authRequest !== '') {
    // Which site is waiting, or that none is; a Continue pressed meanwhile waits for it.
    try {
      const answer = await api.logonSite(authRequest);
      site = typeof answer?.site === 'string' ? answer.site : '';
      if (answer?.expired) {
        ready();
        setBusy(false);
        fail({ code: 'auth_request_expired', key: 'error.auth_request_expired' });
        return;
      }
    } catch (err) {
      ready();
      setBusy(false);
      fail(err);
      return;
    }
    i18n.set(byId('logon-for-site'), 'logon.for_site_named', { site });
    i18n.set(byId('logon-cancel'), 'logon.cancel', { site });
    byId('site-cancel').hidden = false;
  }
  // The form has been shown since the first act: keep what was typed and where the
  // focus is, and carry out a Continue pressed meanwhile.
  view.show('credentials', { focus: false });
  if (ready()) submit();
}

main().catch((err) => console.error('logon: the page could not start:', err));
