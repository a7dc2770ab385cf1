// Encrypt for Discourse content script: the guard of Discourse's own composer in encrypted
// conversations. Discourse's composer autosaves what is typed to POST /drafts.json within
// seconds (services/composer.js: 2 s after a change) and posts it in plain text, so in a
// conversation that is encrypted no character may reach it:
//  - Discourse's ways into its composer (the post's and the footer's Reply, quote-reply, Edit,
//    and the r / shift+r / q / e shortcuts) open the encrypted composer instead;
//  - if Discourse's composer is open anyway (it was open before, a route or the page opened it),
//    it is covered by a notice that offers the encrypted composer, and the keystrokes, pastes and
//    drops meant for it are stopped before they reach it (textarea and rich editor alike).
// Outside encrypted conversations it does nothing.
//
// `EFD_GUARD.install({isEncrypted, openEncrypted})`: isEncrypted() resolves whether the page
// shows an encrypted conversation (decided from its posts' raws, never from its title);
// openEncrypted({quote, edit}) opens our composer (edit: the id of the post to edit).
(() => {
  "use strict";
  if (globalThis.EFD_GUARD) return;

  // Discourse's controls that open its composer (app/components/post/menu/buttons/reply.gjs,
  // edit.gjs, topic-footer-buttons.gjs, post-text-selection-toolbar.gjs; the system-spec page
  // objects use the same selectors).
  const OPENERS = [
    ".post-controls .reply", "button.post-action-menu__reply", ".post-action-menu__reply",
    "#topic-footer-buttons .create", ".topic-footer-button.create",
    ".quote-button .insert-quote", "button.insert-quote",
    ".post-controls .edit", "button.post-action-menu__edit", ".post-action-menu__edit",
  ].join(", ");
  const COMPOSER = "#reply-control";
  const EDITOR = ".d-editor-input, .ProseMirror, [contenteditable='true'], textarea";
  const SHORTCUTS = new Set(["r", "R", "q", "e"]);
  const INPUT_EVENTS = ["keydown", "keypress", "keyup", "beforeinput", "input", "paste", "drop", "compositionstart",
    "textInput"];

  let hooks = null;
  let encrypted = false;   // the last answer of isEncrypted(), refreshed on every DOM change

  function editable(t) {
    return !!(t && t.closest && (t.closest("input, textarea, select, [contenteditable='true']") || t.isContentEditable));
  }
  function inComposer(t) { return !!(t && t.closest && t.closest(COMPOSER)); }
  function stop(e) { e.preventDefault(); e.stopImmediatePropagation(); }

  function selectedQuote() {
    const sel = window.getSelection && window.getSelection();
    const text = sel ? String(sel).trim() : "";
    return text ? text.slice(0, 4000) : null;
  }

  function onClick(e) {
    if (!encrypted || !e.isTrusted) return;
    const opener = e.target && e.target.closest && e.target.closest(OPENERS);
    if (!opener || inComposer(opener)) return;
    stop(e);
    const quote = opener.matches(".insert-quote, .quote-button .insert-quote") ? selectedQuote() : null;
    // Edit names its post; the page could point it at another post, so the composer shows the
    // post it opened and the engine edits only the user's own.
    const edit = opener.matches(".edit, .post-action-menu__edit");
    const post = edit && opener.closest("article[data-post-id]");
    const editPostId = post ? parseInt(post.getAttribute("data-post-id"), 10) : NaN;
    hooks.openEncrypted({ quote, edit: edit && Number.isInteger(editPostId) && editPostId > 0 ? editPostId : null });
  }

  // Someone typing into Discourse's composer when it was covered goes on typing for a moment:
  // those keys are not shortcuts (an "r" in a word must not open a composer mid-sentence).
  const TYPING_PAUSE_MS = 3000;
  let typingUntil = 0;

  function onKey(e) {
    if (!encrypted) return;
    if (inComposer(e.target)) { stop(e); cover(); typingUntil = Date.now() + TYPING_PAUSE_MS; return; }
    if (e.type !== "keydown" || e.ctrlKey || e.metaKey || e.altKey || editable(e.target)) return;
    if (!SHORTCUTS.has(e.key) && Date.now() >= typingUntil) return;
    stop(e);
    if (Date.now() < typingUntil) { typingUntil = Date.now() + TYPING_PAUSE_MS; return; }
    // only the user's own keys open our composer (the page can dispatch synthetic ones)
    if (e.isTrusted && e.key !== "e") hooks.openEncrypted({ quote: e.key === "q" ? selectedQuote() : null });
  }

  function onInput(e) {
    if (encrypted && inComposer(e.target)) { stop(e); cover(); typingUntil = Date.now() + TYPING_PAUSE_MS; }
  }

  // The notice over Discourse's composer, and its editor blurred.
  function cover() {
    const rc = document.querySelector(COMPOSER);
    if (!rc) return;
    const ed = rc.querySelector(EDITOR);
    if (ed && document.activeElement && rc.contains(document.activeElement)) document.activeElement.blur();
    if (rc.querySelector(":scope > .efd-composer-guard")) return;
    const note = document.createElement("div");
    note.className = "efd-composer-guard";
    note.style.cssText = "position:absolute;inset:0;z-index:10;display:flex;flex-direction:column;gap:8px;" +
      "align-items:center;justify-content:center;background:rgba(255,255,255,.96);color:#1b1f24;" +
      "font:14px system-ui,sans-serif;text-align:center;padding:12px;";
    note.textContent = globalThis.EFD_I18N.t("guard_editor_off");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-primary efd-guard-open";
    b.textContent = globalThis.EFD_I18N.t("guard_write_encrypted");
    b.addEventListener("click", (ev) => { stop(ev); if (ev.isTrusted) hooks.openEncrypted({}); });
    note.append(b);
    if (getComputedStyle(rc).position === "static") rc.style.position = "relative";
    rc.append(note);
  }

  function uncover() {
    for (const n of document.querySelectorAll(".efd-composer-guard")) n.remove();
  }

  async function refresh() {
    try { encrypted = !!(await hooks.isEncrypted()); } catch (_) { /* keep the last answer */ }
    const rc = document.querySelector(COMPOSER);
    const open = rc && rc.querySelector(EDITOR);
    if (encrypted && open) cover(); else if (!encrypted) uncover();
  }

  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => { scheduled = false; refresh(); }, 30);
  }

  globalThis.EFD_GUARD = Object.freeze({
    install(h) {
      if (hooks) return;
      hooks = h;
      // Capture phase on the window: before any handler of the page's own elements.
      window.addEventListener("click", onClick, true);
      window.addEventListener("keydown", onKey, true);
      window.addEventListener("keypress", onKey, true);
      window.addEventListener("keyup", onKey, true);
      for (const type of INPUT_EVENTS) if (!type.startsWith("key")) window.addEventListener(type, onInput, true);
      new MutationObserver(schedule).observe(document.documentElement, { childList: true, subtree: true });
      refresh();
    },
    isActive: () => encrypted,
  });
})();
