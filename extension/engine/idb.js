// IndexedDB key-value store for the engine (extension origin). Records are {kind, v, schema}:
// kind "json" -> v is a JSON string; kind "key" -> v is a CryptoKey (structured-cloned as is,
// non-extractable keys stay non-extractable); schema: the record schema version of the code that
// wrote it (0.1.0 wrote none: read as 0). Passed into Python as module `efd_host.store`.
const DB_NAME = "efd-engine";
const STORE = "kv";

const opened = new Map();
function openDb(name) {
  if (!opened.has(name)) {
    opened.set(name, new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => {
        const d = req.result;
        d.onversionchange = () => { d.close(); opened.delete(name); };
        resolve(d);
      };
      req.onerror = () => { opened.delete(name); reject(req.error); };
      req.onblocked = () => { opened.delete(name); reject(new Error("IndexedDB open blocked")); };
    }));
  }
  return opened.get(name);
}

function tx(mode, fn, dbName = DB_NAME) {
  return openDb(dbName).then((d) => new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const s = t.objectStore(STORE);
    let result;
    const r = fn(s);
    if (r) r.onsuccess = () => { result = r.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("IndexedDB transaction aborted"));
  }));
}

// A record written by a newer version (higher schema) is neither overwritten nor removed: the
// check and the write are one transaction, so nothing can slip in between. Resolves false then.
function guarded(key, schema, write) {
  return openDb(DB_NAME).then((d) => new Promise((resolve, reject) => {
    const t = d.transaction(STORE, "readwrite");
    const s = t.objectStore(STORE);
    let done = false;
    const r = s.get(key);
    r.onsuccess = () => {
      if (r.result && (r.result.schema ?? 0) > schema) return;
      write(s);
      done = true;
    };
    t.oncomplete = () => resolve(done);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("IndexedDB transaction aborted"));
  }));
}

export const idbStore = {
  get: (key) => tx("readonly", (s) => s.get(key))
    .then((r) => (r ? { kind: r.kind, v: r.v, schema: r.schema ?? 0 } : undefined)),
  put: (key, kind, v, schema) => guarded(key, schema, (s) => s.put({ kind, v, schema }, key)),
  remove: (key, schema) => guarded(key, schema, (s) => s.delete(key)),
  keys: () => tx("readonly", (s) => s.getAllKeys()).then((ks) => ks.map(String)),
};

// A separate database for the Pyodide memory snapshot (public data: interpreter state before any
// request). Keyed by build id; replaceAll keeps only the current one.
const CACHE_DB = "efd-cache";
export const snapshotCache = {
  get: (key) => tx("readonly", (s) => s.get(key), CACHE_DB).then((r) => r ?? null),
  replaceAll: (key, value) => tx("readwrite", (s) => {
    s.clear();
    if (key !== null) s.put(value, key);
  }, CACHE_DB),
};
