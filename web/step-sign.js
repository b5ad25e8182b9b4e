// The last step: the chip signs the binding transcript once its button is pressed,
// and the server checks the signature and binds the chip. After a reload the link
// to the chip is gone, so the person connects it again first (a click, which Web
// Bluetooth needs), the same way as before.

// How long the chip waits for its button, in milliseconds. A test may shorten it
// (sessionStorage "mitid.signWaitMs", 1 to 120 s) to see the "not pressed" path
// without waiting a minute; it changes nothing the server checks.
const WAIT_MS = 60000;

function waitMs() {
  try {
    const ms = Number(sessionStorage.getItem('mitid.signWaitMs'));
    return Number.isInteger(ms) && ms >= 1000 && ms <= 120000 ? ms : WAIT_MS;
  } catch {
    return WAIT_MS;
  }
}

const HINTS = { nfc: 'sign.hint.nfc', bluetooth: 'sign.hint.bluetooth', virtual: 'sign.hint.virtual' };

// Module codes after which the link is gone or the wrong chip is on it.
const RELINK = new Set(['disconnected', 'wrong_chip', 'cancelled', 'bluetooth_unavailable', 'not_supported', 'not_a_chip', 'nfc_off']);
// Codes after which asking the same chip again can work.
const AGAIN = new Set(['not_pressed', 'timeout', 'chip_error', 'chip_busy', 'nfc_read_error', 'not_allowed', 'internal', 'bad_input',
  'signature_invalid', 'network', 'rate_limited', 'bad_request']);

export function setup(flow) {
  const { i18n, api } = flow;
  const $ = (id) => document.getElementById(id);
  const form = $('sign-form');
  const heading = document.querySelector('#step-sign h2');
  const hint = $('sign-hint');
  const intro = $('sign-reconnect-intro');
  const progress = $('sign-progress');
  const working = $('sign-working');
  const panel = $('sign-reconnect');
  const choice = $('reconnect-choice');
  const reconnect = $('reconnect');
  const retry = $('sign-retry');
  const radios = { nfc: $('reconnect-nfc'), bluetooth: $('reconnect-bluetooth'), virtual: $('reconnect-virtual') };
  let binding = null;
  let kind = null;
  let busy = false;

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (busy) return;
    const action = ev.submitter ? ev.submitter.value : reconnect.hidden ? 'retry' : 'reconnect';
    if (action === 'reconnect') relink();
    else if (action === 'retry') sign();
  });

  function enter(state) {
    if (!state.binding) {
      flow.fail({ code: 'internal', key: 'error.internal' });
      return;
    }
    binding = { ...state.binding, activation_id: state.activation_id };
    kind = flow.transport.get()?.kind ?? null;
    paint(flow.linked && Boolean(flow.mitidNow()));
    retry.hidden = true;
    flow.show('sign');
    if (flow.linked && flow.mitidNow()) sign();
    else offerRelink();
  }

  // paint says what is true now: press the button while the chip is linked, or
  // connect it again when it is not (after a reload, or a lost link).
  function paint(linked) {
    i18n.set(heading, linked ? 'step.sign.title' : 'sign.reconnect_title');
    hint.hidden = !linked || !HINTS[kind];
    if (!hint.hidden) i18n.set(hint, HINTS[kind]);
    panel.hidden = linked;
    intro.hidden = linked;
  }

  function setBusy(on, key) {
    busy = on;
    form.setAttribute('aria-busy', String(on));
    progress.hidden = !on;
    if (on) {
      i18n.set(working, key);
      flow.status(i18n.t(key));
    }
  }

  function sign() {
    const mitid = flow.mitidNow();
    if (!mitid || !flow.linked) {
      offerRelink();
      return;
    }
    flow.clearError();
    retry.hidden = true;
    paint(true);
    reconnect.hidden = true;
    setBusy(true, 'sign.waiting');
    mitid.sign(binding, waitMs())
      .then((out) => {
        setBusy(true, 'sign.saving');
        return api.signature(out.signature);
      })
      .then((state) => {
        setBusy(false);
        flow.render(state);
      })
      .catch((err) => {
        setBusy(false);
        failed(err);
      });
  }

  function failed(err) {
    if (err.name === 'ModuleError' && RELINK.has(err.code)) {
      flow.linked = false;
      offerRelink();
      // The error says why the chip must be connected again; the intro would say it twice.
      intro.hidden = true;
      flow.showError([flow.keyOf(err)]);
    } else if (AGAIN.has(err.code)) {
      retry.hidden = false;
      flow.showError([flow.keyOf(err)]);
      retry.focus();
    } else {
      flow.fail(err);
    }
  }

  async function offerRelink() {
    retry.hidden = true;
    paint(false);
    reconnect.hidden = false;
    let found;
    try {
      found = { ...(await (await flow.mitid()).transports()), virtual: flow.dev };
    } catch (err) {
      flow.fail(err);
      return;
    }
    const kinds = Object.keys(radios).filter((k) => found[k]);
    for (const [k, radio] of Object.entries(radios)) radio.parentElement.hidden = !kinds.includes(k);
    if (kinds.length === 0) {
      reconnect.hidden = true;
      intro.hidden = true;
      flow.showError(['module.not_supported']);
      return;
    }
    radios[kinds.includes(kind) ? kind : kinds[0]].checked = true;
    choice.hidden = kinds.length < 2;
  }

  // relink runs in the click: Web Bluetooth's chooser needs its user activation.
  function relink() {
    const picked = Object.keys(radios).find((k) => radios[k].checked && !radios[k].parentElement.hidden) ?? kind;
    if (!picked) return;
    flow.clearError();
    const serial = picked === 'virtual' ? binding.chip_serial : undefined;
    const mitid = flow.mitidNow();
    const linking = mitid ? mitid.connect(picked, serial) : flow.mitid().then((late) => late.connect(picked, serial));
    setBusy(true, 'connect.working');
    linking.then(
      (chip) => {
        setBusy(false);
        flow.linked = true;
        kind = picked;
        flow.transport.set({ kind, serial });
        flow.status(i18n.t('connect.connected', { serial: chip.serial }));
        sign();
      },
      (err) => {
        setBusy(false);
        failed(err);
      },
    );
  }

  return { enter };
}
