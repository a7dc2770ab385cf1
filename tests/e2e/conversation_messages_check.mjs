// Checks the conversation declarations of extension/common/messages.js in Node (no browser): what
// the content script may send and receive, and that forum requests can only carry ciphertext.
// Run by tests/e2e/test_messages.py via `node --test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { M, C } from "./load_messages.mjs";

const ARMOUR = `End-to-end encrypted message.\n\n\`\`\`text\n${C.MSG_BEGIN}\n${"ÀÁÂ".repeat(30)}\n${C.MSG_END}\n\`\`\`\n`;
const BACKUP = `\`\`\`text\n${C.BACKUP_BEGIN}\n${"xyz".repeat(30)}\n${C.BACKUP_END}\n\`\`\``;
const TOKEN = "abcdefghijklmnopqrstuvwx";
const ORIGIN = "http://127.0.0.1:8080";
const ok = (type, payload, ctx) => M.check({ type, payload }, ctx);
const rejected = (type, payload, ctx, re) => assert.throws(() => M.check({ type, payload }, ctx), (e) => {
  assert.ok(e instanceof M.Rejected, String(e));
  if (re) assert.match(e.message, re);
  return true;
});

test("the content script may only register frames, open the inbox and have posts read ahead; it receives no plaintext fields", () => {
  const fromContent = Object.entries(M.TYPES).filter(([, d]) => d.from.includes("content")).map(([t]) => t).sort();
  assert.deepEqual(fromContent.filter((t) => /^(frame|forum|ui|keys|conv|drafts|backup)\./.test(t)),
    ["conv.prepare", "frame.register", "ui.open_inbox"]);
  assert.deepEqual(M.TYPES["frame.register"].contentResult, ["registered"]);
  assert.deepEqual(M.TYPES["ui.open_inbox"].contentResult, ["opened"]);
  // reading ahead: ciphertext in, counts out
  assert.deepEqual(M.TYPES["conv.prepare"].contentResult, ["read", "decrypted"]);
  assert.deepEqual(M.forContent(M.TYPES["conv.prepare"], { read: 2, decrypted: 1, posts: [{ body: "secret" }] }),
    { read: 2, decrypted: 1 });
  ok("conv.prepare", { topic_id: 3, posts: [{ post_id: 7, raw: "x", username: "bob" }] }, "content");
  rejected("conv.prepare", { topic_id: 3, posts: [] }, "frame:viewer");
  for (const t of ["conv.open", "conv.read", "conv.start", "conv.reply", "keys.acknowledge", "keys.mark_verified",
    "drafts.load", "drafts.save", "backup.make", "backup.restore", "forum.request", "frame.get", "conv.list"]) {
    rejected(t, {}, "content", /may not be sent from content/);
  }
  ok("frame.register", { token: TOKEN, kind: "viewer", me: "alice", topic_id: 3, post_id: 7 }, "content");
  rejected("frame.register", { token: "short", kind: "viewer", me: "alice" }, "content");
  rejected("frame.register", { token: TOKEN, kind: "options", me: "alice" }, "content");
  rejected("frame.register", { token: TOKEN, kind: "viewer", me: "alice", plaintext: "x" }, "content", /not allowed/);
});

test("only the composer encrypts and sends; user decisions come from extension frames/pages only", () => {
  ok("conv.start", { origin: ORIGIN, me: "alice", recipients: [{ username: "bob", bio_raw: "x" }], title: "t", body: "b" }, "frame:composer");
  rejected("conv.start", { origin: ORIGIN, me: "alice", recipients: [], title: "t", body: "b" }, "frame:viewer");
  rejected("conv.reply", { origin: ORIGIN, topic_id: 1, me: "alice", body: "b" }, "page:inbox");
  const CID = "c".repeat(32);
  ok("conv.edit", { origin: ORIGIN, topic_id: 1, conversation_id: CID, me: "alice", raw: ARMOUR, body: "b" }, "frame:composer");
  rejected("conv.edit", { origin: ORIGIN, topic_id: 1, conversation_id: CID, me: "alice", raw: ARMOUR, body: "b" }, "frame:viewer");
  rejected("conv.edit", { origin: ORIGIN, topic_id: 1, conversation_id: CID, me: "alice", raw: ARMOUR, body: "b" }, "content");
  ok("keys.acknowledge", { origin: ORIGIN, username: "bob", fingerprint: "a".repeat(64) }, "frame:composer");
  rejected("keys.acknowledge", { origin: ORIGIN, username: "bob", fingerprint: "A".repeat(64) }, "frame:composer");
  ok("frame.resize", { token: TOKEN, height: 120 }, "frame:viewer");
  rejected("frame.resize", { token: TOKEN, height: "120px" }, "frame:viewer");
  rejected("frame.resize", { token: TOKEN, height: 120, text: "hi" }, "frame:viewer");
  rejected("frame.close", { token: TOKEN }, "frame:viewer");
});

test("forum requests carry ciphertext and public data only", () => {
  const fr = (op, args, extra = { token: TOKEN }) => ({ op, args, ...extra });
  ok("forum.request", fr("create_pm", { title: C.PLACEHOLDER_TITLE, raw: ARMOUR, target_recipients: "bob,carol" }), "frame:composer");
  ok("forum.request", fr("reply", { topic_id: 4, raw: ARMOUR }), "frame:composer");
  ok("forum.request", fr("create_backup", { title: C.BACKUP_TITLE, raw: BACKUP }, { origin: ORIGIN }), "page:inbox");
  ok("forum.request", fr("topic", { topic_id: 4 }), "frame:viewer");
  // Plaintext bodies, real titles and unknown operations are refused before reaching the page.
  rejected("forum.request", fr("create_pm", { title: "Our real title", raw: ARMOUR, target_recipients: "bob" }), "frame:composer");
  rejected("forum.request", fr("create_pm", { title: C.PLACEHOLDER_TITLE, raw: "hello bob, plaintext", target_recipients: "bob" }), "frame:composer");
  rejected("forum.request", fr("reply", { topic_id: 4, raw: "plaintext reply" }), "frame:composer");
  ok("forum.request", fr("edit_post", { post_id: 9, raw: ARMOUR, original_raw: ARMOUR }), "frame:composer");
  rejected("forum.request", fr("edit_post", { post_id: 9, raw: "my plaintext edit, long enough to look real", original_raw: ARMOUR }), "frame:composer", /invalid format/);
  rejected("forum.request", fr("edit_post", { post_id: 9, raw: ARMOUR }), "frame:composer", /original_raw/);
  rejected("forum.request", fr("create_backup", { title: C.BACKUP_TITLE, raw: ARMOUR }, { origin: ORIGIN }), "page:inbox");
  rejected("forum.request", fr("create_pm", { title: C.PLACEHOLDER_TITLE, raw: ARMOUR, target_recipients: "bob", title2: "x" }), "frame:composer");
  rejected("forum.request", fr("eval", {}), "frame:composer", /op must be one of/);
  rejected("forum.request", fr("put_bio", { bio_raw: "x".repeat(3001) }, { origin: ORIGIN }), "page:inbox");
  rejected("forum.request", fr("topic", { topic_id: 4 }), "content");
});

test("a topic request may name the post the viewer needs; the content script's frames carry public data only", () => {
  ok("forum.request", { op: "topic", args: { topic_id: 4, post_id: 12 }, token: TOKEN }, "frame:viewer");
  rejected("forum.request", { op: "topic", args: { topic_id: 4, post_id: "12" }, token: TOKEN }, "frame:viewer", /integer/);
  ok("frame.register", { token: TOKEN, kind: "composer", me: "alice", mode: "new", to: "bob" }, "content");
  ok("frame.register", { token: TOKEN, kind: "composer", me: "alice", mode: "new", to: "" }, "content");
  ok("frame.register", { token: TOKEN, kind: "composer", me: "alice", mode: "edit", topic_id: 4, post_id: 12 }, "content");
  rejected("frame.register", { token: TOKEN, kind: "composer", me: "alice", mode: "reply", note: "edit" }, "content", /not allowed/);
  rejected("frame.register", { token: TOKEN, kind: "composer", me: "alice", mode: "new", to: "bob carol" }, "content", /invalid format/);
});
