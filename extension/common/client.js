// The one messaging client of the extension's own pages and frames: sends a declared message
// (common/messages.js) through the router and unwraps the {ok, result | error} reply.
// Extension origin only; content scripts talk to the router with their own small sender.
import "./config.js";
import "./constants.js";
import "./messages.js";
import "./i18n.js";

export const api = globalThis.browser ?? globalThis.chrome;
export const { t, tNodes, localizePage } = globalThis.EFD_I18N;

export class RequestError extends Error {
  constructor(error) { super(error.message); this.code = error.code; this.info = error; }
}

// Resolves to the result, or throws RequestError with the error's code and message.
export async function send(type, payload = {}) {
  const reply = await api.runtime.sendMessage({ type, payload });
  if (!reply) throw new RequestError({ code: "no_reply", message: "the extension did not answer" });
  if (!reply.ok) throw new RequestError(reply.error);
  return reply.result;
}

export const $ = (sel, root = document) => root.querySelector(sel);
