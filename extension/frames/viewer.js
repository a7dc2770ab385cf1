// The viewer frame: decrypts one encrypted post (asked for by the content script with a token)
// and shows it, with the sender and the verification state. Plaintext exists only here.
import { $, api, C, el, send, forum, fixedHeight, TOKEN, patterns, t, themeStyle, useForumTheme } from "./frame.js";
import { attachedImagesHtml, renderMarkdown, showInSandbox } from "./render.js";
import { INLINE_TYPES, fromBase64, humanSize, openAttachment } from "./attachments.js";
import { membersWithoutKey, openConversation } from "../common/conversation.js";
import { showSecurityPhrase } from "./guard.js";
import { withRetry } from "../common/retry.js";
import { userText } from "../common/user_text.js";

const STATUS_TEXT = {
  valid: ["ok", t("viewer_valid")],
  invalid_signature: ["bad", t("viewer_invalid_signature")],
  wrong_conversation: ["bad", t("viewer_wrong_conversation")],
  wrong_author: ["bad", t("viewer_wrong_author")],
  unsigned: ["bad", t("viewer_unsigned")],
  unverified: ["warn", t("viewer_unverified")],
  key_not_accepted: ["warn", t("viewer_key_not_accepted")],
  cannot_decrypt: ["bad", t("viewer_cannot_decrypt")],
  duplicate: ["bad", t("viewer_duplicate")],
  key_not_given: ["warn", t("viewer_key_not_given")],
  rekey_conflict: ["bad", t("viewer_rekey_conflict")],
  malformed: ["bad", t("viewer_malformed")],
  locked: ["info", t("viewer_locked")],
  no_identity: ["info", t("viewer_no_identity")],
  backup: ["info", C.BACKUP_TITLE],   // the title the forum shows for it
  key_exchange: ["info", t("viewer_key_exchange")],
  error: ["bad", t("viewer_error")],
};
const KEY_TEXT = {
  verified: ["ok", t("inbox_key_verified")], first_seen: ["info", t("viewer_key_first_seen")],
  key_changed: ["bad", t("key_changed_badge")], own: ["ok", t("viewer_key_own")], no_key: ["warn", t("viewer_key_none")],
  bad_key: ["bad", t("inbox_key_damaged")],
};

let bundle = null;
let shown = false;        // decrypted content currently on screen
let busy = false;
const allowedImages = new Set();
// The frame's height depends only on the size of the ciphertext (which the page sees anyway),
// never on the plaintext: longer messages scroll inside the frame.
const sized = fixedHeight(C.VIEWER_HEIGHTS[0][1]);
const report = () => {};
function sizeFor(raw) {
  sized.set(C.VIEWER_HEIGHTS.find(([upTo]) => upTo === null || (raw || "").length <= upTo)[1]);
}

function showConversation(title) {
  $("#conversation-title").textContent = title ? t("viewer_in_conversation", [title]) : "";
}

// What a post's state means, in the user's words (the badge's text).
function statusText(state) {
  return (STATUS_TEXT[state] || STATUS_TEXT.error)[1];
}

function setState(state, detail = "") {
  document.body.dataset.state = state;
  // When the decrypted post was first shown (epoch ms; the benchmark reads it, a time only).
  if (state === "valid" && !document.body.dataset.shownAt) {
    document.body.dataset.shownAt = String(performance.timeOrigin + performance.now());
  }
  const [kind, text] = STATUS_TEXT[state] || ["info", state];
  const b = $("#status-badge");
  b.className = "badge " + kind;
  b.textContent = text;
  // The engine's detail is written for developers: kept for diagnosis, never shown.
  if (detail) b.dataset.detail = detail;
  $("#open-unlock").hidden = state !== "locked";
}

// Saved attachments are blob: URLs of this frame; a lock or redraw revokes them.
const fileUrls = [];
function wipe() {
  while (fileUrls.length) URL.revokeObjectURL(fileUrls.pop());
  $("#content").replaceChildren();
  $("#conversation-title").textContent = "";
  $("#warnings").replaceChildren();
  for (const n of [...$("#head").children]) if (n.id !== "status-badge") n.remove();
  shown = false;
  delete document.body.dataset.key;
}

function notice(text, kind = "") {
  const box = el("div", { class: "notice " + kind, text });
  $("#content").replaceChildren(box);
  return box;
}

const bios = new Map();
async function bio(username) {
  if (!bios.has(username)) bios.set(username, forum("user", { username }).then((u) => u.bio_raw, () => null));
  return bios.get(username);
}

let myFingerprint = null;
async function keyState(username) {
  try {
    const k = await send("keys.check", { origin: bundle.origin, username, bio_raw: await bio(username) });
    if (username.toLowerCase() === bundle.me.toLowerCase() && k.fingerprint) {
      if (!myFingerprint) myFingerprint = (await send("identity.public")).fingerprint;
      // My own post: the key published under my name must be mine.
      return { ...k, status: k.fingerprint === myFingerprint ? "own" : "key_changed" };
    }
    return k;
  } catch (e) { return { status: "no_key", username }; }
}

function open(topic) {
  return openConversation({ send, bio, origin: bundle.origin, me: bundle.me, topic });
}

// An edited post: "edited" and when, and its earlier versions (signed with the post, so they are
// the author's words, not the forum's revision list), oldest first, as plain text.
function editedNote({ edited_at: editedAt, history = [], history_omitted: omitted = 0 }) {
  if (!editedAt) return null;
  const versions = history.map((h, i) => el("div", { class: "version", "data-version": String(omitted + i + 1) }, [
    el("div", { class: "muted", text: t("viewer_version", [String(omitted + i + 1), new Date(h.at).toLocaleString()]) }),
    el("div", { class: "version-text", text: h.raw }),
  ]));
  if (omitted) versions.unshift(el("div", { class: "muted", text: t("viewer_versions_omitted", [String(omitted)]) }));
  const box = el("details", { class: "edited", id: "edited", "data-versions": String(omitted + history.length) }, [
    el("summary", { text: t("viewer_edited", [new Date(editedAt).toLocaleString()]) }), ...versions]);
  box.addEventListener("toggle", () => report());
  return box;
}

function header({ author, created_at, keyInfo, extra, edited }) {
  const head = $("#head");
  for (const n of [...head.children]) if (n.id !== "status-badge") n.remove();
  head.append(el("span", { class: "author", text: t("viewer_from", [author || "?"]) }));
  if (keyInfo) {
    const [kind, text] = KEY_TEXT[keyInfo.status] || ["info", keyInfo.status];
    document.body.dataset.key = keyInfo.status;
    head.append(el("span", { class: "badge key " + kind, text: t("viewer_key_badge", [text]),
      title: keyInfo.digits ? t("viewer_fingerprint_title", [keyInfo.digits]) : "" }));
  }
  if (created_at) head.append(el("span", { class: "time", text: new Date(created_at).toLocaleString() }));
  if (extra) head.append(extra);
  const note = edited && editedNote(edited);
  if (note) head.append(note);
}

// Participants of the topic who cannot read it: the forum added them without giving them the key.
// Participants who cannot read: members of a group the conversation was sent to who had no key
// then, and anyone else the server added without a key.
function showWithoutKey(names, groups = []) {
  const box = $("#warnings");
  box.replaceChildren();
  if (!names.length) return;
  const groupOf = (n) => groups.find((g) => g.members.some((m) => m.toLowerCase() === n.toLowerCase()));
  const viaGroup = names.filter(groupOf);
  const added = names.filter((n) => !groupOf(n));
  if (viaGroup.length) {
    box.append(el("div", { class: "notice", id: "group-without-key", "data-users": viaGroup.join(","),
      text: t("viewer_group_without_key", [viaGroup.map((n) => t("viewer_member_of_group", [n, groupOf(n).name])).join(", ")]) }));
  }
  if (added.length) {
    box.append(el("div", { class: "notice warn", id: "without-key", "data-users": added.join(","),
      text: t("viewer_added_without_key", [added.join(", ")]) }));
  }
  report();
}

// Participants who hold the conversation's newest key but whom the forum no longer lists in the
// PM (removed with Discourse's own button, which changes no key): a forum that keeps serving
// them the topic lets them read what is written next, until the key is changed. Not judged when
// a group's members are hidden from me (they would all look removed).
function showStillKeyed(opened, topic) {
  const groups = topic.groups || [];
  if (groups.some((g) => !g.members.length)) return;
  const listed = new Set((topic.participants || []).map((n) => n.toLowerCase()));
  const names = (opened.members || []).filter((n) => !listed.has(n.toLowerCase()));
  if (!names.length) return;
  $("#warnings").append(el("div", { class: "notice warn", id: "still-keyed", "data-users": names.join(","),
    text: t("viewer_still_keyed", [names.join(", "), t("page_remove_participant")]) }));
}

// A post written with the conversation's earlier key after a key change: those the change
// removed hold that key, so they may read it.
function showSuperseded(s) {
  const box = $("#warnings");
  box.querySelector("#superseded")?.remove();
  if (!s) return;
  box.append(el("div", { class: "notice warn", id: "superseded", "data-removed": s.removed.join(","),
    text: t("viewer_superseded", [s.by, s.removed.join(", ")]) }));
}

async function showBody(title, text, author, files = []) {
  const box = $("#content");
  box.replaceChildren();
  if (title) box.append(el("div", { class: "title", id: "title", text: title }));
  const frame = el("iframe", { class: "body", title: t("viewer_body_title") });
  const quote = el("button", { id: "quote-btn", type: "button", hidden: true, text: t("viewer_quote") });
  box.append(frame, quote);
  const images = [];   // decrypted image attachments, drawn after the text
  const draw = () => showInSandbox(frame, renderMarkdown(text, allowedImages) + attachedImagesHtml(images), allowedImages, {
    onLoadImage: (src) => {
      try { allowedImages.add(new URL(src).origin); } catch (_) { return; }
      draw().then(() => { offerQuote(frame, quote); report(); });
    },
    onLink: (href) => { window.open(href, "_blank", "noopener,noreferrer"); },
    themeStyle: themeStyle(),
  });
  await draw();
  offerQuote(frame, quote);
  quote.addEventListener("click", async (ev) => {
    if (!ev.isTrusted) return;
    const selected = selectionIn(frame).slice(0, C.MAX_QUOTE_CHARS);
    if (!selected) return;
    try {
      await send("frame.quote", { token: TOKEN, text: selected, author });
      quote.hidden = true;
      report();
    } catch (e) { notice(userText(e), "bad"); }
  });
  if (files.length) {
    box.append(showFiles(files, async (image) => {
      images.push(image);
      await draw();
      offerQuote(frame, quote);
    }));
  }
  report();
}

// A post's attachments: images are opened at once and drawn in the sandbox (onImage); other
// files are opened when asked, then saved under their real name. A carrier the forum changed or
// swapped fails the engine's checks: the file shows as invalid, never as another file.
function showFiles(files, onImage) {
  const list = el("div", { id: "files", class: "files" }, [el("strong", { text: t("viewer_files") })]);
  for (const file of files) {
    const row = el("div", { class: "file", "data-name": file.name });
    list.append(row);
    const fail = (e) => {
      // the engine's refusal of the carriers: the forum changed or swapped them; anything else
      // (offline, the forum refused the download) may pass
      const damaged = e.code === "malformed_input" || e.code === "authentication_failed";
      row.dataset.state = damaged ? "invalid" : "failed";
      row.dataset.code = String(e.code || "");   // for diagnosis
      row.replaceChildren(el("div", { class: "notice bad",
        text: t(damaged ? "viewer_file_invalid" : "viewer_file_failed", [file.name, userText(e)]) }));
    };
    const saveLink = (data) => {
      // a download, whatever the type: the file is never opened as a page of this extension
      const url = URL.createObjectURL(new Blob([fromBase64(data)], { type: "application/octet-stream" }));
      fileUrls.push(url);
      return el("a", { class: "save", href: url, download: file.name, text: t("viewer_file_save", [file.name, humanSize(file.size)]) });
    };
    const opening = () => {
      row.dataset.state = "opening";
      row.replaceChildren(el("span", { class: "muted", text: t("viewer_file_opening", [file.name]) }));
    };
    if (INLINE_TYPES.has(file.mime)) {
      opening();
      openAttachment(file).then(async (data) => {
        await onImage({ name: file.name, mime: file.mime, data });
        row.dataset.state = "shown";
        row.replaceChildren(saveLink(data));
      }, fail);
      continue;
    }
    row.dataset.state = "closed";
    row.append(el("button", { type: "button", class: "open", text: t("viewer_file_open", [file.name, humanSize(file.size)]),
      onclick: async (ev) => {
        if (!ev.isTrusted) return;
        opening();
        try {
          const data = await openAttachment(file);
          row.dataset.state = "ready";
          row.replaceChildren(saveLink(data));
        } catch (e) { fail(e); }
      } }));
  }
  return list;
}

// Quoting: text selected in the decrypted post goes from this frame to the router, which has the
// page open an encrypted reply with it; the forum page only learns that a composer opens.
function selectionIn(frame) {
  const d = frame.contentDocument;
  return d ? String(d.getSelection() || "").trim() : "";
}
function offerQuote(frame, button) {
  const d = frame.contentDocument;
  if (!d) return;
  d.addEventListener("selectionchange", () => {
    const on = !!selectionIn(frame);
    if (button.hidden === on) { button.hidden = !on; report(); }
  });
}

// The key backup (a PM to oneself): recognised from the post's raw; never opened here (no
// passphrase or paper key is asked for in the forum page), whatever the lock state.
async function showBackup(post) {
  wipe();
  header({ author: post.username, created_at: post.created_at });
  notice(t("viewer_backup", [C.BACKUP_TITLE, t("inbox_restore_heading")]));
  setState("backup");
}

// A key-exchange post (PROTOCOL §3.4): a user's public key, sent by PM because the forum keeps
// bios read-only. The key is pinned like a bio key (its poster is the forum's, as for posts), and
// the first time the other side's key arrives, mine is sent back in the same PM.
async function showKeyExchange(topic, post) {
  wipe();
  header({ author: post.username, created_at: post.created_at });
  if (post.username.toLowerCase() === bundle.me.toLowerCase()) {
    notice(t("viewer_own_key_exchange"));
    return setState("key_exchange");
  }
  const k = await send("keys.receive", { origin: bundle.origin, username: post.username, raw: post.raw });
  if (k.status === "key_changed") {
    notice(t("viewer_key_exchange_changed", [post.username, k.digits]), "bad");
    return setState("key_exchange");
  }
  if (k.status !== "first_seen" && k.status !== "verified") {
    notice(t("viewer_key_unreadable"), "bad");
    return setState("key_exchange");
  }
  let text = t("viewer_key_received", [post.username, k.digits]);
  const answered = topic.posts.some((p) => p.username.toLowerCase() === bundle.me.toLowerCase() && patterns.key.test(p.raw));
  if (!answered) {
    try {
      const mine = await send("keys.announce");
      await withRetry(() => forum("answer_key_exchange", { topic_id: bundle.topic_id, raw: mine.raw }), () => {});
      text = t("viewer_key_received_answered", [post.username, k.digits]);
    } catch (e) { text = t("viewer_key_received_not_answered", [post.username, k.digits, userText(e)]); }
  }
  notice(text);
  setState("key_exchange");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A reply or key share. The page view's read-ahead has usually verified it already: the engine
// answers from its read cache (only_cached). Otherwise this frame has it read, with the author's
// published key; before the conversation is opened on this device, it waits a little for the
// first post's viewer to open it, then opens it itself.
async function showReply(post, topic = null) {
  const ref = { post_id: post.post_id, raw: post.raw, username: post.username, created_at: post.created_at || null };
  const read = async (extra) => send("conv.read", { origin: bundle.origin, topic_id: bundle.topic_id, posts: [{ ...ref, ...extra }] });
  let r = null;
  try {
    r = await send("conv.read", { origin: bundle.origin, topic_id: bundle.topic_id, posts: [ref], only_cached: true });
  } catch (e) {
    if (e.code !== "conversation_unknown") throw e;
  }
  mark("Cached");
  if (!r || r.posts[0].status === "pending") {
    setState("loading");
    $("#status-badge").textContent = t("viewer_decrypting");
    const withBio = async () => read({ bio_raw: await bio(post.username) });
    for (const wait of [0, 400, 1000, 2000]) {
      if (wait) await sleep(wait);
      try { r = await withBio(); break; } catch (e) { if (e.code !== "conversation_unknown") throw e; }
    }
    if (!r) {
      await open(topic || await forum("topic", { topic_id: bundle.topic_id, post_id: bundle.post_id }));
      r = await withBio();
    }
  }
  const item = r.posts[0];
  if (item.post_id !== bundle.post_id) throw new Error("the engine answered for another post");
  showConversation(r.conversation && r.conversation.title);
  const keyInfo = authorKeyInfo(post.username, item.author_key);
  header({ author: item.author || post.username, created_at: item.created_at, keyInfo,
    edited: item.status === "valid" ? item : null });
  if (item.status !== "valid") { $("#content").replaceChildren(); notice(statusText(item.status), "bad"); return setState(item.status, item.detail); }
  if (item.kind === "key_share") {
    notice(t("viewer_key_share", [item.author, item.invitee, item.invitee_digits]));
  } else if (item.kind === "rekey") {
    const k = item.rekey;
    const box = notice(k.given ? t("viewer_rekey", [item.author, k.removed.join(", "), k.members.join(", ")])
      : t("viewer_rekey_removed_me", [item.author]), k.given ? "" : "warn");
    box.id = "rekey-notice";
    box.dataset.given = String(k.given);
  } else {
    await showBody(null, item.body, item.author || post.username, item.files || []);
  }
  showSuperseded(item.superseded);
  shown = true;
  return setState("valid");
}

// The header's key badge from the engine's author_key (as keyState, without a request).
function authorKeyInfo(username, k) {
  if (!k) return { status: "no_key", username };
  if (username.toLowerCase() === bundle.me.toLowerCase() && k.fingerprint) {
    return { ...k, status: k.own ? "own" : "key_changed" };
  }
  return k;
}

async function run() {
  if (busy) return;
  if (document.body.dataset.state === "backup" || document.body.dataset.state === "key_exchange") return;
  busy = true;
  try {
    if (!bundle.checked_backup) {
      bundle.checked_backup = true;
      const { post: p } = await forum("post", { topic_id: bundle.topic_id, post_id: bundle.post_id });
      mark("Post");
      if (p.post_id !== bundle.post_id) throw new Error("the forum answered for another post");
      bundle.post = p;
      if (patterns.backup.test(p.raw || "")) return await showBackup(p);
      if (patterns.key.test(p.raw || "") && !patterns.message.test(p.raw || "")) {
        sizeFor(p.raw);
        bundle.key_exchange = true;
        const st0 = await send("engine.status");
        if (!st0.has_identity) { wipe(); return setState("no_identity"); }
        return await showKeyExchange(await forum("topic", { topic_id: bundle.topic_id, post_id: bundle.post_id }), p);
      }
      // A reply: read ahead by the page view, most of the time (no status round trip first).
      if (patterns.message.test(p.raw || "") && p.post_number !== 1) {
        sizeFor(p.raw);
        return await showReply(p);
      }
    }
    const st = await send("engine.status");
    if (!st.has_identity) { wipe(); return setState("no_identity"); }
    if (!st.unlocked) { wipe(); return setState("locked"); }
    setState("loading");
    $("#status-badge").textContent = t("viewer_decrypting");
    const topic = await forum("topic", { topic_id: bundle.topic_id, post_id: bundle.post_id });
    const post = topic.posts.find((p) => p.post_id === bundle.post_id);
    if (!post) { wipe(); notice(t("viewer_post_gone"), "bad"); return setState("error"); }
    sizeFor(post.raw);
    if (post.post_number === 1) {
      const c = await open(topic);
      const keyInfo = await keyState(post.username);
      if (c.status !== "valid") { wipe(); header({ author: post.username, keyInfo }); notice(statusText(c.status), "bad"); return setState(c.status, c.detail); }
      const names = (c.participants || []).map((p) => Array.isArray(p) ? p[0] : p).join(", ");
      const groups = topic.groups || [];
      const to = groups.length ? t("viewer_to_through", [names, groups.map((g) => t("viewer_group", [g.name])).join(", ")])
        : t("viewer_to", [names]);
      header({ author: c.author || post.username, created_at: c.created_at, keyInfo,
        extra: el("span", { class: "participants", text: to }), edited: c });
      await showBody(c.title, c.body, c.author || post.username, c.files || []);
      showConversation(c.title);
      // When the topic's key shares cannot be read, name everyone the engine named.
      showWithoutKey(await membersWithoutKey({ send, bio, origin: bundle.origin, topic, opened: c })
        .catch(() => c.without_key || []), groups);
      showStillKeyed(c, topic);
      shown = true;
      return setState("valid");
    }
    return await showReply(post, topic);
  } catch (e) {
    wipe();
    if (e.code === "locked") {
      const st = await send("engine.status").catch(() => ({ has_identity: true }));
      return setState(st.has_identity ? "locked" : "no_identity");
    }
    const code = { not_a_participant: "cannot_decrypt", encrypted_to_old_key: "cannot_decrypt", wrong_key: "cannot_decrypt",
      authentication_failed: "cannot_decrypt",
      malformed_input: "malformed", unsupported_version: "malformed", signature_missing: "unsigned" }[e.code] || "error";
    notice(userText(e), "bad");
    setState(code, userText(e));
  } finally {
    busy = false;
    report();
  }
}

// Lock = nothing decrypted stays on screen; unlock = show again. The router records the lock
// state in storage.session on every lock/unlock/auto-lock: react to that at once, and check the
// engine itself every few seconds as well.
async function checkLock() {
  try {
    const st = await send("engine.status");
    const state = document.body.dataset.state;
    if (state === "backup" || state === "key_exchange") return;
    if (!st.unlocked && (shown || state !== "locked")) { wipe(); setState(st.has_identity ? "locked" : "no_identity"); }
    else if (st.unlocked && (state === "locked" || state === "no_identity")) await run();
  } catch (_) { /* extension reloading */ }
}
function watchLock() {
  const tick = async () => { await checkLock(); setTimeout(tick, 5000); };
  setTimeout(tick, 5000);
  api.storage.onChanged.addListener((changes, area) => {
    if (area !== "session" || !changes.unlocked) return;
    if (changes.unlocked.newValue === false && shown) { wipe(); setState("locked"); }
    checkLock();
  });
}

// Times of this frame's steps (epoch ms, for the benchmark; times only).
const mark = (name) => { document.body.dataset["t" + name] = String(Math.round(performance.timeOrigin + performance.now())); };
mark("Start");
// The passphrase is typed in the extension's unlock window, never in the forum's page; once
// unlocked, watchLock shows the post again.
$("#open-unlock").addEventListener("click", () => {
  send("ui.open_unlock", { token: TOKEN }).catch((e) => notice(userText(e), "bad"));
});
(async () => {
  history.replaceState(null, "", location.pathname);
  try {
    bundle = await send("frame.get", { token: TOKEN });
    useForumTheme(bundle.theme);
    mark("Bundle");
  } catch (e) {
    notice(t("viewer_not_ours"), "bad");
    return setState("error", userText(e));
  }
  showSecurityPhrase();
  await run();
  watchLock();
})();
