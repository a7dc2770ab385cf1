// The router: receives every runtime message, checks the sender and the declaration in
// common/messages.js, handles site enablement itself and forwards engine requests with the
// browser-session marker. It never holds keys. Shared by the Chromium service worker
// (router_sw.js) and the Firefox background page (firefox.js).
import "../common/config.js";
import "../common/messages.js";

const M = globalThis.EFD_MESSAGES;
const CFG = globalThis.EFD_CONFIG || {};
const TICK_ALARM = "efd-autolock-tick";

// Content scripts registered on enabled forums. Issue 5 appends its files here.
export const CONTENT_SCRIPTS = ["common/config.js", "common/messages.js", "content/detect.js"];

export function originPattern(origin) {
  const u = new URL(origin);
  return `${u.protocol}//${u.hostname}/*`;
}
function scriptId(origin) {
  return "efd-" + new URL(origin).hostname.replace(/[^A-Za-z0-9]/g, "_") + "-" + new URL(origin).protocol.slice(0, -1);
}

export function createRouter({ api, engineCall, routerPaths, dropEngine }) {
  // ---- browser-session marker (storage.session: gone after a browser restart) -------------
  let markerPromise = null;
  function marker() {
    if (!markerPromise) {
      markerPromise = (async () => {
        const got = await api.storage.session.get("marker");
        if (got && typeof got.marker === "string") return got.marker;
        const bytes = crypto.getRandomValues(new Uint8Array(16));
        const m = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        await api.storage.session.set({ marker: m });
        return m;
      })().catch((e) => { markerPromise = null; throw e; });
    }
    return markerPromise;
  }

  async function toEngine(type, payload, senderCtx) {
    const context = { sender: senderCtx, marker: await marker() };
    const reply = await engineCall(type, payload, context);
    if (reply && reply.ok && reply.result && typeof reply.result.unlocked === "boolean") {
      await api.storage.session.set({ unlocked: reply.result.unlocked });
    }
    return reply;
  }

  // ---- sites ------------------------------------------------------------------------------
  async function enabledSites() {
    const { sites } = await api.storage.local.get("sites");
    return Array.isArray(sites) ? sites : [];
  }
  async function registerSite(origin) {
    const id = scriptId(origin);
    const existing = await api.scripting.getRegisteredContentScripts({ ids: [id] });
    if (existing.length) return;
    await api.scripting.registerContentScripts([{
      id, matches: [originPattern(origin)], js: CONTENT_SCRIPTS, runAt: "document_idle", allFrames: false,
    }]);
  }
  async function syncRegistrations() {
    for (const origin of await enabledSites()) {
      if (await api.permissions.contains({ origins: [originPattern(origin)] })) {
        await registerSite(origin).catch((e) => console.warn("register failed", origin, e));
      }
    }
  }

  const ROUTER_HANDLERS = {
    async "site.enable"({ origin }) {
      const o = new URL(origin).origin;
      if (!(await api.permissions.contains({ origins: [originPattern(o)] }))) {
        throw new M.Rejected(`no host permission for ${o}: grant it from the popup first`, "no_permission");
      }
      await registerSite(o);
      const sites = await enabledSites();
      if (!sites.includes(o)) await api.storage.local.set({ sites: [...sites, o].sort() });
      return { origin: o, enabled: true };
    },
    async "site.disable"({ origin }) {
      const o = new URL(origin).origin;
      await api.scripting.unregisterContentScripts({ ids: [scriptId(o)] }).catch(() => {});
      await api.storage.local.set({ sites: (await enabledSites()).filter((s) => s !== o) });
      return { origin: o, enabled: false };
    },
    async "site.list"() { return { sites: await enabledSites() }; },
    async "content.hello"(_payload, sender) {
      const o = new URL(sender.url).origin;
      return { enabled: (await enabledSites()).includes(o) };
    },
    async "test.drop_engine"() { await dropEngine(); return { dropped: true }; },
  };

  async function dispatch(msg, sender) {
    const ctx = M.classifySender(api, sender, routerPaths);
    let decl;
    try {
      decl = M.check(msg, ctx, { testHooks: !!CFG.testHooks });
    } catch (e) {
      if (e instanceof M.Rejected) {
        console.warn("rejected message", ctx, msg && msg.type, e.message);
        return M.fail(e.code, e.message);
      }
      throw e;
    }
    const payload = msg.payload ?? {};
    let reply;
    try {
      if (decl.to === "router") {
        const h = ROUTER_HANDLERS[msg.type];
        if (!h) return M.fail("not_implemented", `${msg.type} has no router handler`);
        reply = M.ok(await h(payload, sender));
      } else {
        reply = await toEngine(msg.type, payload, ctx);
      }
    } catch (e) {
      reply = M.fail(e.code || "router_error", e.message || String(e));
    }
    if (ctx === "content" && reply) {
      // Content scripts get allow-listed result fields only, and error codes without details
      // (engine messages can carry tracebacks).
      reply = reply.ok ? M.ok(M.forContent(decl, reply.result))
        : M.fail(reply.error && reply.error.code || "error", `${msg.type} failed (${reply.error && reply.error.code})`);
    }
    return reply;
  }

  function listen() {
    api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
      if (msg && msg.target === "engine") return false;   // router -> engine traffic, not ours
      dispatch(msg, sender).then(sendResponse, (e) => sendResponse(M.fail("router_error", e.message || String(e))));
      return true;
    });
    api.alarms.onAlarm.addListener(async (alarm) => {
      if (alarm.name !== TICK_ALARM) return;
      // Only wake the engine when keys may be unlocked; it also checks on every request.
      const { unlocked } = await api.storage.session.get("unlocked");
      if (unlocked) await toEngine("engine.tick", {}, "router").catch((e) => console.warn("tick failed", e));
    });
    api.alarms.get(TICK_ALARM).then((a) => { if (!a) api.alarms.create(TICK_ALARM, { periodInMinutes: 0.5 }); });
    api.runtime.onInstalled.addListener((details) => {
      if (details.reason === "install") api.runtime.openOptionsPage();
    });
    api.runtime.onStartup.addListener(() => { syncRegistrations(); });
    syncRegistrations().catch((e) => console.warn("sync failed", e));
  }

  return { dispatch, listen, marker, ROUTER_HANDLERS };
}
