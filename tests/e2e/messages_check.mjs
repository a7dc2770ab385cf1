// Checks extension/common/messages.js in Node (no browser): declarations, validators, sender
// classification, content-result filtering. Run by tests/e2e/test_messages.py via `node --test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { M } from "./load_messages.mjs";

const ID = "abcdefghijklmnopabcdefghijklmnop";
const api = { runtime: { id: ID, getURL: (p) => `chrome-extension://${ID}/${p}` } };
const ext = (p) => `chrome-extension://${ID}/${p}`;

test("sender classification", () => {
  assert.equal(M.classifySender(api, { id: ID, url: ext("ui/popup.html") }), "page:popup");
  assert.equal(M.classifySender(api, { id: ID, url: ext("ui/options.html#x") }), "page:options");
  assert.equal(M.classifySender(api, { id: ID, url: ext("frames/viewer.html?t=1") }), "frame:viewer");
  assert.equal(M.classifySender(api, { id: ID, url: ext("engine/offscreen.html") }), "engine");
  assert.equal(M.classifySender(api, { id: ID, url: ext("background/router_sw.js") }, ["background/router_sw.js"]), "router");
  assert.equal(M.classifySender(api, { id: ID, url: "https://forum.example/t/1", tab: { id: 3 } }), "content");
  // Other extensions, unknown extension pages, tab-less web senders: unknown.
  assert.equal(M.classifySender(api, { id: "other", url: ext("ui/popup.html") }), null);
  assert.equal(M.classifySender(api, { id: ID, url: ext("vendor/purify.mjs") }), null);
  assert.equal(M.classifySender(api, { id: ID, url: "https://forum.example/" }), null);
  assert.equal(M.classifySender(api, { id: ID, url: "file:///etc/passwd", tab: { id: 1 } }), null);
  assert.equal(M.classifySender(api, null), null);
});

test("undeclared, malformed and disallowed messages are rejected with a clear error", () => {
  const rej = (msg, ctx, re, opts) => assert.throws(() => M.check(msg, ctx, opts), (e) => e instanceof M.Rejected && re.test(e.message));
  rej({ type: "nope.nope", payload: {} }, "page:options", /undeclared message type/);
  rej(null, "page:options", /malformed/);
  rej({ payload: {} }, "page:options", /malformed/);
  rej({ type: "engine.status" }, null, /unknown sender/);
  rej({ type: "identity.reset", payload: { confirm: "RESET" } }, "content", /may not be sent from content/);
  rej({ type: "identity.reset", payload: { confirm: "RESET" } }, "page:popup", /may not be sent from page:popup/);
  rej({ type: "identity.reset", payload: { confirm: "yes" } }, "page:options", /payload.confirm must be "RESET"/);
  rej({ type: "identity.create", payload: { passphrase: "short" } }, "page:options", /at least 15/);
  rej({ type: "identity.create", payload: { passphrase: "x".repeat(20), extra: 1 } }, "page:options", /payload.extra is not allowed/);
  rej({ type: "identity.unlock", payload: { passphrase: 5 } }, "page:popup", /must be a string/);
  rej({ type: "settings.set", payload: { auto_lock_seconds: 1.5 } }, "page:options", /integer/);
  rej({ type: "site.enable", payload: { origin: "javascript:alert(1)" } }, "page:popup", /invalid format/);
  rej({ type: "engine.tick", payload: {} }, "page:options", /may not be sent/);
  rej({ type: "test.drop_engine", payload: {} }, "page:options", /only available in test builds/);
  rej({ type: "toString", payload: {} }, "page:options", /undeclared/);
  rej({ type: "__proto__", payload: {} }, "page:options", /undeclared/);
});

test("valid messages pass", () => {
  assert.equal(M.check({ type: "engine.status", payload: {} }, "content").to, "engine");
  assert.equal(M.check({ type: "engine.status" }, "frame:viewer").to, "engine");
  assert.equal(M.check({ type: "identity.unlock", payload: { passphrase: "p" } }, "page:popup").to, "engine");
  assert.equal(M.check({ type: "site.enable", payload: { origin: "http://127.0.0.1:8080" } }, "page:popup").to, "router");
  assert.equal(M.check({ type: "test.drop_engine", payload: {} }, "page:options", { testHooks: true }).to, "router");
  assert.equal(M.check({ type: "engine.tick", payload: {} }, "router").to, "engine");
});

test("content scripts only get allow-listed result fields", () => {
  const decl = M.TYPES["engine.status"];
  assert.deepEqual(M.forContent(decl, { has_identity: true, unlocked: false, fingerprint: "ab", failures: 2 }),
    { has_identity: true, unlocked: false });
  assert.deepEqual(M.forContent(M.TYPES["identity.unlock"], { unlocked: true, fingerprint: "x" }), {});
  // Every type a content script may send declares its allow-list, and no type can reach content
  // with a field that looks secret.
  for (const [type, d] of Object.entries(M.TYPES)) {
    if (d.from.includes("content")) {
      assert.ok(Array.isArray(d.contentResult), `${type} needs contentResult`);
      for (const f of d.contentResult) assert.ok(!/passphrase|private|paper|packed|post|plain/.test(f), `${type}.${f}`);
    }
    assert.ok(["router", "engine"].includes(d.to), `${type}.to`);
    assert.equal(typeof d.payload, "function", `${type}.payload`);
  }
});
