// The unlock window: opened from a locked viewer or composer inside a forum page, so that the
// passphrase is typed into an extension page the forum's page can neither read nor cover (never
// a field in the page, and no need to find the toolbar button, which browsers hide by default).
// The frames see the unlock through storage.session and show their content again.
import { $, api, send, setMessage, setErrorMessage, t } from "./common.js";
import { showSecurityPhrase } from "../frames/guard.js";

// Closes this page's own tab: the router opens it as the only tab of a popup window, so the
// window goes with it, and a page shown in an ordinary tab never closes the user's window.
function closeSoon() {
  setTimeout(() => {
    api.tabs.getCurrent().then((tab) => api.tabs.remove(tab.id)).catch(() => window.close());
  }, 800);
}

async function refresh() {
  const st = await send("engine.status");
  if (!st.has_identity) {
    document.body.dataset.state = "no_identity";
    $("#unlock-form").hidden = true;
    return setMessage($("#state"), t("unlock_no_identity"), "info");
  }
  if (st.unlocked) {
    document.body.dataset.state = "unlocked";
    $("#unlock-form").hidden = true;
    setMessage($("#state"), t("unlock_done"), "ok");
    return closeSoon();
  }
  document.body.dataset.state = "locked";
  // After too many wrong passphrases: count down to the moment the next attempt is accepted.
  if (st.throttled_for > 0) showError({ code: "throttled", info: { retry_after: st.throttled_for } });
}

// The error's code stays on the element for tests; its text is in the user's words.
function showError(e) {
  $("#msg").dataset.code = (e && e.code) || "";
  setErrorMessage($("#msg"), e);
}
function clearError() {
  clearTimeout($("#msg").efdCountdown);
  delete $("#msg").dataset.code;
  setMessage($("#msg"), "");
}

$("#unlock-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("#unlock-pass");
  $("#unlock-btn").disabled = true;
  try {
    await send("identity.unlock", { passphrase: input.value });
    input.value = "";
    clearError();
  } catch (e) {
    showError(e);
    input.select();
  }
  // Unlocked: close; a wrong passphrase that started a wait: count it down.
  await refresh().catch(showError);
  $("#unlock-btn").disabled = false;
});

showSecurityPhrase();
refresh().catch(showError);
