// extension/background/storage_schema.js with an in-memory storage API: prints one JSON line.
import { storageSchema, STORAGE_SCHEMA } from "../../extension/background/storage_schema.js";

function area(items) {
  const data = { ...items };
  return { data,
    async get(k) { return k === null ? { ...data } : { [k]: data[k] }; },
    async set(o) { Object.assign(data, o); } };
}
class Rejected extends Error { constructor(m, code) { super(m); this.code = code; } }
async function run(local, session) {
  const api = { storage: { local: area(local), session: area(session) } };
  const s = storageSchema(api);
  await s.ready();
  let refused = null;
  try { await s.writable("local", Rejected); } catch (e) { refused = { code: e.code, message: e.message }; }
  return { report: s.report, local: api.storage.local.data, session: api.storage.session.data, refused };
}
const out = {
  schema: STORAGE_SCHEMA,
  old: await run({ sites: ["https://a.example"], later: 1 }, { marker: "m", "tok.x": {} }),
  current: await run({ schema: STORAGE_SCHEMA, sites: [] }, {}),
  newer: await run({ schema: STORAGE_SCHEMA + 1, sites: ["https://b.example"], shape: "new" }, {}),
};
console.log(JSON.stringify(out));
