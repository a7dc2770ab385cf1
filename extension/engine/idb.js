// IndexedDB key-value store for the engine (extension origin). Records are {kind, v}:
// kind "json" -> v is a JSON string; kind "key" -> v is a CryptoKey (structured-cloned as is,
// non-extractable keys stay non-extractable). Passed into Python as module `efd_host.store`.
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

export const idbStore = {
  get: (key) => tx("readonly", (s) => s.get(key)).then((r) => r ?? undefined),
  put: (key, kind, v) => tx("readwrite", (s) => s.put({ kind, v }, key)).then(() => true),
  remove: (key) => tx("readwrite", (s) => s.delete(key)).then(() => true),
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
