// Mit MitID (/mit, docs/selfservice.md): what the logged-on person sees at MitID.dk:
// their user ID, their active chip, their activity (newest first, "Show more"),
// Change password (the old password, a new one under the rules, the chip's press)
// and Block my chip; and Log off. The server serves this page to a logged-on person
// only; a session that ends meanwhile sends the person to the logon page.
//
// Changing the password reuses the activation's password step (step-password.js:
// the rules tick, the repeat, Argon2id in a worker) and the logon's chip steps
// (step-chip.js); the passwords never leave the worker, only the old one's proof
// over the server's challenge and the new one's verifier.

// The manifest reader stays in each entry script: it must run before the first
// import, and the shared module (page.js) is itself found through it.
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

// Refusals of a change that send the person back to the old password.
const AGAIN = ['logon_failed', 'logon_locked', 'logon_expired', 'logon_used', 'out_of_order', 'bad_request'];
const UNTIL = { logon_locked: 'error.logon_locked_until' };
const TRANSPORT_KEY = 'mitid.logon.transport';
const PRESS_WAIT_MS = 60000;

async function main() {
  const [page, i18nMod, { createApi }] = await Promise.all([
    import(asset('page.js')),
    import(asset('i18n.js')),
    import(asset('api.js')),
  ]);
  const { byId } = page;
  const api = createApi();
  const local = page.storage('localStorage');
  const session = page.storage('sessionStorage');
  const i18n = await page.startLanguage(i18nMod, asset, local);
  let mine = null;
  let events = [];
  let blocked = null;
  const apply = () => {
    page.applyLanguage(i18n);
    if (mine) fill(mine);
    renderActivity();
    if (blocked) i18n.set(byId('blocked-body'), 'block.done_body', { serial: blocked.chip_serial, when: when(blocked.blocked_at) });
  };
  page.languageSwitch(i18n, i18nMod, local, apply);

  const when = (iso) => new Intl.DateTimeFormat(i18n.lang === 'da' ? 'da-DK' : 'en-GB',
    { dateStyle: 'long', timeStyle: 'short' }).format(new Date(iso));

  function fill(m) {
    byId('mit-user-id').textContent = m.user_id;
    byId('old-username').value = m.user_id;
    const chip = m.chip;
    byId('mit-chip-facts').hidden = !chip;
    byId('mit-no-chip').hidden = Boolean(chip);
    byId('block-open').hidden = !chip;
    byId('change-password').hidden = !chip;
    if (chip) {
      byId('mit-chip-serial').textContent = chip.serial;
      byId('block-serial').textContent = chip.serial;
      byId('mit-chip-activated').textContent = when(chip.activated_at);
      if (chip.last_used_at) byId('mit-chip-last-used').textContent = when(chip.last_used_at);
      else i18n.set(byId('mit-chip-last-used'), 'mit.never');
    }
  }

  // The activity, newest first; "Show more" asks for the page before the last.
  let before = 0;
  function renderActivity() {
    const list = byId('activity-list');
    list.replaceChildren(...events.map((e) => {
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.dateTime = e.at;
      time.textContent = when(e.at);
      const what = document.createElement('span');
      what.className = 'activity-what';
      // Borgerservice's events name the office ("Chip unlocked at Borgerservice Aarhus").
      what.textContent = i18n.has(e.message) ? i18n.t(e.message, { office: e.office ?? '' }) : i18n.t('activity.other');
      li.append(time, ' ', what);
      if (e.chip_serial) {
        const serial = document.createElement('span');
        serial.className = 'activity-serial';
        serial.textContent = i18n.t('mit.activity_chip', { serial: e.chip_serial });
        li.append(' ', serial);
      }
      return li;
    }));
    byId('activity-empty').hidden = events.length > 0;
    byId('activity-more').hidden = !before;
  }
  async function loadActivity(more) {
    const batch = await api.activity(more ? before : 0);
    events = more ? events.concat(batch.events) : batch.events;
    before = batch.before || 0;
    renderActivity();
  }

  const view = page.createView(i18n);
  const { keyOf, messageOf } = page.messages(i18n, UNTIL, 'mit');
  const flow = createFlow();

  try {
    mine = await api.mit();
  } catch (err) {
    if (err?.code === 'not_logged_on') {
      location.replace('/logon');
      return;
    }
    apply();
    view.show('mit');
    view.showError([`error.${err?.code ?? 'internal'}`]);
    return;
  }
  try {
    await loadActivity(false);
  } catch (err) {
    console.error('mit: activity:', err);
  }
  apply();
  view.show('mit');

  byId('activity-more').addEventListener('click', async () => {
    const first = events.length;
    try {
      await loadActivity(true);
    } catch (err) {
      failed(err);
      return;
    }
    // Focus the first new line, so a keyboard user reads on from there.
    const li = byId('activity-list').children[first];
    if (li) {
      li.tabIndex = -1;
      li.focus();
    }
  });

  byId('logoff').addEventListener('click', async () => {
    try {
      await api.logoff();
    } catch (err) {
      if (err?.code !== 'not_logged_on') {
        view.showError([keyOf(err)]);
        return;
      }
    }
    location.assign('/logon');
  });

  // failed handles a refusal anywhere on the page: an ended session goes to logon.
  function failed(err) {
    if (err?.code === 'not_logged_on') {
      location.assign('/logon');
      return true;
    }
    view.showError([messageOf(err)]);
    return false;
  }

  // Block my chip: confirm, then the chip is blocked and the session ends.
  byId('block-open').addEventListener('click', () => view.show('block'));
  byId('block-cancel').addEventListener('click', () => view.show('mit'));
  let blocking = false;
  byId('block-submit').addEventListener('click', async () => {
    if (blocking || !mine?.chip) return;
    blocking = true;
    byId('block-working').hidden = false;
    byId('block-submit').setAttribute('aria-disabled', 'true');
    view.clearError();
    try {
      blocked = await api.blockOwn(mine.chip.serial);
      i18n.set(byId('blocked-body'), 'block.done_body', { serial: blocked.chip_serial, when: when(blocked.blocked_at) });
      view.show('chip-blocked');
    } catch (err) {
      failed(err);
    } finally {
      blocking = false;
      byId('block-working').hidden = true;
      byId('block-submit').removeAttribute('aria-disabled');
    }
  });

  // Change password.
  byId('change-password').addEventListener('click', () => {
    flow.start();
    view.show('old');
  });
  byId('old-cancel').addEventListener('click', () => view.show('mit'));
  byId('changed-back').addEventListener('click', async () => {
    try {
      mine = await api.mit();
      await loadActivity(false);
    } catch (err) {
      if (failed(err)) return;
    }
    apply();
    view.show('mit');
  });

  function createFlow() {
    let modules = null; // {moduleMod, loading, chip, password}
    let loaded = null;
    let change = null; // {begun, transcript}
    const f = {
      i18n,
      linked: false,
      dev: document.querySelector('meta[name="mitid-dev"]') !== null,
      state: null,
      mitid: () => modules.loading.then((l) => l.mitid),
      mitidNow: () => (loaded ? loaded.mitid : null),
      show: (name, opts) => view.show(name, opts),
      clearError: () => view.clearError(),
      showError: (items) => view.showError(items),
      status: (text) => view.status(text),
      alert: (text) => view.alert(text),
      api: {
        devChips: () => api.devChips(),
        // The new password's salt and cost, from the change's begin.
        passwordParams: async () => ({ ...change.begun.new_kdf, user_id: mine.user_id }),
        setPassword: (verifier) => api.changeNew(change.begun.challenge_id, verifier),
      },
      derive: async (password, params) => modules.moduleMod.deriveVerifier(asset, (await modules.loading).wasm, password, params),
      transport: page.transportStore(session, TRANSPORT_KEY),
      // After the new password: the chip. After the chip: done.
      render(answer) {
        if (document.body.dataset.step === 'password') {
          change.transcript = answer.transcript;
          modules.chip.enter();
          return;
        }
        change = null;
        if (f.linked) f.mitidNow()?.disconnect().catch(() => {});
        f.linked = false;
        view.show('changed');
      },
      async present(connected) {
        if (!change?.transcript) throw Object.assign(new Error('mit: no new password'), { code: 'out_of_order', key: 'error.out_of_order' });
        view.show('press');
        byId('press-again').hidden = true;
        const mitid = await f.mitid();
        const { signature } = await mitid.signLogon(change.transcript, PRESS_WAIT_MS);
        return api.changeChip(change.begun.challenge_id, connected.hello, signature);
      },
      fail(err) {
        const code = err && typeof err.code === 'string' ? err.code : 'internal';
        if (code === 'not_logged_on') {
          location.assign('/logon');
          return;
        }
        if (AGAIN.includes(code)) {
          change = null;
          view.show('old', { focus: false });
          view.showError([messageOf(err)]);
          byId('old-password').focus();
          return;
        }
        if (document.body.dataset.step === 'press') byId('press-again').hidden = false;
        view.showError([messageOf(err)]);
      },
      start() {
        change = null;
        f.state = { user_id: mine.user_id };
        if (modules) return;
        const moduleJS = import(asset('module.js'));
        const loading = moduleJS.then((m) => m.loadModule(asset));
        loading.then((l) => { loaded = l; }, () => {});
        modules = { loading };
        modules.ready = Promise.all([moduleJS, import(asset('step-password.js')), import(asset('step-chip.js'))]).then(([moduleMod, pw, chip]) => {
          modules.moduleMod = moduleMod;
          modules.password = pw.setup(f);
          modules.chip = chip.setup(f);
        });
        modules.ready.catch((err) => f.fail(err));
      },
      async old(password) {
        const ready = await Promise.all([import(asset('module.js')), modules.loading, modules.ready]);
        change = { begun: await api.changeBegin() };
        const proof = await ready[0].deriveProof(asset, ready[1].wasm, password, change.begun, change.begun.challenge);
        await api.changeOld(change.begun.challenge_id, proof);
        modules.password.enter({ user_id: mine.user_id });
      },
    };
    byId('press-again').addEventListener('click', () => modules.chip.enter());
    let busy = false;
    byId('old-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      const field = byId('old-password');
      const password = field.value;
      if (password === '') {
        view.showError(['logon.need_password']);
        field.focus();
        return;
      }
      busy = true;
      byId('old-progress').hidden = false;
      byId('old-continue').setAttribute('aria-disabled', 'true');
      view.clearError();
      try {
        await f.old(password);
        field.value = '';
      } catch (err) {
        f.fail(err);
      } finally {
        busy = false;
        byId('old-progress').hidden = true;
        byId('old-continue').removeAttribute('aria-disabled');
      }
    });
    return f;
  }
}

main().catch((err) => console.error('mit: the page could not start:', err));
