// Popup: for the current tab, one of: not a Discourse site / not enabled / no identity /
// locked / unlocked, with the one obvious next action.
import { $, api, send, show, setMessage, setErrorMessage, errorText, t } from "./common.js";
import { showSecurityPhrase } from "../frames/guard.js";

const SECTIONS = ["#act-enable", "#act-setup", "#act-unlock", "#act-lock"];

function pattern(origin) { const u = new URL(origin); return `${u.protocol}//${u.hostname}/*`; }

async function activeTab() {
  // The URL of the active tab is available thanks to activeTab (the user opened the popup).
  const q = new URLSearchParams(location.search);
  if (q.has("tab")) return api.tabs.get(parseInt(q.get("tab"), 10));   // for tests opening the popup as a page
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  return tab;
}

async function isDiscourse(tabId) {
  try {
    const [res] = await api.scripting.executeScript({ target: { tabId },
      func: () => { const m = document.querySelector('meta[name="generator"]'); return m ? m.content : ""; } });
    return /^Discourse\b/.test((res && res.result) || "");
  } catch (_) {
    return false;   // no access to this tab (browser pages, store pages, ...)
  }
}

function render(state, text, kind = "info") {
  $("#state").dataset.state = state;
  setMessage($("#state"), text, kind);
  for (const s of SECTIONS) show($(s), false);
  const act = { "not-enabled": "#act-enable", "no-identity": "#act-setup", locked: "#act-unlock", unlocked: "#act-lock" }[state];
  if (act) show($(act));
}

let currentTab = null;
let enabledOrigin = null;   // the current tab's forum, when the extension is enabled on it

async function refresh() {
  const tab = await activeTab().catch(() => null);
  currentTab = tab;
  let origin = null;
  try { if (tab && tab.url && /^https?:/.test(tab.url)) origin = new URL(tab.url).origin; } catch (_) { /* ignore */ }
  $("#site").textContent = origin || "";
  const { sites } = await send("site.list");
  const enabled = !!origin && sites.includes(origin);
  enabledOrigin = enabled ? origin : null;
  if (origin && !enabled) {
    if (await isDiscourse(tab.id)) return render("not-enabled", t("popup_not_enabled"));
    return render("not-discourse", t("popup_not_discourse"));
  }
  const st = await send("engine.status");
  if (!st.has_identity) return render("no-identity", t("popup_no_identity"));
  if (!st.unlocked) {
    const wait = Math.ceil(st.throttled_for);
    if (st.throttled_for > 0) return render("locked", origin ? t("popup_locked_here_wait", [wait]) : t("popup_locked_wait", [wait]));
    return render("locked", origin ? t("popup_locked_here") : t("popup_locked"));
  }
  return render("unlocked", origin ? t("popup_unlocked_here") : t("popup_unlocked"), "ok");
}

$("#enable-btn").addEventListener("click", () => {
  // permissions.request must be the first call in the click handler: Firefox only shows its
  // prompt while handling the user input (no await before it). Already granted -> true, no prompt.
  let origin;
  try { origin = new URL(currentTab.url).origin; } catch (_) { return; }
  api.permissions.request({ origins: [pattern(origin)] }).then(async (granted) => {
    if (!granted) return setMessage($("#msg"), t("popup_permission_refused"), "error");
    await send("site.enable", { origin });
    if (currentTab.id !== undefined) api.tabs.reload(currentTab.id);
    await refresh();
  }).catch((e) => setErrorMessage($("#msg"), e));
});
function openInbox() {
  const q = enabledOrigin ? "?origin=" + encodeURIComponent(enabledOrigin) : "";
  api.tabs.create({ url: api.runtime.getURL("ui/inbox.html") + q });
}
// On an enabled forum, setup starts in the inbox, which looks for the user's backup and published
// key there before offering a new key; elsewhere there is no forum to look on.
$("#setup-btn").addEventListener("click", () => (enabledOrigin ? openInbox() : api.runtime.openOptionsPage()));
$("#options-link").addEventListener("click", (ev) => { ev.preventDefault(); api.runtime.openOptionsPage(); });
// Encrypted inbox: conversations with decrypted titles, keys, publishing, backup.
$("#inbox-link").addEventListener("click", (ev) => { ev.preventDefault(); openInbox(); });
const unlock = async () => {
  try {
    await send("identity.unlock", { passphrase: $("#unlock-pass").value });
    $("#unlock-pass").value = "";
    setMessage($("#msg"), "");
  } catch (e) {
    setErrorMessage($("#msg"), e);
  }
  await refresh();
};
$("#unlock-btn").addEventListener("click", unlock);
$("#unlock-pass").addEventListener("keydown", (ev) => { if (ev.key === "Enter") unlock(); });
$("#lock-btn").addEventListener("click", async () => { await send("identity.lock"); await refresh(); });

refresh().catch((e) => render("error", errorText(e), "error"));
showSecurityPhrase();
