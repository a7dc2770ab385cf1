// Many WebCrypto operations in one call from Python (pycore.primitives.webcrypto's batches,
// installed by pycore.engine.pyodide_adapter). Reading a topic decrypts and verifies hundreds of
// posts; one call into JavaScript per operation, each with its own copies and its own promise
// resuming Python, costs several times the cryptography. Here Python sends one buffer and a
// table of offsets, the operations run together, and one buffer comes back.
//
// table: 4 numbers per operation, [key index, start, split, end] over `blob`:
//   decryptMany: blob[start:split] is the IV, blob[split:end] ciphertext || tag;
//   verifyMany:  blob[start:split] is the signature, blob[split:end] the signed bytes.
// A failed operation is never an exception: decryptMany gives it length -1, verifyMany 0.
export function cryptoBatch(subtle) {
  const each = (table, fn) => {
    const jobs = [];
    for (let i = 0; i + 3 < table.length; i += 4) jobs.push(fn(table[i], table[i + 1], table[i + 2], table[i + 3]));
    return Promise.all(jobs);
  };
  return {
    async decryptMany(keys, blob, table) {
      const outs = await each(table, (k, a, b, c) => subtle
        .decrypt({ name: "AES-GCM", iv: blob.subarray(a, b) }, keys[k], blob.subarray(b, c))
        .then((r) => new Uint8Array(r), () => null));
      const lengths = outs.map((o) => (o ? o.length : -1));
      const data = new Uint8Array(outs.reduce((n, o) => n + (o ? o.length : 0), 0));
      let at = 0;
      for (const o of outs) if (o) { data.set(o, at); at += o.length; }
      return { data, lengths };
    },
    async verifyMany(keys, blob, table, saltLength) {
      const oks = await each(table, (k, a, b, c) => subtle
        .verify({ name: "RSA-PSS", saltLength }, keys[k], blob.subarray(a, b), blob.subarray(b, c))
        .then((ok) => (ok ? 1 : 0), () => 0));
      return Uint8Array.from(oks);
    },
  };
}
