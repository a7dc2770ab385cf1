// The router: receives every runtime message, checks the sender and the declaration in
// common/messages.js, handles site enablement itself and forwards engine requests with the
// browser-session marker. It never holds keys. Shared by the Chromium service worker
// (router_sw.js) and the Firefox background page (firefox.js).
import "../common/config.js";
import "../common/constants.js";
import "../common/messages.js";
import "../common/i18n.js";
import { storageSchema } from "./storage_schema.js";
import { createNotifier } from "./notify.js";

const M = globalThis.EFD_MESSAGES;
const CFG = globalThis.EFD_CONFIG || {};
const TICK_ALARM = "efd-autolock-tick";

// Content scripts registered on enabled forums, in load order: the shared facts and the message
// contract, the words (common/i18n.js), then the forum HTTP client (content/forum.js), then the page integration that uses it
// (content/page.js).
export const CONTENT_SCRIPTS = ["common/config.js", "common/constants.js", "common/messages.js", "common/i18n.js",
  "content/forum.js", "content/guard.js", "content/page.js"];
// Run at document_start, before the page's scripts: what must be read before the page can change it.
export const EARLY_CONTENT_SCRIPTS = ["content/early.js"];

export function originPattern(origin) {
  const u = new URL(origin);
  return `${u.protocol}//${u.hostname}/*`;
}
// 128 random bits as 32 hex digits: the session marker and the ids of confirmations and quotes.
function randomHex() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
function scriptId(origin) {
  return "efd-" + new URL(origin).hostname.replace(/[^A-Za-z0-9]/g, "_") + "-" + new URL(origin).protocol.slice(0, -1);
}

export function createRouter({ api, engineCall, dropEngine }) {
  const storage = storageSchema(api);
  // ---- browser-session marker (storage.session: gone after a browser restart) -------------
  let markerPromise = null;
  function marker() {
    if (!markerPromise) {
      markerPromise = (async () => {
        const got = await api.storage.session.get("marker");
        if (got && typeof got.marker === "string") return got.marker;
        const m = randomHex();
        await api.storage.session.set({ marker: m });
        return m;
      })().catch((e) => { markerPromise = null; throw e; });
    }
    return markerPromise;
  }

  async function toEngine(type, payload, senderCtx, sender = null) {
    const context = { sender: senderCtx, marker: await marker() };
    // A content script's requests are about the forum of its tab, whatever its payload says.
    if (senderCtx === "content" && sender && sender.url) context.origin = new URL(sender.url).origin;
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
    const early = await api.scripting.getRegisteredContentScripts({ ids: [id + "-early"] });
    if (!early.length) {
      await api.scripting.registerContentScripts([{ id: id + "-early", matches: [originPattern(origin)],
        js: EARLY_CONTENT_SCRIPTS, runAt: "document_start", allFrames: false }]);
    }
    const existing = await api.scripting.getRegisteredContentScripts({ ids: [id] });
    if (existing.length) {
      // Registrations outlive the version that made them: bring an older file list up to date.
      const js = (existing[0].js || []).map((f) => f.replace(/^\//, ""));
      if (JSON.stringify(js) !== JSON.stringify(CONTENT_SCRIPTS)) {
        await api.scripting.updateContentScripts([{ id, js: CONTENT_SCRIPTS }]);
      }
      return;
    }
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

  const notifier = createNotifier({ api, sites: enabledSites,
    forumIn: (origin, op, args) => forumIn(api, origin, { op, args }),
    engine: (type, payload) => toEngine(type, payload, "router"),
    isEncrypted: (raw) => M.patterns.message.test(raw), t: (key, subs) => globalThis.EFD_I18N.t(key, subs) });

  const ROUTER_HANDLERS = {
    async "site.enable"({ origin }) {
      const o = new URL(origin).origin;
      if (!(await api.permissions.contains({ origins: [originPattern(o)] }))) {
        throw new M.Rejected(`no host permission for ${o}: grant it from the popup first`, "no_permission");
      }
      await storage.writable("local", M.Rejected);
      await registerSite(o);
      const sites = await enabledSites();
      if (!sites.includes(o)) await api.storage.local.set({ sites: [...sites, o].sort() });
      return { origin: o, enabled: true };
    },
    async "site.disable"({ origin }) {
      const o = new URL(origin).origin;
      await storage.writable("local", M.Rejected);
      for (const id of [scriptId(o), scriptId(o) + "-early"]) {
        await api.scripting.unregisterContentScripts({ ids: [id] }).catch(() => {});
      }
      await api.storage.local.set({ sites: (await enabledSites()).filter((s) => s !== o) });
      return { origin: o, enabled: false };
    },
    async "site.list"() { return { sites: await enabledSites() }; },
    async "content.hello"(_payload, sender) {
      const o = new URL(sender.url).origin;
      return { enabled: (await enabledSites()).includes(o) };
    },
    async "test.drop_engine"() { await dropEngine(); return { dropped: true }; },
    ...frameHandlers(api),
    ...notifier.handlers,
  };

  async function dispatch(msg, sender) {
    await storage.ready().catch((e) => console.warn("storage check failed", e));
    const ctx = M.classifySender(api, sender);
    let decl;
    try {
      decl = M.check(msg, ctx, { testHooks: !!CFG.testHooks, to: ["router", "engine"] });
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
        reply = await toEngine(msg.type, payload, ctx, sender);
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
      if (M.isEngineRequest(msg)) return false;   // router -> engine traffic, not ours
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
    notifier.listen();
    api.runtime.onInstalled.addListener((details) => {
      if (details.reason === "install") api.runtime.openOptionsPage();
    });
    api.runtime.onStartup.addListener(() => { syncRegistrations(); });
    syncRegistrations().catch((e) => console.warn("sync failed", e));
  }

  return { dispatch, listen, marker, ROUTER_HANDLERS, storage };
}

// ---- frames placed by the content script, forum requests relayed to it ----------------------
// Token records live in storage.session (not readable by content scripts): {tab, origin, kind,
// me, topic_id, post_id, mode, to, used}. The bundle holds public data only.
// A page that keeps asking for frames must not fill storage.session (shared by every forum and
// tab): each tab keeps at most this many tokens, the oldest are dropped.
const MAX_TOKENS_PER_TAB = 300;

// A declared content.* message to the content script of the tab's top document.
async function contentOf(api, tabId, type, payload) {
  const reply = await api.tabs.sendMessage(tabId, { type, payload }, { frameId: 0 });
  if (!reply) throw new M.Rejected("the forum page did not answer (reload it)", "no_content");
  if (!reply.ok) { const e = new Error(reply.error.message); e.code = reply.error.code; e.info = reply.error; throw e; }
  return reply.result;
}
// A forum operation run by the content script of any tab of `origin`.
async function forumIn(api, origin, request) {
  const o = new URL(origin).origin;
  const tabs = (await api.tabs.query({ url: originPattern(o) }))
    .filter((t) => { try { return new URL(t.url).origin === o; } catch (_) { return false; } });
  if (!tabs.length) throw new M.Rejected(`open ${origin} in a tab (logged in) first`, "no_forum_tab");
  let last = null;
  for (const t of tabs) {
    try { return await contentOf(api, t.id, "content.forum", request); } catch (e) { last = e; if (e.code && e.code !== "no_content") throw e; }
  }
  throw last;
}

function frameHandlers(api) {
  const key = (t) => "tok." + t;
  const tabIndex = (tab) => "toks." + tab;
  async function remember(tab, token) {
    const k = tabIndex(tab);
    const list = (await api.storage.session.get(k))[k] || [];
    list.push(token);
    const dropped = list.splice(0, Math.max(0, list.length - MAX_TOKENS_PER_TAB));
    if (dropped.length) await api.storage.session.remove(dropped.map(key));
    await api.storage.session.set({ [k]: list });
  }
  // Decisions confirmed in an extension window (browsers that cannot tell whether a frame is
  // covered): id -> {question, action, origin, windowId, resolve}. In memory: a confirmation
  // lives as long as the composer's request waits for it.
  const confirmations = new Map();
  let unlockWindowId = null;   // the open unlock window, if any
  api.windows?.onRemoved?.addListener((windowId) => {
    if (windowId === unlockWindowId) unlockWindowId = null;
    for (const [id, c] of confirmations) if (c.windowId === windowId) { confirmations.delete(id); c.resolve(false); }
  });
  // Encrypted quotes on their way from a viewer to the composer the content script opens for them:
  // id -> {tab, topic_id, text, author, at}. In memory only (plaintext is never stored), for a minute.
  const quotes = new Map();
  const QUOTE_LIFETIME_MS = 60000;
  function takeQuote(id, rec) {
    const q = quotes.get(id);
    quotes.delete(id);
    if (!q || q.tab !== rec.tab || q.topic_id !== rec.topic_id || Date.now() - q.at > QUOTE_LIFETIME_MS) return null;
    return { text: q.text, author: q.author };
  }
  async function record(token) {
    const got = await api.storage.session.get(key(token));
    return got[key(token)] || null;
  }
  async function ownRecord(token, sender) {
    const rec = await record(token);
    if (!rec || !sender.tab || rec.tab !== sender.tab.id) throw new M.Rejected("unknown frame token", "bad_token");
    return rec;
  }
  const toContent = (tabId, type, payload) => contentOf(api, tabId, type, payload);
  return {
    async "frame.register"(p, sender) {
      const rec = { tab: sender.tab.id, origin: new URL(sender.url).origin, kind: p.kind, me: p.me,
        topic_id: p.topic_id ?? null, post_id: p.post_id ?? null, mode: p.mode ?? null, to: p.to ?? null,
        max_chars: p.max_chars ?? null, quote: p.quote ?? null, theme: p.theme ?? null, uploads: p.uploads ?? null,
        quote_id: p.kind === "composer" ? p.quote_id ?? null : null, used: false };
      if (await record(p.token)) throw new M.Rejected("token already registered", "bad_token");
      await api.storage.session.set({ [key(p.token)]: rec });
      await remember(rec.tab, p.token);
      return { registered: true };
    },
    async "frame.get"({ token }, sender) {
      const rec = await ownRecord(token, sender);
      if (rec.used) throw new M.Rejected("this frame token was already used", "bad_token");
      await api.storage.session.set({ [key(token)]: { ...rec, used: true } });
      const { tab, used, quote_id: quoteId, ...bundle } = rec;
      if (quoteId) bundle.encrypted_quote = takeQuote(quoteId, rec);
      return bundle;
    },
    async "frame.quote"({ token, text, author }, sender) {
      const rec = await ownRecord(token, sender);
      if (rec.kind !== "viewer" || !rec.topic_id) throw new M.Rejected("only the viewer of a topic's post can quote it", "bad_token");
      const id = randomHex();
      for (const [k, q] of quotes) if (Date.now() - q.at > QUOTE_LIFETIME_MS) quotes.delete(k);
      quotes.set(id, { tab: rec.tab, topic_id: rec.topic_id, text, author, at: Date.now() });
      await toContent(rec.tab, "content.open_composer", { topic_id: rec.topic_id, quote_id: id });
      return { opened: true };
    },
    async "frame.resize"({ token, height }, sender) {
      const rec = await ownRecord(token, sender);
      await toContent(rec.tab, "content.resize_frame", { token, height });
      return {};
    },
    async "frame.close"({ token, topic_id }, sender) {
      const rec = await ownRecord(token, sender);
      await toContent(rec.tab, "content.close_frame", { token, topic_id: topic_id ?? null });
      await api.storage.session.remove(key(token));
      return {};
    },
    async "forum.request"({ op, args, token, origin }, sender) {
      const request = { op, args: args || {} };
      if (token) {
        const rec = await ownRecord(token, sender);
        return toContent(rec.tab, "content.forum", request);
      }
      if (!origin) throw new M.Rejected("forum.request needs a token or an origin");
      return forumIn(api, origin, request);
    },
    async "ui.confirm"({ token, question, action }, sender) {
      const rec = await ownRecord(token, sender);
      const id = randomHex();
      const win = await api.windows.create({ url: api.runtime.getURL("ui/confirm.html") + "#" + id,
        type: "popup", width: 480, height: 320, focused: true });
      const confirmed = await new Promise((resolve) => {
        confirmations.set(id, { question, action, origin: rec.origin, windowId: win.id, resolve });
      });
      return { confirmed };
    },
    async "ui.confirm_get"({ id }) {
      const c = confirmations.get(id);
      if (!c) throw new M.Rejected("this confirmation is no longer waiting", "bad_token");
      return { question: c.question, action: c.action, origin: c.origin };
    },
    async "ui.confirm_answer"({ id, confirmed }) {
      const c = confirmations.get(id);
      if (!c) throw new M.Rejected("this confirmation is no longer waiting", "bad_token");
      confirmations.delete(id);
      c.resolve(confirmed === true);
      api.windows.remove(c.windowId).catch(() => {});
      return { answered: true };
    },
    async "ui.open_unlock"({ token }, sender) {
      await ownRecord(token, sender);
      if (unlockWindowId !== null) {
        try { await api.windows.update(unlockWindowId, { focused: true }); return { opened: true }; } catch (_) { unlockWindowId = null; }
      }
      const win = await api.windows.create({ url: api.runtime.getURL("ui/unlock.html"), type: "popup",
        width: 420, height: 340, focused: true });
      unlockWindowId = win.id;
      return { opened: true };
    },
    async "ui.open_inbox"(_p, sender) {
      const o = new URL(sender.url).origin;
      await api.tabs.create({ url: api.runtime.getURL("ui/inbox.html") + "?origin=" + encodeURIComponent(o) });
      return { opened: true };
    },
  };
}
