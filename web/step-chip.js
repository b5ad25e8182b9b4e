// The chip steps: choose how to connect (only what this browser can do is offered),
// then "Press Next and hold your MitID chip up to your phone", which connects and
// presents the chip's hello to the server.

const HINTS = { nfc: 'connect.hint.nfc', bluetooth: 'connect.hint.bluetooth', virtual: 'connect.hint.virtual' };

export function setup(flow) {
  const { i18n, api } = flow;
  const $ = (id) => document.getElementById(id);
  const chooseForm = $('chip-form');
  const checking = $('transport-checking');
  const options = {
    nfc: $('transport-nfc'),
    bluetooth: $('transport-bluetooth'),
  };
  const bluetoothNote = $('bluetooth-note');
  const bluetoothOff = $('bluetooth-off');
  const bluetoothOffNFC = $('bluetooth-off-nfc');
  const bluetoothOffPhone = $('bluetooth-off-phone');
  const none = $('no-transport');
  const virtual = $('virtual');
  const serialSelect = $('virtual-serial');
  const openChip = $('virtual-open');
  const connectForm = $('connect-form');
  const hint = $('connect-hint');
  const progress = $('connect-progress');
  const next = $('connect-next');
  let chosen = null; // {kind, serial}
  let busy = false;

  chooseForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const kind = ev.submitter ? ev.submitter.value : '';
    if (kind === 'recheck') detect();
    else if (HINTS[kind]) choose(kind);
  });
  serialSelect.addEventListener('change', linkVirtualPage);
  connectForm.addEventListener('submit', connect);
  $('connect-back').addEventListener('click', () => {
    if (busy) return;
    flow.transport.clear();
    flow.show('chip');
  });

  async function enter() {
    const remembered = flow.transport.get();
    if (!remembered) {
      flow.show('chip');
      await detect();
      return;
    }
    // A reload on "Press Next ...": back to it, if the browser still offers that way.
    const found = await detect();
    if (found && found[remembered.kind]) choose(remembered.kind, remembered.serial);
    else flow.show('chip');
  }

  async function detect() {
    checking.hidden = false;
    for (const el of [options.nfc, options.bluetooth, bluetoothNote, bluetoothOff, none, virtual]) el.hidden = true;
    try {
      const found = { ...(await (await flow.mitid()).transports()), virtual: flow.dev };
      options.nfc.hidden = !found.nfc;
      options.bluetooth.hidden = !found.bluetooth;
      bluetoothNote.hidden = !found.bluetooth;
      // The API is there but the adapter is off or missing: say so, with a way to
      // look again once it is on, and the other ways (NFC here is the button above).
      bluetoothOff.hidden = found.bluetooth || !found.bluetoothPresent;
      bluetoothOffNFC.hidden = !found.nfc;
      bluetoothOffPhone.hidden = found.nfc;
      // Dev mode's virtual chip is a way to connect like the others.
      none.hidden = found.nfc || found.bluetooth || Boolean(found.bluetoothPresent) || found.virtual;
      if (found.virtual) await listVirtual();
      return found;
    } catch (err) {
      flow.fail(err);
      return null;
    } finally {
      checking.hidden = true;
    }
  }

  async function listVirtual() {
    let chips;
    try {
      chips = await api.devChips();
    } catch (err) {
      console.error('chip: dev chips:', err);
      return;
    }
    if (!Array.isArray(chips) || chips.length === 0) return;
    const keep = serialSelect.value || flow.transport.get()?.serial;
    serialSelect.replaceChildren(...chips.map((c) => new Option(c.serial, c.serial)));
    if (chips.some((c) => c.serial === keep)) serialSelect.value = keep;
    linkVirtualPage();
    virtual.hidden = false;
  }

  function linkVirtualPage() {
    // Set here, not in the HTML: the dev page is not published in production, and the
    // build refuses a link to a page it does not have.
    openChip.href = `/dev/chip.html?serial=${encodeURIComponent(serialSelect.value)}`;
  }

  function choose(kind, serial) {
    chosen = { kind, serial: kind === 'virtual' ? serial || serialSelect.value : undefined };
    flow.transport.set(chosen);
    i18n.set(hint, HINTS[kind], kind === 'virtual' ? { serial: chosen.serial } : undefined);
    hint.hidden = false;
    flow.show('connect');
  }

  function setBusy(on) {
    busy = on;
    connectForm.setAttribute('aria-busy', String(on));
    next.setAttribute('aria-disabled', String(on));
    progress.hidden = !on;
  }

  // connect calls the module inside the click's own task: Web Bluetooth shows its
  // chooser only while the click's user activation lasts.
  function connect(ev) {
    ev.preventDefault();
    if (busy || !chosen) return;
    flow.clearError();
    const { kind, serial } = chosen;
    const mitid = flow.mitidNow();
    const linking = mitid ? mitid.connect(kind, serial) : flow.mitid().then((late) => late.connect(kind, serial));
    setBusy(true);
    flow.status(i18n.t('connect.working'));
    linking
      .then((chip) => {
        flow.linked = true;
        flow.status(i18n.t('connect.connected', { serial: chip.serial }));
        // The activation presents the chip's hello; the logon page has the chip sign.
        return flow.present ? flow.present(chip) : api.hello(chip.hello);
      })
      .then((state) => {
        setBusy(false);
        flow.render(state);
      })
      .catch((err) => {
        setBusy(false);
        flow.fail(err);
      });
  }

  return { enter };
}
