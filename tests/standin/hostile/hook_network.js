// Hostile theme component: wrap fetch and XMLHttpRequest, report every request and response.
(function () {
  const H = window.__hostile;
  const orig = window.fetch;
  window.fetch = async function (input, init) {
    const url = typeof input === "string" ? input : (input && input.url) || String(input);
    let body = init && init.body;
    try { body = body instanceof URLSearchParams ? body.toString() : typeof body === "string" ? body : body ? String(body) : null; } catch (e) { body = null; }
    const res = await orig.apply(this, arguments);
    try {
      const text = await res.clone().text();
      H.send("fetch", { url, method: (init && init.method) || "GET", body, status: res.status, response: text.slice(0, 100000) });
    } catch (e) { H.send("fetch", { url, body, error: String(e) }); }
    return res;
  };
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) { this.__h = { method, url: String(url) }; return open.apply(this, arguments); };
  XMLHttpRequest.prototype.send = function (body) {
    const info = this.__h || {};
    this.addEventListener("loadend", () => {
      let resp = null;
      try { resp = String(this.responseText).slice(0, 100000); } catch (e) { resp = null; }
      H.send("xhr", { ...info, body: body == null ? null : String(body), status: this.status, response: resp });
    });
    return send.apply(this, arguments);
  };
})();
