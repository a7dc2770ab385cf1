// Encrypt for Discourse content script, part 2: the forum page. Recognises Discourse, announces
// itself to the router (content.hello), replaces the body of encrypted posts with an
// extension-origin viewer frame, places the entry points of the encrypted composer, and answers
// the router's content.* messages (frame sizes, closing the composer, forum operations run by
// content/forum.js).
//
// It only ever holds ciphertext and public data. It never listens to window.postMessage and
// never trusts the page: the only messages it acts on come from the router (checked with
// common/messages.js), and user decisions are taken inside the frames. Frames get their (public)
// bundle from the router with a random single-use token.
(() => {
  "use strict";
  if (globalThis.__efdPageLoaded) return;
  globalThis.__efdPageLoaded = true;
  const api = globalThis.browser ?? globalThis.chrome;
  const M = globalThis.EFD_MESSAGES;
  const C = globalThis.EFD_CONSTANTS;
  const CFG = globalThis.EFD_CONFIG || {};
  const F = globalThis.EFD_FORUM;
  const P = M.patterns;
  const { t } = globalThis.EFD_I18N;
  const meta = document.querySelector('meta[name="generator"]');
  const generator = meta ? String(meta.content || "").slice(0, 200) : null;
  if (!generator || !/^Discourse\b/.test(generator)) return;

  const frames = new Map();   // token -> iframe element (viewer or composer)
  let enabled = false;
  let me = null;              // current username

  // ------------------------------------------------------------------ messaging
  async function send(type, payload = {}) {
    const reply = await api.runtime.sendMessage({ type, payload });
    if (!reply || !reply.ok) throw new Error((reply && reply.error && reply.error.message) || "no reply");
    return reply.result;
  }

  function newToken() {
    const b = crypto.getRandomValues(new Uint8Array(24));
    return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Requests from the router (tabs.sendMessage), declared in common/messages.js with to "content".
  const ROUTER_REQUESTS = {
    "content.resize_frame"({ token, height }) {
      const f = frames.get(token);
      if (f) {
        const cap = f.classList.contains("efd-composer") ? Math.floor(window.innerHeight * 0.85) : 600;
        f.style.height = Math.max(40, Math.min(height, cap)) + "px";
      }
      return {};
    },
    "content.close_frame"({ token, topic_id }) {
      closeFrame(token);
      if (Number.isInteger(topic_id)) location.assign(F.topicUrl(topic_id));
      return {};
    },
    "content.forum"({ op, args }) { return F.run(op, args || {}); },
    // An encrypted quote from a viewer of this page: only its id passes here.
    "content.open_composer"({ topic_id, quote_id }) {
      openComposer({ mode: "reply", topic_id, quote_id });
      return { opened: true };
    },
  };

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    try {
      M.check(msg, M.classifySender(api, sender), { testHooks: !!CFG.testHooks, to: "content" });
    } catch (e) {
      if (!(e instanceof M.Rejected)) throw e;
      sendResponse(M.fail(e.code, e.message));
      return false;
    }
    Promise.resolve().then(() => ROUTER_REQUESTS[msg.type](msg.payload ?? {})).then(
      (result) => sendResponse(M.ok(result)),
      (e) => sendResponse(M.fail(e.code || "content_error", String(e.message || e))));
    return true;
  });

  function closeFrame(token) {
    const f = frames.get(token);
    if (f) { (f.closest(".efd-composer-dock") || f).remove(); frames.delete(token); }
  }

  // The one open composer. Ways in can fire twice before the first composer is placed (a double
  // click, Reply then a shortcut): each opening replaces the dock it finds, placed or not.
  let composerDock = null;

  // ------------------------------------------------------------------ frames
  // The forum's look where a frame sits: the first opaque background up from it, the text colour
  // and font of the page, the theme's link colour (Discourse's --tertiary). Public facts; the
  // frame keeps them only when text stays readable (frames/theme.js).
  function pageTheme(at) {
    const colour = (v) => { v = String(v || "").trim(); return P.cssColour.test(v) && v.length <= 60 ? v : null; };
    const transparent = (v) => !v || v === "transparent" || /^rgba\(.*,\s*0\)$/.test(v);
    let bg = null;
    for (let el = at; el && el.nodeType === 1 && !bg; el = el.parentElement) {
      const v = getComputedStyle(el).backgroundColor;
      if (!transparent(v)) bg = colour(v);
    }
    const body = getComputedStyle(document.body);
    const fg = colour(body.color);
    if (!fg) return undefined;
    const theme = { bg: bg || "rgb(255, 255, 255)", fg };
    const accent = colour(getComputedStyle(document.documentElement).getPropertyValue("--tertiary"));
    if (accent) theme.accent = accent;
    const font = String(body.fontFamily || "").slice(0, 200);
    if (font && P.fontFamily.test(font)) theme.font = font;
    return theme;
  }

  // The forum's upload settings, as the page's preloaded site settings give them (Discourse
  // sends authorized_extensions and max_image_size_kb to every client). Page data: only a hint
  // for the composer's limits; the forum itself enforces its settings on every upload.
  function uploadSettings() {
    try {
      const node = document.getElementById("data-preloaded");
      const text = node && (node.dataset.preloaded || (node.type === "application/json" ? node.textContent : ""));
      const settings = JSON.parse(JSON.parse(text).siteSettings);
      const out = {};
      const kb = settings.max_image_size_kb;
      if (Number.isInteger(kb) && kb > 0 && kb <= 1024000) out.max_image_size_kb = kb;
      if (typeof settings.authorized_extensions === "string") {
        const exts = settings.authorized_extensions.toLowerCase().split("|").map((x) => x.trim().replace(/^\./, ""));
        out.png = exts.includes("png") || exts.includes("*");
      }
      return out;
    } catch (_) {
      return {};
    }
  }

  async function placeFrame(kind, bundle, iframe) {
    const token = newToken();
    if (kind === "composer") bundle = { ...bundle, uploads: uploadSettings() };
    // the composer's dock is ours (and white until now): its look comes from the page itself
    const theme = pageTheme(kind === "composer" ? document.body : iframe.parentElement);
    if (kind === "composer" && theme) iframe.parentElement.style.background = theme.bg;
    await send("frame.register", { token, kind, me: await F.currentUser(), ...bundle, ...(theme ? { theme } : {}) });
    frames.set(token, iframe);
    iframe.src = api.runtime.getURL(`frames/${kind}.html`) + "#" + token;
    return token;
  }

  // An encrypted message, a key backup (PM to oneself) or a key-exchange post: each gets a viewer
  // frame; the frame reads the post's raw from the forum and decides what it is (the key backup
  // is never opened there).
  const ARMOURS = [[C.MSG_BEGIN, C.MSG_END], [C.BACKUP_BEGIN, C.BACKUP_END], [C.KEY_BEGIN, C.KEY_END]];
  function isEncryptedCooked(cooked) {
    for (const code of cooked.querySelectorAll("pre code, pre")) {
      const t = code.textContent || "";
      for (const [begin, end] of ARMOURS) {
        const i = t.indexOf(begin);
        if (i >= 0 && t.indexOf(end, i) > i) return true;
      }
    }
    return false;
  }

  // What this script decorated, kept here and not in the page's DOM, which the page can write:
  // a page-set attribute or a counterfeit frame never stops a real post from being decorated.
  const decorated = new WeakMap();   // cooked element -> our iframe for it
  const ourFrames = new WeakSet();   // the iframes this script created
  // Bounded work, whatever the page puts in its DOM: posts are decorated when they come near the
  // viewport, a few at a time, and at most MAX_FRAMES live frames exist per page. A frame holds
  // its place until it has loaded (or FRAME_LOAD_WAIT_MS passed): twenty frames loading their
  // scripts at once share the machine, and the first post would be shown last of all. (A load
  // event the page makes up only frees a place sooner: nothing else depends on it.)
  const MAX_FRAMES = 300;
  const MAX_PLACING = 3;
  const FRAME_LOAD_WAIT_MS = 3000;
  function loaded(iframe) {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(done, FRAME_LOAD_WAIT_MS);
      iframe.addEventListener("load", done, { once: true });
    });
  }
  let placing = 0;
  const waiting = [];

  const perPost = new Map();         // post id -> the frames placed for it
  function liveFramesOf(postId) {
    const live = [...(perPost.get(postId) || [])].filter((f) => f.isConnected);
    perPost.set(postId, new Set(live));
    return live.length;
  }
  const refetched = new Map();       // topic id -> time of the last refetch for an unknown post
  // The post's raw when the forum's API lists it in this topic as encrypted, else null.
  async function encryptedRawOf(topicId, postId) {
    const has = (t) => {
      const p = t.posts.find((x) => x.post_id === postId);
      return p && (P.message.test(p.raw) || P.backup.test(p.raw) || P.key.test(p.raw)) ? p.raw : null;
    };
    let t = await F.run("topic", { topic_id: topicId });
    if (has(t) !== null) return has(t);
    // A post newer than the topic this page view fetched: refetch, but not for every id the
    // page makes up.
    const last = refetched.get(topicId) || 0;
    if (Date.now() - last < 5000 || t.posts.some((p) => p.post_id > postId)) return null;
    refetched.set(topicId, Date.now());
    t = await F.run("topic", { topic_id: topicId, post_id: postId });
    return has(t);
  }

  // ------------------------------------------------------------------ reading ahead
  // The engine decrypts and verifies a topic's replies in batches for the page view, nearest the
  // viewport first; each viewer frame then finds its post's result in the engine (conv.read
  // only_cached) instead of each driving a decryption. This script sends ciphertext and public
  // bios and gets counts back, never plaintext.
  const readAheads = new Map();      // topic id -> promise, this page view
  const READ_AHEAD_FIRST = 12;       // the first batch: about what a screen shows
  const READ_AHEAD_MAX = 200;
  function readAhead(topicId) {
    if (!readAheads.has(topicId)) readAheads.set(topicId, runReadAhead(topicId).catch(() => null));
    return readAheads.get(topicId);
  }

  function postElement(postId) {
    return document.querySelector(`article[data-post-id="${postId}"], .reply[data-post-id="${postId}"]`);
  }
  // Posts shown near the viewport first, then the others by their distance in the topic from
  // the shown ones.
  function viewportOrder(posts) {
    const mid = window.innerHeight / 2;
    const dist = new Map();
    let anchor = null, best = Infinity;
    for (const p of posts) {
      const el = postElement(p.post_id);
      if (!el) continue;
      const r = el.getBoundingClientRect();
      const d = r.bottom < 0 ? -r.bottom : r.top > window.innerHeight ? r.top - window.innerHeight : Math.abs((r.top + r.bottom) / 2 - mid) / 1e6;
      dist.set(p.post_id, d);
      if (d < best) { best = d; anchor = p.post_number; }
    }
    const rank = (p) => dist.has(p.post_id) ? dist.get(p.post_id) : 1e9 + Math.abs(p.post_number - (anchor ?? 0));
    return [...posts].sort((a, b) => rank(a) - rank(b));
  }

  // -> {posts, read, decrypted, batches, ms} (ms: from having the raws to every batch answered)
  async function runReadAhead(topicId) {
    const t = await F.run("topic", { topic_id: topicId });
    const replies = t.posts.filter((p) => p.post_number > 1 && P.message.test(p.raw));
    const out = { posts: replies.length, read: 0, decrypted: 0, batches: 0, ms: 0 };
    if (!replies.length) return out;
    const t0 = performance.now();
    const bios = new Map();
    await Promise.all([...new Set(replies.map((p) => p.username))].map(async (u) => {
      const b = await F.run("user", { username: u }).then((x) => x.bio_raw, () => null);
      bios.set(u.toLowerCase(), b);
    }));
    // Key changes first, in the topic's order: each gives the key of the posts after it.
    const rekeys = replies.filter((p) => p.raw.startsWith(C.REKEY_HINT));
    const refs = [...rekeys, ...viewportOrder(replies.filter((p) => !rekeys.includes(p)))].map((p) => ({
      post_id: p.post_id, raw: p.raw, username: p.username,
      bio_raw: bios.get(p.username.toLowerCase()) ?? null, created_at: p.created_at || null }));
    let size = Math.max(READ_AHEAD_FIRST, rekeys.length + READ_AHEAD_FIRST);
    for (let i = 0; i < refs.length; i += size, size = Math.min(size * 4, READ_AHEAD_MAX)) {
      const batch = refs.slice(i, i + size);
      // Before the conversation is opened on this device (by the first post's viewer), the
      // engine cannot read its replies: wait for it, a bounded time.
      let reply;
      for (const wait of [0, 250, 500, 1000, 2000, 4000, 8000]) {
        if (wait) await new Promise((r) => setTimeout(r, wait));
        reply = await api.runtime.sendMessage({ type: "conv.prepare", payload: { topic_id: topicId, posts: batch } });
        if (!(reply && !reply.ok && reply.error && reply.error.code === "conversation_unknown")) break;
      }
      if (!reply || !reply.ok) break;   // locked, or no identity: the viewers say so
      out.read += reply.result.read;
      out.decrypted += reply.result.decrypted;
      out.batches += 1;
    }
    out.ms = performance.now() - t0;
    return out;
  }

  // The viewer's height, from the ciphertext's size only (common/constants.js VIEWER_HEIGHTS):
  // known before the frame loads, so a post that comes back from cloaking takes its place at once.
  function viewerHeight(raw) {
    return C.VIEWER_HEIGHTS.find(([upTo]) => upTo === null || (raw || "").length <= upTo)[1];
  }

  // Discourse's post stream (app/components/post.gjs, post/embedded.gjs): a post is an
  // article[data-post-id] whose own body is the .cooked outside its embedded replies; each
  // embedded reply (div.reply[data-post-id], shown above or below) has its own .cooked and gets
  // its own viewer. Small actions have no data-post-id and no .cooked.
  function ownCooked(holder) {
    for (const c of holder.querySelectorAll(".cooked")) {
      const inner = c.closest(".reply[data-post-id], .embedded-posts, .post__embedded-posts");
      if (holder.matches(".reply[data-post-id]") ? inner === holder : !inner || !holder.contains(inner)) return c;
    }
    return null;
  }

  function ourViewerNextTo(cooked, postId) {
    for (let n = cooked.nextElementSibling; n; n = n.nextElementSibling) {
      if (ourFrames.has(n) && n.dataset.efdPostId === String(postId)) return n;
    }
    return null;
  }

  async function decoratePost(holder) {
    const postId = parseInt(holder.getAttribute("data-post-id"), 10);
    const topicId = topicOfPost(holder);
    if (!Number.isInteger(postId) || !Number.isInteger(topicId)) return;
    const cooked = ownCooked(holder);
    if (!cooked || decorated.has(cooked) || !isEncryptedCooked(cooked)) return;
    // The cooked element was re-rendered next to a viewer of ours that is still there: keep it.
    const existing = ourViewerNextTo(cooked, postId);
    if (existing) {
      decorated.set(cooked, existing);
      cooked.style.display = "none";
      return;
    }
    if (frames.size >= MAX_FRAMES) return;
    // The ids in the DOM only say where a frame might go: a frame is placed for a post the
    // forum's API lists in this topic with an encrypted raw, at most twice per post (a post and
    // its copy as an embedded reply), so page-made posts cost nothing.
    decorated.set(cooked, null);
    let raw;
    try { raw = await encryptedRawOf(topicId, postId); } catch (_) { decorated.delete(cooked); return; }
    if (raw === null || liveFramesOf(postId) >= 2) return;
    if (P.message.test(raw)) readAhead(topicId);
    if (placing >= MAX_PLACING) { waiting.push([cooked, postId, topicId, raw]); return; }
    await place(cooked, postId, topicId, raw);
  }

  async function place(cooked, postId, topicId, raw) {
    placing++;
    const iframe = document.createElement("iframe");
    ourFrames.add(iframe);
    iframe.className = "efd-viewer";
    iframe.dataset.efdPostId = String(postId);
    iframe.setAttribute("title", t("page_viewer_title"));
    iframe.setAttribute("referrerpolicy", "no-referrer");
    iframe.style.cssText = `display:block;width:100%;height:${viewerHeight(raw)}px;border:0;margin:0;padding:0;` +
      "background:transparent;";
    try {
      if (!(await F.currentUser())) throw new Error("not logged in");
      cooked.style.display = "none";
      cooked.after(iframe);
      decorated.set(cooked, iframe);
      if (!perPost.has(postId)) perPost.set(postId, new Set());
      perPost.get(postId).add(iframe);
      const arrived = loaded(iframe);
      await placeFrame("viewer", { topic_id: topicId, post_id: postId }, iframe);
      addTopicButtons(topicId);
      await arrived;
    } catch (e) {
      console.warn("Encrypt for Discourse: cannot place viewer", e);
      iframe.remove();
      cooked.style.display = "";
      decorated.delete(cooked);
    } finally {
      placing--;
      const next = waiting.shift();
      if (next && next[0].isConnected) place(...next);
    }
  }

  // Discourse's topic routes: /t/{id}, /t/{id}/{post_number}, /t/{slug}/{id}[/{post_number}].
  function topicIdFromUrl() {
    const parts = location.pathname.slice(F.base.length).split("/").filter(Boolean);
    if (parts[0] !== "t" || parts.length < 2) return null;
    if (/^\d+$/.test(parts[1]) && (parts.length === 2 || /^\d+$/.test(parts[2]))) return parts[1];
    return parts.length >= 3 && /^\d+$/.test(parts[2]) ? parts[2] : null;
  }

  // Which topic a post in the page belongs to. On a topic page, the one in the address (a post
  // that claims another is the page's own making); elsewhere the post's data-topic-id, but only
  // for a few distinct topics per page view, so that made-up ids cost a bounded number of fetches.
  const MAX_OTHER_TOPICS = 5;
  const otherTopics = new Set();
  function topicOfPost(holder) {
    const article = holder.closest("article[data-topic-id]") || holder;
    const claimed = parseInt(article.getAttribute("data-topic-id") || "", 10);
    const here = parseInt(topicIdFromUrl() || "", 10);
    if (Number.isInteger(here)) return Number.isInteger(claimed) && claimed !== here ? null : here;
    if (!Number.isInteger(claimed)) return null;
    if (!otherTopics.has(claimed)) {
      if (otherTopics.size >= MAX_OTHER_TOPICS) return null;
      otherTopics.add(claimed);
    }
    return claimed;
  }

  function button(label, { className }, onclick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn efd-button " + className;
    b.textContent = label;
    // Only the user's own clicks: the page can dispatch synthetic ones (isTrusted false).
    b.addEventListener("click", (e) => { e.preventDefault(); e.stopPropagation(); if (e.isTrusted) onclick(); });
    return b;
  }

  function addTopicButtons(topicId) {
    const footer = document.querySelector("#topic-footer-buttons");
    if (!footer || footer.querySelector(".efd-reply")) return;
    const create = footer.querySelector(".create");
    const reply = button(t("encrypted_reply"), { className: "btn-primary efd-reply" }, () => openComposer({ mode: "reply", topic_id: topicId }));
    const invite = button(t("page_add_participant"), { className: "efd-invite" }, () => openComposer({ mode: "invite", topic_id: topicId }));
    const remove = button(t("page_remove_participant"), { className: "efd-remove" }, () => openComposer({ mode: "remove", topic_id: topicId }));
    if (create) create.before(reply, invite, remove); else footer.prepend(reply, invite, remove);
    const note = document.createElement("div");
    note.className = "efd-notice";
    note.style.cssText = "font-size:12px;color:#57606a;margin:4px 0;";
    note.textContent = t("page_encrypted_note", [t("encrypted_reply")]);
    footer.append(note);
  }

  // Discourse's own composer is switched off in encrypted conversations (content/guard.js).
  async function pageShowsEncryptedConversation() {
    const id = parseInt(topicIdFromUrl() || (document.querySelector("h1[data-topic-id]") || { dataset: {} }).dataset.topicId || "", 10);
    if (!Number.isInteger(id) || !me) return false;
    const t = await F.run("topic", { topic_id: id });
    const first = t.posts.find((p) => p.post_number === 1);
    return !!(first && P.message.test(first.raw)) ? id : false;
  }

  async function openComposer(bundle) {
    for (const [t, f] of frames) if (f.classList.contains("efd-composer")) closeFrame(t);
    if (composerDock) composerDock.remove();
    const dock = document.createElement("div");
    composerDock = dock;
    dock.className = "efd-composer-dock";
    // Inside the viewport at any width: 16 px from the right edge on wide pages, the whole width
    // less a small margin on a phone. Percentages, not vw: a fixed box's percentages are of the
    // viewport without its scroll bar, vw units include it.
    dock.style.cssText = "position:fixed;right:min(16px,2%);bottom:0;width:min(640px,96%);z-index:2147483000;" +
      "box-shadow:0 0 12px rgba(0,0,0,.35);border-radius:8px 8px 0 0;background:#fff;";
    const iframe = document.createElement("iframe");
    iframe.className = "efd-composer";
    iframe.setAttribute("title", t("page_composer_title"));
    iframe.style.cssText = "display:block;width:100%;height:520px;border:0;border-radius:8px 8px 0 0;";
    dock.append(iframe);
    document.body.append(dock);
    try {
      await placeFrame("composer", bundle, iframe);
    } catch (e) {
      dock.remove();
      if (composerDock === dock) composerDock = null;
      console.warn("Encrypt for Discourse: cannot open the composer", e);
    }
  }

  const PROFILE_PATH = new RegExp(`^/u/(${C.USERNAME_PATTERN})/?(?:summary|activity)?/?$`);
  function addPageButtons() {
    const path = location.pathname.slice(F.base.length);
    // The user's messages page: a "New encrypted message" entry point.
    if (/^\/u\/[^/]+\/messages/.test(path) && !document.querySelector(".efd-new-message")) {
      const anchor = document.querySelector(".messages-nav, .user-nav-messages, .user-navigation-secondary")
        || document.querySelector("#main-outlet");
      if (anchor) {
        const b = button(t("new_encrypted_message"), { className: "btn-primary efd-new-message" }, () => openComposer({ mode: "new" }));
        const inbox = button(t("popup_inbox_link"), { className: "efd-open-inbox" }, () => send("ui.open_inbox").catch(() => {}));
        const wrap = document.createElement("div");
        wrap.className = "efd-actions";
        wrap.append(b, inbox);
        if (anchor.id === "main-outlet") anchor.prepend(wrap); else anchor.after(wrap);
      }
    }
    // Someone's profile: an encrypted message to them.
    const m = path.match(PROFILE_PATH);
    const controls = document.querySelector(".user-profile-controls, .user-main .controls");
    if (m && controls && !controls.querySelector(".efd-message-user") && me && m[1].toLowerCase() !== me.toLowerCase()) {
      controls.append(button(t("page_message_user"), { className: "btn-primary efd-message-user" }, () => openComposer({ mode: "new", to: m[1] })));
    }
  }

  // ------------------------------------------------------------------ scanning (idempotent)
  let scheduled = false;
  function scan() {
    scheduled = false;
    if (!enabled) return;
    for (const [t, f] of frames) if (!f.isConnected) frames.delete(t);
    for (const holder of document.querySelectorAll("article[data-post-id], .reply[data-post-id]")) decoratePost(holder);
    addPageButtons();
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(scan, 50);
  }

  // Test builds only: a DOM event lets the e2e suite measure content script -> engine -> back.
  // The reply carries the same public fields any content script gets (has_identity, unlocked).
  if (CFG.testHooks) {
    document.addEventListener("efd-test-roundtrip", async () => {
      const t0 = performance.now();
      const reply = await api.runtime.sendMessage({ type: "engine.status", payload: {} });
      const ms = performance.now() - t0;
      document.documentElement.setAttribute("data-efd-roundtrip",
        JSON.stringify({ ms, ok: !!(reply && reply.ok), result: reply && reply.result }));
    });
  }

  // Test builds only: the benchmark times a page view's reading ahead of a topic (from having
  // its raws to every post verified in the engine); counts and times only.
  if (CFG.testHooks) {
    document.addEventListener("efd-test-read", async (ev) => {
      const topicId = parseInt(document.documentElement.getAttribute("data-efd-test-read-topic") || "", 10);
      document.documentElement.removeAttribute("data-efd-test-read");
      let result;
      try {
        await F.run("topic", { topic_id: topicId });
        readAheads.delete(topicId);
        result = { ok: true, ...(await readAhead(topicId)) };
      } catch (e) { result = { ok: false, error: String(e && e.message || e) }; }
      document.documentElement.setAttribute("data-efd-test-read", JSON.stringify(result));
    });
  }

  let lastHref = location.href;
  async function start() {
    try {
      enabled = !!(await send("content.hello", { generator })).enabled;
    } catch (_) { enabled = false; }
    document.documentElement.dataset.efdContent = enabled ? "enabled" : "disabled";
    if (!enabled) return;
    me = await F.currentUser();
    globalThis.EFD_GUARD.install({
      isEncrypted: pageShowsEncryptedConversation,
      openEncrypted: async ({ quote, edit }) => {
        const topicId = await pageShowsEncryptedConversation();
        if (!topicId) return;
        if (edit) return openComposer({ mode: "edit", topic_id: topicId, post_id: edit });
        openComposer({ mode: "reply", topic_id: topicId, ...(quote ? { quote } : {}) });
      },
    });
    document.documentElement.dataset.efdReady = "1";
    new MutationObserver(() => {
      if (location.href !== lastHref) { lastHref = location.href; F.newPageView(); perPost.clear(); refetched.clear(); otherTopics.clear(); readAheads.clear(); }
      schedule();
    }).observe(document.body, { childList: true, subtree: true });
    window.addEventListener("popstate", schedule);
    scan();
  }
  start();
})();
