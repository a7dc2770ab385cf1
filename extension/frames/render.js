// Markdown -> sanitized HTML -> a sandboxed iframe (no scripts can run; no remote loads unless
// the user clicks). Used by the viewer and the composer's preview. Extension origin only.
import markdownit from "../vendor/markdown-it.mjs";
import DOMPurify from "../vendor/purify.mjs";
import "../common/i18n.js";

const { t } = globalThis.EFD_I18N;

// As Discourse cooks posts: a single line break is a break (traditional_markdown_linebreaks is
// off by default); emoji shortcodes (":tada:") and text smileys become emoji.
const md = markdownit({ html: false, linkify: true, breaks: true, typographer: false });
if (globalThis.markdownitEmoji) md.use(globalThis.markdownitEmoji);

// @mentions, as Discourse shows them, but saying that nobody is notified: the forum cannot read
// an encrypted post, so it cannot tell anyone they were mentioned.
const MENTION = /(^|[^\p{L}\p{N}_@.])@([\p{L}\p{N}_][\p{L}\p{N}_.-]{0,58}[\p{L}\p{N}_]|[\p{L}\p{N}_])/gu;
function markMentions(doc) {
  const walker = doc.createTreeWalker(doc.body, 4 /* NodeFilter.SHOW_TEXT */);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement.closest("code, pre, a") && n.nodeValue.includes("@")) texts.push(n);
  }
  for (const node of texts) {
    const parts = [];
    let last = 0;
    for (const m of node.nodeValue.matchAll(MENTION)) {
      const at = m.index + m[1].length;
      parts.push(doc.createTextNode(node.nodeValue.slice(last, at)));
      const span = doc.createElement("span");
      span.className = "mention";
      span.textContent = "@" + m[2];
      span.setAttribute("title", t("render_mention_title", [m[2]]));
      parts.push(span);
      last = at + 1 + m[2].length;
    }
    if (!parts.length) continue;
    parts.push(doc.createTextNode(node.nodeValue.slice(last)));
    node.replaceWith(...parts);
  }
}

// Colours from the frame's palette (frames/theme.js themeCss, prepended); tables and code as
// Discourse's posts show them.
const STYLE = `:root{--efd-bg:#fff;--efd-fg:#1b1f24;--efd-accent:#1f4e8c;--efd-muted:#57606a;--efd-border:#d0d7de;
--efd-soft:#f6f8fa;--efd-font:system-ui,sans-serif}
body{margin:0;font:14px/1.5 var(--efd-font);color:var(--efd-fg);background:var(--efd-bg);overflow-wrap:anywhere}
pre{background:var(--efd-soft);padding:8px;overflow:auto}code{font-family:ui-monospace,monospace;background:var(--efd-soft);padding:0 2px}
pre code{padding:0}
blockquote{border-left:3px solid var(--efd-border);margin:0;padding-left:10px;color:var(--efd-muted)}
table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}
th,td{border-bottom:1px solid var(--efd-border);padding:4px 8px;text-align:left}th{font-weight:700}
img{max-width:100%}.efd-blocked{display:inline-block;border:1px dashed var(--efd-border);padding:2px 6px;cursor:pointer;color:var(--efd-accent)}
a{color:var(--efd-accent);text-decoration:underline;cursor:pointer}
.mention{background:var(--efd-soft);border-radius:8px;padding:0 4px;font-weight:600;cursor:help}
.efd-files{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}.efd-files figure{margin:0}
.efd-files figcaption{font-size:12px;color:var(--efd-muted)}
img.efd-attached{max-width:100%;max-height:240px;cursor:zoom-in;border:1px solid var(--efd-border)}
img.efd-attached:focus{max-width:none;max-height:none;cursor:default;outline:2px solid var(--efd-accent)}`;

// Decrypted image attachments, after the post's text: [{name, mime, data (base64)}]. Built here,
// not from the post's Markdown (which may never load a data: image). A click enlarges one to its
// full size (it takes the focus, and CSS does the rest: nothing runs in the sandbox); a click
// elsewhere makes it small again.
export function attachedImagesHtml(images) {
  const ok = images.filter((f) => /^image\/(png|jpeg|gif|webp)$/.test(f.mime) && /^[A-Za-z0-9+/]*={0,2}$/.test(f.data));
  if (!ok.length) return "";
  const doc = document.implementation.createHTMLDocument("");
  const box = doc.createElement("div");
  box.className = "efd-files";
  for (const f of ok) {
    const figure = doc.createElement("figure");
    const img = doc.createElement("img");
    img.className = "efd-attached";
    img.tabIndex = 0;
    img.alt = img.title = f.name;
    img.src = `data:${f.mime};base64,${f.data}`;
    const caption = doc.createElement("figcaption");
    caption.textContent = f.name;
    figure.append(img, caption);
    box.append(figure);
  }
  return box.outerHTML;
}

function hostOf(url) { try { return new URL(url).host; } catch (_) { return null; } }

// Returns sanitized HTML for `text`; remote images stay blocked unless their origin is allowed.
export function renderMarkdown(text, allowedImageOrigins = new Set()) {
  const dirty = md.render(String(text || ""));
  const clean = DOMPurify.sanitize(dirty, {
    ALLOWED_URI_REGEXP: /^(?:https?:)/i,
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "svg", "math",
      "video", "audio", "source", "picture", "link", "meta", "base"],
    FORBID_ATTR: ["style", "class", "id", "srcset", "background", "poster"],
  });
  // Post-process in an inert document (DOMParser documents load nothing).
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${clean}</body>`, "text/html");
  for (const img of [...doc.querySelectorAll("img")]) {
    const src = img.getAttribute("src") || "";
    let origin = null;
    try { origin = new URL(src).origin; } catch (_) { origin = null; }
    if (!origin || !/^https?:/.test(origin) || !allowedImageOrigins.has(origin)) {
      const span = doc.createElement("span");
      span.className = "efd-blocked";
      span.setAttribute("data-efd-src", src);
      span.textContent = hostOf(src) ? t("render_blocked_image", [hostOf(src)]) : t("render_blocked_image_unknown");
      img.replaceWith(span);
    }
  }
  markMentions(doc);
  for (const a of doc.querySelectorAll("a")) {
    const href = a.getAttribute("href") || "";
    a.removeAttribute("href");
    a.removeAttribute("target");
    if (/^https?:\/\//i.test(href)) a.setAttribute("data-efd-href", href);
    a.setAttribute("title", href);
  }
  return doc.body.innerHTML;
}

// Puts sanitized HTML into `iframe` (sandbox="allow-same-origin", no allow-scripts) with a CSP
// that forbids every load except images from explicitly allowed origins. Resolves when loaded.
// themeStyle: frames/theme.js themeCss(palette) of the frame, so the post follows the forum's look.
export function showInSandbox(iframe, html, allowedImageOrigins = new Set(), { onLoadImage, onLink, themeStyle = "" } = {}) {
  const imgSrc = ["data:", ...allowedImageOrigins].join(" ");
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src ${imgSrc}; script-src 'none'; form-action 'none'`;
  const doc = `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}"><style>${STYLE}${themeStyle}</style></head>` +
    `<body>${html}</body></html>`;
  iframe.setAttribute("sandbox", "allow-same-origin");
  return new Promise((resolve) => {
    iframe.onload = () => {
      const d = iframe.contentDocument;
      if (d) {
        d.addEventListener("click", (e) => {
          const t = e.target;
          const img = t.closest && t.closest("[data-efd-src]");
          const a = t.closest && t.closest("[data-efd-href]");
          if (img && onLoadImage) { e.preventDefault(); onLoadImage(img.getAttribute("data-efd-src")); }
          else if (a && onLink) { e.preventDefault(); onLink(a.getAttribute("data-efd-href")); }
        });
        const fit = () => { iframe.style.height = Math.ceil(d.documentElement.scrollHeight) + "px"; };
        fit();
        new ResizeObserver(fit).observe(d.documentElement);
      }
      resolve();
    };
    iframe.srcdoc = doc;
  });
}
