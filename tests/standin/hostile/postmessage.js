// Hostile theme component: listen to every postMessage, and forge messages to every frame and the window.
(function () {
  const H = window.__hostile;
  const received = [];
  H.received = received;
  window.addEventListener("message", (e) => {
    let data;
    try { data = JSON.parse(JSON.stringify(e.data)); } catch (err) { data = String(e.data); }
    const item = { origin: e.origin, data, ports: e.ports ? e.ports.length : 0 };
    received.push(item);
    H.send("message", item);
  }, true);
  const forged = [
    { type: "decrypt", all: true }, { type: "plaintext.request" }, { type: "getPlaintext" },
    { type: "unlock", passphrase: "hostile" }, { type: "export", what: "identity" },
    { type: "composer.submit", text: "forged by the page" }, { cmd: "dump" }, "ping",
  ];
  let sent = 0;
  function forge() {
    const targets = [window, ...Array.from(document.querySelectorAll("iframe")).map((f) => f.contentWindow)];
    for (let i = 0; i < window.frames.length; i++) targets.push(window.frames[i]);
    for (const w of targets) {
      for (const msg of forged) {
        try { w && w.postMessage(msg, "*"); sent++; } catch (e) { /* detached frame */ }
      }
    }
  }
  setInterval(forge, 1000);
  H.forgeNow = forge;
  H.sentCount = () => sent;
})();
