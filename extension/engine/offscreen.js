// Chromium offscreen document: hosts the engine. Accepts only the router's engine requests
// (common/messages.js checkEngineRequest: sent by the service worker, engine-bound declared types,
// payloads valid for the sender the router names).
import "../common/config.js";
import "../common/constants.js";
import "../common/messages.js";
import { EngineHost } from "./host.js";

const api = globalThis.chrome;
const M = globalThis.EFD_MESSAGES;
const cfg = globalThis.EFD_CONFIG || {};
const host = new EngineHost({ testHooks: !!cfg.testHooks, buildId: cfg.buildId });

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!M.isEngineRequest(msg)) return false;          // not for us (pages talk to the router)
  try {
    M.checkEngineRequest(api, msg, sender, { testHooks: !!cfg.testHooks });
  } catch (e) {
    if (!(e instanceof M.Rejected)) throw e;
    console.warn("engine request rejected", msg.type, e.message);
    sendResponse(M.fail(e.code, e.message));
    return false;
  }
  host.handle(msg.type, msg.payload, msg.context).then(sendResponse, (e) =>
    sendResponse(M.fail("engine_error", String(e))));
  return true;
});
// Boot right away: the router only creates this document when a request is waiting.
host.boot().catch((e) => console.error("engine boot failed", e));
