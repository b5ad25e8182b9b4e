// The page glue: find the module by its hashed name and start it.
const assets = JSON.parse(document.querySelector('meta[name="assets"]').content);
const go = new Go();
const result = await WebAssembly.instantiateStreaming(fetch(assets["main.wasm"]), go.importObject);
go.run(result.instance);
document.querySelectorAll("button").forEach((b) => b.removeAttribute("disabled"));
document.querySelectorAll("button").forEach((b) => b.setAttribute("aria-busy", "false"));
