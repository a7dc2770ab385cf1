// The composer frame: new encrypted PM, encrypted reply, or invite (key share) in an encrypted
// conversation. Plaintext stays here and in the engine; the content script only posts ciphertext.
import { $, api, C, el, send, forum, followHeight, TOKEN, patterns, t, themeStyle, tNodes, useForumTheme } from "./frame.js";
import { renderMarkdown, showInSandbox } from "./render.js";
import { openConversation } from "../common/conversation.js";
import { confirmOutside, decisionGuard, showSecurityPhrase, watchFocus } from "./guard.js";
import { userText } from "../common/user_text.js";
import { withRetry as retry } from "../common/retry.js";
import { A, humanSize, toBase64, uploadAttachment } from "./attachments.js";

let bundle = null;
let recipients = [];
let draftKey = null;
let saveTimer = null;
let sending = false;
let conversation = null;   // reply/invite/edit: {id, title, participants} as the engine opened it
let editing = null;        // edit: {post_id, raw, body}: the version of my post the edit replaces
let sendGuard = null;
const report = followHeight();

function status(state, text) {
  const s = $("#status");
  s.dataset.state = state;
  s.textContent = text || "";
  document.body.dataset.state = state;
  report();
}

// What is known about each recipient as soon as it is added (the send checks again):
// name (lower case) -> {state: "checking" | "ok" | "group" | "no_key" | "key_changed" | "unknown", note}.
const recipientState = new Map();

function renderChips() {
  $("#chips").replaceChildren(...recipients.map((r) => {
    const st = recipientState.get(r.toLowerCase()) || { state: "checking", note: t("composer_chip_checking") };
    return el("span", { class: `chip ${st.state}`, "data-user": r, "data-state": st.state }, [
      r + " ", el("span", { class: "chip-note", text: st.note }), " ",
      el("a", { href: "#", title: t("composer_chip_remove"), text: "×", onclick: (e) => {
        e.preventDefault(); recipients = recipients.filter((x) => x !== r); renderChips(); scheduleSave(); } }),
    ]);
  }));
  report();
}

// Looks the recipient up at once: an unknown name, a user without a key or with a changed key is
// flagged beside its chip before the user writes the whole message.
async function checkRecipient(name) {
  const k = name.toLowerCase();
  const set = (state, note) => { recipientState.set(k, { state, note }); renderChips(); };
  set("checking", t("composer_chip_checking"));
  let u;
  try {
    u = await forum("user", { username: name });
  } catch (e) {
    if (e.code !== "not_found") return set("unknown", t("inbox_key_error"));
    try {
      const g = await forum("group_members", { name });
      return set("group", g.members.length === 1 ? t("composer_chip_group_one") : t("composer_chip_group", [g.members.length]));
    } catch (_) { return set("unknown", t("composer_chip_unknown")); }
  }
  try {
    const c = await send("keys.check", { origin: bundle.origin, username: name, bio_raw: u.bio_raw });
    if (c.status === "no_key" || c.status === "bad_key") return set("no_key", t("composer_chip_no_key"));
    if (c.status === "key_changed") return set("key_changed", t("composer_chip_key_changed"));
    return set("ok", c.status === "verified" ? t("composer_chip_verified") : t("composer_chip_has_key"));
  } catch (_) { return set("unknown", t("inbox_key_error")); }
}

function addRecipient(name) {
  name = String(name || "").trim().replace(/^@/, "").replace(/,$/, "");
  if (!patterns.username.test(name)) return;
  if (name.toLowerCase() === bundle.me.toLowerCase()) return;
  if (!recipients.some((r) => r.toLowerCase() === name.toLowerCase())) {
    recipients.push(name);
    checkRecipient(name);
  }
  $("#to").value = "";
  $("#suggest").hidden = true;
  renderChips();
  scheduleSave();
}

function autocomplete(input, box, pick) {
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const term = input.value.trim().replace(/^@/, "");
    if (!term) { box.hidden = true; return; }
    timer = setTimeout(async () => {
      try {
        const { users } = await forum("search_users", { term });
        if (input.value.trim().replace(/^@/, "") !== term) return;   // typed on or picked meanwhile
        box.replaceChildren(...users.filter((u) => u.username.toLowerCase() !== bundle.me.toLowerCase())
          .map((u) => el("div", { "data-username": u.username, text: u.name ? t("composer_suggestion", [u.username, u.name]) : u.username,
            onclick: () => pick(u.username) })));
        box.hidden = !users.length;
        report();
      } catch (_) { box.hidden = true; }
    }, 200);
  });
}

// ---- drafts (encrypted in the engine) --------------------------------------------------------
function scheduleSave() {
  if (!draftKey) return;
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveDraft, 400);
}
async function saveDraft() {
  const text = $("#body").value;
  const title = bundle.mode === "new" ? JSON.stringify({ title: $("#title").value, to: recipients }) : null;
  try {
    await send("drafts.save", { origin: bundle.origin, draft_key: draftKey, text, title });
    $("#body").dataset.saved = "1";
  } catch (_) { /* locked: keep it on screen */ }
}
async function loadDraft() {
  try {
    const d = await send("drafts.load", { origin: bundle.origin, draft_key: draftKey });
    if (!d.found) return;
    if (d.text && !$("#body").value) $("#body").value = d.text;
    if (bundle.mode === "new" && d.title) {
      try {
        const t = JSON.parse(d.title);
        if (t.title && !$("#title").value) $("#title").value = t.title;
        for (const r of t.to || []) addRecipient(r);
      } catch (_) { /* old format */ }
    }
    status("idle", t("composer_draft_restored"));
  } catch (_) { /* none */ }
}

// ---- keys -------------------------------------------------------------------------------------
// Checks every user's published key; returns true when sending may go on. A KEY CHANGED user
// blocks sending until acknowledged here; a user without a key is refused by name.
async function checkKeys(names, { requireKey = true, statuses = null, keep = false } = {}) {
  const warn = $("#keywarn");
  if (!keep) warn.replaceChildren();
  let ok = true;
  for (const username of names) {
    let u;
    try { u = await forum("user", { username }); } catch (e) {
      if (!requireKey) continue;
      warn.append(el("div", { class: "keywarn", "data-user": username, text: t("composer_user_problem", [username, userText(e)]) }));
      ok = false; continue;
    }
    const k = await send("keys.check", { origin: bundle.origin, username, bio_raw: u.bio_raw });
    if (statuses) statuses.set(username, k.status);
    if ((k.status === "no_key" || k.status === "bad_key") && !requireKey) continue;   // not a recipient of a reply
    if (k.status === "no_key" || k.status === "bad_key") {
      const ask = el("button", { type: "button", class: "ask-key", "data-user": username,
        text: t("composer_ask_key", [username]), onclick: (e) => askForKey(username, e.target) });
      warn.append(el("div", { class: "keywarn nokey", "data-user": username }, [
        el("div", { text: t(k.status === "bad_key" ? "composer_key_damaged" : "composer_no_key", [username]) }),
        el("div", { class: "muted", text: t("composer_key_exchange_explained") }),
        ask]));
      ok = false;
    } else if (k.status === "key_changed") {
      const box = el("div", { class: "keywarn keychanged", "data-user": username }, [
        el("strong", { text: t("composer_key_changed", [username]) }),
        el("div", { text: k.change_signed ? t("composer_key_change_signed") : t("composer_key_change_unsigned") }),
        el("button", { type: "button", class: "ack", "data-user": username, text: t("composer_accept_key", [username]),
          onclick: async (e) => {
            const guard = ackGuards.get(e.target);
            if (!guard.armed()) return status("blocked", t("composer_not_accepted_covered"));
            if (guard.confirmOutside && !(await confirmOutside(TOKEN, t("composer_confirm_accept_key", [username, k.digits]),
              "accept_key"))) return status("idle", t("composer_not_accepted"));
            e.target.disabled = true;
            try {
              await send("keys.acknowledge", { origin: bundle.origin, username, fingerprint: k.fingerprint });
              box.remove();
              status("idle", t("composer_accepted_key", [username]));
            } catch (err) { status("error", userText(err)); e.target.disabled = false; }
          } }),
      ]);
      warn.append(box);
      const ack = box.querySelector("button.ack");
      ackGuards.set(ack, decisionGuard(ack));
      ok = false;
    }
  }
  report();
  return ok;
}
const ackGuards = new WeakMap();

// Key exchange by PM (PROTOCOL §3.4): a PM to `username` with my public key block; their
// extension pins it and answers in the same PM, and this device pins their key when it reads the
// answer (the viewer of that post, or "Look for new encrypted messages" in the inbox).
async function askForKey(username, button) {
  button.disabled = true;
  try {
    const a = await send("keys.announce");
    const res = await withRetry(t("composer_what_sending_key"), () => forum("create_key_exchange", { to: username, raw: a.raw }));
    status("idle", t("composer_key_exchange_sent", [username]));
    button.dataset.topicId = String(res.topic_id);
  } catch (e) {
    status("error", t("composer_key_exchange_failed", [userText(e)]));
    button.disabled = false;
  }
}

// ---- the conversation a reply or an invite goes to ------------------------------------------
// The engine opens the topic's first post and says which conversation it is (its verified title
// and participants): the composer shows that, and the engine encrypts only for that conversation
// id, whatever topic id the page gave the content script.
const bios = new Map();
function bio(username) {
  if (!bios.has(username)) bios.set(username, forum("user", { username }).then((u) => u.bio_raw, () => null));
  return bios.get(username);
}
// The topic's key changes, read before writing: a device that has not shown the topic since
// someone was removed takes the newest key first, and writes with it (the engine reads them in
// order and keeps what they teach). Resolves to whether the topic has any.
async function readKeyChanges(topic) {
  const posts = [];
  for (const p of topic.posts.filter((x) => x.post_number > 1 && x.raw.startsWith(C.REKEY_HINT))) {
    posts.push({ post_id: p.post_id, raw: p.raw, username: p.username, bio_raw: await bio(p.username) });
  }
  if (posts.length) await send("conv.read", { origin: bundle.origin, topic_id: bundle.topic_id, posts });
  return posts.length > 0;
}

async function loadConversation() {
  const topic = await forum("topic", { topic_id: bundle.topic_id });
  let c = await openConversation({ send, bio, origin: bundle.origin, me: bundle.me, topic });
  // the members and newest key after the topic's key changes
  if (await readKeyChanges(topic)) c = await openConversation({ send, bio, origin: bundle.origin, me: bundle.me, topic });
  if (c.status !== "valid") throw Object.assign(new Error(c.detail || c.status), { code: c.status });
  // who holds the conversation's newest key (the first post's participants before any removal)
  conversation = { id: c.conversation_id, title: c.title,
    participants: c.members || (c.participants || []).map((p) => (Array.isArray(p) ? p[0] : p)) };
  if (bundle.mode === "remove") {
    const others = conversation.participants.filter((n) => n.toLowerCase() !== bundle.me.toLowerCase());
    $("#removee").replaceChildren(...others.map((n) => el("option", { value: n, text: n })));
  }
  const box = $("#conversation");
  // One sentence; the title and the participants are elements of their own (tests and styles
  // find them by id), placed where the translation puts them.
  if (bundle.mode === "edit") editing = await postToEdit(topic, c);
  const title = el("strong", { id: "conversation-title", text: t("quoted", [conversation.title]) });
  const people = el("span", { id: "conversation-participants", text: conversation.participants.join(", ") });
  box.replaceChildren(...(bundle.mode === "invite" ? tNodes("composer_invite_in", [title, people])
    : bundle.mode === "remove" ? tNodes("composer_remove_in", [title, people])
    : bundle.mode === "edit" ? tNodes("composer_edit_in", [title, people]) : tNodes("composer_reply_in", [title, people])));
  box.hidden = false;
  report();
}

// The post Discourse's Edit named, as the forum has it now, and its text as the engine reads it:
// only a valid post of mine can be edited (the engine checks again before signing the edit).
async function postToEdit(topic, opened) {
  const post = topic.posts.find((p) => p.post_id === bundle.post_id);
  if (!post) throw Object.assign(new Error("the post is not in this topic"), { code: "not_found" });
  const notMine = () => Object.assign(new Error("this post is not mine"), { code: "not_your_post" });
  if (post.username.toLowerCase() !== bundle.me.toLowerCase()) throw notMine();
  if (post.post_number === 1) {
    if ((opened.author || "").toLowerCase() !== bundle.me.toLowerCase()) throw notMine();
    return { post_id: post.post_id, raw: post.raw, body: opened.body };
  }
  const { posts: [read] } = await send("conv.read", { origin: bundle.origin, topic_id: bundle.topic_id, posts: [
    { post_id: post.post_id, raw: post.raw, username: post.username, bio_raw: await bio(post.username),
      created_at: post.created_at || null }] });
  if (read.status !== "valid" || read.kind !== "reply") throw Object.assign(new Error(read.detail || read.status), { code: read.status });
  if ((read.author || "").toLowerCase() !== bundle.me.toLowerCase()) throw notMine();
  return { post_id: post.post_id, raw: post.raw, body: read.body };
}

// ---- sending -----------------------------------------------------------------------------------
function withRetry(what, fn) {
  return retry(fn, tellRetry(what));
}
function tellRetry(what) {
  return ({ why, left, attempt, of }) => status("retrying", t("composer_retrying", [what, why, left, attempt, of]));
}

// ---- attachments: the files' bytes stay in this frame (never in a draft or the page); each is
// sealed by the engine and uploaded as carriers when the message is sent, and read back from the
// forum before the post names it. {name, mime, bytes, state, note, sent ({ref, carriers}) once uploaded}
let attachments = [];
// the engine's files.limits for this forum ({possible, max_files, max_file_bytes}), read at start
let attachLimits = { possible: true, max_files: A.MAX_FILES, max_file_bytes: A.MAX_FILE_BYTES };
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

function renderFiles() {
  $("#file-list").replaceChildren(...attachments.map((f) => el("li", { class: "file", "data-name": f.name, "data-state": f.state }, [
    el("span", { class: "name", text: `${f.name} (${humanSize(f.bytes.length)})` }), " ",
    el("span", { class: "muted note", text: f.note }), " ",
    el("button", { type: "button", class: "remove", title: t("composer_file_remove", [f.name]), text: "×", disabled: sending,
      onclick: () => { attachments = attachments.filter((x) => x !== f); renderFiles(); } }),
  ])));
  report();
}

async function addFiles(files) {
  let refused = null;
  for (const file of files) {
    const name = String(file.name || "file").replace(/[\/\\\0]/g, "_").slice(-255).trim() || "file";
    if (!attachLimits.possible || (bundle.uploads || {}).png === false) { refused = t("composer_no_attachments"); break; }
    if (attachments.length >= attachLimits.max_files) { refused = t("composer_too_many_files", [String(attachLimits.max_files)]); break; }
    if (file.size > attachLimits.max_file_bytes) {
      refused = t("composer_file_too_large", [name, humanSize(attachLimits.max_file_bytes)]);
      continue;
    }
    let bytes;
    try { bytes = new Uint8Array(await file.arrayBuffer()); } catch (_) {
      refused = t("composer_file_read_failed", [name]);
      continue;
    }
    const mime = String(file.type || "").toLowerCase();
    attachments.push({ name, mime: MIME.test(mime) ? mime : "application/octet-stream", bytes, state: "ready", note: "", sent: null });
  }
  // a refusal stays shown until files are added without one
  if (refused) status("error", refused);
  else if (!sending) status("ready", "");
  renderFiles();
}

// The attachments as conv.start / conv.reply take them, uploaded and read back; null when the
// send must stop (the status says why; the message and its files stay here).
async function uploadFiles() {
  if (!attachments.length) return [];
  const uploads = bundle.uploads || {};   // (addFiles attached nothing where the forum takes no PNG)
  const out = [];
  for (const f of attachments) {
    if (!f.sent) {
      f.state = "uploading";
      const { sent, check } = await uploadAttachment(f, { maxImageSizeKb: uploads.max_image_size_kb,
        tell: tellRetry(t("composer_what_sending")),
        progress: (done, total) => {
          f.note = t("composer_uploading", [f.name, String(done), String(total)]);
          status("sending", f.note);
          renderFiles();
        } });
      status("sending", t("composer_checking_upload", [f.name]));
      let back = null;
      try { back = await check(); } catch (e) {
        f.state = "error";
        renderFiles();
        status("error", t("composer_upload_changed", [f.name, userText(e)]));
        return null;
      }
      if (back !== toBase64(f.bytes)) {
        f.state = "error";
        renderFiles();
        status("error", t("composer_upload_changed", [f.name, ""]));
        return null;
      }
      // a later attempt of this send reuses these carriers
      f.sent = sent;
      f.state = "uploaded";
      f.note = t("composer_file_uploaded", [f.name]);
      renderFiles();
    }
    out.push(f.sent);
  }
  return out;
}

async function sendNew() {
  const pending = $("#to").value.trim();
  if (pending) addRecipient(pending);
  const title = $("#title").value.trim();
  const body = $("#body").value;
  if (!recipients.length) return status("error", t("composer_need_recipient"));
  if (!title) return status("error", t("composer_need_title"));
  if (!body.trim() && !attachments.length) return status("error", t("composer_need_body"));
  status("checking", t("composer_checking_recipients"));
  const { users, groups } = await resolveRecipients(recipients);
  if (!(await checkKeys(users))) return status("blocked", t("composer_blocked"));
  const readers = await checkGroupKeys(groups);
  if (!readers) return status("blocked", t("composer_blocked"));
  const refs = [];
  for (const username of [...users, ...readers.filter((m) => !users.some((u) => u.toLowerCase() === m.toLowerCase()))]) {
    refs.push({ username, bio_raw: (await forum("user", { username })).bio_raw });
  }
  const files = await uploadFiles();
  if (!files) return null;
  status("sending", t("composer_encrypting"));
  const out = await send("conv.start", { origin: bundle.origin, me: bundle.me, recipients: refs, title, body,
    max_chars: bundle.max_chars || undefined, files: files.length ? files : undefined });
  status("sending", t("composer_sending"));
  // The forum delivers to the groups themselves (their members may change); the key goes to the
  // members who have one now.
  const target = groups.length ? [...users, ...groups.map((g) => g.name)].join(",")
    : Array.isArray(out.target_recipients) ? out.target_recipients.join(",") : out.target_recipients;
  const create = (title) => withRetry(t("composer_what_sending"), () => forum("create_pm", { title, raw: out.raw, target_recipients: target }));
  try {
    return await create(C.PLACEHOLDER_TITLE);
  } catch (e) {
    // A forum's watched words may refuse the placeholder title: try the neutral one once.
    if (e.code !== "forum_refused") throw e;
    return await create(C.FALLBACK_TITLE);
  }
}

// A recipient name is a user, or else a group the forum lets me see (its members are read now).
async function resolveRecipients(names) {
  const users = [], groups = [];
  for (const name of names) {
    try {
      await forum("user", { username: name });
      users.push(name);
    } catch (e) {
      if (e.code !== "not_found") throw e;
      try {
        groups.push(await forum("group_members", { name }));
      } catch (ge) {
        if (ge.code !== "not_found") throw ge;
        users.push(name);   // checkKeys names it: "there is no such user"
      }
    }
  }
  return { users, groups };
}

// For each group: which members have a key (they will read the message) and which do not (the
// forum shows them the topic, but they cannot read it). Returns the members who will read, or
// null when a group has no member with a key or a member's key changed unacknowledged.
async function checkGroupKeys(groups) {
  const readers = [];
  for (const g of groups) {
    const members = g.members.filter((m) => m.toLowerCase() !== bundle.me.toLowerCase());
    const statuses = new Map();
    if (!(await checkKeys(members, { requireKey: false, statuses, keep: true }))) return null;
    const withKey = members.filter((m) => ["first_seen", "verified"].includes(statuses.get(m)));
    const without = members.filter((m) => !withKey.includes(m));
    const box = el("div", { class: "groupkeys", "data-group": g.name }, [
      el("div", { class: "readers", text: withKey.length
        ? t(withKey.length === 1 ? "composer_group_reader" : "composer_group_readers", [g.name, withKey.join(", ")])
        : t("composer_group_no_reader", [g.name]) }),
      without.length ? el("div", { class: "without",
        text: t(without.length === 1 ? "composer_group_without_key_one" : "composer_group_without_key", [without.join(", ")]) }) : null,
    ].filter(Boolean));
    $("#keywarn").append(box);
    report();
    if (!withKey.length) return null;
    readers.push(...withKey.filter((m) => !readers.includes(m)));
  }
  return readers;
}

async function sendReply() {
  const body = $("#body").value;
  if (!body.trim() && !attachments.length) return status("error", t("composer_need_body"));
  status("checking", t("composer_checking_participants"));
  const topic = await forum("topic", { topic_id: bundle.topic_id });
  await readKeyChanges(topic);
  const others = topic.participants.filter((u) => u.toLowerCase() !== bundle.me.toLowerCase());
  // Replies use the conversation key: a participant without a key is not a recipient, but a
  // KEY CHANGED participant still blocks sending until acknowledged.
  if (!(await checkKeys(others, { requireKey: false }))) return status("blocked", t("composer_blocked"));
  const files = await uploadFiles();
  if (!files) return null;
  status("sending", t("composer_encrypting"));
  const out = await send("conv.reply", { origin: bundle.origin, topic_id: bundle.topic_id,
    conversation_id: conversation.id, me: bundle.me, body, max_chars: bundle.max_chars || undefined,
    files: files.length ? files : undefined });
  status("sending", t("composer_sending"));
  return withRetry(t("composer_what_sending"), () => forum("reply", { topic_id: bundle.topic_id, raw: out.raw }));
}

async function sendEdit() {
  const body = $("#body").value;
  if (!body.trim()) return status("error", t("composer_need_body"));
  if (body === editing.body) return status("error", t("composer_edit_unchanged"));
  status("sending", t("composer_encrypting"));
  const out = await send("conv.edit", { origin: bundle.origin, topic_id: bundle.topic_id,
    conversation_id: conversation.id, me: bundle.me, raw: editing.raw, body, max_chars: bundle.max_chars || undefined });
  status("sending", t("composer_sending"));
  return withRetry(t("composer_what_saving_edit"), () => forum("edit_post", { post_id: editing.post_id, raw: out.raw,
    original_raw: editing.raw }));
}

async function sendInvite() {
  const invitee = $("#invitee").value.trim().replace(/^@/, "");
  if (!patterns.username.test(invitee)) return status("error", t("enter_username"));
  status("checking", t("composer_checking_invitee", [invitee]));
  if (!(await checkKeys([invitee]))) return status("blocked", t("composer_not_added"));
  const u = await forum("user", { username: invitee });
  status("sending", t("composer_encrypting_share"));
  const out = await send("conv.share_key", { origin: bundle.origin, topic_id: bundle.topic_id,
    conversation_id: conversation.id, me: bundle.me, invitee: { username: invitee, bio_raw: u.bio_raw },
    max_chars: bundle.max_chars || undefined });
  const res = await withRetry(t("composer_what_sending"), () => forum("reply", { topic_id: bundle.topic_id, raw: out.raw }));
  await withRetry(t("composer_what_inviting"), () => forum("invite", { topic_id: bundle.topic_id, user: invitee }));
  return res;
}

// Removing a participant for real: the engine makes a key change for everyone who stays (checked
// like recipients), it is posted, read back so that this device takes the new key from the forum's
// copy, and then Discourse removes the participant from the PM. Discourse lets only staff and the
// PM's creator from trust level 2 remove someone else: when it refuses, the key change still keeps
// the removed participant out of what follows, and the composer says so instead of closing.
async function sendRemove() {
  const removee = $("#removee").value;
  if (!removee) return status("error", t("composer_need_removee"));
  const staying = conversation.participants.filter((n) => ![bundle.me.toLowerCase(), removee.toLowerCase()]
    .includes(n.toLowerCase()));
  status("checking", t("composer_checking_participants"));
  if (!(await checkKeys(staying))) return status("blocked", t("composer_blocked"));
  const members = [];
  for (const n of staying) members.push({ username: n, bio_raw: await bio(n) });
  status("sending", t("composer_encrypting_rekey"));
  const out = await send("conv.rekey", { origin: bundle.origin, topic_id: bundle.topic_id,
    conversation_id: conversation.id, me: bundle.me, remove: [removee], members,
    max_chars: bundle.max_chars || undefined });
  status("sending", t("composer_sending"));
  const res = await withRetry(t("composer_what_sending"), () => forum("reply", { topic_id: bundle.topic_id, raw: out.raw }));
  await send("conv.read", { origin: bundle.origin, topic_id: bundle.topic_id, posts: [
    { post_id: res.post_id, raw: out.raw, username: bundle.me, bio_raw: await bio(bundle.me) }] }).catch(() => {});
  // Someone the forum already took out of the PM (its own remove, which changes no key) needs
  // only the key change.
  const now = await forum("topic", { topic_id: bundle.topic_id }).catch(() => null);
  if (now && !now.participants.some((n) => n.toLowerCase() === removee.toLowerCase())) return res;
  try {
    await withRetry(t("composer_what_removing"), () => forum("remove_allowed_user", { topic_id: bundle.topic_id, username: removee }));
  } catch (e) {
    return { ...res, note: t("composer_removed_key_only", [removee, userText(e)]) };
  }
  return res;
}

function sendQuestion() {
  if (bundle.mode === "remove") return t("composer_confirm_remove", [$("#removee").value, conversation.title]);
  if (bundle.mode === "new") return t("composer_confirm_new", [$("#title").value.trim(), recipients.join(", ")]);
  if (bundle.mode === "invite") return t("composer_confirm_invite", [$("#invitee").value.trim(), conversation.title]);
  if (bundle.mode === "edit") return t("composer_confirm_edit", [conversation.title]);
  return t("composer_confirm_reply", [conversation.title, conversation.participants.join(", ")]);
}

let attempts = 0;
async function onSend() {
  if (sending) return;
  if (!sendGuard.armed()) {
    $("#status").dataset.attempt = String(++attempts);
    return status("blocked", t("composer_not_sent_covered"));
  }
  if (bundle.mode !== "new" && !conversation) {
    $("#status").dataset.attempt = String(++attempts);
    return status("error", t("composer_no_conversation"));
  }
  sending = true;
  $("#status").dataset.attempt = String(++attempts);   // lets tests tell one attempt from the next
  status("checking", t("composer_saving_draft"));   // replaces the previous attempt's outcome at once
  $("#send-btn").disabled = true;
  try {
    if (draftKey) { clearTimeout(saveTimer); await saveDraft(); }
    if (sendGuard.confirmOutside) {
      status("checking", t("composer_confirm_outside"));
      if (!(await confirmOutside(TOKEN, sendQuestion(), "send"))) return status("idle", t("composer_not_sent"));
    }
    const fn = { new: sendNew, reply: sendReply, invite: sendInvite, remove: sendRemove, edit: sendEdit }[bundle.mode];
    const res = await fn();
    if (!res || !res.topic_id) return;   // refused before sending (status already says why)
    if (draftKey) await send("drafts.delete", { origin: bundle.origin, draft_key: draftKey }).catch(() => {});
    if (res.note) return status("sent", res.note);   // done, with something the user must read
    status("sent", bundle.mode === "edit" ? t("composer_edit_saved") : t("composer_sent"));
    await send("frame.close", { token: TOKEN, topic_id: res.topic_id });
  } catch (e) {
    const text = e.code === "recipient_without_key" || e.code === "key_change_unacknowledged"
      ? t("composer_not_sent_because", [userText(e)]) : t("composer_not_sent_kept", [userText(e)]);
    status(e.code === "key_change_unacknowledged" ? "blocked" : "error", text);
  } finally {
    sending = false;
    $("#send-btn").disabled = false;
  }
}

async function togglePreview() {
  const box = $("#preview-box");
  box.hidden = !box.hidden;
  $("#body").hidden = !box.hidden;
  $("#preview-btn").textContent = box.hidden ? t("composer_preview") : t("composer_edit");
  if (!box.hidden) await showInSandbox($("#preview"), renderMarkdown($("#body").value), undefined, { themeStyle: themeStyle() });
  report();
}

async function init() {
  const st = await send("engine.status");
  if (!st.has_identity || !st.unlocked) {
    $("#locked").hidden = false;
    $("#form").hidden = true;
    return status("locked", st.has_identity ? t("composer_locked_status") : t("composer_no_identity"));
  }
  $("#locked").hidden = true;
  $("#form").hidden = false;
  if (bundle.mode !== "new" && !conversation) {
    try { await loadConversation(); } catch (e) {
      return status("error", t("composer_cannot_open", [userText(e)]));
    }
  }
  await loadDraft();
  if (!$("#sec-files").hidden) {
    attachLimits = await send("files.limits", { max_image_size_kb: (bundle.uploads || {}).max_image_size_kb || undefined })
      .catch(() => attachLimits);
  }
  // An unsent edit is kept as a draft; without one the edit starts from the post's current text.
  if (editing && !$("#body").value) $("#body").value = editing.body;
  status("ready", $("#status").textContent || "");
  $("#body").focus();
}

(async () => {
  history.replaceState(null, "", location.pathname);
  try {
    bundle = await send("frame.get", { token: TOKEN });
  } catch (e) {
    return status("error", t("composer_not_ours"));
  }
  useForumTheme(bundle.theme);
  const mode = bundle.mode || "new";
  bundle.mode = mode;
  $("#heading").textContent = { new: t("new_encrypted_message"), reply: t("encrypted_reply"), invite: t("composer_heading_invite"),
    remove: t("composer_heading_remove"), edit: t("composer_heading_edit") }[mode];
  $("#sec-to").hidden = mode !== "new";
  $("#sec-title").hidden = mode !== "new";
  $("#sec-invitee").hidden = mode !== "invite";
  $("#sec-remove").hidden = mode !== "remove";
  $("#sec-body").hidden = mode === "invite" || mode === "remove";
  $("#preview-btn").hidden = mode === "invite" || mode === "remove";
  $("#sec-files").hidden = mode !== "new" && mode !== "reply";
  $("#send-btn").textContent = { invite: t("composer_send_invite"), remove: t("composer_send_remove"),
    edit: t("composer_save_edit") }[mode] || t("composer_send");
  draftKey = mode === "new" ? "new" + (bundle.to ? "." + bundle.to.replace(/,/g, ".") : "")
    : mode === "reply" ? "reply." + bundle.topic_id
    : mode === "edit" && bundle.post_id ? "edit." + bundle.post_id : null;
  if (bundle.to) for (const r of bundle.to.split(",")) if (r) recipients.push(r);
  if (bundle.quote) $("#body").value = bundle.quote.split("\n").map((l) => "> " + l).join("\n") + "\n\n";
  // A quote of a decrypted post (from its viewer, through the router only), as Discourse's quote
  // reads: who wrote it, then the quoted lines.
  if (bundle.encrypted_quote) {
    const q = bundle.encrypted_quote;
    $("#body").value = t("composer_quote_attribution", [q.author]) + "\n" +
      q.text.split("\n").map((l) => "> " + l).join("\n") + "\n\n";
  }
  renderChips();
  autocomplete($("#to"), $("#suggest"), addRecipient);
  autocomplete($("#invitee"), $("#suggest-invitee"), (u) => { $("#invitee").value = u; $("#suggest-invitee").hidden = true; });
  $("#to").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === ",") { e.preventDefault(); addRecipient($("#to").value); }
  });
  $("#body").addEventListener("input", scheduleSave);
  $("#title").addEventListener("input", scheduleSave);
  $("#send-btn").addEventListener("click", onSend);
  sendGuard = decisionGuard($("#send-btn"));
  watchFocus(["#body", "#title", "#to", "#invitee"].map((q) => $(q)), $("#focus-warning"));
  showSecurityPhrase();
  $("#preview-btn").addEventListener("click", togglePreview);
  // attach by button, drop and paste (events of this frame only: the page cannot send them here)
  $("#attach-btn").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", async () => { await addFiles([...$("#file-input").files]); $("#file-input").value = ""; });
  for (const zone of [$("#sec-files"), $("#body")]) {
    zone.addEventListener("dragover", (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) e.preventDefault(); });
    zone.addEventListener("drop", (e) => {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      addFiles([...e.dataTransfer.files]);
    });
  }
  $("#body").addEventListener("paste", (e) => {
    const data = e.clipboardData;
    const files = data ? [...data.files] : [];
    // some sources list a pasted image among the items only
    if (data && !files.length) for (const item of data.items || []) if (item.kind === "file" && item.getAsFile()) files.push(item.getAsFile());
    if (!files.length) return;
    e.preventDefault();
    addFiles(files);
  });
  $("#cancel-btn").addEventListener("click", async () => {
    if (draftKey) { clearTimeout(saveTimer); await saveDraft(); }
    send("frame.close", { token: TOKEN }).catch(() => {});
  });
  $("#retry-unlock").addEventListener("click", init);
  // The passphrase is typed in the extension's unlock window, never in the forum's page.
  $("#open-unlock").addEventListener("click", () => {
    send("ui.open_unlock", { token: TOKEN }).catch((e) => status("locked", userText(e)));
  });
  // Unlocked (in the unlock window or from the toolbar) while the composer waits: continue;
  // locked: hide the text.
  api.storage.onChanged.addListener((changes, area) => {
    if (area !== "session" || !changes.unlocked) return;
    if (changes.unlocked.newValue === true && document.body.dataset.state === "locked") init();
    if (changes.unlocked.newValue === false) { $("#form").hidden = true; $("#locked").hidden = false; status("locked", t("composer_locked_status")); }
  });
  await init();
})();
