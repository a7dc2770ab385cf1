// Markdown -> sanitized HTML -> a sandboxed iframe (no scripts can run; no remote loads unless
// the user clicks). Used by the viewer and the composer's preview. Extension origin only.
import markdownit from "../vendor/markdown-it.mjs";
import DOMPurify from "../vendor/purify.mjs";
import "../common/i18n.js";

const { t } = globalThis.EFD_I18N;

const md = markdownit({ html: false, linkify: true, breaks: false, typographer: false });

const STYLE = `body{margin:0;font:14px/1.5 system-ui,sans-serif;color:#1b1f24;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:8px;overflow:auto}code{font-family:ui-monospace,monospace}
blockquote{border-left:3px solid #d0d7de;margin:0;padding-left:10px;color:#57606a}
img{max-width:100%}.efd-blocked{display:inline-block;border:1px dashed #8c959f;padding:2px 6px;cursor:pointer;color:#1f4e8c}
a{color:#1f4e8c;text-decoration:underline;cursor:pointer}`;

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
export function showInSandbox(iframe, html, allowedImageOrigins = new Set(), { onLoadImage, onLink } = {}) {
  const imgSrc = ["data:", ...allowedImageOrigins].join(" ");
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src ${imgSrc}; script-src 'none'; form-action 'none'`;
  const doc = `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}"><style>${STYLE}</style></head>` +
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
