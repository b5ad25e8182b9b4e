// The dev-mode virtual chip page: one chip's display and button. It follows the chip
// by long polling (the server answers when the state changes, or after 25 s), never
// on a timer, and follows one chip at a time: a browser opens only six connections
// to a host, and the activation page's requests must not queue behind idle polls.

const TEXT = {
  title: (serial) => `Chip ${serial}`,
  waiting: 'Waiting for a button press: press the button to sign.',
  idle: 'Not waiting for a press. A press shows a new one-time code.',
  blank: '— — — — — —',
  none: 'There are no virtual chips: is the server in dev mode?',
  lost: 'Lost contact with the server.',
  pressFailed: 'The press did not reach the chip.',
};

const $ = (id) => document.getElementById(id);
const select = $('chip-serial');
const card = $('chip-card');
const lost = $('chip-lost');
let follow = null; // the AbortController of the current long poll

async function getJSON(url, init = {}) {
  const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store', ...init });
  if (!res.ok) throw new Error(`${init.method || 'GET'} ${url}: HTTP ${res.status}`);
  return res.json();
}

const chipURL = (serial) => `/dev/chips/${encodeURIComponent(serial)}`;

function show(view) {
  card.hidden = false;
  lost.hidden = true;
  $('chip-title').textContent = TEXT.title(view.serial);
  const code = String(view.display || '');
  $('chip-display').textContent = code ? code.replace(/^(\d{3})(\d{3})$/, '$1 $2') : TEXT.blank;
  $('chip-waiting').textContent = view.waiting ? TEXT.waiting : TEXT.idle;
  card.dataset.waiting = String(Boolean(view.waiting));
  card.dataset.display = code;
}

function fault(text, err) {
  console.error('chip:', err);
  $('chip-lost-text').textContent = text;
  lost.hidden = false;
}

async function watch(serial) {
  follow?.abort();
  const ctl = new AbortController();
  follow = ctl;
  history.replaceState(null, '', `?serial=${encodeURIComponent(serial)}`);
  try {
    let view = await getJSON(chipURL(serial), { signal: ctl.signal });
    for (;;) {
      show(view);
      // The same text the server compares: "<display>/<waiting>".
      const after = `${view.display}/${view.waiting}`;
      view = await getJSON(`${chipURL(serial)}?after=${encodeURIComponent(after)}`, { signal: ctl.signal });
    }
  } catch (err) {
    if (!ctl.signal.aborted) fault(TEXT.lost, err);
  }
}

async function press(ev) {
  ev.preventDefault();
  try {
    show(await getJSON(`${chipURL(select.value)}/press`, { method: 'POST' }));
  } catch (err) {
    fault(TEXT.pressFailed, err);
  }
}

async function start() {
  let chips;
  try {
    chips = await getJSON('/dev/chips');
  } catch (err) {
    fault(TEXT.lost, err);
    return;
  }
  if (!Array.isArray(chips) || chips.length === 0) {
    fault(TEXT.none, new Error('no chips'));
    return;
  }
  const wanted = new URLSearchParams(location.search).get('serial');
  select.replaceChildren(...chips.map((c) => new Option(c.serial, c.serial)));
  const first = chips.find((c) => c.serial === wanted) ?? chips.find((c) => c.waiting) ?? chips[0];
  select.value = first.serial;
  watch(first.serial);
}

select.addEventListener('change', () => watch(select.value));
$('chip-form').addEventListener('submit', press);
$('chip-reload').addEventListener('click', () => (select.value ? watch(select.value) : start()));
start();
