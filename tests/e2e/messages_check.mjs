// Checks extension/common/messages.js in Node (no browser): declarations, validators, sender
// classification, content-result filtering, the router -> content and router -> engine hops,
// describe(). Run by tests/e2e/test_messages.py via `node --test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { M, C } from "./load_messages.mjs";

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
  rej({ type: "test.notify_poll", payload: {} }, "page:options", /only available in test builds/);
  rej({ type: "notify.set", payload: { enabled: true } }, "content", /may not be sent/);
  rej({ type: "notify.set", payload: { enabled: true } }, "frame:viewer", /may not be sent/);
  rej({ type: "notify.set", payload: { enabled: "yes" } }, "page:options", /boolean/);
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
  assert.equal(M.check({ type: "notify.set", payload: { enabled: true } }, "page:options").to, "router");
  // the router opens a first post for a notification's title
  assert.equal(M.check({ type: "conv.open", payload: { origin: "http://127.0.0.1:8080", topic_id: 3, raw: "x", me: "alice",
    author: { username: "bob" } } }, "router").to, "engine");
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
    assert.ok(["router", "engine", "content"].includes(d.to), `${type}.to`);
    assert.equal(typeof d.payload, "function", `${type}.payload`);
  }
});

const rej = (fn, re) => assert.throws(fn, (e) => e instanceof M.Rejected && re.test(e.message));
const TOKEN = "abcdefghijklmnopqrstuvwx";

test("the router's messages to the content script are declared, and only the router may send them", () => {
  const toContent = Object.entries(M.TYPES).filter(([, d]) => d.to === "content").map(([t]) => t).sort();
  assert.deepEqual(toContent, ["content.close_frame", "content.forum", "content.open_composer", "content.resize_frame"]);
  for (const t of toContent) assert.deepEqual(M.TYPES[t].from, ["router"], t);
  // How a content script sees the router: the Chromium service worker or the Firefox background
  // page, without a tab. The same URL from inside a tab, or a frame's URL, is not the router.
  assert.equal(M.classifySender(api, { id: ID, url: ext("background/router_sw.js") }), "router");
  assert.equal(M.classifySender(api, { id: ID, url: ext("_generated_background_page.html") }), "router");
  assert.equal(M.classifySender(api, { id: ID, url: ext("background/router_sw.js"), tab: { id: 2 } }), null);
  assert.equal(M.classifySender(api, { id: ID, url: ext("engine/offscreen.html"), tab: { id: 2 } }), null);
  assert.equal(M.classifySender(api, { id: ID, url: ext("frames/viewer.html"), tab: { id: 2 } }), "frame:viewer");
  assert.equal(M.classifySender(api, { id: "other", url: ext("background/router_sw.js") }), null);
  const atContent = (msg, ctx) => M.check(msg, ctx, { to: "content" });
  assert.equal(atContent({ type: "content.resize_frame", payload: { token: TOKEN, height: 300 } }, "router").to, "content");
  assert.equal(atContent({ type: "content.close_frame", payload: { token: TOKEN, topic_id: null } }, "router").to, "content");
  assert.equal(atContent({ type: "content.forum", payload: { op: "topic", args: { topic_id: 3, post_id: 9 } } }, "router").to, "content");
  rej(() => atContent({ type: "content.resize_frame", payload: { token: TOKEN, height: 300 } }, "frame:viewer"), /may not be sent from frame:viewer/);
  rej(() => atContent({ type: "content.forum", payload: { op: "topic", args: { topic_id: 3 } } }, null), /unknown sender/);
  rej(() => atContent({ type: "content.resize_frame", payload: { token: TOKEN, height: "300px" } }, "router"), /integer/);
  rej(() => atContent({ type: "content.forum", payload: { op: "eval", args: {} } }, "router"), /op must be one of/);
  // Forum requests to the tab carry no routing fields, and only ciphertext may be posted.
  rej(() => atContent({ type: "content.forum", payload: { op: "me", args: {}, token: TOKEN } }, "router"), /token is not allowed/);
  rej(() => atContent({ type: "content.forum", payload: { op: "reply", args: { topic_id: 3, raw: "plain text, ".repeat(5) } } }, "router"), /invalid format/);
  // A receiver refuses the types other contexts handle.
  rej(() => atContent({ type: "engine.tick", payload: {} }, "router"), /not handled here/);
  rej(() => M.check({ type: "content.forum", payload: { op: "me", args: {} } }, "router", { to: ["router", "engine"] }), /not handled here/);
});

test("the router -> engine hop: built and checked in messages.js", () => {
  const req = M.engineRequest("identity.unlock", { passphrase: "p" }, { sender: "page:popup", marker: "m".repeat(32) });
  assert.deepEqual(req, { target: "engine", type: "identity.unlock", payload: { passphrase: "p" },
    context: { sender: "page:popup", marker: "m".repeat(32) } });
  assert.ok(M.isEngineRequest(req) && !M.isEngineRequest({ type: "identity.unlock" }));
  rej(() => M.engineRequest("site.enable", { origin: "http://127.0.0.1" }, {}), /not an engine request/);
  rej(() => M.engineRequest("content.forum", {}, {}), /not an engine request/);
  const router = { id: ID, url: ext("background/router_sw.js") };
  assert.equal(M.checkEngineRequest(api, req, router).to, "engine");
  assert.equal(M.checkEngineRequest(api, M.engineRequest("engine.tick", {}, { sender: "router", marker: "x" }), router).to, "engine");
  // Only the router may send, whatever the message says.
  for (const sender of [{ id: ID, url: ext("ui/options.html") }, { id: ID, url: ext("frames/viewer.html"), tab: { id: 1 } },
    { id: ID, url: "https://forum.example/t/1", tab: { id: 1 } }, { id: ID, url: ext("engine/offscreen.html") },
    { id: "other", url: ext("background/router_sw.js") }]) {
    rej(() => M.checkEngineRequest(api, req, sender), /from the router only/);
  }
  // Engine-bound declared types only, with a valid context, valid for the sender it names.
  rej(() => M.checkEngineRequest(api, { ...req, target: "router" }, router), /not an engine request/);
  rej(() => M.checkEngineRequest(api, { ...req, type: "site.enable", payload: { origin: "http://127.0.0.1" } }, router), /not handled here/);
  rej(() => M.checkEngineRequest(api, { ...req, type: "nope.nope" }, router), /undeclared/);
  rej(() => M.checkEngineRequest(api, { ...req, context: undefined }, router), /context must be an object/);
  rej(() => M.checkEngineRequest(api, { ...req, context: { sender: "page:popup" } }, router), /context.marker/);
  rej(() => M.checkEngineRequest(api, { ...req, context: { sender: "content", marker: "x" } }, router), /may not be sent from content/);
  rej(() => M.checkEngineRequest(api, { ...req, payload: { passphrase: 5 } }, router), /must be a string/);
  const info = M.engineRequest("test.engine_info", {}, { sender: "page:options", marker: "x" });
  rej(() => M.checkEngineRequest(api, info, router), /only available in test builds/);
  assert.equal(M.checkEngineRequest(api, info, router, { testHooks: true }).to, "engine");
});

test("describe() lists every type with its senders, handler and payload fields", () => {
  const d = M.describe();
  assert.deepEqual(Object.keys(d).sort(), Object.keys(M.TYPES).sort());
  assert.deepEqual(d["identity.import"], { from: ["page:options"], to: "engine",
    fields: ["text", "passphrase", "new_passphrase"], test: false });
  assert.deepEqual(d["identity.replace"], { from: ["page:options", "page:inbox"], to: "engine", fields: ["passphrase", "confirm"], test: false });
  // A quote of a decrypted post (plaintext) comes from a viewer frame only; the content script
  // gets the quote's id, never its text.
  assert.deepEqual(d["frame.quote"], { from: ["frame:viewer"], to: "router", fields: ["token", "text", "author"], test: false });
  assert.deepEqual(d["content.open_composer"].fields, ["topic_id", "quote_id"]);
  assert.deepEqual(d["content.resize_frame"], { from: ["router"], to: "content", fields: ["token", "height"], test: false });
  assert.equal(d["forum.request"].fields, null);   // its shape depends on the operation
  assert.equal(d["content.forum"].fields, null);
  assert.deepEqual(d["test.engine_info"], { from: ["page:*"], to: "engine", fields: [], test: true });
  assert.ok(d["conv.open"].fields.includes("allowed_users"));
  // A copy: changing it changes nothing.
  d["identity.reset"].from.push("content");
  assert.deepEqual(M.describe()["identity.reset"].from, ["page:options"]);
});

test("new declarations: identity.replace, conv.open's allowed users", () => {
  const ok = (type, payload, ctx) => M.check({ type, payload }, ctx);
  assert.equal(ok("identity.replace", { passphrase: "current one", confirm: "REPLACE" }, "page:options").to, "engine");
  rej(() => ok("identity.replace", { passphrase: "current one", confirm: "RESET" }, "page:options"), /must be "REPLACE"/);
  rej(() => ok("identity.replace", { passphrase: "current one", confirm: "REPLACE" }, "page:popup"), /may not be sent/);
  rej(() => ok("identity.replace", { confirm: "REPLACE" }, "page:options"), /passphrase must be a string/);
  const open = { origin: "http://127.0.0.1:8080", topic_id: 4, raw: "x", me: "bob", author: { username: "alice", bio_raw: null } };
  ok("conv.open", open, "frame:viewer");
  ok("conv.open", { ...open, allowed_users: ["alice", "bob", "mallory"] }, "frame:viewer");
  rej(() => ok("conv.open", { ...open, allowed_users: ["bad name"] }, "frame:viewer"), /allowed_users\[0\] has an invalid format/);
  rej(() => ok("conv.open", { ...open, allowed_users: Array(1001).fill("bob") }, "page:inbox"), /more than 1000/);
  rej(() => ok("conv.open", { ...open, allowed_users: "alice,bob" }, "page:inbox"), /must be an array/);
});

test("shared facts come from pycore's constants (common/constants.js)", () => {
  assert.equal(typeof C.USERNAME_PATTERN, "string");
  assert.ok(M.patterns.username.test("alice_b.c-d") && !M.patterns.username.test("al ice") && !M.patterns.username.test("x".repeat(61)));
  assert.ok(!M.patterns.username.test("jos\u00e9"));   // ASCII, like pycore
  assert.ok(M.patterns.usernameList.test("bob,carol") && !M.patterns.usernameList.test("bob,"));
  const armour = (b, e) => `${b}\n${"A".repeat(40)}\n${e}`;
  assert.ok(M.patterns.message.test(armour(C.MSG_BEGIN, C.MSG_END)) && !M.patterns.message.test(armour(C.BACKUP_BEGIN, C.BACKUP_END)));
  assert.ok(M.patterns.backup.test(armour(C.BACKUP_BEGIN, C.BACKUP_END)));
  const pass = (n) => M.check({ type: "identity.create", payload: { passphrase: "p".repeat(n) } }, "page:options");
  pass(C.MIN_PASSPHRASE_LENGTH);
  rej(() => pass(C.MIN_PASSPHRASE_LENGTH - 1), new RegExp(`at least ${C.MIN_PASSPHRASE_LENGTH}`));
  const bio = (n) => M.check({ type: "forum.request", payload: { op: "put_bio", args: { bio_raw: "b".repeat(n) }, origin: "http://127.0.0.1" } }, "page:inbox");
  bio(C.BIO_LIMIT);
  rej(() => bio(C.BIO_LIMIT + 1), /at most/);
});
