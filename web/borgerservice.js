// Borgerservice's console (/borgerservice, docs/borgerservice.md): a caseworker,
// logged on with their own MitID chip, finds the citizen in front of them, records
// the ID check and starts the citizen's activation: a QR code and link for the
// citizen's own phone, or "continue on this device", which logs the caseworker off
// first. The caseworker may also block a lost chip, unlock a locked one and end an
// activation under way. The server checks the role and the console's idle time on
// every request; this page only shows what it answers.

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

const VIEWS = ['start', 'denied', 'find', 'citizen', 'started'];
// Refusals that end the console here: log on again (or have the role granted).
const DENIED = new Set(['not_logged_on', 'not_caseworker', 'console_idle']);

async function main() {
  const [page, i18nMod, { createApi }] = await Promise.all([
    import(asset('page.js')),
    import(asset('i18n.js')),
    import(asset('api.js')),
  ]);
  const { byId } = page;
  const api = createApi();
  const local = page.storage('localStorage');
  const i18n = await page.startLanguage(i18nMod, asset, local);

  let me = null;
  let citizen = null;
  let started = null;
  let lastError = null;
  const when = (iso) => new Intl.DateTimeFormat(i18n.lang === 'da' ? 'da-DK' : 'en-GB',
    { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));

  const apply = () => {
    page.applyLanguage(i18n);
    if (me) fillMe();
    if (citizen) fillCitizen();
    if (started) fillStarted();
    if (lastError) showError(lastError);
  };
  page.languageSwitch(i18n, i18nMod, local, apply);

  function show(view) {
    for (const v of VIEWS) byId(`step-${v}`).hidden = v !== view;
    document.body.dataset.step = view;
    const section = byId(`step-${view}`);
    const slot = section.querySelector('.error-slot');
    if (slot) slot.append(byId('error'));
    section.querySelector('h2')?.focus();
  }

  function clearError() {
    lastError = null;
    byId('error').hidden = true;
    byId('error').replaceChildren();
  }

  function showError(key) {
    lastError = key;
    const el = byId('error');
    const p = document.createElement('p');
    i18n.set(p, key);
    el.replaceChildren(p);
    el.hidden = false;
    byId('live').textContent = p.textContent;
  }

  function fail(err) {
    const code = err?.code ?? 'internal';
    const key = i18n.has(`error.${code}`) ? `error.${code}` : 'error.internal';
    if (DENIED.has(code)) {
      me = null;
      byId('counter-me').hidden = true;
      show('denied');
    }
    showError(key);
  }

  function fillMe() {
    const el = byId('counter-me');
    i18n.set(el, 'counter.me', { office: me.office, minutes: me.idle_minutes });
    el.hidden = false;
  }

  function item(key, vars, extra) {
    const li = document.createElement('li');
    const span = document.createElement('span');
    i18n.set(span, key, vars);
    li.append(span);
    if (extra) li.append(' ', extra);
    return li;
  }

  function fillCitizen() {
    const c = citizen;
    byId('citizen-person-id').textContent = c.person_id;
    const name = byId('citizen-name');
    if (c.name) name.textContent = c.name;
    else i18n.set(name, 'counter.unknown');
    const uid = byId('citizen-user-id');
    if (c.user_id) uid.textContent = c.user_id;
    else i18n.set(uid, 'counter.no_user_id');
    byId('user-id-field').hidden = Boolean(c.user_id);
    const chip = byId('citizen-chip');
    if (c.chip) i18n.set(chip, 'counter.chip_active', { serial: c.chip.serial, at: when(c.chip.activated_at) });
    else i18n.set(chip, 'counter.no_chip');
    byId('citizen-block').hidden = !c.chip;
    byId('citizen-under-way').hidden = !c.open_activation;
    const locks = byId('citizen-locks');
    locks.replaceChildren(...c.locks.map((l) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.dataset.serial = l.serial;
      i18n.set(b, 'counter.unlock', { serial: l.serial });
      b.addEventListener('click', () => act(() => api.counterUnlock(c.person_id, l.serial)));
      return item('counter.locked', { serial: l.serial, until: when(l.until) }, b);
    }));
    const list = byId('citizen-activity');
    list.replaceChildren(...c.activity.map((e) => item('counter.event', {
      at: when(e.at), what: i18n.has(e.message) ? i18n.t(e.message, { office: e.office ?? '' }) : i18n.t('activity.other'),
    })));
    if (c.activity.length === 0) list.replaceChildren(item('counter.no_activity'));
  }

  function fillStarted() {
    byId('counter-qr').src = started.qr;
    byId('counter-qr').alt = i18n.t('counter.qr_alt');
    byId('counter-link').href = started.url;
    byId('counter-code').textContent = started.code;
    i18n.set(byId('counter-expires'), 'counter.expires', { at: when(started.expires_at) });
  }

  async function look(personId) {
    clearError();
    try {
      citizen = await api.counterCitizen(personId);
    } catch (err) {
      fail(err);
      return;
    }
    fillCitizen();
    show('citizen');
  }

  // act runs a sensitive act, then shows the citizen again as the server has them.
  async function act(call) {
    clearError();
    try {
      await call();
    } catch (err) {
      fail(err);
      return;
    }
    await look(citizen.person_id);
  }

  byId('find-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = byId('person-id').value.trim();
    if (id === '') {
      showError('error.fields_invalid');
      return;
    }
    look(id);
  });
  byId('end-activation').addEventListener('click', () => act(() => api.counterEnd(citizen.person_id)));
  byId('block-chip').addEventListener('click', () => act(() => api.counterBlock(citizen.person_id, citizen.chip.serial)));
  byId('check-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const check = {
      person_id: citizen.person_id,
      document_type: byId('doc-type').value,
      document_number: byId('doc-number').value.trim(),
      document_expiry: byId('doc-expiry').value,
    };
    const uid = byId('citizen-new-user-id').value.trim();
    if (!citizen.user_id && uid) check.user_id = uid;
    const serial = byId('chip-serial').value.trim();
    if (serial) check.chip_serial = serial;
    try {
      started = await api.counterActivate(check);
    } catch (err) {
      fail(err);
      return;
    }
    // Nothing of the ID check stays on the page.
    byId('check-form').reset();
    fillStarted();
    show('started');
  });
  const another = () => {
    citizen = null;
    started = null;
    clearError();
    byId('find-form').reset();
    show('find');
  };
  byId('another').addEventListener('click', another);
  byId('done').addEventListener('click', another);
  // Continue on this device: the caseworker's session ends first, then the
  // citizen's activation opens here by its code.
  byId('continue-here').addEventListener('click', async () => {
    const url = started.url;
    if (!await logoff()) return;
    me = null;
    started = null;
    location.assign(url);
  });
  byId('counter-logoff').addEventListener('click', async () => {
    if (await logoff()) location.assign('/logon?next=/borgerservice');
  });

  // logoff ends the caseworker's session, or says why it could not; one that had
  // ended already is as good.
  async function logoff() {
    try {
      await api.logoff();
    } catch (err) {
      if (err?.code !== 'not_logged_on') {
        fail(err);
        return false;
      }
    }
    return true;
  }

  try {
    me = await api.counter();
  } catch (err) {
    apply();
    fail(err);
    return;
  }
  apply();
  show('find');
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.step = 'failed';
});
