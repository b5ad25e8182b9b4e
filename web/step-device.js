// Before the password: can this browser reach a MitID chip at all? Web NFC
// (NDEFReader: Chrome on Android) or Web Bluetooth (Chrome and Edge). If not, the
// person hears it at once, in words that fit their device, and gets ways forward that
// work: continue on another device with a one-time code or QR code, or Borgerservice.
// The page on that other device (/continue, the code in #c=) redeems the code and
// goes on with the same activation (docs/decisions.md, "Continue on another device").

// Watching the handover (docs/decisions.md 41): the page that made a code asks the
// server's state (GET /api/v1/activation) now and then until the code is used,
// expires or is voided. The first look is after WATCH_FIRST, each next one
// WATCH_GROWTH times later, at most WATCH_MAX apart: about 10 requests a minute at
// most, of the 120 an address may make to the API. A refusal for the rate
// (rate_limited), a lost connection or a server fault wait WATCH_BACKOFF. A hidden
// page does not look; it looks at once when shown again.
const WATCH_FIRST = 2000;
const WATCH_GROWTH = 1.5;
const WATCH_MAX = 6000;
const WATCH_BACKOFF = 30000;
const PASSING = ['network', 'internal', 'rate_limited'];

const TITLES = { iphone: 'device.iphone.title', android: 'device.android.title', other: 'device.other.title' };
const BODIES = { iphone: 'device.iphone.body', android: 'device.android.body', other: 'device.other.body' };

// deviceKind names the device for the words the person reads. Every browser on an
// iPhone or iPad is Apple's engine (an iPad may call itself a Mac, with touch).
export function deviceKind(nav = globalThis.navigator) {
  const ua = String(nav?.userAgent ?? '');
  if (/iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && nav.maxTouchPoints > 1)) return 'iphone';
  if (/Android/.test(ua)) return 'android';
  return 'other';
}

// canConnect: the browser has Web NFC or Web Bluetooth. Bluetooth that is switched
// off still counts: the chip step says how to turn it on.
export function canConnect(win = globalThis) {
  const bt = win.navigator?.bluetooth;
  return 'NDEFReader' in win || (typeof bt === 'object' && bt !== null);
}

// continuing is the handover code when this page was opened to continue on another
// device (/continue, perhaps with #c=CODE from the QR code), else null. The code
// leaves the address bar at once, as the handoff token does.
export function continuing() {
  const code = new URLSearchParams(location.hash.slice(1)).get('c');
  if (location.pathname !== '/continue' && code === null) return null;
  if (code !== null) history.replaceState(history.state, '', location.pathname + location.search);
  return { code: code ?? '' };
}

export function setup(flow) {
  const { i18n, api } = flow;
  const $ = (id) => document.getElementById(id);
  const kind = deviceKind();
  let passed = false; // this browser can connect (or dev mode offers the virtual chip)
  let busy = false;
  let watcher = null; // the watch of the newest code this page made

  $('handover-start').addEventListener('click', begin);
  $('handover-new').addEventListener('click', begin);
  $('continue-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    redeem($('handover-input').value);
  });

  // gate shows the password step (next) only to a browser that can connect. In dev
  // mode the virtual chip works in any browser, so it passes too.
  async function gate(state, next) {
    if (passed || canConnect() || flow.dev) {
      passed = true;
      return next();
    }
    i18n.set($('device-title'), TITLES[kind]);
    i18n.set($('device-body'), BODIES[kind]);
    flow.show('device');
  }

  async function begin() {
    if (busy) return;
    busy = true;
    flow.clearError();
    try {
      const h = await api.handover();
      $('handover-code').textContent = h.code;
      $('handover-where').textContent = h.url.split('#')[0];
      $('handover-qr').src = h.qr;
      i18n.set($('handover-expiry'), 'handover.expiry', { expires_at: Date.now() + h.expires_in * 1000 });
      flow.show('handover');
      watch(h.expires_in);
    } catch (err) {
      flow.fail(err);
    } finally {
      busy = false;
    }
  }

  // watch follows the newest code until the other device redeems it (this page's
  // session cookie stops working: the server answers no_session), or it expires or is
  // voided unused (the server's state says so). Then the page says so, and stops.
  function watch(expiresIn) {
    watcher?.stop();
    let delay = WATCH_FIRST;
    let timer = 0;
    let asking = false;
    let endsAt = Date.now() + expiresIn * 1000; // on this device's clock: a hint when to look
    const w = { stop };
    watcher = w;

    function schedule(ms) {
      clearTimeout(timer);
      // Look again no later than the moment the server said the code ends.
      timer = setTimeout(look, Math.max(0, Math.min(ms, endsAt - Date.now() + 500)));
    }

    async function look() {
      timer = 0;
      if (watcher !== w || asking || document.hidden) return;
      asking = true;
      let state;
      try {
        state = await api.state();
      } catch (err) {
        if (watcher !== w) return;
        if (PASSING.includes(err?.code)) {
          schedule(WATCH_BACKOFF);
          return;
        }
        stop();
        // The code was this page's only way on: a cookie that stopped working means
        // the other device redeemed it.
        if (err?.code === 'no_session') return handed();
        return flow.fail(err);
      } finally {
        asking = false;
      }
      if (watcher !== w) return;
      const h = state.handover;
      if (state.step === 'password' && h?.status === 'open') {
        endsAt = Date.now() + h.expires_in * 1000;
        delay = Math.min(delay * WATCH_GROWTH, WATCH_MAX);
        schedule(delay);
        return;
      }
      stop();
      if (state.step !== 'password') return flow.render(state); // another tab of this browser went on
      ended(h?.status === 'void' ? 'handover.void' : 'handover.expired');
    }

    function visibility() {
      if (document.hidden) {
        clearTimeout(timer);
        timer = 0;
      } else {
        schedule(0);
      }
    }

    function stop() {
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', visibility);
      if (watcher === w) watcher = null;
    }

    document.addEventListener('visibilitychange', visibility);
    schedule(delay);
  }

  // handed is this page's last word: the activation goes on on the other device.
  function handed() {
    flow.show('handed');
    flow.alert(`${$('handed-title').textContent} ${$('handed-body').textContent}`);
  }

  // ended: the code can no longer be used; the ways on are offered again, a new code
  // first.
  function ended(key) {
    flow.show('device');
    flow.showError([key]);
  }

  // resume shows the page of the other device, and redeems a code the QR code gave.
  function resume(code) {
    flow.show('continue');
    if (code) {
      $('handover-input').value = code;
      redeem(code);
    }
  }

  async function redeem(code) {
    if (busy) return;
    busy = true;
    flow.clearError();
    $('continue-form').setAttribute('aria-busy', 'true');
    try {
      const state = await api.redeemHandover(code);
      // From here a reload resumes the activation, not this form.
      history.replaceState(history.state, '', '/');
      flow.render(state);
    } catch (err) {
      flow.fail(err);
      $('handover-input').focus();
    } finally {
      busy = false;
      $('continue-form').setAttribute('aria-busy', 'false');
    }
  }

  return { gate, resume };
}
