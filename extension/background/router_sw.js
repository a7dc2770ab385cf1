// Chromium service worker: the router only. The engine lives in an offscreen document,
// created on demand (and again after Chromium drops it).
import { createRouter } from "./router.js";
import "../common/i18n.js";

const api = globalThis.chrome;
const M = globalThis.EFD_MESSAGES;
const OFFSCREEN_URL = "engine/offscreen.html";
let creating = null;

async function ensureOffscreen() {
  const ctxs = await api.runtime.getContexts({ contextTypes: ["OFFSCREEN_DOCUMENT"],
    documentUrls: [api.runtime.getURL(OFFSCREEN_URL)] });
  if (ctxs.length) return;
  if (!creating) {
    creating = api.offscreen.createDocument({ url: OFFSCREEN_URL, reasons: ["WORKERS"],
      justification: globalThis.EFD_I18N.t("offscreen_justification") })
      .finally(() => { creating = null; });
  }
  await creating;
}

async function engineCall(type, payload, context) {
  await ensureOffscreen();
  // The document may still be registering its listener right after creation: retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      const reply = await api.runtime.sendMessage(M.engineRequest(type, payload, context));
      if (reply !== undefined) return reply;
      throw new Error("engine did not answer");
    } catch (e) {
      const notYet = /Receiving end does not exist|did not answer/.test(String(e && e.message));
      if (!notYet || attempt >= 100) throw e;
      await new Promise((r) => setTimeout(r, 20));
      await ensureOffscreen();
    }
  }
}

async function dropEngine() {
  const ctxs = await api.runtime.getContexts({ contextTypes: ["OFFSCREEN_DOCUMENT"] });
  if (ctxs.length) await api.offscreen.closeDocument();
}

createRouter({ api, engineCall, dropEngine }).listen();
