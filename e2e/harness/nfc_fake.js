// A stand-in for Web NFC (NDEFReader, NDEFReadingEvent, NDEFMessage, NDEFRecord),
// injected before the page's own scripts. Desktop Chromium has no NFC backend, so
// the Go test harness plays the tag: the fake reports scan() and write() calls
// through a CDP binding, and Go answers through the controller below. It follows
// the shape of the real API (https://w3c.github.io/web-nfc/) closely enough that
// the page's NFC code runs unchanged.
(() => {
  "use strict";
  const BINDING = "__mitidchipHarnessNFC";
  const CONTROLLER = Symbol.for("mitidchip.e2e.harness.nfc");
  if (!globalThis.isSecureContext || globalThis[CONTROLLER]) {
    return; // the real API exists only in secure contexts
  }

  const scanning = new Set(); // readers with a scan in progress
  const pending = new Map(); // write id -> {resolve, reject}
  let scanError = null; // a DOMException name scan() rejects with, as with NFC switched off
  let nextWrite = 0;

  const report = (message) => {
    const binding = globalThis[BINDING];
    if (typeof binding !== "function") {
      throw new DOMException("The NFC test fake lost its link to the harness.", "NotReadableError");
    }
    binding(JSON.stringify(message));
  };

  const abortReason = (signal) =>
    signal.reason !== undefined ? signal.reason : new DOMException("The NFC operation was cancelled.", "AbortError");

  const copyBytes = (data) => {
    if (data instanceof ArrayBuffer) {
      return new Uint8Array(data.slice(0));
    }
    if (ArrayBuffer.isView(data)) {
      return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    }
    return null;
  };

  const toBase64 = (bytes) => {
    let s = "";
    for (let i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s);
  };

  const fromBase64 = (b64) => {
    const s = atob(b64 || "");
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      bytes[i] = s.charCodeAt(i);
    }
    return bytes;
  };

  // External types are "domain:type"; local types, inside a smart poster, ":type".
  const isExternal = (type) => type.includes(":");

  // The bytes a record init puts on the tag, with the checks of the real API.
  const recordBytes = (init) => {
    if (init === null || typeof init !== "object") {
      throw new TypeError("Failed to execute 'write' on 'NDEFReader': The record is not an object.");
    }
    const type = init.recordType;
    if (typeof type !== "string" || type === "") {
      throw new TypeError("Failed to execute 'write' on 'NDEFReader': The record has no recordType.");
    }
    const data = init.data;
    switch (type) {
      case "empty":
        return new Uint8Array(0);
      case "text":
      case "url":
      case "absolute-url":
        if (typeof data === "string") {
          return new TextEncoder().encode(data);
        }
        if (type === "text" && copyBytes(data)) {
          return copyBytes(data);
        }
        throw new TypeError(`Failed to execute 'write' on 'NDEFReader': The data for '${type}' records must be a string.`);
      case "mime":
        break;
      case "smart-poster":
        throw new TypeError("Failed to execute 'write' on 'NDEFReader': smart-poster records are not supported by the test fake.");
      default:
        if (!isExternal(type)) {
          throw new TypeError(`Failed to execute 'write' on 'NDEFReader': Invalid record type '${type}'.`);
        }
    }
    const bytes = copyBytes(data);
    if (!bytes) {
      throw new TypeError(`Failed to execute 'write' on 'NDEFReader': The data for '${type}' records must be an ArrayBuffer, a TypedArray or a DataView.`);
    }
    return bytes;
  };

  const messageRecords = (message) => {
    if (typeof message === "string") {
      return [{recordType: "text", data: message}];
    }
    if (copyBytes(message)) {
      return [{recordType: "mime", data: message}];
    }
    if (message && Array.isArray(message.records) && message.records.length > 0) {
      return message.records;
    }
    throw new TypeError("Failed to execute 'write' on 'NDEFReader': The message has no records.");
  };

  class NDEFRecord {
    #recordType; #mediaType; #id; #data;
    constructor(init) {
      const bytes = recordBytes(init);
      this.#recordType = init.recordType;
      this.#mediaType = init.recordType === "mime" ? (init.mediaType || "application/octet-stream") : null;
      this.#id = typeof init.id === "string" ? init.id : null;
      this.#data = init.recordType === "empty" ? null : new DataView(bytes.buffer);
    }
    get recordType() { return this.#recordType; }
    get mediaType() { return this.#mediaType; }
    get id() { return this.#id; }
    get data() { return this.#data; }
    get encoding() { return this.#recordType === "text" ? "utf-8" : null; }
    get lang() { return null; }
    toRecords() { return null; }
  }

  class NDEFMessage {
    #records;
    constructor(init) {
      this.#records = Object.freeze(messageRecords(init).map((r) => new NDEFRecord(r)));
    }
    get records() { return this.#records; }
  }

  class NDEFReadingEvent extends Event {
    #serialNumber; #message;
    constructor(type, init) {
      super(type, init);
      if (!init || init.message === undefined) {
        throw new TypeError("Failed to construct 'NDEFReadingEvent': required member message is undefined.");
      }
      this.#serialNumber = init.serialNumber || "";
      this.#message = new NDEFMessage(init.message);
    }
    get serialNumber() { return this.#serialNumber; }
    get message() { return this.#message; }
  }

  class NDEFReader extends EventTarget {
    #handlers = {reading: null, readingerror: null};

    #setHandler(type, fn) {
      if (this.#handlers[type]) {
        this.removeEventListener(type, this.#handlers[type]);
      }
      this.#handlers[type] = typeof fn === "function" ? fn : null;
      if (this.#handlers[type]) {
        this.addEventListener(type, this.#handlers[type]);
      }
    }
    get onreading() { return this.#handlers.reading; }
    set onreading(fn) { this.#setHandler("reading", fn); }
    get onreadingerror() { return this.#handlers.readingerror; }
    set onreadingerror(fn) { this.#setHandler("readingerror", fn); }

    scan(options = {}) {
      const signal = options && options.signal;
      if (signal && signal.aborted) {
        return Promise.reject(abortReason(signal));
      }
      if (scanning.has(this)) {
        return Promise.reject(new DOMException("A scan() operation is ongoing.", "InvalidStateError"));
      }
      if (scanError) {
        return Promise.reject(new DOMException("NFC is not available.", scanError));
      }
      scanning.add(this);
      if (signal) {
        signal.addEventListener("abort", () => {
          if (scanning.delete(this)) {
            report({op: "scanstop"});
          }
        }, {once: true});
      }
      report({op: "scan"});
      return Promise.resolve();
    }

    write(message, options = {}) {
      const signal = options && options.signal;
      if (signal && signal.aborted) {
        return Promise.reject(abortReason(signal));
      }
      let records;
      try {
        records = messageRecords(message).map((r) => ({
          recordType: r.recordType,
          mediaType: typeof r.mediaType === "string" ? r.mediaType : undefined,
          id: typeof r.id === "string" ? r.id : undefined,
          data: toBase64(recordBytes(r)),
        }));
      } catch (e) {
        return Promise.reject(e);
      }
      return new Promise((resolve, reject) => {
        const id = ++nextWrite;
        pending.set(id, {resolve, reject});
        if (signal) {
          signal.addEventListener("abort", () => {
            if (pending.delete(id)) {
              reject(abortReason(signal));
              report({op: "abort", id});
            }
          }, {once: true});
        }
        report({op: "write", id, overwrite: !(options && options.overwrite === false), records});
      });
    }

    makeReadOnly() {
      return Promise.reject(new DOMException("makeReadOnly() is not supported by the NFC test fake.", "NotSupportedError"));
    }
  }

  const define = (name, value) =>
    Object.defineProperty(globalThis, name, {value, writable: true, configurable: true, enumerable: false});
  define("NDEFReader", NDEFReader);
  define("NDEFReadingEvent", NDEFReadingEvent);
  define("NDEFMessage", NDEFMessage);
  define("NDEFRecord", NDEFRecord);

  // What the harness calls, each returning whether it reached the page.
  Object.defineProperty(globalThis, CONTROLLER, {value: Object.freeze({
    pending(id) {
      return pending.has(id);
    },
    // complete settles a write as written; false when it was aborted meanwhile.
    complete(id) {
      const p = pending.get(id);
      if (!p) return false;
      pending.delete(id);
      p.resolve();
      return true;
    },
    // fail rejects a write with a DOMException of the given name.
    fail(id, name, text) {
      const p = pending.get(id);
      if (!p) return false;
      pending.delete(id);
      p.reject(new DOMException(text, name));
      return true;
    },
    // deliver fires a reading event with the records at every scanning reader,
    // returning how many got it.
    deliver(serialNumber, records) {
      const readers = [...scanning];
      for (const reader of readers) {
        const message = {records: records.map((r) => ({
          recordType: r.recordType, mediaType: r.mediaType || undefined, id: r.id || undefined,
          data: fromBase64(r.data),
        }))};
        reader.dispatchEvent(new NDEFReadingEvent("reading", {serialNumber, message}));
      }
      return readers.length;
    },
    readingError() {
      const readers = [...scanning];
      for (const reader of readers) {
        reader.dispatchEvent(new Event("readingerror"));
      }
      return readers.length;
    },
    scanning() {
      return scanning.size;
    },
    // refuseScans makes scan() reject with a DOMException of that name ("" stops it).
    refuseScans(name) {
      scanError = name || null;
      return true;
    },
  })});
})();
