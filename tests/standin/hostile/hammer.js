// A busy, meddling page (kinds `hammer`): churns the DOM, forges messages to every frame, wraps
// fetch and XMLHttpRequest, marks every post body as if it were already decorated and clicks the
// extension's page buttons with synthetic events. None of it may stop, slow or steer the
// extension: the whole e2e suite runs with it.
(function () {
  if (window.__hammer) return;
  window.__hammer = { clicks: 0, forged: 0 };
  const junk = () => {
    const d = document.createElement("div");
    d.className = "hammer-junk";
    d.hidden = true;
    document.body && document.body.append(d);
    setTimeout(() => d.remove(), 30);
  };
  setInterval(junk, 40);
  setInterval(() => {
    const msgs = [{ type: "frame.get" }, { efd: "resize", height: 1 }, { type: "send", body: "x" }, "unlock"];
    for (const f of Array.from(window.frames)) {
      for (const m of msgs) { try { f.postMessage(m, "*"); window.__hammer.forged++; } catch (e) { /* keep going */ } }
    }
    window.postMessage({ type: "content.forum", payload: { op: "put_bio", args: { bio_raw: "pwned" } } }, "*");
  }, 200);
  // Page-written state our content script must not believe.
  setInterval(() => {
    for (const c of document.querySelectorAll(".cooked")) c.setAttribute("data-efd-state", "framed");
  }, 300);
  // Synthetic clicks on the extension's buttons: they must open nothing.
  setInterval(() => {
    for (const b of document.querySelectorAll(".efd-reply, .efd-invite, .efd-new-message, .efd-message-user")) {
      b.click();
      b.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      window.__hammer.clicks++;
    }
  }, 1000);
  const origFetch = window.fetch;
  window.fetch = function (...args) { return origFetch.apply(this, args); };
  const origOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (...args) { return origOpen.apply(this, args); };
})();
