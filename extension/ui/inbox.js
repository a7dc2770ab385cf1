// The encrypted inbox (extension page): conversations with their decrypted titles (titles are
// never decrypted into the forum page), contacts with safety codes and QR codes, publishing the
// key into the bio, the backup PM, and activating a device from the backup.
// Forum HTTP goes through the content script of an open tab of the forum ("forum.request").
import { $, api, C, patterns, send, show, setMessage, errorText } from "./common.js";
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
  sel.onchange = () => { origin = sel.value; refresh(); };
}

async function refresh() {
  for (const s of ["#sec-unlock", "#sec-restore", "#sec-forum", "#sec-convs", "#sec-keys"]) show($(s), false);
  if (!origin) return state("no-forum", "Enable Encrypt for Discourse on a forum first (toolbar button on the forum's page).");
  const st = await send("engine.status");
  if (!st.has_identity) {
    show($("#sec-restore"));
    return state("no-identity", "No identity on this device yet.");
  }
  if (!st.unlocked) {
    show($("#sec-unlock"));
    return state("locked", "Your keys are locked.");
  }
  try {
    const who = await forum("me");
    me = who.username;
    base = who.base || "";   // a forum in a subfolder (discourse-base-uri)
  } catch (e) {
    return state("no-forum-tab", errorText(e), "error");
  }
  if (!me) return state("not-logged-in", `Log in to ${origin} in the forum tab first.`, "error");
  state("ready", `Logged in to ${origin} as ${me}.`, "ok");
  show($("#sec-forum")); show($("#sec-convs")); show($("#sec-keys"));
  await checkPublishedKey();
  await listConversations();
}

// Is the key in my profile this device's? After a restore, a reset or a new identity on another
// device they can differ unnoticed: contacts then encrypt to a key this device cannot open.
const KEY_STATE_TEXT = {
  same: (r) => [`Your profile publishes this device's key (fingerprint ${r.digits}).`, "ok"],
  none: () => ["Your key is not in your profile yet: others cannot write to you encrypted until you publish it.", "warn"],
  other: (r) => [`Your profile publishes another key (fingerprint ${r.published_digits}), not this device's ` +
    `(fingerprint ${r.digits}). Contacts encrypt to the published key, which this device cannot open. Publish this ` +
    "device's key (contacts are told that your key changed), or, to keep the published key, reset this device's " +
    "identity in the options and restore it from your forum backup.", "error"],
  damaged: () => ["The key block in your profile is damaged: publish your key again to repair it.", "error"],
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

async function listConversations() {
  const { conversations } = await send("conv.list", { origin });
  const tbody = $("#conversations tbody");
  tbody.replaceChildren();
  const people = new Set();
  for (const c of conversations.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))) {
    const tr = document.createElement("tr");
    tr.dataset.topicId = c.topic_id;
    const a = document.createElement("a");
    a.href = `${origin}${base}/t/${c.topic_id}`;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.className = "conv-title";
    a.textContent = c.title || "(title not yet decrypted)";
    const parts = (c.participants || []).map((p) => (Array.isArray(p) ? p[0] : p));
    for (const p of parts) if (me && p.toLowerCase() !== me.toLowerCase()) people.add(p);
    for (const [i, text] of [[0, null], [1, c.author || ""], [2, parts.join(", ")], [3, c.status || ""]]) {
      const td = document.createElement("td");
      if (i === 0) td.append(a); else td.textContent = text;
      tr.append(td);
    }
    tbody.append(tr);
  }
  show($("#convs-empty"), !conversations.length);
  await listContacts([...people].sort());
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
      { verified: "verified", first_seen: "not verified yet", key_changed: "KEY CHANGED", no_key: "no key" }[k.status] || k.status;
    const td3 = document.createElement("td");
    const b = document.createElement("button");
    b.textContent = "Safety code";
    b.className = "safety-btn";
    b.onclick = () => showSafety(username);
    td3.append(b);
    if (k.status === "key_changed") {
      const ack = document.createElement("button");
      ack.textContent = "Accept the new key";
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
    $("#safety-title").textContent = `Safety code with ${username}`;
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
  if (!patterns.username.test(username)) return msg("Enter a username.", "error");
  try {
    const u = await forum("user", { username });
    const k = await send("keys.check", { origin, username, bio_raw: u.bio_raw });
    if (k.status === "no_key" || k.status === "bad_key") return msg(k.message || `${username} has no published key.`, "error");
    await showSafety(username);
  } catch (e) { msg(errorText(e), "error"); }
});

$("#verify-btn").addEventListener("click", async () => {
  if (!current) return;
  try {
    await send("keys.mark_verified", { origin, username: current.username, fingerprint: current.fingerprint });
    $("#safety").dataset.verified = "1";
    msg(`${current.username} is now verified.`, "ok");
    await listConversations();
  } catch (e) { msg(errorText(e), "error"); }
});

$("#unlock-btn").addEventListener("click", async () => {
  try { await send("identity.unlock", { passphrase: $("#unlock-pass").value }); $("#unlock-pass").value = ""; await refresh(); }
  catch (e) { msg(errorText(e), "error"); }
});

$("#publish-btn").addEventListener("click", async () => {
  const b = $("#publish-btn");
  b.disabled = true;
  try {
    const u = await forum("user", { username: me });
    const p = await send("keys.publish", { bio_raw: u.bio_raw || "" });
    const saved = p.changed ? await forum("put_bio", { bio_raw: p.bio_raw }) : { saved: true };
    if (!saved.saved) {
      // The forum answered "saved" but kept the old bio (profiles managed by single sign-on, a
      // locked or hidden profile): say so, and how contacts still get the key.
      $("#publish-state").textContent = "Not published: this forum did not save your key in your profile" +
        (saved.can_change_bio ? "." : " (profiles are managed outside the forum).") +
        " Your contacts can still get it: when you write to someone without a published key, the composer " +
        "offers to exchange keys by private message, and their extension answers with theirs.";
      $("#publish-state").dataset.state = "not_saved";
    } else {
      $("#publish-state").textContent = `Published. Fingerprint: ${p.digits}` + (p.key_change
        ? ". It tells your contacts that it replaces your previous key, signed by that key." : "");
      $("#publish-state").dataset.state = "published";
      // The forum kept the bio as sent (put_bio re-read it): it now publishes this device's key.
      showKeyState({ state: "same", digits: p.digits });
    }
  } catch (e) { msg(errorText(e), "error"); }
  b.disabled = false;
});

$("#backup-btn").addEventListener("click", async () => {
  const b = $("#backup-btn");
  b.disabled = true;
  msg("Encrypting the backup (this takes a few seconds)…");
  try {
    const paper = $("#backup-paper").checked;
    const req = { passphrase: $("#backup-local").value, paper_key: paper };
    if ($("#backup-pass").value || !paper) req.backup_passphrase = $("#backup-pass").value;
    if (req.backup_passphrase !== undefined && req.backup_passphrase.length < C.MIN_PASSPHRASE_LENGTH) {
      b.disabled = false;
      return msg(`The backup passphrase needs at least ${C.MIN_PASSPHRASE_LENGTH} characters (or use a paper key instead).`, "error");
    }
    const out = await send("backup.make", req);
    // Only the encrypted record goes to the forum tab; the paper key stays on this page.
    await withRetry(() => forum("create_backup", { title: out.title, raw: out.raw }),
      ({ why, left }) => msg(`${why} Posting the backup again in ${left} s; nothing is lost.`));
    $("#backup-local").value = ""; $("#backup-pass").value = ""; $("#backup-paper").checked = false;
    if (out.paper_key) {
      $("#paperkey-words").textContent = out.paper_key;
      show($("#paperkey-box"));
    }
    msg(out.paper_key ? "Backed up to the forum (a private message to yourself). Write down your paper key now."
      : "Backed up to the forum (a private message to yourself).", "ok");
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
  msg("Looking for your backup on the forum…");
  try {
    const f = await forum("find_backup");
    if (!f.found) throw new Error("no key backup found in your private messages on this forum");
    msg("Opening the backup (this takes a few seconds)…");
    await send("backup.restore", { raw: f.raw, secret: $("#restore-secret").value, new_passphrase: $("#restore-new").value });
    $("#restore-secret").value = ""; $("#restore-new").value = "";
    msg("This device is activated.", "ok");
    await refresh();
  } catch (e) { msg(errorText(e), "error"); }
  b.disabled = false;
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

$("#sync-btn").addEventListener("click", async () => {
  const b = $("#sync-btn");
  b.disabled = true;
  try {
    const { conversations } = await send("conv.list", { origin });
    const known = new Set(conversations.filter((c) => c.title).map((c) => c.topic_id));
    const { topics } = await forum("my_pms");
    let found = 0;
    let keys = 0;
    const bio = async (u) => (await forum("user", { username: u })).bio_raw;
    for (const t of topics) {
      if (t.server_title === C.KEY_EXCHANGE_TITLE) { keys += await takeKeyExchange(t.topic_id); continue; }
      if (known.has(t.topic_id)) continue;
      const topic = await forum("topic", { topic_id: t.topic_id });
      const first = topic.posts.find((p) => p.post_number === 1);
      if (!first || !first.raw.includes(C.MSG_BEGIN)) continue;
      try {
        await openConversation({ send, bio, origin, me, topic });
        found++;
      } catch (_) { /* not a conversation of mine, or damaged: nothing to list */ }
    }
    msg((found ? `Found ${found} new encrypted conversation(s).` : "No new encrypted conversations.") +
      (keys ? ` Received ${keys} key(s) by private message.` : ""), "ok");
    await listConversations();
  } catch (e) { msg(errorText(e), "error"); }
  b.disabled = false;
});

(async () => {
  await chooseForum();
  await refresh().catch((e) => state("error", errorText(e), "error"));
})();
showSecurityPhrase();
