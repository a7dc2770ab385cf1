// The frames take the forum's colours and font, so that an encrypted post looks like the posts
// around it on a light or a dark theme. The content script reads them from the page's computed
// style (public) and registers them with the frame's token; the page controls them, so they are
// only ever a choice among safe looks: parsed to numbers here, and dropped unless text stays
// readable on its background. Warnings keep colours of their own on either scheme.

// rgb()/rgba() as computed styles give them, or #rgb / #rrggbb as CSS variables may hold them.
export function parseColor(text) {
  const s = String(text || "").trim().toLowerCase();
  let m = /^rgba?\(\s*(\d{1,3})[\s,]+(\d{1,3})[\s,]+(\d{1,3})(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(s);
  if (m) {
    const [r, g, b] = [m[1], m[2], m[3]].map(Number);
    let a = m[4] === undefined ? 1 : m[4].endsWith("%") ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    if (![r, g, b].every((v) => v <= 255) || !(a >= 0 && a <= 1)) return null;
    return { r, g, b, a };
  }
  m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(s);
  if (!m) return null;
  const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
  return { r: parseInt(hex.slice(0, 2), 16), g: parseInt(hex.slice(2, 4), 16), b: parseInt(hex.slice(4, 6), 16), a: 1 };
}

// WCAG relative luminance and contrast ratio.
function luminance({ r, g, b }) {
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
export function contrast(c1, c2) {
  const [a, b] = [luminance(c1), luminance(c2)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

const css = ({ r, g, b }) => `rgb(${r}, ${g}, ${b})`;
const mix = (c1, c2, w) => ({ r: Math.round(c1.r * (1 - w) + c2.r * w), g: Math.round(c1.g * (1 - w) + c2.g * w),
  b: Math.round(c1.b * (1 - w) + c2.b * w) });
const LIGHT = { fg: { r: 27, g: 31, b: 36 }, bg: { r: 255, g: 255, b: 255 }, accent: { r: 31, g: 78, b: 140 } };
const DARK = { fg: { r: 221, g: 221, b: 221 }, bg: { r: 28, g: 28, b: 28 }, accent: { r: 79, g: 168, b: 232 } };
// Body text needs WCAG AA; links may be a little softer, as forum themes make them.
const MIN_TEXT_CONTRAST = 4.5;
const MIN_LINK_CONTRAST = 3;
// Font families: names, quotes, commas and spaces only (nothing else can reach the CSS).
const FONT = /^[\p{L}\p{N} ,"'_-]{1,200}$/u;

// theme: {bg, fg, accent?, font?} as registered by the content script (or nothing). Returns the
// palette the frames use: {scheme: "light" | "dark", vars: {"--efd-…": value}}.
export function palette(theme) {
  const t = theme || {};
  const bg = parseColor(t.bg), fg = parseColor(t.fg);
  // An opaque background, and text readable on it; otherwise our own light look.
  const usable = bg && fg && bg.a === 1 && contrast(bg, fg) >= MIN_TEXT_CONTRAST;
  const dark = usable ? luminance(bg) < 0.2 : false;
  const base = dark ? DARK : LIGHT;
  const colours = usable ? { bg, fg } : { bg: base.bg, fg: base.fg };
  const accent = parseColor(t.accent);
  colours.accent = usable && accent && contrast(accent, colours.bg) >= MIN_LINK_CONTRAST ? accent : base.accent;
  const vars = {
    "--efd-bg": css(colours.bg),
    "--efd-fg": css(colours.fg),
    "--efd-accent": css(colours.accent),
    "--efd-muted": css(mix(colours.fg, colours.bg, 0.35)),
    "--efd-border": css(mix(colours.fg, colours.bg, 0.75)),
    "--efd-soft": css(mix(colours.fg, colours.bg, 0.93)),
  };
  if (usable && typeof t.font === "string" && FONT.test(t.font)) vars["--efd-font"] = t.font;
  return { scheme: dark ? "dark" : "light", vars };
}

// Sets the palette on this document (frame.css reads the variables).
export function applyTheme(theme, doc = document) {
  const p = palette(theme);
  for (const [k, v] of Object.entries(p.vars)) doc.documentElement.style.setProperty(k, v);
  doc.documentElement.dataset.scheme = p.scheme;
  return p;
}

// The same variables as CSS text, for the sandboxed renderer's own document.
export function themeCss(p) {
  return `:root{color-scheme:${p.scheme};${Object.entries(p.vars).map(([k, v]) => `${k}:${v}`).join(";")}}`;
}
