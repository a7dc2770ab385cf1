// Minimal content script, registered only on forums the user enabled (scripting.registerContentScripts).
// It sees ciphertext and public data only. It announces itself to the router; content/efd.js does
// the real work. It never listens to window.postMessage.
(() => {
  "use strict";
  if (globalThis.__efdDetectLoaded) return;
  globalThis.__efdDetectLoaded = true;
  const api = globalThis.browser ?? globalThis.chrome;
  const meta = document.querySelector('meta[name="generator"]');
  const generator = meta ? String(meta.content || "").slice(0, 200) : null;
  const isDiscourse = !!generator && /^Discourse\b/.test(generator);
  if (!isDiscourse) return;
  api.runtime.sendMessage({ type: "content.hello", payload: { generator } }).then((reply) => {
    document.documentElement.dataset.efdContent = reply && reply.ok && reply.result.enabled ? "enabled" : "disabled";
  }, () => {});

  // Test builds only: a DOM event lets the e2e suite measure content script -> engine -> back.
  // The reply carries the same public fields any content script gets (has_identity, unlocked).
  if ((globalThis.EFD_CONFIG || {}).testHooks) {
    document.addEventListener("efd-test-roundtrip", async () => {
      const t0 = performance.now();
      const reply = await api.runtime.sendMessage({ type: "engine.status", payload: {} });
      const ms = performance.now() - t0;
      document.documentElement.setAttribute("data-efd-roundtrip",
        JSON.stringify({ ms, ok: !!(reply && reply.ok), result: reply && reply.result }));
    });
  }
})();
