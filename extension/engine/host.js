// The engine host: boots one Pyodide instance lazily, unpacks pycore into its file system,
// hands Python an IndexedDB store, and answers requests through pycore.engine.
// Used by the Chromium offscreen document (engine/offscreen.js) and the Firefox background page.
// No network: Pyodide and pycore.zip come from the extension package.
import { loadPyodide } from "../pyodide/pyodide.mjs";
import { idbStore, snapshotCache } from "./idb.js";
import { a256Decoder } from "./a256.js";
import { cryptoBatch } from "./crypto_batch.js";

const PYCORE_DIR = "/lib/efd";
const INDEX_URL = new URL("../pyodide/", import.meta.url).href;

// Python state captured in the memory snapshot: the interpreter with pycore.engine imported and
// nothing else (no request has run, no key, no JS object). Made once per install and build.
const SNAPSHOT_PY = `
import sys
sys.path.insert(0, "${PYCORE_DIR}")
import pycore.engine.pyodide_adapter
`;

const BOOT_PY = `
import sys
if "${PYCORE_DIR}" not in sys.path:
    sys.path.insert(0, "${PYCORE_DIR}")
import random
random.seed()  # never reuse a PRNG state restored from a snapshot (pycore does not use it anyway)
from pycore.engine.pyodide_adapter import handle_json as _efd_handle_json
`;

export class EngineHost {
  constructor({ testHooks = false, buildId = "dev", useSnapshot = true } = {}) {
    this.testHooks = testHooks;
    this.snapshotKey = `pyodide-snapshot:${buildId}`;
    this.useSnapshot = useSnapshot;
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
    // Read the snapshot while pycore.zip is fetched.
    const snapRead = this.useSnapshot ? this._readSnapshot() : Promise.resolve(null);
    const buf = await (await fetch(new URL("../pycore.zip", import.meta.url))).arrayBuffer();
    const py = await this._loadInterpreter(buf, await snapRead);
    const t1 = performance.now();
    // The file system is not part of a memory snapshot: unpack pycore every time.
    py.unpackArchive(new Uint8Array(buf), "zip", { extractDir: PYCORE_DIR });
    py.registerJsModule("efd_host", { store: idbStore, a256Decoder, cryptoBatch });
    await py.runPythonAsync(BOOT_PY);
    this.stats.phases = { loadPyodideMs: t1 - t0, pycoreMs: performance.now() - t1 };
    this.py = py;
    this.handleJson = py.globals.get("_efd_handle_json");
    this.stats.boots += 1;
    this.stats.lastBootMs = performance.now() - t0;
  }

  // A Pyodide memory snapshot (kept in IndexedDB, never shipped) cuts a wake from ~2.5 s to
  // ~0.3 s. Any failure falls back to a plain boot.
  async _readSnapshot() {
    const r0 = performance.now();
    try {
      return await snapshotCache.get(this.snapshotKey);
    } catch (e) {
      console.warn("snapshot read failed", e);
      return null;
    } finally {
      this.stats.snapshotReadMs = performance.now() - r0;
    }
  }

  async _loadInterpreter(pycoreZip, snap) {
    if (this.useSnapshot) {
      try {
        this.stats.snapshot = snap ? "restored" : "made";
        if (!snap) {
          const maker = await loadPyodide({ indexURL: INDEX_URL, packages: [], _makeSnapshot: true });
          maker.unpackArchive(new Uint8Array(pycoreZip), "zip", { extractDir: PYCORE_DIR });
          await maker.runPythonAsync(SNAPSHOT_PY);
          snap = maker.makeMemorySnapshot();
          await snapshotCache.replaceAll(this.snapshotKey, snap);
        }
        return await loadPyodide({ indexURL: INDEX_URL, packages: [], _loadSnapshot: snap });
      } catch (e) {
        console.warn("Pyodide snapshot unavailable, booting without it", e);
        this.stats.snapshot = "failed: " + String(e && e.message || e).slice(0, 200);
        await snapshotCache.replaceAll(null, null).catch(() => {});
      }
    }
    return loadPyodide({ indexURL: INDEX_URL, packages: [] });
  }

  // Bytes the engine holds: Pyodide's WebAssembly memory (it never shrinks) and this document's
  // JavaScript heap where the browser tells it (Chromium).
  memory() {
    const wasm = this.py && this.py._module && this.py._module.HEAP8 ? this.py._module.HEAP8.length : null;
    const js = globalThis.performance && performance.memory ? performance.memory.usedJSHeapSize : null;
    return { wasmBytes: wasm, jsHeapBytes: js };
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
      return { ok: true, result: { booted: !!this.handleJson, ...this.stats, memory: this.memory() } };
    }
    try {
      await this.boot();
    } catch (e) {
      console.error("engine boot failed", e);
      return { ok: false, error: { code: "engine_boot_failed", message: String(e && e.message || e) } };
    }
    const t0 = performance.now();
    try {
      const out = await this.handleJson(type, JSON.stringify(payload ?? {}), JSON.stringify(context ?? {}));
      return JSON.parse(out);
    } catch (e) {
      console.error("engine error", type, e);
      return { ok: false, error: { code: "engine_error", message: String(e && e.message || e).slice(-500) } };
    } finally {
      // time in the engine per request type (test builds show it in test.engine_info)
      const h = this.stats.handleMs || (this.stats.handleMs = {});
      const [n, ms] = h[type] || [0, 0];
      h[type] = [n + 1, Math.round((ms + performance.now() - t0) * 10) / 10];
    }
  }
}
