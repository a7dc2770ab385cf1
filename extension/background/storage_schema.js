// The router's own items in storage.local and storage.session carry a schema version, like the
// engine's records (pycore/engine/migrate.py): an item `schema` in each area. 0.1.0 wrote none
// (read as 0). On start older items are migrated; storage.local written by a newer version is
// never overwritten (site.enable/site.disable refuse with "newer_data"; storage.session lasts one
// browser session and an update empties it, so it is only checked and reported); items this code
// does not know are kept and reported. Nothing is deleted here.
export const STORAGE_SCHEMA = 1;

// Items this code writes, per area (anything else is someone else's: kept, reported).
const KNOWN = {
  local: (k) => k === "schema" || k === "sites" || k === "notify" || k === "notify_seen",
  session: (k) => k === "schema" || k === "marker" || k === "unlocked" || k.startsWith("tok."),
};

// MIGRATIONS[n](area, items) -> the items to write to move area from schema n to n + 1.
const MIGRATIONS = {
  0: () => ({}),   // 0.1.0's items have the same shape: only the version is added
};

export function storageSchema(api) {
  let ready = null;
  const report = {};

  async function checkArea(area) {
    const items = await api.storage[area].get(null);
    const previous = Number.isInteger(items.schema) ? items.schema : 0;
    const unknown = Object.keys(items).filter((k) => !KNOWN[area](k)).sort();
    const r = { schema: STORAGE_SCHEMA, previous, unknown, newer: previous > STORAGE_SCHEMA };
    if (r.newer) {
      console.warn(`storage.${area} was written by a newer version (schema ${previous}); left as it is`);
    } else if (previous < STORAGE_SCHEMA) {
      let update = {};
      for (let n = previous; n < STORAGE_SCHEMA; n++) update = { ...update, ...MIGRATIONS[n](area, items) };
      await api.storage[area].set({ ...update, schema: STORAGE_SCHEMA });
    }
    if (unknown.length) console.warn(`storage.${area}: items this version does not know, kept:`, unknown);
    report[area] = r;
  }

  return {
    report,
    ready() {
      if (!ready) ready = Promise.all([checkArea("local"), checkArea("session")]).catch((e) => { ready = null; throw e; });
      return ready;
    },
    // Throws before a write to an area a newer version wrote.
    async writable(area, Rejected) {
      await this.ready();
      if (report[area].newer) {
        throw new Rejected(`the extension's settings (storage.${area}) were written by a newer version of ` +
          `Encrypt for Discourse (schema ${report[area].previous}; this version knows up to ${STORAGE_SCHEMA}): ` +
          "update the extension. Nothing was changed.", "newer_data");
      }
    },
  };
}
