// Encrypt for Discourse content script, part 0, run at document_start: remembers the forum's base
// path (meta[name=discourse-base-uri], present on subfolder installs) as the HTML parser wrote
// it, before any page script could add or change one. content/forum.js sends every request under
// that path.
//
// Why this works: mutation records are delivered at the microtask checkpoint the parser performs
// before it runs each script, so the records of the server's own head reach us in document order,
// and we stop listening at the first script that runs: nothing after it is trusted. Discourse
// writes the meta in its head partial (app/views/layouts/_head.html.erb), before any script.
(() => {
  "use strict";
  if (globalThis.EFD_EARLY) return;
  const found = { base: null, closed: false };
  // Data blocks (<script type="application/json">, Discourse's preloaded data) never run.
  const RUNNABLE = new Set(["", "text/javascript", "module", "application/javascript"]);
  const runs = (script) => RUNNABLE.has(String(script.getAttribute("type") || "").trim().toLowerCase());
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      for (const node of r.addedNodes) {
        if (found.closed) return;
        if (node.nodeName === "SCRIPT" && runs(node)) { found.closed = true; observer.disconnect(); return; }
        if (node.nodeName === "META" && node.getAttribute("name") === "discourse-base-uri" && found.base === null) {
          found.base = String(node.getAttribute("content") || "");
        }
      }
    }
  });
  observer.observe(document, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", () => { found.closed = true; observer.disconnect(); }, { once: true });
  globalThis.EFD_EARLY = Object.freeze({
    // The base path the server wrote, "" when it wrote none before the first script, or null when
    // this script started too late to know (then the caller falls back to the document).
    baseUri: () => (found.base !== null ? found.base : found.closed ? "" : null),
  });
})();
