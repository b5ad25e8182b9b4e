// The Go browser module (main.wasm, docs/module-api.md) on the page, and the
// password derivation in a worker that is ended afterwards to give its memory back.

// ModuleError carries one of the module's stable codes; key is its catalogue key.
export class ModuleError extends Error {
  constructor(code, cause) {
    super(`module: ${code}`, cause === undefined ? undefined : { cause });
    this.name = 'ModuleError';
    this.code = code;
    this.key = `module.${code}`;
  }
}

export function toModuleError(err) {
  if (err instanceof ModuleError) return err;
  const code = err && typeof err.code === 'string' && /^[a-z_]+$/.test(err.code) ? err.code : 'internal';
  if (code === 'internal' || code === 'bad_input') console.error('module:', err);
  return new ModuleError(code, err);
}

// Set when main.wasm is running: make bench compares the page's time to it with a
// minimal Go module's (e2e/bench).
const STARTED_MARK = 'mitid:module-started';

const FUNCTIONS = ['checkPassword', 'checkRepeat', 'transports', 'connect', 'sign', 'signLogon', 'disconnect'];

// wrap makes every rejection a ModuleError. The module's function is called at
// once, inside the caller's task: connect() must run in the click that asked for it,
// or Web Bluetooth refuses to show its chooser.
function wrap(mitid) {
  const api = {};
  for (const name of FUNCTIONS) {
    api[name] = (...args) => {
      try {
        return Promise.resolve(mitid[name](...args)).catch((err) => {
          throw toModuleError(err);
        });
      } catch (err) {
        return Promise.reject(toModuleError(err));
      }
    };
  }
  return Object.freeze(api);
}

// nextTask resolves in a new task of the event loop: what follows it does not run
// in the same task (or microtask checkpoint) as what came before.
function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.addEventListener('load', resolve, { once: true });
    script.addEventListener('error', () => reject(new Error(`module: cannot load ${src}`)), { once: true });
    document.head.append(script);
  });
}

async function compile(url) {
  try {
    return await WebAssembly.compileStreaming(fetch(url, { credentials: 'same-origin' }));
  } catch (err) {
    // compileStreaming insists on Content-Type application/wasm; a plain file server
    // (in a test) may not send it.
    if (!(err instanceof TypeError)) throw err;
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`module: ${url}: HTTP ${res.status}`);
    return WebAssembly.compile(await res.arrayBuffer());
  }
}

// loadModule starts main.wasm on the page. It resolves to {mitid, wasm}: the wrapped
// API and the compiled module, which the password worker reuses instead of
// compiling it again.
export async function loadModule(asset) {
  try {
    const [, wasm] = await Promise.all([loadScript(asset('wasm_exec.js')), compile(asset('main.wasm'))]);
    // Finishing the compile, instantiating and Go's start (its runtime and package
    // initialisation, then main() up to its first wait) each take a main-thread task
    // of their own, so that input is handled between them (decision 45).
    await nextTask();
    const go = new globalThis.Go();
    const ready = new Promise((resolve) => globalThis.addEventListener('mitid-ready', resolve, { once: true }));
    const instance = await WebAssembly.instantiate(wasm, go.importObject);
    await nextTask();
    const exited = go.run(instance).then(() => {
      throw new Error('module: main.wasm exited');
    });
    // go.run returns once main() first waits (or ends): the module is running.
    performance.mark(STARTED_MARK);
    exited.catch((err) => console.error(err));
    if (!globalThis.mitid) await Promise.race([ready, exited]);
    return { mitid: wrap(globalThis.mitid), wasm };
  } catch (err) {
    console.error('module: loading main.wasm failed:', err);
    throw new ModuleError('module_load', err);
  }
}

// deriveVerifier runs Argon2id in web/worker.js so the page stays responsive, and
// ends the worker whatever the outcome: the derivation's memory goes with it.
export function deriveVerifier(asset, wasm, password, params) {
  return inWorker(asset, wasm, password, params, undefined, 'verifier');
}

// deriveProof derives the password key in the worker and signs the logon's
// challenge with it there: only the proof comes back, never the password's key.
export function deriveProof(asset, wasm, password, params, challenge) {
  return inWorker(asset, wasm, password, params, challenge, 'proof');
}

function inWorker(asset, wasm, password, params, challenge, answer) {
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(asset('worker.js'));
    } catch (err) {
      reject(toModuleError(err));
      return;
    }
    const done = (fn, value) => {
      worker.terminate();
      fn(value);
    };
    worker.addEventListener('message', (ev) => {
      const msg = ev.data || {};
      if (typeof msg[answer] === 'string') done(resolve, msg[answer]);
      else done(reject, new ModuleError(typeof msg.error === 'string' ? msg.error : 'internal'));
    });
    worker.addEventListener('error', (ev) => {
      ev.preventDefault();
      console.error('worker:', ev.message);
      done(reject, new ModuleError('internal'));
    });
    const job = {
      wasmExec: asset('wasm_exec.js'),
      wasmURL: asset('main.wasm'),
      password,
      salt: params.salt,
      time: params.time,
      memoryKiB: params.memory_kib,
      threads: params.threads,
      challenge,
    };
    try {
      // A compiled WebAssembly.Module can be cloned to the worker, saving a compile.
      worker.postMessage({ ...job, wasm });
    } catch {
      worker.postMessage(job); // the worker fetches and compiles main.wasm itself
    }
  });
}
