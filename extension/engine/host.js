// The engine host: boots one Pyodide instance lazily, unpacks pycore into its file system,
// hands Python an IndexedDB store, and answers requests through pycore.engine.
// Used by the Chromium offscreen document (engine/offscreen.js) and the Firefox background page.
// No network: Pyodide and pycore.zip come from the extension package.
import { loadPyodide } from "../pyodide/pyodide.mjs";
import { idbStore } from "./idb.js";

const PYCORE_DIR = "/lib/efd";

const BOOT_PY = `
import sys
if "${PYCORE_DIR}" not in sys.path:
    sys.path.insert(0, "${PYCORE_DIR}")
from pycore.engine import pyodide_handle_json as _efd_handle_json
`;

export class EngineHost {
  constructor({ testHooks = false } = {}) {
    this.testHooks = testHooks;
    this.py = null;
    this.handleJson = null;
    this.booting = null;
    this.stats = { boots: 0, lastBootMs: null, bootStartedAt: null, requests: 0 };
  }

  boot() {
    if (this.handleJson) return Promise.resolve();
    if (!this.booting) {
      this.booting = this._boot().catch((e) => { this.booting = null; throw e; });
    }
    return this.booting;
  }

  async _boot() {
    const t0 = performance.now();
    this.stats.bootStartedAt = Date.now();
    const py = await loadPyodide({ indexURL: new URL("../pyodide/", import.meta.url).href, packages: [] });
    const buf = await (await fetch(new URL("../pycore.zip", import.meta.url))).arrayBuffer();
    py.unpackArchive(new Uint8Array(buf), "zip", { extractDir: PYCORE_DIR });
    py.registerJsModule("efd_host", { store: idbStore });
    await py.runPythonAsync(BOOT_PY);
    this.py = py;
    this.handleJson = py.globals.get("_efd_handle_json");
    this.stats.boots += 1;
    this.stats.lastBootMs = performance.now() - t0;
  }

  // Drop the Pyodide instance (tests, and Firefox when asked to restart). State is in IndexedDB.
  drop() {
    if (this.handleJson) { try { this.handleJson.destroy(); } catch (_) { /* already gone */ } }
    this.py = null;
    this.handleJson = null;
    this.booting = null;
  }

  // -> {ok, result} | {ok:false, error}
  async handle(type, payload, context) {
    this.stats.requests += 1;
    if (type === "test.engine_info") {
      if (!this.testHooks) return { ok: false, error: { code: "rejected", message: "test hooks disabled" } };
      return { ok: true, result: { booted: !!this.handleJson, ...this.stats } };
    }
    try {
      await this.boot();
    } catch (e) {
      console.error("engine boot failed", e);
      return { ok: false, error: { code: "engine_boot_failed", message: String(e && e.message || e) } };
    }
    try {
      const out = await this.handleJson(type, JSON.stringify(payload ?? {}), JSON.stringify(context ?? {}));
      return JSON.parse(out);
    } catch (e) {
      console.error("engine error", type, e);
      return { ok: false, error: { code: "engine_error", message: String(e && e.message || e).slice(-500) } };
    }
  }
}
