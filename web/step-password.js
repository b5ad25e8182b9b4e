// The password step: the rules tick and the meter moves as the person types (the Go
// module judges), then Argon2id runs in a worker and only the verifier goes to the
// server. The password itself never leaves the browser.

// Reasons that have no line in the list of rules; they are shown below it instead.
const UNLISTED = ['invalid_encoding', 'control_character'];

// Set once the form is usable: shown, editable, and the module answers its checks.
// The e2e tests wait on it and make bench times navigation to it.
const READY_MARK = 'mitid:password-ready';

export function setup(flow) {
  const { i18n, api } = flow;
  const form = document.getElementById('password-form');
  const pw = document.getElementById('password');
  const repeat = document.getElementById('password-repeat');
  const showBox = document.getElementById('show-password');
  const rules = [...document.querySelectorAll('#password-rules li[data-reasons]')];
  const other = document.getElementById('password-other');
  const meter = document.getElementById('password-strength');
  const meterText = document.getElementById('password-strength-text');
  const mismatch = document.getElementById('password-mismatch');
  const userIdNote = document.getElementById('password-user-id');
  const progress = document.getElementById('password-progress');
  const next = document.getElementById('next-password');
  const progressText = document.getElementById('password-working');
  let params = null; // the pending or answered GET /password/params
  let seq = 0; // the newest check; older answers are dropped
  let busy = false;
  let rulesShown = false; // the error area lists the rules the password broke at Next

  pw.addEventListener('input', () => {
    pw.removeAttribute('aria-invalid');
    // The list said what was wrong with the password as it was; the rules above now
    // tick as it changes, so the list would soon be stale.
    if (rulesShown) flow.clearError();
    rulesShown = false;
    check();
    if (repeat.value) compare(false);
  });
  repeat.addEventListener('input', () => compare(false));
  repeat.addEventListener('change', () => compare(true));
  showBox.addEventListener('change', () => {
    const type = showBox.checked ? 'text' : 'password';
    pw.type = type;
    repeat.type = type;
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });

  function loadParams() {
    params = api.passwordParams();
    params.catch(() => {
      params = null; // asked again on the next try
    });
    return params;
  }

  function enter(state) {
    // A person typing in the form the HTML showed early keeps their place.
    flow.show('password', { focus: !form.contains(document.activeElement) });
    const userId = state.user_id || '';
    document.getElementById('password-username').value = userId;
    userIdNote.hidden = !userId;
    if (userId) i18n.set(userIdNote, 'password.user_id', { user_id: userId });
    loadParams();
    // A module that failed to load is said now, not after the person typed twice.
    flow.mitid().then(() => {
      if (performance.getEntriesByName(READY_MARK).length === 0) performance.mark(READY_MARK);
    }, (err) => flow.fail(err));
    check();
  }

  async function check() {
    const mine = ++seq;
    const value = pw.value.normalize('NFC');
    if (value === '') {
      paint(null);
      return;
    }
    try {
      const mitid = await flow.mitid();
      const result = await mitid.checkPassword(value, flow.state?.user_id || '');
      if (mine === seq) paint(result);
    } catch (err) {
      if (mine === seq) console.error('password: check failed:', err);
    }
  }

  function paint(result) {
    const reasons = new Set(result ? result.reasons : []);
    for (const li of rules) {
      const broken = li.dataset.reasons.split(' ').some((r) => reasons.has(r));
      li.dataset.state = !result ? 'pending' : broken ? 'unmet' : 'met';
      i18n.set(li.querySelector('.state'), result && !broken ? 'password.check.met' : 'password.check.unmet');
    }
    const extra = UNLISTED.find((r) => reasons.has(r));
    other.hidden = !extra;
    if (extra) i18n.set(other, `rule.${extra}`);
    const strength = result ? Math.max(0, Math.min(4, Number(result.strength) | 0)) : 0;
    meter.value = strength;
    i18n.set(meterText, result ? `password.strength.${strength}` : 'password.strength.empty');
  }

  // compare shows the mismatch once the repeat is as long as the password, or when
  // the person leaves the field: not on every half-typed character.
  async function compare(final) {
    const a = pw.value.normalize('NFC');
    const b = repeat.value.normalize('NFC');
    let differs = false;
    if (b !== '' && (final || b.length >= a.length)) {
      try {
        await (await flow.mitid()).checkRepeat(a, b);
      } catch (err) {
        if (err.code !== 'mismatch') return;
        differs = true;
      }
    }
    if (a !== pw.value.normalize('NFC') || b !== repeat.value.normalize('NFC')) return; // typed on meanwhile
    markMismatch(differs);
  }

  function markMismatch(on) {
    mismatch.hidden = !on;
    if (on) repeat.setAttribute('aria-invalid', 'true');
    else repeat.removeAttribute('aria-invalid');
  }

  function setBusy(on) {
    busy = on;
    pw.readOnly = on;
    repeat.readOnly = on;
    form.setAttribute('aria-busy', String(on));
    next.setAttribute('aria-disabled', String(on));
    if (!on) progress.hidden = true;
  }

  function working(key) {
    i18n.set(progressText, key);
    progress.hidden = false;
    flow.status(i18n.t(key));
  }

  async function submit() {
    if (busy) return;
    flow.clearError();
    rulesShown = false;
    const password = pw.value.normalize('NFC');
    const again = repeat.value.normalize('NFC');
    setBusy(true);
    try {
      // Next before the module is ready: say so, and go on by ourselves once it is.
      if (!flow.mitidNow()) working('password.loading');
      const [mitid, p] = await Promise.all([flow.mitid(), params ?? loadParams()]);
      const { reasons } = await mitid.checkPassword(password, p.user_id || flow.state?.user_id || '');
      if (reasons.length > 0) {
        pw.setAttribute('aria-invalid', 'true');
        flow.showError(reasons.map((r) => `rule.${r}`), { list: true });
        rulesShown = true;
        pw.focus();
        return;
      }
      try {
        await mitid.checkRepeat(password, again);
      } catch (err) {
        if (err.code !== 'mismatch') throw err;
        // Said once, beside the field it is about, and announced.
        markMismatch(true);
        flow.alert(i18n.t('module.mismatch'));
        repeat.focus();
        return;
      }
      working('password.working');
      const verifier = await flow.derive(password, p);
      const state = await api.setPassword(verifier);
      pw.value = '';
      repeat.value = '';
      paint(null);
      setBusy(false);
      flow.render(state);
    } catch (err) {
      flow.fail(err);
    } finally {
      if (busy) setBusy(false);
    }
  }

  return { enter };
}
