// Encrypt for Discourse: the single declaration of every message between extension contexts.
//
// Loads both as a classic script (content scripts) and as a side-effect ES module import
// (`import "../common/messages.js"`): it defines `globalThis.EFD_MESSAGES` and exports nothing.
//
// Envelope (all contexts): request `{type: "<area>.<verb>", payload: {...}}` sent with
// runtime.sendMessage; reply `{ok: true, result: {...}}` or `{ok: false, error: {code, message}}`.
// Router -> engine forwarding adds `target: "engine"` and `context: {sender, marker}`.
//
// Each declaration:
//   from:    sender contexts allowed to send it: "content", "router", "engine", "page:<name>",
//            "frame:<name>", or the wildcards "page:*" / "frame:*".
//   to:      "router" (handled in the router) or "engine" (forwarded to the Pyodide engine).
//   payload: validator (see V below) for the payload object.
//   contentResult: for types a content script may send, the allow-list of result fields that may
//            reach it (ciphertext and public data only). Anything else is stripped by the router.
//
// Adding a type is one entry in TYPES (or in ISSUE5_TYPES below).
(() => {
  "use strict";
  if (globalThis.EFD_MESSAGES) return;

  // ---- tiny validators (plain JS). A validator returns null when valid, else a message. ----
  const V = {
    str: ({ min = 0, max = 1 << 20, re = null } = {}) => (v, p) =>
      typeof v !== "string" ? `${p} must be a string`
        : v.length < min ? `${p} must have at least ${min} characters`
        : v.length > max ? `${p} must have at most ${max} characters`
        : re && !re.test(v) ? `${p} has an invalid format` : null,
    int: ({ min = -Infinity, max = Infinity } = {}) => (v, p) =>
      !Number.isInteger(v) ? `${p} must be an integer`
        : v < min || v > max ? `${p} must be between ${min} and ${max}` : null,
    bool: () => (v, p) => (typeof v === "boolean" ? null : `${p} must be a boolean`),
    literal: (x) => (v, p) => (v === x ? null : `${p} must be ${JSON.stringify(x)}`),
    oneOf: (xs) => (v, p) => (xs.includes(v) ? null : `${p} must be one of ${xs.join(", ")}`),
    optional: (f) => (v, p) => (v === undefined || v === null ? null : f(v, p)),
    array: (f, { max = 1000 } = {}) => (v, p) => {
      if (!Array.isArray(v)) return `${p} must be an array`;
      if (v.length > max) return `${p} has more than ${max} items`;
      for (let i = 0; i < v.length; i++) { const e = f(v[i], `${p}[${i}]`); if (e) return e; }
      return null;
    },
    // A plain object with exactly these keys (optional ones may be absent); no extra keys.
    obj: (shape = {}) => (v, p = "payload") => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return `${p} must be an object`;
      for (const k of Object.keys(v)) if (!(k in shape)) return `${p}.${k} is not allowed`;
      for (const [k, f] of Object.entries(shape)) { const e = f(v[k], `${p}.${k}`); if (e) return e; }
      return null;
    },
  };
  const origin = V.str({ max: 300, re: /^https?:\/\/[A-Za-z0-9.\-\[\]:]+$/ });
  const passphrase = V.str({ min: 1, max: 1024 });
  const newPassphrase = V.str({ min: 15, max: 1024 });
  const PAGES = ["page:*", "frame:*"];

  const TYPES = {
    // ---- router: sites -------------------------------------------------------------------
    "site.enable": { from: ["page:popup", "page:options"], to: "router", payload: V.obj({ origin }) },
    "site.disable": { from: ["page:popup", "page:options"], to: "router", payload: V.obj({ origin }) },
    "site.list": { from: ["page:popup", "page:options"], to: "router", payload: V.obj({}) },
    // The content script announces itself; the reply says whether the origin is enabled.
    "content.hello": { from: ["content"], to: "router", payload: V.obj({ generator: V.optional(V.str({ max: 200 })) }),
      contentResult: ["enabled"] },

    // ---- engine: status, identity lifecycle -----------------------------------------------
    "engine.status": { from: ["content", ...PAGES], to: "engine", payload: V.obj({}),
      contentResult: ["has_identity", "unlocked"] },
    "engine.tick": { from: ["router"], to: "engine", payload: V.obj({}) },
    "identity.create": { from: ["page:options"], to: "engine", payload: V.obj({ passphrase: newPassphrase }) },
    "identity.unlock": { from: ["page:popup", "page:options", "page:inbox"], to: "engine", payload: V.obj({ passphrase }) },
    "identity.lock": { from: PAGES, to: "engine", payload: V.obj({}) },
    "identity.import": { from: ["page:options"], to: "engine", payload: V.obj({
      text: V.str({ min: 2, max: 200000 }),
      passphrase: V.optional(passphrase), // of a protected identity, or the paper key
      new_passphrase: newPassphrase,
    }) },
    "identity.export": { from: ["page:options"], to: "engine", payload: V.obj({ passphrase }) },
    "identity.paperkey": { from: ["page:options"], to: "engine", payload: V.obj({ passphrase }) },
    "identity.reset": { from: ["page:options"], to: "engine", payload: V.obj({ confirm: V.literal("RESET") }) },
    "identity.replace": { from: ["page:options"], to: "engine", payload: V.obj({ passphrase, confirm: V.literal("REPLACE") }) },
    "identity.public": { from: ["content", ...PAGES], to: "engine", payload: V.obj({}),
      contentResult: ["public", "fingerprint", "version"] },
    "settings.get": { from: PAGES, to: "engine", payload: V.obj({}) },
    "settings.set": { from: ["page:options", "page:popup"], to: "engine", payload: V.obj({
      auto_lock_seconds: V.int({ min: 1, max: 7 * 24 * 3600 }) }) },
    // Decrypt one post given the topic key wrapped for us (plaintext goes to extension pages only).
    "post.decrypt": { from: PAGES, to: "engine", payload: V.obj({
      wrapped_key: V.str({ min: 16, max: 4096 }), ciphertext: V.str({ min: 3, max: 1 << 20 }) }) },

    // ---- test hooks: only honoured when EFD_CONFIG.testHooks (test builds) ------------------
    "test.engine_info": { from: ["page:*"], to: "engine", payload: V.obj({}), test: true },
    "test.drop_engine": { from: ["page:*"], to: "router", payload: V.obj({}), test: true },
  };

  // ======================================================================================
  // ISSUE 5 — conversations, viewer/composer frames, keys/pinning, drafts.
  // Declare those types here, one entry each, same shape as TYPES. Engine handlers go in
  // pycore/engine_conv.py (HANDLERS); router handlers in background/router.js (ROUTER_HANDLERS).
  const FRAMES = ["frame:viewer", "frame:composer"];
  const EXT = ["frame:*", "page:inbox", "page:options", "page:popup"];
  const token = V.str({ min: 16, max: 64, re: /^[A-Za-z0-9_-]+$/ });
  const username = V.str({ min: 1, max: 60, re: /^[\w.\-]+$/ });
  const fp = V.str({ min: 64, max: 64, re: /^[0-9a-f]{64}$/ });
  const topicId = V.int({ min: 1, max: 2 ** 53 - 1 });
  const postId = V.int({ min: 1, max: 2 ** 53 - 1 });
  const bio = V.optional(V.str({ max: 10000 }));
  const userRef = V.obj({ username, bio_raw: bio });
  // created_at: Discourse's time of the post (the engine reports how far it is from the signed time).
  const postRef = V.obj({ post_id: postId, raw: V.str({ max: 200000 }), username, bio_raw: bio,
    created_at: V.optional(V.str({ max: 40 })) });
  const maxChars = V.optional(V.int({ min: 1000, max: 1000000 }));
  // Ciphertext only: what the content script may post for a frame (checked here and again there).
  const MSG_RE = /-----BEGIN EFD MESSAGE-----[\s\S]*-----END EFD MESSAGE-----/;
  const BACKUP_RE = /-----BEGIN EFD KEY BACKUP-----[\s\S]*-----END EFD KEY BACKUP-----/;
  const armoured = (re) => V.str({ min: 40, max: 200000, re });
  // Forum operations the content script performs for frames and extension pages (public data
  // and ciphertext only, both ways). op -> args validator.
  const FORUM_OPS = {
    me: V.obj({}),
    user: V.obj({ username }),
    search_users: V.obj({ term: V.str({ min: 1, max: 60 }) }),
    topic: V.obj({ topic_id: topicId }),
    create_pm: V.obj({ title: V.literal("Encrypted message"), raw: armoured(MSG_RE),
      target_recipients: V.str({ min: 1, max: 2000, re: /^[\w.\-]+(,[\w.\-]+)*$/ }) }),
    reply: V.obj({ topic_id: topicId, raw: armoured(MSG_RE) }),
    invite: V.obj({ topic_id: topicId, user: username }),
    put_bio: V.obj({ bio_raw: V.str({ max: 3000 }) }),
    create_backup: V.obj({ title: V.literal("Encrypted key backup"), raw: armoured(BACKUP_RE) }),
    find_backup: V.obj({}),
    my_pms: V.obj({}),
    navigate: V.obj({ topic_id: topicId }),
  };
  const forumOp = (v, p) => {
    if (!v || typeof v !== "object" || typeof v.op !== "string" || !Object.prototype.hasOwnProperty.call(FORUM_OPS, v.op)) {
      return `${p}.op must be one of ${Object.keys(FORUM_OPS).join(", ")}`;
    }
    return V.obj({ op: V.str(), args: FORUM_OPS[v.op], token: V.optional(token), origin: V.optional(origin) })(v, p);
  };
  const ISSUE5_TYPES = {
    // ---- router: frames placed by the content script ---------------------------------------
    // The content script registers public data for a random single-use token, then places
    // frames/<kind>.html#<token>. The router records the tab and origin (from the sender).
    "frame.register": { from: ["content"], to: "router", payload: V.obj({
      token, kind: V.oneOf(["viewer", "composer"]), me: username,
      topic_id: V.optional(topicId), post_id: V.optional(postId),
      mode: V.optional(V.oneOf(["new", "reply", "invite"])), to: V.optional(V.str({ max: 200, re: /^[\w.\-,]*$/ })),
      max_chars: maxChars }), contentResult: ["registered"] },
    // The frame fetches its bundle once (same tab only).
    "frame.get": { from: FRAMES, to: "router", payload: V.obj({ token }) },
    // The frame's content height (numbers only) and closing the composer: forwarded to the content script.
    "frame.resize": { from: FRAMES, to: "router", payload: V.obj({ token, height: V.int({ min: 0, max: 100000 }) }) },
    "frame.close": { from: ["frame:composer"], to: "router", payload: V.obj({ token, topic_id: V.optional(topicId) }) },
    // A forum HTTP operation done by the content script of the frame's tab (frames: `token`) or
    // of a tab of `origin` (extension pages). Ciphertext and public data only.
    "forum.request": { from: EXT, to: "router", payload: forumOp },
    "ui.open_inbox": { from: ["content"], to: "router", payload: V.obj({}), contentResult: ["opened"] },

    // ---- engine: keys, backup, conversations, drafts (pycore/engine_conv.py) -----------------
    "keys.publish": { from: EXT, to: "engine", payload: V.obj({ bio_raw: V.str({ max: 10000 }) }) },
    "keys.check": { from: EXT, to: "engine", payload: V.obj({ origin, username, bio_raw: bio }) },
    "keys.acknowledge": { from: EXT, to: "engine", payload: V.obj({ origin, username, fingerprint: fp }) },
    "keys.mark_verified": { from: EXT, to: "engine", payload: V.obj({ origin, username, fingerprint: fp }) },
    "keys.safety_code": { from: EXT, to: "engine", payload: V.obj({ origin, username }) },
    "backup.make": { from: ["page:inbox", "page:options"], to: "engine", payload: V.obj({
      passphrase, backup_passphrase: V.optional(newPassphrase), paper_key: V.bool() }) },
    "backup.inspect": { from: EXT, to: "engine", payload: V.obj({ raw: V.str({ max: 200000 }) }) },
    "backup.restore": { from: ["page:inbox", "page:options"], to: "engine", payload: V.obj({
      raw: V.str({ min: 40, max: 200000 }), secret: passphrase, new_passphrase: newPassphrase }) },
    "conv.start": { from: ["frame:composer"], to: "engine", payload: V.obj({ origin, me: username,
      recipients: V.array(userRef, { max: 60 }), title: V.str({ min: 1, max: 255 }), body: V.str({ max: 200000 }), max_chars: maxChars }) },
    "conv.open": { from: EXT, to: "engine", payload: V.obj({ origin, topic_id: topicId, raw: V.str({ max: 200000 }),
      me: username, author: userRef, allowed_users: V.optional(V.array(username, { max: 1000 })) }) },
    "conv.accept_share": { from: EXT, to: "engine", payload: V.obj({ origin, topic_id: topicId,
      raw: V.str({ max: 200000 }), me: username, poster: userRef }) },
    "conv.read": { from: EXT, to: "engine", payload: V.obj({ origin, topic_id: topicId, posts: V.array(postRef, { max: 200 }) }) },
    "conv.reply": { from: ["frame:composer"], to: "engine", payload: V.obj({ origin, topic_id: topicId, me: username,
      body: V.str({ min: 1, max: 200000 }), max_chars: maxChars }) },
    "conv.share_key": { from: ["frame:composer"], to: "engine", payload: V.obj({ origin, topic_id: topicId, me: username,
      invitee: userRef, max_chars: maxChars }) },
    "conv.list": { from: EXT, to: "engine", payload: V.obj({ origin }) },
    "drafts.save": { from: ["frame:composer"], to: "engine", payload: V.obj({ origin,
      draft_key: V.str({ min: 1, max: 100, re: /^[A-Za-z0-9_.:-]+$/ }), text: V.str({ max: 200000 }), title: V.optional(V.str({ max: 8000 })) }) },
    "drafts.load": { from: ["frame:composer"], to: "engine", payload: V.obj({ origin,
      draft_key: V.str({ min: 1, max: 100, re: /^[A-Za-z0-9_.:-]+$/ }) }) },
    "drafts.delete": { from: ["frame:composer"], to: "engine", payload: V.obj({ origin,
      draft_key: V.str({ min: 1, max: 100, re: /^[A-Za-z0-9_.:-]+$/ }) }) },
  };
  // ======================================================================================

  const ALL = Object.freeze({ ...TYPES, ...ISSUE5_TYPES });
  const PAGE_NAMES = { "ui/popup.html": "popup", "ui/options.html": "options", "ui/inbox.html": "inbox" };

  function extensionOrigin(api) { return api.runtime.getURL(""); }

  // Classify a runtime.MessageSender. Returns a context string or null (unknown: reject).
  function classifySender(api, sender, routerPaths = []) {
    if (!sender || sender.id !== api.runtime.id) return null;
    const base = extensionOrigin(api);
    const url = typeof sender.url === "string" ? sender.url : "";
    if (url.startsWith(base)) {
      const path = url.slice(base.length).split(/[?#]/)[0];
      if (PAGE_NAMES[path]) return `page:${PAGE_NAMES[path]}`;
      let m = /^frames\/([a-z0-9_-]+)\.html$/.exec(path);
      if (m) return `frame:${m[1]}`;
      if (path === "engine/offscreen.html") return "engine";
      if (routerPaths.includes(path)) return "router";
      return null;
    }
    if (sender.tab && /^https?:\/\//.test(url)) return "content";
    return null;
  }

  function senderAllowed(decl, ctx) {
    return decl.from.some((f) => f === ctx || (f.endsWith(":*") && ctx.startsWith(f.slice(0, -1))));
  }

  class Rejected extends Error {
    constructor(message, code = "rejected") { super(message); this.code = code; }
  }

  // Validate an incoming request from context `ctx`. Returns the declaration or throws Rejected.
  function check(msg, ctx, { testHooks = false } = {}) {
    if (!ctx) throw new Rejected("unknown sender");
    if (!msg || typeof msg !== "object" || typeof msg.type !== "string") throw new Rejected("malformed message: no type");
    const decl = Object.prototype.hasOwnProperty.call(ALL, msg.type) ? ALL[msg.type] : null;
    if (!decl) throw new Rejected(`undeclared message type ${JSON.stringify(msg.type).slice(0, 80)}`);
    if (decl.test && !testHooks) throw new Rejected(`${msg.type} is only available in test builds`);
    if (!senderAllowed(decl, ctx)) throw new Rejected(`${msg.type} may not be sent from ${ctx}`);
    const err = decl.payload(msg.payload === undefined ? {} : msg.payload, "payload");
    if (err) throw new Rejected(`${msg.type}: ${err}`);
    return decl;
  }

  // Strip a result to the fields a content script may see.
  function forContent(decl, result) {
    const out = {};
    for (const k of decl.contentResult || []) if (result && k in result) out[k] = result[k];
    return out;
  }

  const ok = (result) => ({ ok: true, result: result ?? {} });
  const fail = (code, message) => ({ ok: false, error: { code, message: String(message) } });

  globalThis.EFD_MESSAGES = Object.freeze({ V, TYPES: ALL, classifySender, senderAllowed, check, forContent, ok, fail, Rejected });
})();
