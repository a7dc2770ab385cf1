// Every word the extension shows comes from _locales/<lang>/messages.json through the browser's
// i18n API (extension/_locales/en/messages.json plus the error words build.py generates from
// pycore/errors.py FOR_USERS). A classic script, so that the content scripts can load it too;
// pages and frames import it for its effect and use globalThis.EFD_I18N (see common/client.js).
//
//   t(key, subs)        the message `key`, its placeholders filled in order from `subs` (an array,
//                       or one value). A key the locale lacks shows as ⟦key⟧, never as empty text.
//   tNodes(key, els, subs)  the same as nodes, with the elements `els` where the last placeholders
//                       stand (a title in <strong> inside a sentence).
//   localizePage(root)  fills elements marked data-i18n="key" (text), data-i18n-placeholder,
//                       data-i18n-title, data-i18n-aria-label and data-i18n-alt (attributes).
//                       data-i18n-args="NAME,…" passes common/constants.js facts as placeholders.
//                       Children marked data-i18n-part are inline elements (a <code>, a <strong>,
//                       a button): the translation places them where its placeholders stand, in
//                       the order of the children, so a translator may move them in the sentence.
(() => {
  "use strict";
  if (globalThis.EFD_I18N) return;
  const api = globalThis.browser ?? globalThis.chrome;

  function t(key, subs = []) {
    const list = (Array.isArray(subs) ? subs : [subs]).map((s) => String(s));
    let text = "";
    try { text = api.i18n.getMessage(key, list); } catch (_) { text = ""; }
    if (!text) {
      // A missing key is a bug of ours: make it visible rather than show nothing.
      console.error(`Encrypt for Discourse: no message "${key}"`);
      return `\u27e6${key}\u27e7`;
    }
    return text;
  }

  const ATTRIBUTES = { i18nPlaceholder: "placeholder", i18nTitle: "title", i18nAriaLabel: "aria-label", i18nAlt: "alt" };
  // Private-use characters stand for the inline parts while the message is split around them.
  const MARK = 0xE000;

  function args(el) {
    const names = el.dataset.i18nArgs ? el.dataset.i18nArgs.split(",") : [];
    const C = globalThis.EFD_CONSTANTS || {};
    return names.map((n) => (C[n.trim()] !== undefined ? C[n.trim()] : ""));
  }

  // The message `key` as nodes: text, and the elements `parts` where its last placeholders stand
  // (after the `subs`), in the order the translation puts them.
  function tNodes(key, parts, subs = []) {
    const text = t(key, [...subs, ...parts.map((_, i) => String.fromCharCode(MARK + i))]);
    const nodes = [];
    let run = "";
    for (const ch of text) {
      const i = ch.charCodeAt(0) - MARK;
      if (i >= 0 && i < parts.length) {
        if (run) nodes.push(document.createTextNode(run));
        run = "";
        nodes.push(parts[i]);
      } else run += ch;
    }
    if (run) nodes.push(document.createTextNode(run));
    return nodes;
  }

  function fill(el) {
    const parts = [...el.children].filter((c) => c.hasAttribute("data-i18n-part"));
    if (!parts.length) el.textContent = t(el.dataset.i18n, args(el));
    else el.replaceChildren(...tNodes(el.dataset.i18n, parts, args(el)));
  }

  function localizePage(root = document) {
    const all = [...(root.matches && root.matches("[data-i18n]") ? [root] : []), ...root.querySelectorAll("[data-i18n]")];
    for (const el of all) fill(el);
    for (const [prop, attr] of Object.entries(ATTRIBUTES)) {
      const sel = `[data-${attr === "aria-label" ? "i18n-aria-label" : "i18n-" + attr}]`;
      for (const el of root.querySelectorAll(sel)) el.setAttribute(attr, t(el.dataset[prop], args(el)));
    }
  }

  globalThis.EFD_I18N = Object.freeze({ t, tNodes, localizePage });
})();
