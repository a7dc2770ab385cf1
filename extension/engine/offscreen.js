// Chromium offscreen document: hosts the engine. Accepts requests only from the router
// (the extension's service worker), marked with target "engine".
import { EngineHost } from "./host.js";

const api = globalThis.chrome;
const cfg = globalThis.EFD_CONFIG || {};
const host = new EngineHost({ testHooks: !!cfg.testHooks, buildId: cfg.buildId });
const ROUTER_URL = api.runtime.getURL("background/router_sw.js");

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!msg || msg.target !== "engine") return false;          // not for us (pages talk to the router)
  if (sender.id !== api.runtime.id || sender.url !== ROUTER_URL) {
    sendResponse({ ok: false, error: { code: "rejected", message: "engine accepts requests from the router only" } });
    return false;
  }
  host.handle(msg.type, msg.payload, msg.context).then(sendResponse, (e) =>
    sendResponse({ ok: false, error: { code: "engine_error", message: String(e) } }));
  return true;
});
// Boot right away: the router only creates this document when a request is waiting.
host.boot().catch((e) => console.error("engine boot failed", e));
