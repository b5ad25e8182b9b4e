// The browser's Back and Forward buttons inside the flow: every step the page shows
// is an entry in the tab's history (pushState), and a popstate shows the entry's step
// again only when the server's state allows it; otherwise the page stays where it is
// and says why. Without this, one Back press from the code step leaves the site.

// The views that are steps of their own in the history; the start and error views are
// not: Back from an error goes to the step before it.
const STEPS = new Set(['password', 'chip', 'connect', 'code', 'sign', 'completed', 'blocked']);

// Views a person may go back to without asking the server for anything: choosing how
// to connect, and "hold your chip to the phone". A chip may be presented again until
// its code is accepted (docs/decisions.md 8), so both stay open while the server is
// at the chip or the code step.
const REVISIT = new Set(['chip', 'connect']);
const REVISIT_WHILE = new Set(['chip', 'code']);

// Why going back to a step is refused, by the server's step now.
const REFUSED = {
  chip: 'history.password_saved',
  code: 'history.password_saved',
  sign: 'history.chip_fixed',
  completed: 'history.completed',
};

const KEY = 'mitidStep';

// setupHistory wraps show (view.show) so that showing a step records it, and returns
// the wrapped show. state() asks the server where the activation is; revisit(view,
// state) shows chip or connect again; render(state) shows the server's step; say(key)
// says why the page stays; fail(err) handles a failed state() as any other failure.
export function setupHistory({ show, state, render, revisit, say, fail }) {
  let current = null; // the step of the history entry the page is on
  let restoring = false; // showing an entry's step: record it in place, not as a new entry

  function record(name) {
    if (!STEPS.has(name) || name === current) return;
    const entry = { ...history.state, [KEY]: name };
    const url = location.pathname + location.search;
    // The first step this document shows takes over the entry it was loaded in.
    if (current === null || restoring) history.replaceState(entry, '', url);
    else history.pushState(entry, '', url);
    current = name;
  }

  addEventListener('popstate', async (ev) => {
    const target = ev.state?.[KEY];
    if (!STEPS.has(target) || target === current || current === null) return;
    const from = current;
    let now;
    try {
      now = await state();
    } catch (err) {
      stay(from);
      fail(err);
      return;
    }
    restoring = true;
    current = target;
    try {
      if (REVISIT.has(target) && REVISIT_WHILE.has(now.step)) await revisit(target, now);
      else if (target === now.step || REFUSED[now.step] === undefined) await render(now);
      else {
        current = from;
        stay(from);
        // Where the server went on meanwhile (another tab), show that step first.
        if (now.step !== from && !(REVISIT.has(from) && REVISIT_WHILE.has(now.step))) await render(now);
        say(REFUSED[now.step]);
      }
    } finally {
      restoring = false;
    }
  });

  // stay puts back the entry the person left with Back, so the page and the history
  // agree again and the next Back asks once more.
  function stay(name) {
    history.pushState({ ...history.state, [KEY]: name }, '', location.pathname + location.search);
    current = name;
  }

  return (name, opts) => {
    record(name);
    return show(name, opts);
  };
}
