// The encrypted inbox (extension page): conversations with their decrypted titles (titles are
// never decrypted into the forum page), contacts with safety codes and QR codes, publishing the
// key into the bio, the backup PM, and activating a device from the backup.
// Forum HTTP goes through the content script of an open tab of the forum ("forum.request").
import { $, api, C, patterns, send, show, setMessage, errorText, lookForMyKeyOn, showStrength, t, tNodes } from "./common.js";
import { withRetry } from "../common/retry.js";
import { showSecurityPhrase } from "../frames/guard.js";
import { openConversation } from "../common/conversation.js";
import qrcode from "../vendor/qrcode.mjs";

let origin = null;
let me = null;
let base = "";
let current = null;   // {username, fingerprint} shown in the safety panel

const forum = (op, args = {}) => send("forum.request", { op, args, origin });

function state(s, text, kind = "info") {
  const el = $("#status");
  el.dataset.state = s;
  setMessage(el, text, kind);
}
function msg(text, kind = "info") { setMessage($("#msg"), text, kind); }

async function chooseForum() {
  const { sites } = await api.storage.local.get("sites");
  const list = Array.isArray(sites) ? sites : [];
  const q = new URLSearchParams(location.search).get("origin");
  const sel = $("#forum");
  sel.replaceChildren(...list.map((s) => { const o = document.createElement("option"); o.value = s; o.textContent = s; return o; }));
  if (q && list.includes(q)) sel.value = q;
  origin = sel.value || null;
  sel.onchange = () => { origin = sel.value; listed = new Map(); backups = []; refresh(); };
}

async function refresh() {
  for (const s of ["#sec-unlock", "#sec-restore", "#sec-new-key", "#sec-forum", "#sec-convs", "#sec-keys"]) show($(s), false);
  if (!origin) return state("no-forum", t("inbox_no_forum"));
  const st = await send("engine.status");
  if (!st.has_identity) return offerSetup();
  if (!st.unlocked) {
    show($("#sec-unlock"));
    return state("locked", t("popup_locked"));
  }
  try {
    const who = await forum("me");
    me = who.username;
    base = who.base || "";   // a forum in a subfolder (discourse-base-uri)
  } catch (e) {
    return state("no-forum-tab", errorText(e), "error");
  }
  if (!me) return state("not-logged-in", t("inbox_log_in_first", [origin]), "error");
  state("ready", t("inbox_logged_in", [origin, me]), "ok");
  show($("#sec-forum")); show($("#sec-convs")); show($("#sec-keys"));
  await checkPublishedKey();
  await listConversations();
  // Without a click: a device that just restored its key shows its history, and takes over
  // what the user's other devices know (verified keys, conversations, drafts).
  discover();
  syncDevices();
}

// Device sync (PROTOCOL §5a): merge every state post of mine, then post this device's state
// when the forum's records do not already hold all of it. Ciphertext only crosses the page.
let devSyncing = null;
function syncDevices() {
  if (devSyncing) return devSyncing;
  const line = $("#devsync-state"), b = $("#devsync-btn");
  b.disabled = true;
  show(line);
  line.dataset.state = "running";
  setMessage(line, t("inbox_devsync_working"), "info");
  devSyncing = (async () => {
    const found = await forum("find_state");
    const got = await send("sync.import", { origin, records: found.records });
    // The records live in the key backup PM: without a backup there is nowhere to post yet.
    if (!found.found) {
      line.dataset.state = "no_backup";
      return setMessage(line, t("inbox_devsync_no_backup"), "info");
    }
    if (!got.covered) {
      const out = await send("sync.export", { origin });
      await withRetry(() => forum("reply_state", { topic_id: found.topic_id, raw: out.raw }), () => {});
    }
    line.dataset.state = "done";
    setMessage(line, got.rejected.length ? t("inbox_devsync_rejected", [String(got.rejected.length)])
      : t("inbox_devsync_done", [String(got.applied.pins), String(got.applied.drafts)]), got.rejected.length ? "warn" : "ok");
    if (got.applied.pins) await listConversations();
  })().catch((e) => {
    line.dataset.state = "error";
    setMessage(line, errorText(e), "error");
  }).finally(() => { devSyncing = null; b.disabled = false; });
  return devSyncing;
}

// A device without a key looks on the forum first: a new device or a reset should get the user's
// own key back from the backup (or be told that one is published), not silently make a second key
// that contacts would then see as a key change. The status stays "loading" while it looks.
async function offerSetup() {
  setMessage($("#status"), t("inbox_setup_looking"), "info");
  let look;
  try {
    look = await lookForMyKeyOn(origin);
  } catch (e) {
    // Not knowing is not "nothing there": offer both ways, and say why we could not look.
    show($("#sec-restore")); show($("#sec-new-key")); show($("#new-key-consequences"));
    $("#status").dataset.found = "unknown";
    return state("no-identity", t("inbox_setup_unknown", [errorText(e)]), "warn");
  }
  ({ username: me, base } = look);
  const { found, backup, published } = look;
  $("#status").dataset.found = found;
  show($("#sec-restore"), backup.found);
  show($("#sec-new-key"));
  const hasPublished = published.state === "published";
  show($("#new-key-consequences"), found !== "nothing");
  show($("#new-key-signed"), backup.found);
  $("#new-key-link").textContent = t(found === "nothing" ? "inbox_new_key_link" : "inbox_new_key_link_instead");
  const digits = hasPublished ? published.published_digits : "";
  state("no-identity", {
    backup: hasPublished ? t("inbox_setup_backup_published", [digits]) : t("inbox_setup_backup"),
    published: t("inbox_setup_published_only", [digits]),
    nothing: t("inbox_setup_nothing"),
  }[found], found === "nothing" ? "info" : "ok");
}

// Words of the user's own context, which make a passphrase easier to guess.
function myWords() {
  return [me, origin && new URL(origin).hostname].filter(Boolean);
}
$("#restore-new").addEventListener("input", () => showStrength($("#restore-new"), $("#restore-strength"), { userInputs: myWords() }));
$("#backup-pass").addEventListener("input", () =>
  showStrength($("#backup-pass"), $("#backup-strength"), { use: "backup", userInputs: myWords() }));

// Restores the key from the forum backup with the secret and new passphrase typed above.
// Resolves to the new device passphrase, or to null (with the advice shown) when it is refused.
async function restoreFromBackup() {
  const st = showStrength($("#restore-new"), $("#restore-strength"), { userInputs: myWords() });
  if (!st.ok) { msg(st.advice, "error"); return null; }
  msg(t("inbox_restore_looking"));
  const f = await forum("find_backup");
  if (!f.found) throw Object.assign(new Error("no key backup in the user's private messages"), { code: "no_backup" });
  msg(t("inbox_restore_opening"));
  const newPassphrase = $("#restore-new").value;
  await send("backup.restore", { raw: f.raw, secret: $("#restore-secret").value, new_passphrase: newPassphrase });
  $("#restore-secret").value = ""; $("#restore-new").value = "";
  return newPassphrase;
}

// Is the key in my profile this device's? After a restore, a reset or a new identity on another
// device they can differ unnoticed: contacts then encrypt to a key this device cannot open.
const KEY_STATE_TEXT = {
  same: (r) => [t("inbox_key_state_same", [r.digits]), "ok"],
  none: () => [t("inbox_key_state_none"), "warn"],
  other: (r) => [t("inbox_key_state_other", [r.published_digits, r.digits]), "error"],
  damaged: () => [t("inbox_key_state_damaged"), "error"],
};
async function checkPublishedKey() {
  let r;
  try {
    const u = await forum("user", { username: me });
    r = await send("keys.published", { bio_raw: u.bio_raw || "" });
  } catch (e) {
    return setMessage($("#key-state"), errorText(e), "error");
  }
  showKeyState(r);
}
function showKeyState(r) {
  const [text, kind] = KEY_STATE_TEXT[r.state](r);
  $("#key-state").dataset.state = r.state;
  setMessage($("#key-state"), text, kind);
  show($("#key-repair"), r.state === "other" || r.state === "damaged");
}
$("#repair-publish-btn").addEventListener("click", () => $("#publish-btn").click());

// What the forum's PM list says of each topic (public metadata: dates, read state), from the last
// look for new messages; and the key backup PMs found there, newest first.
let listed = new Map();
let backups = [];

// Dates in the browser's language and conventions.
const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
function timeElement(iso, className) {
  const el = document.createElement("time");
  el.className = className;
  const d = iso ? new Date(iso) : null;
  if (d && !Number.isNaN(d.getTime())) {
    el.dateTime = d.toISOString();
    el.textContent = DATE_FORMAT.format(d);
  }
  return el;
}
const stamp = (iso) => { const n = iso ? Date.parse(iso) : NaN; return Number.isNaN(n) ? 0 : n; };

// Unread as the forum counts it (TopicListItemSerializer): never opened, or posts after the last
// one read.
const isUnread = (f) => !!f && (f.unseen || f.unread_posts > 0);

let contactsShown = null;   // the contacts listed last, so that a look that found nobody new keeps them
async function listConversations({ contacts = true } = {}) {
  const { conversations } = await send("conv.list", { origin });
  const rows = conversations.map((c) => {
    const f = listed.get(c.topic_id) || null;
    // The signed time of the first post is when it started; the forum's, when not read yet.
    const started = c.created_at || (f && f.created_at) || null;
    const last = (f && (f.last_posted_at || f.bumped_at)) || started;
    return { c, f, started, last };
  });
  rows.sort((a, b) => stamp(b.last) - stamp(a.last) || b.c.topic_id - a.c.topic_id);
  const tbody = $("#conversations tbody");
  tbody.replaceChildren();
  const people = new Set();
  for (const { c, f, started, last } of rows) {
    const tr = document.createElement("tr");
    tr.dataset.topicId = c.topic_id;
    tr.dataset.unread = isUnread(f) ? "1" : "0";
    const a = document.createElement("a");
    a.href = `${origin}${base}/t/${c.topic_id}`;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.className = "conv-title";
    a.textContent = c.title || t("inbox_title_not_decrypted");
    const title = document.createElement("td");
    title.append(a);
    if (isUnread(f)) {
      const mark = document.createElement("span");
      mark.className = "unread-mark";
      mark.textContent = t("inbox_unread_marker");
      title.append(" ", mark);
    }
    if (c.removed_by) {
      // a key change left me out: what is written there from then on is not readable here
      const mark = document.createElement("span");
      mark.className = "removed-mark";
      mark.textContent = t("inbox_removed_marker", [c.removed_by]);
      title.append(" ", mark);
    }
    const parts = (c.participants || []).map((p) => (Array.isArray(p) ? p[0] : p));
    for (const p of parts) if (me && p.toLowerCase() !== me.toLowerCase()) people.add(p);
    const cell = (node) => { const td = document.createElement("td"); td.append(node); return td; };
    tr.append(title, cell(c.author || ""), cell(parts.join(", ")), cell(timeElement(started, "conv-started")),
      cell(timeElement(last, "conv-last")), cell(c.status || ""));
    tbody.append(tr);
  }
  show($("#convs-empty"), !conversations.length);
  listBackups();
  const names = [...people].sort();
  if (!contacts && contactsShown === JSON.stringify([origin, names])) return;
  contactsShown = JSON.stringify([origin, names]);
  await listContacts(names);
}

// The key backup is a PM to myself, not a conversation: it has its own line, with its date.
function listBackups() {
  const ul = $("#backups ul");
  ul.replaceChildren(...backups.map((b) => {
    const li = document.createElement("li");
    li.dataset.topicId = b.topic_id;
    const a = document.createElement("a");
    a.href = `${origin}${base}/t/${b.topic_id}`;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.append(timeElement(b.created_at, "backup-date"));
    li.append(...tNodes("inbox_backup_line", [a]));
    return li;
  }));
  show($("#backups"), backups.length > 0);
}

async function listContacts(names) {
  const tbody = $("#contacts tbody");
  tbody.replaceChildren();
  for (const username of names) {
    const tr = document.createElement("tr");
    tr.dataset.user = username;
    let k;
    try {
      const u = await forum("user", { username });
      k = await send("keys.check", { origin, username, bio_raw: u.bio_raw });
    } catch (e) { k = { status: "error", message: errorText(e) }; }
    const td1 = document.createElement("td"); td1.textContent = username;
    const td2 = document.createElement("td"); td2.className = "state-" + k.status; td2.textContent =
      { verified: t("inbox_key_verified"), first_seen: t("inbox_key_first_seen"), key_changed: t("key_changed_badge"),
        no_key: t("inbox_key_none"), bad_key: t("inbox_key_damaged"), error: t("inbox_key_error") }[k.status] || k.status;
    const td3 = document.createElement("td");
    const b = document.createElement("button");
    b.textContent = t("inbox_safety_button");
    b.className = "safety-btn";
    b.onclick = () => showSafety(username);
    td3.append(b);
    if (k.status === "key_changed") {
      const ack = document.createElement("button");
      ack.textContent = t("accept_new_key");
      ack.className = "ack-btn";
      ack.onclick = async () => {
        try { await send("keys.acknowledge", { origin, username, fingerprint: k.fingerprint }); await listContacts(names); }
        catch (e) { msg(errorText(e), "error"); }
      };
      td3.append(ack);
    }
    tr.append(td1, td2, td3);
    tbody.append(tr);
  }
}

async function showSafety(username) {
  try {
    const u = await forum("user", { username });
    const k = await send("keys.check", { origin, username, bio_raw: u.bio_raw });
    const s = await send("keys.safety_code", { origin, username });
    current = { username, fingerprint: k.fingerprint, status: k.status };
    $("#safety-title").textContent = t("inbox_safety_title", [username]);
    const groups = s.safety_code.replace(/\s+/g, "").match(/.{5}/g) || [];
    $("#safety-code").textContent = [0, 4, 8].map((i) => groups.slice(i, i + 4).join(" ")).join("\n");
    const qr = qrcode(0, "M");
    qr.addData(s.qr, "Alphanumeric");
    qr.make();
    $("#safety-qr").src = qr.createDataURL(6, 2);
    $("#my-digits").textContent = s.my_digits;
    $("#their-digits").textContent = s.their_digits;
    $("#verify-btn").disabled = k.status === "key_changed";
    $("#safety").dataset.verified = s.verified ? "1" : "0";
    show($("#safety"));
  } catch (e) { msg(errorText(e), "error"); }
}

$("#lookup-btn").addEventListener("click", async () => {
  const username = $("#lookup-user").value.trim().replace(/^@/, "");
  if (!patterns.username.test(username)) return msg(t("enter_username"), "error");
  try {
    const u = await forum("user", { username });
    const k = await send("keys.check", { origin, username, bio_raw: u.bio_raw });
    if (k.status === "no_key" || k.status === "bad_key") return msg(t(k.status === "bad_key" ? "key_damaged" : "key_none", [username]), "error");
    await showSafety(username);
  } catch (e) { msg(errorText(e), "error"); }
});

$("#verify-btn").addEventListener("click", async () => {
  if (!current) return;
  try {
    await send("keys.mark_verified", { origin, username: current.username, fingerprint: current.fingerprint });
    $("#safety").dataset.verified = "1";
    msg(t("inbox_now_verified", [current.username]), "ok");
    await listConversations();
  } catch (e) { msg(errorText(e), "error"); }
});

$("#unlock-btn").addEventListener("click", async () => {
  try { await send("identity.unlock", { passphrase: $("#unlock-pass").value }); $("#unlock-pass").value = ""; await refresh(); }
  catch (e) { msg(errorText(e), "error"); }
});

$("#publish-btn").addEventListener("click", () => publishMyKey());
// Resolves to whether the forum now publishes this device's key.
async function publishMyKey() {
  const b = $("#publish-btn");
  b.disabled = true;
  let published = false;
  try {
    const u = await forum("user", { username: me });
    const p = await send("keys.publish", { bio_raw: u.bio_raw || "" });
    const saved = p.changed ? await forum("put_bio", { bio_raw: p.bio_raw }) : { saved: true };
    if (!saved.saved) {
      // The forum answered "saved" but kept the old bio (profiles managed by single sign-on, a
      // locked or hidden profile): say so, and how contacts still get the key.
      $("#publish-state").textContent = t(saved.can_change_bio ? "inbox_not_published" : "inbox_not_published_managed");
      $("#publish-state").dataset.state = "not_saved";
    } else {
      $("#publish-state").textContent = t(p.key_change ? "inbox_published_key_change" : "inbox_published", [p.digits]);
      $("#publish-state").dataset.state = "published";
      // The forum kept the bio as sent (put_bio re-read it): it now publishes this device's key.
      showKeyState({ state: "same", digits: p.digits });
      published = true;
    }
  } catch (e) { msg(errorText(e), "error"); }
  b.disabled = false;
  return published;
}

$("#backup-btn").addEventListener("click", async () => {
  const b = $("#backup-btn");
  b.disabled = true;
  msg(t("inbox_backup_encrypting"));
  try {
    const paper = $("#backup-paper").checked;
    const req = { passphrase: $("#backup-local").value, paper_key: paper };
    if ($("#backup-pass").value || !paper) req.backup_passphrase = $("#backup-pass").value;
    if (req.backup_passphrase !== undefined) {
      const st = showStrength($("#backup-pass"), $("#backup-strength"), { use: "backup", userInputs: myWords() });
      if (!st.ok) { b.disabled = false; return msg(st.advice, "error"); }
    }
    const out = await send("backup.make", req);
    // Only the encrypted record goes to the forum tab; the paper key stays on this page.
    await withRetry(() => forum("create_backup", { title: out.title, raw: out.raw }),
      ({ why, left }) => msg(t("inbox_backup_retrying", [why, left])));
    $("#backup-local").value = ""; $("#backup-pass").value = ""; $("#backup-paper").checked = false;
    if (out.paper_key) {
      $("#paperkey-words").textContent = out.paper_key;
      show($("#paperkey-box"));
    }
    msg(out.paper_key ? t("inbox_backed_up_paper") : t("inbox_backed_up"), "ok");
    $("#backup-btn").dataset.state = "done";
  } catch (e) { msg(errorText(e), "error"); }
  b.disabled = false;
});

$("#paperkey-done").addEventListener("click", () => {
  $("#paperkey-words").textContent = "";
  show($("#paperkey-box"), false);
});

$("#restore-btn").addEventListener("click", async () => {
  const b = $("#restore-btn");
  b.disabled = true;
  try {
    if (await restoreFromBackup() === null) return;
    msg(t("inbox_restored"), "ok");
    await refresh();
  } catch (e) { msg(errorText(e), "error"); } finally { b.disabled = false; }
});

$("#new-key-understood").addEventListener("change", (ev) => { $("#restore-replace-btn").disabled = !ev.target.checked; });

// A new key announced by the old one: restore the old key from the backup, replace it (the engine
// keeps the old one for what it could read) and publish the new key with the change signed by the
// old key, so that contacts can tell the change came from the user and not from the forum.
$("#restore-replace-btn").addEventListener("click", async () => {
  const b = $("#restore-replace-btn");
  b.disabled = true;
  try {
    const passphrase = await restoreFromBackup();
    if (passphrase === null) return;
    msg(t("inbox_replacing"));
    const r = await send("identity.replace", { passphrase, confirm: "REPLACE" });
    await refresh();
    if (await publishMyKey()) {
      msg(t("inbox_replaced", [r.digits, r.previous_digits]), "ok");
      $("#restore-replace-btn").dataset.state = "done";
    }
  } catch (e) { msg(errorText(e), "error"); } finally { b.disabled = !$("#new-key-understood").checked; }
});

// Opens every encrypted PM of the user not yet known on this device (titles decrypted here only).
// A key-exchange PM (PROTOCOL §3.4): pins the keys others posted in it, and answers once with mine.
async function takeKeyExchange(topicId) {
  const topic = await forum("topic", { topic_id: topicId });
  let got = 0;
  let answered = false;
  for (const p of topic.posts) {
    if (!patterns.key.test(p.raw) || patterns.message.test(p.raw)) continue;
    if (p.username.toLowerCase() === me.toLowerCase()) { answered = true; continue; }
    const k = await send("keys.receive", { origin, username: p.username, raw: p.raw });
    if (k.status === "first_seen" || k.status === "verified") got++;
  }
  if (got && !answered) {
    const mine = await send("keys.announce");
    await withRetry(() => forum("answer_key_exchange", { topic_id: topicId, raw: mine.raw }), () => {});
  }
  return got;
}

// One message per case, so that each language can say "one" and "many" its own way.
function syncSummary(found, keys) {
  const conv = found === 0 ? "none" : found === 1 ? "one" : "many";
  const key = keys === 0 ? "" : keys === 1 ? "_one_key" : "_keys";
  return {
    none: t("inbox_sync_none"), one: t("inbox_sync_one"), many: t("inbox_sync_many", [found]),
    none_one_key: t("inbox_sync_none_one_key"), one_one_key: t("inbox_sync_one_one_key"),
    many_one_key: t("inbox_sync_many_one_key", [found]),
    none_keys: t("inbox_sync_none_keys", [keys]), one_keys: t("inbox_sync_one_keys", [keys]),
    many_keys: t("inbox_sync_many_keys", [found, keys]),
  }[conv + key];
}

// The backup PM as find_backup knows it: its title, and a backup block in a first post of mine.
const backupChecked = new Map();   // "origin topic_id" -> is it my key backup
async function isMyBackup(topicId) {
  const k = `${origin} ${topicId}`;
  if (!backupChecked.has(k)) {
    const topic = await forum("topic", { topic_id: topicId });
    const first = topic.posts.find((p) => p.post_number === 1);
    backupChecked.set(k, !!first && first.username.toLowerCase() === me.toLowerCase() && patterns.backup.test(first.raw));
  }
  return backupChecked.get(k);
}

// Looks for new encrypted messages in every page of my PMs: opens conversations not yet known
// on this device, takes keys from key-exchange PMs, and notes the key backup and what the forum
// says of each topic (dates, unread). Runs when the inbox opens and on the button; one at a time.
const notMessages = new Set();     // "origin topic_id" of first posts that are no encrypted message
let discovering = null;            // {origin, promise} of the look under way
function discover() {
  if (discovering && discovering.origin === origin) return discovering.promise;
  const after = discovering ? discovering.promise : Promise.resolve();
  const run = { origin };
  run.promise = after.then(lookForMessages).finally(() => {
    if (discovering === run) { discovering = null; $("#sync-btn").disabled = false; }
  });
  discovering = run;
  return run.promise;
}
// The replies of a conversation found here are read once, so that search finds them before a
// viewer ever showed them (the engine indexes what it verifies).
const SEARCH_READ_BATCH = 500;
const triedForSearch = new Set();   // "origin topic_id" read for the index on this page
async function readForSearch(from, topic, bio) {
  const bios = new Map();
  const posts = [];
  for (const p of topic.posts) {
    if (p.post_number === 1 || !p.raw.includes(C.MSG_BEGIN)) continue;
    if (!bios.has(p.username)) bios.set(p.username, await bio(p.username));
    posts.push({ post_id: p.post_id, raw: p.raw, username: p.username, bio_raw: bios.get(p.username) });
  }
  for (let i = 0; i < posts.length; i += SEARCH_READ_BATCH) {
    try {
      await send("conv.read", { origin: from, topic_id: topic.topic_id, posts: posts.slice(i, i + SEARCH_READ_BATCH) });
    } catch (_) { return; /* locked meanwhile, or the forum changed the topic: the viewers read it later */ }
  }
}

async function lookForMessages() {
  const from = origin;
  const line = $("#sync-state");
  $("#sync-btn").disabled = true;
  line.dataset.state = "looking";
  setMessage(line, t("inbox_sync_looking"));
  try {
    const { conversations } = await send("conv.list", { origin: from });
    const known = new Set(conversations.filter((c) => c.title).map((c) => c.topic_id));
    const { topics } = await forum("my_pms");
    let found = 0;
    let keys = 0;
    const mine = [];
    const bio = async (u) => (await forum("user", { username: u })).bio_raw;
    for (const x of topics) {
      if (x.server_title === C.KEY_EXCHANGE_TITLE) { keys += await takeKeyExchange(x.topic_id); continue; }
      if (x.server_title === C.BACKUP_TITLE) { if (await isMyBackup(x.topic_id)) mine.push(x); continue; }
      if (known.has(x.topic_id) || notMessages.has(`${from} ${x.topic_id}`)) continue;
      const topic = await forum("topic", { topic_id: x.topic_id });
      const first = topic.posts.find((p) => p.post_number === 1);
      if (!first || !first.raw.includes(C.MSG_BEGIN)) { if (first) notMessages.add(`${from} ${x.topic_id}`); continue; }
      try {
        await openConversation({ send, bio, origin: from, me, topic });
        found++;
      } catch (_) { continue; /* not a conversation of mine, or damaged: nothing to list */ }
      await readForSearch(from, topic, bio);
    }
    // Conversations listed before search existed here (or by device sync) are read once for it;
    // one that cannot be indexed (its first post damaged, say) is tried once per inbox page.
    const unindexed = new Set(conversations.filter((c) => !c.indexed).map((c) => c.topic_id));
    for (const x of topics) {
      if (!unindexed.has(x.topic_id) || from !== origin || triedForSearch.has(`${from} ${x.topic_id}`)) continue;
      triedForSearch.add(`${from} ${x.topic_id}`);
      try {
        const topic = await forum("topic", { topic_id: x.topic_id });
        await openConversation({ send, bio, origin: from, me, topic });
        await readForSearch(from, topic, bio);
      } catch (_) { /* gone, or not readable here: the viewers read it when shown */ }
    }
    if (from !== origin) return;   // another forum was chosen meanwhile
    listed = new Map(topics.map((x) => [x.topic_id, x]));
    backups = mine.sort((a, b) => stamp(b.created_at) - stamp(a.created_at));
    await listConversations({ contacts: keys > 0 });
    // "done" once the list shows what was found
    line.dataset.state = "done";
    setMessage(line, syncSummary(found, keys), "ok");
  } catch (e) {
    line.dataset.state = "error";
    setMessage(line, errorText(e), "error");
  }
}

// Search (engine search.query) over what this device has read, on every forum: the results are
// plaintext and stay in this extension page; matches are marked with <mark>, text nodes only.
let searchSeq = 0;
let searchTimer = null;
async function runSearch() {
  const q = $("#search-q").value;
  const seq = ++searchSeq;
  const list = $("#search-results");
  const line = $("#search-state");
  if (!q.trim()) {
    list.replaceChildren();
    line.dataset.state = "idle";
    show(line, false);
    return;
  }
  let r;
  try {
    r = await send("search.query", { query: q.slice(0, 500), limit: 20 });
  } catch (e) {
    if (seq !== searchSeq) return;
    line.dataset.state = "error";
    setMessage(line, errorText(e), "error");
    show(line);
    return;
  }
  if (seq !== searchSeq) return;   // a newer query was typed meanwhile
  list.replaceChildren(...r.results.map(searchResult));
  line.dataset.state = "done";
  setMessage(line, r.results.length ? t("inbox_search_count", [String(r.results.length)]) : t("inbox_search_none"));
  show(line);
}

function searchResult(r) {
  const li = document.createElement("li");
  li.dataset.topicId = r.topic_id;
  li.dataset.origin = r.origin;
  const a = document.createElement("a");
  a.className = "result-title";
  // Only the chosen forum's subfolder is known here; another forum is linked at its root.
  a.href = `${r.origin}${r.origin === origin ? base : ""}/t/${r.topic_id}`;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = r.title || t("inbox_title_not_decrypted");
  const meta = document.createElement("span");
  meta.className = "result-meta";
  let host = r.origin;
  try { host = new URL(r.origin).host; } catch (_) { /* keep the origin as it is */ }
  meta.append(`${host} · ${r.author || ""} · `, timeElement(r.created_at, "result-date"),
    r.first_post ? ` · ${t("inbox_search_first_post")}` : "");
  const snip = document.createElement("p");
  snip.className = "result-snippet";
  for (const [text, isMatch] of r.snippet || []) {
    if (isMatch) { const m = document.createElement("mark"); m.textContent = text; snip.append(m); } else snip.append(text);
  }
  li.append(a, meta, snip);
  return li;
}
$("#search-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 120); });

$("#sync-btn").addEventListener("click", () => discover());
$("#devsync-btn").addEventListener("click", () => syncDevices());

(async () => {
  await chooseForum();
  await refresh().catch((e) => state("error", errorText(e), "error"));
})();
showSecurityPhrase();
