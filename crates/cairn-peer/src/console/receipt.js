// Receipt verification in the browser: the same checks as
// `cairn receipt verify` (crates/cairn-ledger/src/receipt.rs), with WebCrypto
// only, trusting the orderer orgs' CA certificates it is given.
//
//   header signatures: each signer certificate chains to a trusted orderer
//     org CA (issuer name, CA signature, validity at the block's time, OU
//     "orderer"), and signs "cairn-block-header-v1\0" ‖ encode(header) ‖ cert;
//   previous header: its SHA-256 is the signed previous_hash, so the block's
//     first leaf (its tree_size) is proven;
//   inclusion: RFC 9162 proof of leaf 0x00 ‖ envelope_hash ‖ code to the
//     signed tree_root, index within the block's leaves;
//   transaction: SHA-256(envelope) = envelope_hash and the envelope's txid
//     is the one asked for.
//
// The header is re-encoded here (Cairn's canonical postcard layout,
// docs/encoding.md), so every field shown is the one the signature covers.
'use strict';

const CairnReceipt = (() => {
  const enc = new TextEncoder();

  function hexToBytes(hex) {
    if (typeof hex !== 'string' || hex.length % 2 !== 0 || /[^0-9a-f]/.test(hex)) {
      throw new Error('not lowercase hex');
    }
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function bytesToHex(b) {
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  function concat(...parts) {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }

  function pemToDer(pem) {
    const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
    if (!m) throw new Error('no PEM block');
    const bin = atob(m[2].replace(/\s+/g, ''));
    return { label: m[1], der: Uint8Array.from(bin, (c) => c.charCodeAt(0)) };
  }

  // ---- postcard (Cairn's canonical encoding) ----
  function varint(n) {
    let v = BigInt(n);
    if (v < 0n) throw new Error('negative varint');
    const out = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      out.push(byte);
    } while (v > 0n);
    return Uint8Array.from(out);
  }

  function zigzag(n) {
    const v = BigInt(n);
    return varint(v >= 0n ? v * 2n : -v * 2n - 1n);
  }

  function str(s) {
    const b = enc.encode(s);
    return concat(varint(b.length), b);
  }

  function digest(hex) {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`digest ${hex} is not 64 lowercase hex digits`);
    return str(hex);
  }

  function encodeHeader(h) {
    return concat(
      str(h.channel), varint(h.number), digest(h.previous_hash), digest(h.data_hash),
      zigzag(h.timestamp.seconds), varint(h.timestamp.nanos), varint(h.tree_size), digest(h.tree_root),
    );
  }

  function readVarint(b, at) {
    let v = 0n; let shift = 0n; let i = at;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const byte = b[i++];
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return [v, i];
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  }

  function readBytes(b, at) {
    const [n, i] = readVarint(b, at);
    const end = i + Number(n);
    if (end > b.length) throw new Error('truncated bytes');
    return [b.subarray(i, end), end];
  }

  // Envelope {payload: bytes, signature: bytes}; payload = Transaction enum
  // (0 Config, 1 Endorsed), each starting with its TxHeader {channel, txid, ...}.
  function envelopeTxid(envelope) {
    const [payload] = readBytes(envelope, 0);
    const [variant, i] = readVarint(payload, 0);
    if (variant > 1n) throw new Error(`unknown transaction kind ${variant}`);
    const [channel, j] = readBytes(payload, i);
    const [txid] = readBytes(payload, j);
    return { kind: variant === 0n ? 'config' : 'endorsed', channel: new TextDecoder().decode(channel), txid: new TextDecoder().decode(txid) };
  }

  // ---- DER / X.509 ----
  function tlv(b, at) {
    const tag = b[at];
    let len = b[at + 1];
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 4) throw new Error('unsupported DER length');
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + b[at + 2 + k];
      hdr += n;
    }
    const start = at + hdr;
    const end = start + len;
    if (end > b.length) throw new Error('truncated DER');
    return { tag, start, end, whole: b.subarray(at, end), body: b.subarray(start, end) };
  }

  function children(b) {
    const out = [];
    for (let at = 0; at < b.length;) { const t = tlv(b, at); out.push(t); at = t.end; }
    return out;
  }

  const OID_OU = '55040b';
  const OID_ED25519 = '2b6570';
  const OID_EC_KEY = '2a8648ce3d0201';
  const OID_P256 = '2a8648ce3d030107';
  const OID_ECDSA_SHA256 = '2a8648ce3d040302';

  function derTime(t) {
    const s = new TextDecoder().decode(t.body);
    let y; let rest;
    if (t.tag === 0x17) { y = parseInt(s.slice(0, 2), 10); y += y < 50 ? 2000 : 1900; rest = s.slice(2); } else { y = parseInt(s.slice(0, 4), 10); rest = s.slice(4); }
    const p = (k) => parseInt(rest.slice(k, k + 2), 10);
    return Date.UTC(y, p(0) - 1, p(2), p(4), p(6), p(8)) / 1000;
  }

  function parseCert(der) {
    const cert = tlv(der, 0);
    const [tbs, sigAlg, sigVal] = children(cert.body);
    let f = children(tbs.body);
    if (f[0].tag === 0xa0) f = f.slice(1);
    const [, , issuer, validity, subject, spki] = f;
    const [nb, na] = children(validity.body);
    const ous = [];
    for (const set of children(subject.body)) {
      for (const atv of children(set.body)) {
        const [oid, val] = children(atv.body);
        if (bytesToHex(oid.body) === OID_OU) ous.push(new TextDecoder().decode(val.body));
      }
    }
    const [keyAlg] = children(spki.body);
    const keyOids = children(keyAlg.body).map((x) => bytesToHex(x.body));
    return {
      tbs: tbs.whole,
      sigAlg: bytesToHex(children(sigAlg.body)[0].body),
      signature: sigVal.body.subarray(1), // BIT STRING: skip the unused-bits byte
      issuer: issuer.whole,
      subject: subject.whole,
      notBefore: derTime(nb),
      notAfter: derTime(na),
      ous,
      spki: spki.whole,
      keyType: keyOids[0] === OID_ED25519 ? 'ed25519' : (keyOids[0] === OID_EC_KEY && keyOids[1] === OID_P256 ? 'p256' : 'unsupported'),
    };
  }

  async function importSpki(cert) {
    if (cert.keyType === 'ed25519') return crypto.subtle.importKey('spki', cert.spki, { name: 'Ed25519' }, false, ['verify']);
    if (cert.keyType === 'p256') return crypto.subtle.importKey('spki', cert.spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    throw new Error('unsupported key type');
  }

  // DER ECDSA-Sig-Value -> the 64-byte r ‖ s WebCrypto verifies.
  function ecdsaDerToRaw(sig) {
    const [r, s] = children(tlv(sig, 0).body);
    const fix = (x) => {
      let v = x.body;
      while (v.length > 32 && v[0] === 0) v = v.subarray(1);
      if (v.length > 32) throw new Error('bad ECDSA integer');
      return concat(new Uint8Array(32 - v.length), v);
    };
    return concat(fix(r), fix(s));
  }

  async function verifyWith(cert, message, sig) {
    const key = await importSpki(cert);
    if (cert.keyType === 'ed25519') return crypto.subtle.verify({ name: 'Ed25519' }, key, sig, message);
    return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, ecdsaDerToRaw(sig), message);
  }

  // ---- RFC 9162 §2.1.3.2 ----
  async function inclusionRoot(leafHash, index, size, path) {
    if (index >= size) throw new Error(`leaf index ${index} is not below tree size ${size}`);
    let fn = index; let sn = size - 1; let r = leafHash;
    for (const p of path) {
      if (sn === 0) throw new Error('proof longer than the tree is deep');
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error('proof shorter than the tree is deep');
    return r;
  }

  async function checkSigner(s, header, signed, cas) {
    const der = hexToBytes(s.signer);
    const cert = parseCert(der);
    const at = header.timestamp.seconds;
    const ca = cas.find((c) => equal(c.cert.subject, cert.issuer));
    if (!ca) throw new Error('signer certificate is not issued by a trusted orderer org CA');
    if (!(await verifyWith(ca.cert, cert.tbs, cert.signature))) throw new Error(`the ${ca.msp_id} CA signature on the signer certificate does not verify`);
    if (at < cert.notBefore || at > cert.notAfter) throw new Error('signer certificate not valid at the block time');
    if (!cert.ous.includes('orderer')) throw new Error(`signer is not an orderer (OU ${cert.ous.join(',')})`);
    const message = concat(enc.encode('cairn-block-header-v1\0'), signed, der);
    if (!(await verifyWith(cert, message, hexToBytes(s.signature)))) throw new Error('header signature does not verify');
    return ca.msp_id;
  }

  // Verifies `receipt` (the JSON of GET .../receipt) trusting `trusted`
  // ([{msp_id, ca_pem}], the orderer orgs' CAs) and expecting `txid`.
  // Returns {ok, checks: [{name, ok, detail}], code, block}.
  async function verify(receipt, trusted, txid) {
    const checks = [];
    const run = async (name, f) => {
      try { checks.push({ name, ok: true, detail: await f() }); } catch (e) { checks.push({ name, ok: false, detail: e.message }); }
    };
    const cas = [];
    for (const t of trusted) {
      try { cas.push({ msp_id: t.msp_id, cert: parseCert(pemToDer(t.ca_pem).der) }); } catch (_) { /* an unreadable CA trusts nothing */ }
    }
    const h = receipt.header;
    const signed = encodeHeader(h);
    await run('header signed by a trusted orderer', async () => {
      if (!receipt.signatures || receipt.signatures.length === 0) throw new Error('no signatures');
      const orgs = [];
      for (const s of receipt.signatures) orgs.push(await checkSigner(s, h, signed, cas));
      return `${receipt.signatures.length} signature(s), by ${[...new Set(orgs)].join(', ')}`;
    });
    let first = 0;
    await run('previous header linked', async () => {
      if (h.number === 0) {
        if (receipt.previous_header) throw new Error('block 0 has no previous header');
        return 'block 0';
      }
      const p = receipt.previous_header;
      if (!p) throw new Error('missing previous header');
      const hash = bytesToHex(await sha256(encodeHeader(p)));
      if (hash !== h.previous_hash) throw new Error(`its hash ${hash} is not the signed previous_hash`);
      if (p.number !== h.number - 1 || p.channel !== h.channel || p.tree_size > h.tree_size) throw new Error('not the previous block of this channel');
      first = p.tree_size;
      return `block ${p.number}`;
    });
    await run('Merkle inclusion (RFC 9162)', async () => {
      const pr = receipt.proof;
      if (pr.size !== h.tree_size) throw new Error(`proof for size ${pr.size}, header says ${h.tree_size}`);
      if (pr.index < first || pr.index >= h.tree_size) throw new Error(`leaf ${pr.index} is not in block ${h.number} (${first}..${h.tree_size})`);
      const leaf = await sha256(concat(Uint8Array.of(0), hexToBytes(receipt.envelope_hash), Uint8Array.of(receipt.code)));
      const root = await inclusionRoot(leaf, pr.index, pr.size, pr.path.map(hexToBytes));
      if (bytesToHex(root) !== h.tree_root) throw new Error('the proof does not lead to the signed tree root');
      return `leaf ${pr.index} of ${pr.size}, position ${pr.index - first} in block ${h.number}`;
    });
    await run('transaction in the envelope', async () => {
      const env = hexToBytes(receipt.envelope);
      if (bytesToHex(await sha256(env)) !== receipt.envelope_hash) throw new Error('the envelope does not hash to envelope_hash');
      const t = envelopeTxid(env);
      if (t.txid !== receipt.txid) throw new Error(`the envelope holds tx ${t.txid}`);
      if (txid && t.txid !== txid) throw new Error(`the receipt is for tx ${t.txid}, not ${txid}`);
      if (t.channel !== h.channel) throw new Error(`the transaction is for channel ${t.channel}`);
      return `tx ${t.txid.slice(0, 16)}…`;
    });
    return { ok: checks.every((c) => c.ok), checks, code: receipt.code, block: h.number };
  }

  return { verify, parseCert, pemToDer, hexToBytes, bytesToHex, sha256, concat, envelopeTxid, encodeHeader, inclusionRoot };
})();
