// Stand-in for Go's wasm_exec.js: defines globalThis.Go.
"use strict";
(() => {
	globalThis.Go = class {
		constructor() { this.argv = ["js"]; this.env = {}; this.exit = (code) => { if (code !== 0) { console.warn("exit code:", code); } }; this.importObject = { gojs: {} }; }
		async run(instance) { this._inst = instance; this.mem = new DataView(this._inst.exports.mem.buffer); }
	};
})();
