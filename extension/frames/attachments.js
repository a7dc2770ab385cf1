// Encrypted attachments in the frames (PROTOCOL §11): the carriers go to and come from the forum
// through the content script (ciphertext only); the engine seals and opens them. Plaintext bytes
// exist only in the composer and viewer frames.
import { C, send, forum } from "./frame.js";
import { withRetry } from "../common/retry.js";

export const A = C.ATTACHMENTS;
// Types shown inline, as images in the sandboxed renderer (never SVG: an image that is a document).
export const INLINE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function toBase64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function fromBase64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// The file of a post's attachment ({ref, carriers} as the engine described it), as base64:
// each carrier fetched from the forum, then opened by the engine against the signed reference.
export async function openAttachment(file) {
  const carriers = [];
  for (const short_url of file.carriers) {
    carriers.push((await withRetry(() => forum("fetch_carrier", { short_url }), () => {})).png);
  }
  return (await send("files.open", { ref: file.ref, carriers })).data;
}

// Seals `bytes` and uploads its carriers; progress(done, total). Resolves to what conv.start and
// conv.reply take ({ref, carriers}), after reading the stored carriers back: a forum that changed
// them (a conversion, a resize) fails here, before anything is posted.
export async function uploadAttachment({ name, mime, bytes }, { maxImageSizeKb, progress, tell }) {
  const sealed = await send("files.seal", { name, mime, data: toBase64(bytes), max_image_size_kb: maxImageSizeKb || undefined });
  const shortUrls = [];
  progress(0, sealed.carriers.length);
  for (const png of sealed.carriers) {
    shortUrls.push((await withRetry(() => forum("upload_carrier", { png }), tell)).short_url);
    progress(shortUrls.length, sealed.carriers.length);
  }
  const sent = { ref: sealed.ref, carriers: shortUrls };
  return { sent, check: () => openAttachment(sent) };
}
