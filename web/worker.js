// The password derivation's worker: it starts its own copy of the Go module, runs
// mitid.deriveVerifier once and answers {verifier}, or for a logon mitid.proveLogon
// and answers {proof}; or {error: code}. The page ends
// the worker after the answer, which gives Argon2id's memory back.
'use strict';

self.addEventListener('message', async (ev) => {
  const job = ev.data || {};
  try {
    importScripts(job.wasmExec);
    const go = new Go();
    const ready = new Promise((resolve) => self.addEventListener('mitid-ready', resolve, { once: true }));
    const instance = job.wasm instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(job.wasm, go.importObject)
      : (await WebAssembly.instantiateStreaming(fetch(job.wasmURL), go.importObject)).instance;
    const exited = go.run(instance).then(() => {
      throw new Error('worker: main.wasm exited');
    });
    if (!self.mitid) await Promise.race([ready, exited]);
    if (typeof job.challenge === 'string') {
      // Logon: only the proof over the server's challenge leaves the worker.
      const out = await self.mitid.proveLogon(job.password, job.salt, job.time, job.memoryKiB, job.threads, job.challenge);
      self.postMessage({ proof: out.proof });
    } else {
      const out = await self.mitid.deriveVerifier(job.password, job.salt, job.time, job.memoryKiB, job.threads);
      self.postMessage({ verifier: out.verifier });
    }
  } catch (err) {
    const code = err && typeof err.code === 'string' ? err.code : 'internal';
    if (code === 'internal') console.error('worker:', err);
    self.postMessage({ error: code });
  }
}, { once: true });
