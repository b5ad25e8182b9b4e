// The harness tests' page. It talks to the chip as the activation page will: Web
// Bluetooth with chunked frames, or Web NFC with one record per frame. The tests
// drive it through window.harnessPage and read what it got back.
"use strict";

(() => {
  const cfg = window.chipConfig; // served by the test from the chip package's constants
  const status = document.getElementById("status");
  const ble = {device: null, request: null, response: null, waiter: null, buf: [], next: 0, disconnects: 0};

  const show = (text) => { status.textContent = text; };

  // Notified response chunks: [seq, count, data...]; the frame is whole at count-1.
  const onChunk = (event) => {
    const v = event.target.value;
    const bytes = Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    const [seq, count] = bytes;
    if (seq === 0) {
      ble.buf = [];
      ble.next = 0;
    }
    const w = ble.waiter;
    if (!w) return;
    if (seq !== ble.next) {
      ble.waiter = null;
      w.reject(new Error(`chunk ${seq} out of order, want ${ble.next}`));
      return;
    }
    ble.buf.push(...bytes.slice(2));
    ble.next++;
    if (seq === count - 1) {
      ble.waiter = null;
      w.resolve(ble.buf);
    }
  };

  const setUp = async () => {
    const server = await ble.device.gatt.connect();
    const service = await server.getPrimaryService(cfg.service);
    ble.request = await service.getCharacteristic(cfg.request);
    if (ble.response) {
      ble.response.removeEventListener("characteristicvaluechanged", onChunk);
    }
    ble.response = await service.getCharacteristic(cfg.response);
    ble.response.addEventListener("characteristicvaluechanged", onChunk); // before startNotifications
    await ble.response.startNotifications();
  };

  const connect = async () => {
    ble.device = await navigator.bluetooth.requestDevice({filters: [{services: [cfg.service]}]});
    ble.device.addEventListener("gattserverdisconnected", () => {
      ble.disconnects++;
      show("disconnected");
      if (ble.waiter) {
        const w = ble.waiter;
        ble.waiter = null;
        w.reject(new DOMException("The chip disconnected.", "NetworkError"));
      }
    });
    await setUp();
    return ble.device.name;
  };

  const send = async (chunks) => {
    const answer = new Promise((resolve, reject) => { ble.waiter = {resolve, reject}; });
    for (const c of chunks) {
      await ble.request.writeValueWithResponse(new Uint8Array(c));
    }
    return {frame: await answer};
  };

  const failure = (e) => ({error: `${e.name}: ${e.message}`});

  // One request over NFC: scan, write the request record, read the answer record.
  const nfcSend = async (frame, kind) => {
    const reader = new NDEFReader();
    const stop = new AbortController();
    const answer = new Promise((resolve, reject) => {
      reader.onreading = (event) => {
        const r = event.message.records.find((rec) => rec.recordType === cfg.ndefType);
        if (r) {
          resolve({serial: event.serialNumber, frame: Array.from(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength))});
        }
      };
      reader.onreadingerror = () => reject(new DOMException("The chip could not be read.", "NotReadableError"));
    });
    try {
      await reader.scan({signal: stop.signal});
      const bytes = new Uint8Array(frame);
      const data = {
        arraybuffer: bytes.buffer,
        typedarray: bytes,
        dataview: new DataView(bytes.buffer),
      }[kind];
      await reader.write({records: [{recordType: cfg.ndefType, data}]});
      return await answer;
    } finally {
      stop.abort();
    }
  };

  // A write aborted while it waits for the chip.
  const nfcAbortedWrite = async (frame) => {
    const reader = new NDEFReader();
    const stop = new AbortController();
    const written = reader.write({records: [{recordType: cfg.ndefType, data: new Uint8Array(frame)}]}, {signal: stop.signal});
    stop.abort();
    try {
      await written;
      return "written";
    } catch (e) {
      return e.name;
    }
  };

  document.getElementById("connect").addEventListener("click", () => {
    show("connecting");
    window.connecting = connect().then((name) => { show("connected"); return {name}; }, (e) => { show("failed"); return failure(e); });
  });

  window.harnessPage = {
    available: () => navigator.bluetooth.getAvailability(),
    send: (chunks) => send(chunks).catch(failure),
    reconnect: () => setUp().then(() => ({name: ble.device.name}), failure),
    disconnects: () => ble.disconnects,
    drop: async () => { ble.device.gatt.disconnect(); return {}; },
    nfcSend: (frame, kind) => nfcSend(frame, kind).catch(failure),
    nfcAbortedWrite,
  };
})();
