// A256 decoding for the engine (pycore.inband.armour.a256_decode's fast path, installed by
// pycore.engine.pyodide_adapter): a lookup table over UTF-16 code units instead of a Python loop
// over every character of every post. The alphabet comes from pycore, not from this file.
// Handles only text made of alphabet characters and ASCII white space (which NFC leaves as it
// is); for anything else it returns null and pycore decides, errors included.
export function a256Decoder(alphabet) {
  const SKIP = -2;
  const table = new Int16Array(0x10000).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  for (const c of " \t\n\r") table[c.charCodeAt(0)] = SKIP;
  return (text) => {
    if (typeof text !== "string") return null;
    const out = new Uint8Array(text.length);
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const v = table[text.charCodeAt(i)];
      if (v >= 0) out[n++] = v;
      else if (v !== SKIP) return null;
    }
    return out.subarray(0, n);
  };
}
