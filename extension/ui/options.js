// Setup / options page: create, unlock, lock, import, paper key, export, reset, auto-lock.
import { $, send, show, setMessage, setErrorMessage, errorText, showStrength, lookForMyKeyOn, t } from "./common.js";
import { showSecurityPhrase } from "../frames/guard.js";

let state = null;
let lastState = null;

async function refresh() {
  try {
    state = await send("engine.status");
  } catch (e) {
    setMessage($("#status"), t("options_engine_unavailable", [errorText(e)]), "error");
    $("#status").dataset.state = "error";
    return;
  }
  const s = state.has_identity ? (state.unlocked ? "unlocked" : "locked") : "none";
  $("#status").dataset.state = s;
  setMessage($("#status"), {
    none: t("options_status_none"),
    locked: t("options_status_locked"),
    unlocked: t("options_status_unlocked"),
  }[s], s === "unlocked" ? "ok" : "info");
  show($("#fp-line"), state.has_identity);
  $("#fingerprint").textContent = state.digits || "";
  show($("#sec-have-key"), s === "none");
  show($("#sec-create"), s === "none");
  // once each time the device is found without a key (refresh runs every few seconds, and the
  // look pages through the user's PMs)
  if (s === "none" && lastState !== "none") lookForMyKey();
  lastState = s;
  show($("#sec-import"), s === "none");
  show($("#sec-unlock"), s === "locked");
  show($("#sec-unlocked"), s === "unlocked");
  show($("#sec-settings"), s !== "none");
  show($("#sec-paper"), s === "unlocked");
  show($("#sec-export"), s === "unlocked");
  show($("#sec-replace"), s === "unlocked");
  show($("#sec-reset"), s !== "none");
  if (document.activeElement !== $("#autolock-min")) {
    $("#autolock-min").value = String(Math.max(1, Math.round(state.auto_lock_seconds / 60)));
  }
}

// Before a new key is made: is one of the user's keys on a forum the extension is enabled on (a
// backup in the PMs, or a key in the profile)? Each forum is asked through an open tab of it.
async function lookForMyKey() {
  const list = $("#have-key-forums");
  list.dataset.state = "looking";
  const { sites } = await send("site.list").catch(() => ({ sites: [] }));
  const rows = [];
  let found = false;
  for (const origin of sites) {
    const li = document.createElement("li");
    li.dataset.origin = origin;
    let text;
    try {
      const { found: what, published } = await lookForMyKeyOn(origin);
      li.dataset.found = what;
      found = found || what !== "nothing";
      text = { backup: t("options_have_key_backup", [origin]),
        published: t("options_have_key_published", [origin, published.published_digits || ""]),
        nothing: t("options_have_key_nothing", [origin]) }[what];
    } catch (e) {
      li.dataset.found = "unknown";
      text = t("options_have_key_unknown", [origin, errorText(e)]);
    }
    const a = document.createElement("a");
    a.href = "inbox.html?origin=" + encodeURIComponent(origin);
    a.target = "_blank";
    a.textContent = t("options_have_key_open_inbox");
    li.append(text + " ", a);
    rows.push(li);
  }
  if (!sites.length) {
    const li = document.createElement("li");
    li.dataset.found = "no_forum";
    li.textContent = t("options_have_key_no_forum");
    rows.push(li);
  }
  list.replaceChildren(...rows);
  list.dataset.state = "done";
  show($("#create-consequences"), found);
}

function wireCreate() {
  const p = $("#create-pass"), c = $("#create-confirm"), btn = $("#create-btn");
  const update = () => {
    const st = showStrength(p, $("#create-strength"), { meter: $("#create-meter") });
    btn.disabled = !(st.ok && p.value === c.value);
    if (c.value && p.value !== c.value) setMessage($("#create-msg"), t("options_passphrases_differ"), "error");
    else setMessage($("#create-msg"), "");
  };
  p.addEventListener("input", update);
  c.addEventListener("input", update);
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    show($("#create-progress"));
    const t0 = Date.now();
    const tick = setInterval(() => {
      $("#create-progress-text").textContent = t("options_create_progress", [((Date.now() - t0) / 1000).toFixed(1)]);
    }, 100);
    try {
      await send("identity.create", { passphrase: p.value });
      p.value = c.value = "";
      setMessage($("#create-msg"), t("options_created"), "ok");
    } catch (e) {
      setErrorMessage($("#create-msg"), e);
      btn.disabled = false;
    } finally {
      clearInterval(tick);
      show($("#create-progress"), false);
      await refresh();
    }
  });
}

function wireImport() {
  $("#import-new").addEventListener("input", () => showStrength($("#import-new"), $("#import-strength")));
  $("#import-btn").addEventListener("click", async () => {
    const msg = $("#import-msg");
    if ($("#import-new").value !== $("#import-confirm").value) return setMessage(msg, t("options_new_passphrases_differ"), "error");
    const st = showStrength($("#import-new"), $("#import-strength"));
    if (!st.ok) return setMessage(msg, st.advice, "error");
    const payload = { text: $("#import-text").value, new_passphrase: $("#import-new").value };
    if ($("#import-pass").value) payload.passphrase = $("#import-pass").value;
    $("#import-btn").disabled = true;
    setMessage(msg, t("options_importing"));
    try {
      await send("identity.import", payload);
      for (const id of ["#import-text", "#import-pass", "#import-new", "#import-confirm"]) $(id).value = "";
      setMessage(msg, t("options_imported"), "ok");
    } catch (e) {
      setErrorMessage(msg, e);
    } finally {
      $("#import-btn").disabled = false;
      await refresh();
    }
  });
}

function wireUnlockLock() {
  const unlock = async () => {
    const msg = $("#unlock-msg");
    $("#unlock-btn").disabled = true;
    try {
      await send("identity.unlock", { passphrase: $("#unlock-pass").value });
      $("#unlock-pass").value = "";
      setMessage(msg, "");
    } catch (e) {
      setErrorMessage(msg, e);
    } finally {
      $("#unlock-btn").disabled = false;
      await refresh();
    }
  };
  $("#unlock-btn").addEventListener("click", unlock);
  $("#unlock-pass").addEventListener("keydown", (ev) => { if (ev.key === "Enter") unlock(); });
  $("#lock-btn").addEventListener("click", async () => { await send("identity.lock"); await refresh(); });
  $("#autolock-save").addEventListener("click", async () => {
    const minutes = parseInt($("#autolock-min").value, 10);
    try {
      const r = await send("settings.set", { auto_lock_seconds: minutes * 60 });
      setMessage($("#autolock-msg"), t("options_autolock_saved", [Math.round(r.auto_lock_seconds / 60)]), "ok");
    } catch (e) {
      setErrorMessage($("#autolock-msg"), e);
    }
  });
}

function wirePaperExport() {
  $("#paper-btn").addEventListener("click", async () => {
    try {
      const r = await send("identity.paperkey", { passphrase: $("#paper-pass").value });
      $("#paper-pass").value = "";
      $("#paper-key").textContent = r.paper_key;
      $("#paper-label").textContent = r.label;
      $("#paper-identity").value = JSON.stringify(r.label_map);
      show($("#paper-out"));
      setMessage($("#paper-msg"), "");
    } catch (e) {
      setErrorMessage($("#paper-msg"), e);
    }
  });
  $("#export-btn").addEventListener("click", async () => {
    try {
      const r = await send("identity.export", { passphrase: $("#export-pass").value });
      $("#export-pass").value = "";
      $("#export-out").value = r.packed;
      show($("#export-out"));
      setMessage($("#export-msg"), t("options_export_done"), "error");
    } catch (e) {
      setErrorMessage($("#export-msg"), e);
    }
  });
}

function wireReplace() {
  const confirm = $("#replace-confirm"), btn = $("#replace-btn"), msg = $("#replace-msg");
  confirm.addEventListener("input", () => { btn.disabled = confirm.value !== "REPLACE"; });
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    show($("#replace-progress"));
    try {
      const r = await send("identity.replace", { passphrase: $("#replace-pass").value, confirm: confirm.value });
      $("#replace-pass").value = confirm.value = "";
      setMessage(msg, t("options_replaced", [r.digits, r.previous_digits]), "ok");
      msg.dataset.state = "replaced";
    } catch (e) {
      setErrorMessage(msg, e);
      btn.disabled = confirm.value !== "REPLACE";
    } finally {
      show($("#replace-progress"), false);
      await refresh();
    }
  });
}

function wireReset() {
  $("#reset-confirm").addEventListener("input", () => { $("#reset-btn").disabled = $("#reset-confirm").value !== "RESET"; });
  $("#reset-btn").addEventListener("click", async () => {
    try {
      await send("identity.reset", { confirm: $("#reset-confirm").value });
      $("#reset-confirm").value = "";
      $("#reset-btn").disabled = true;
      for (const id of ["#paper-out", "#export-out"]) show($(id), false);
      setMessage($("#reset-msg"), "");
    } catch (e) {
      setErrorMessage($("#reset-msg"), e);
    }
    await refresh();
  });
}

wireCreate();
wireImport();
wireUnlockLock();
wirePaperExport();
function wirePhrase() {
  $("#phrase-save").addEventListener("click", async () => {
    try {
      await send("settings.set", { security_phrase: $("#phrase-input").value });
      $("#phrase-input").value = "";
      setMessage($("#phrase-msg"), t("options_phrase_saved"), "ok");
      await showSecurityPhrase();
    } catch (e) {
      setErrorMessage($("#phrase-msg"), e);
    }
  });
  showSecurityPhrase();
}

// Desktop notifications: the browser's permission is asked for from this click (it is optional
// in the manifest), then the router polls the enabled forums.
function wireNotify() {
  const box = $("#notify-toggle");
  send("notify.get").then((s) => { box.checked = s.enabled && s.permitted; }).catch(() => {});
  box.addEventListener("change", async () => {
    const on = box.checked;
    try {
      const api = globalThis.browser || globalThis.chrome;
      if (on && !(await api.permissions.request({ permissions: ["notifications"] }))) {
        box.checked = false;
        return setMessage($("#notify-msg"), t("options_notify_refused"), "error");
      }
      await send("notify.set", { enabled: on });
      setMessage($("#notify-msg"), on ? t("options_notify_on") : t("options_notify_off"), "ok");
    } catch (e) {
      box.checked = !on;
      setErrorMessage($("#notify-msg"), e);
    }
  });
}

wirePhrase();
wireNotify();
wireReplace();
wireReset();
refresh();
setInterval(refresh, 5000);
