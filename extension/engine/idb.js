// IndexedDB key-value store for the engine (extension origin). Records are {kind, v}:
// kind "json" -> v is a JSON string; kind "key" -> v is a CryptoKey (structured-cloned as is,
// non-extractable keys stay non-extractable). Passed into Python as module `efd_host.store`.
const DB_NAME = "efd-engine";
const STORE = "kv";

let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => {
        const d = req.result;
        d.onversionchange = () => { d.close(); dbPromise = null; };
        resolve(d);
      };
      req.onerror = () => { dbPromise = null; reject(req.error); };
      req.onblocked = () => { dbPromise = null; reject(new Error("IndexedDB open blocked")); };
    });
  }
  return dbPromise;
}

function tx(mode, fn) {
  return db().then((d) => new Promise((resolve, reject) => {
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
