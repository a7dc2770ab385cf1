// The confirmation window: a decision the user started in a frame inside the forum page (send,
// accept a key), confirmed here, where the page can neither cover nor click anything.
import { $, send, t } from "./common.js";
import { showSecurityPhrase } from "../frames/guard.js";

const id = (location.hash || "").slice(1);
const LABELS = { send: t("confirm_action_send"), accept_key: t("accept_new_key") };

async function answer(confirmed) {
  $("#yes-btn").disabled = $("#no-btn").disabled = true;
  try { await send("ui.confirm_answer", { id, confirmed }); } catch (_) { /* already answered */ }
  window.close();
}

(async () => {
  showSecurityPhrase();
  try {
    const c = await send("ui.confirm_get", { id });
    $("#question").textContent = c.question;
    $("#origin").textContent = t("confirm_asked_by", [c.origin]);
    $("#yes-btn").textContent = LABELS[c.action] || t("confirm_yes");
    $("#yes-btn").disabled = false;
    document.body.dataset.state = "asking";
  } catch (e) {
    $("#question").textContent = t("confirm_nothing_waiting");
    document.body.dataset.state = "none";
  }
  $("#yes-btn").addEventListener("click", () => answer(true));
  $("#no-btn").addEventListener("click", () => answer(false));
})();
