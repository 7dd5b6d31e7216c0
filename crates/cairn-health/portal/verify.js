// Verifies a Cairn attestation token (a compact ES256 JWS) in the browser,
// against the JWKS and the portal's pinned policy, with WebCrypto.
//
// Pure: no DOM, no network, no storage, no logging. The caller passes the
// JWKS, the policy and the time, so the same call gives the same answer in a
// test and in the portal.
//
// Invariants:
// - every check in CHECKS is reported, always in that order, as "pass",
//   "fail" or "skip" with a detail a person can act on;
// - a check is "skip" only when it cannot run (its input failed to parse, no
//   key was found, or no expected nonce was given), never to hide a failure;
// - `ok` is true only if no check failed AND the signature verified: a token
//   whose signature was not checked is never ok;
// - keys come only from the JWKS passed in: header members that point at keys
//   (jku, x5u, jwk, x5c) make the `algorithm` check fail.

/** The checks, in the order they are reported. */
export const CHECKS = [
  "format",
  "algorithm",
  "key",
  "signature",
  "issuer",
  "expiry",
  "nonce",
  "measurement",
  "platform",
];

/** Clock skew tolerated on `nbf` and `iat`, seconds. */
export const SKEW_SECS = 60;

const KEY_REFERENCES = ["jku", "x5u", "jwk", "x5c"];
const HARDWARE_PLATFORMS = ["sev-snp", "sgx", "tdx"];

/** Decodes unpadded base64url; null if `s` is not unpadded base64url. */
export function b64urlDecode(s) {
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
    return null;
  }
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  let bin;
  try {
    bin = atob(b64);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A Unix time (seconds) as an RFC 3339 UTC string, or a note why it is not one. */
export function formatTime(secs) {
  if (typeof secs !== "number" || !Number.isFinite(secs)) return "(not a number)";
  const d = new Date(secs * 1000);
  return Number.isNaN(d.getTime()) ? `@${secs}` : d.toISOString().replace(".000Z", "Z");
}

function parseJsonPart(part, what) {
  const bytes = b64urlDecode(part);
  if (bytes === null) return { error: `the ${what} is not unpadded base64url` };
  let value;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return { error: `the ${what} is not UTF-8 JSON` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: `the ${what} is not a JSON object` };
  }
  return { value };
}

/**
 * Splits and decodes a compact JWS without verifying it.
 * Returns {header, claims, signingInput, signature, problems}; a part that
 * could not be decoded is null and `problems` says why.
 */
export function decodeToken(token) {
  const out = { header: null, claims: null, signingInput: null, signature: null, problems: [] };
  if (typeof token !== "string" || token.trim() === "") {
    out.problems.push("no token given (paste a compact JWS: three base64url parts joined by dots)");
    return out;
  }
  const parts = token.trim().split(".");
  if (parts.length !== 3) {
    out.problems.push(`a compact JWS has 3 dot-separated parts, this has ${parts.length}`);
    return out;
  }
  const header = parseJsonPart(parts[0], "header");
  const claims = parseJsonPart(parts[1], "claims part");
  if (header.error) out.problems.push(header.error);
  else out.header = header.value;
  if (claims.error) out.problems.push(claims.error);
  else out.claims = claims.value;
  out.signature = b64urlDecode(parts[2]);
  if (out.signature === null) out.problems.push("the signature is not unpadded base64url");
  out.signingInput = `${parts[0]}.${parts[1]}`;
  return out;
}

/** Whether decoded claims describe the software-only virtual platform. */
export function isVirtual(claims) {
  return (
    !!claims &&
    (claims.platform === "virtual" || claims.hardware !== true || !HARDWARE_PLATFORMS.includes(claims.platform))
  );
}

function check(name, result, detail) {
  return { name, result, detail };
}

function checkAlgorithm(header) {
  if (!header) return check("algorithm", "skip", "no header to read (format failed)");
  const refs = KEY_REFERENCES.filter((m) => m in header);
  if (header.alg !== "ES256") {
    return check("algorithm", "fail", `alg is ${JSON.stringify(header.alg ?? null)}; attestation tokens must be ES256`);
  }
  if (refs.length > 0) {
    return check(
      "algorithm",
      "fail",
      `the header carries a key reference (${refs.join(", ")}); keys are taken only from the JWKS`,
    );
  }
  if ("crit" in header) {
    return check("algorithm", "fail", `the header marks extensions critical (${JSON.stringify(header.crit)}); none are supported`);
  }
  return check("algorithm", "pass", "ES256, no key references in the header");
}

function findKey(header, jwks) {
  if (!header) return { check: check("key", "skip", "no header to read (format failed)") };
  const keys = jwks && Array.isArray(jwks.keys) ? jwks.keys : null;
  if (!keys) return { check: check("key", "fail", "the JWKS has no keys array (is /portal/jwks.json served?)") };
  if (typeof header.kid !== "string" || header.kid === "") {
    return { check: check("key", "fail", "the header has no kid; cannot choose a JWKS key") };
  }
  const jwk = keys.find((k) => k && k.kid === header.kid);
  if (!jwk) {
    return {
      check: check("key", "fail", `kid ${header.kid} is not in the JWKS (${keys.length} key(s)); the token was not signed by this attestation service`),
    };
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || (jwk.use !== undefined && jwk.use !== "sig") || (jwk.alg !== undefined && jwk.alg !== "ES256")) {
    return { check: check("key", "fail", `JWKS key ${header.kid} is not a P-256 ES256 signing key`) };
  }
  return { jwk, check: check("key", "pass", `kid ${header.kid} found in the JWKS`) };
}

async function checkSignature(decoded, jwk) {
  if (!jwk) return check("signature", "skip", "no JWKS key to verify with (see key)");
  if (decoded.signature === null || decoded.signingInput === null) {
    return check("signature", "fail", "no decodable signature (see format)");
  }
  if (decoded.signature.length !== 64) {
    return check("signature", "fail", `the signature is ${decoded.signature.length} bytes; ES256 signatures are 64 bytes (r || s)`);
  }
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) {
    return check("signature", "fail", "WebCrypto is unavailable: open the portal over https or on localhost");
  }
  let key;
  try {
    key = await subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
  } catch (e) {
    return check("signature", "fail", `JWKS key ${jwk.kid} is not a valid P-256 public key (${e.name})`);
  }
  // JWS ES256 signatures are raw r || s, the form WebCrypto's ECDSA expects.
  const valid = await subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    decoded.signature,
    new TextEncoder().encode(decoded.signingInput),
  );
  return valid
    ? check("signature", "pass", `ECDSA P-256 SHA-256 signature verifies with key ${jwk.kid}`)
    : check("signature", "fail", `the signature does not verify with key ${jwk.kid}: the token was altered or signed by another key`);
}

function checkIssuer(claims, issuer) {
  if (!claims) return check("issuer", "skip", "no claims to read (format failed)");
  if (claims.iss === issuer) return check("issuer", "pass", `iss is ${issuer}`);
  return check("issuer", "fail", `iss is ${JSON.stringify(claims.iss ?? null)}, the pinned issuer is ${JSON.stringify(issuer)}`);
}

function checkExpiry(claims, now) {
  if (!claims) return check("expiry", "skip", "no claims to read (format failed)");
  const { exp, nbf, iat } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return check("expiry", "fail", "the token has no numeric exp claim");
  }
  const nowText = `now ${formatTime(now)}`;
  if (!(exp > now)) {
    return check("expiry", "fail", `expired at ${formatTime(exp)} (${nowText})`);
  }
  for (const [name, value] of [["nbf", nbf], ["iat", iat]]) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return check("expiry", "fail", `${name} is not a number`);
    }
    if (value > now + SKEW_SECS) {
      return check("expiry", "fail", `${name} ${formatTime(value)} is in the future (${nowText}, ${SKEW_SECS} s skew allowed)`);
    }
  }
  const issued = typeof iat === "number" ? `issued ${formatTime(iat)}, ` : "";
  return check("expiry", "pass", `${issued}valid until ${formatTime(exp)} (${nowText})`);
}

function checkNonce(claims, expected) {
  if (expected === undefined || expected === null || expected === "") {
    return check("nonce", "skip", "no expected nonce given");
  }
  if (!claims) return check("nonce", "skip", "no claims to read (format failed)");
  const bound = claims.runtime_data && claims.runtime_data.nonce;
  if (claims.nonce !== expected) {
    return check("nonce", "fail", `nonce is ${JSON.stringify(claims.nonce ?? null)}, expected ${JSON.stringify(expected)}: the token was not made for this request`);
  }
  if (bound !== undefined && bound !== expected) {
    return check("nonce", "fail", `runtime_data.nonce ${JSON.stringify(bound)} differs from the nonce claim`);
  }
  return check("nonce", "pass", `nonce matches ${expected}`);
}

function checkMeasurement(claims, measurements) {
  if (!claims) return check("measurement", "skip", "no claims to read (format failed)");
  const pinned = Array.isArray(measurements) ? measurements.map((m) => String(m).toLowerCase()) : [];
  if (pinned.length === 0) {
    return check("measurement", "fail", "the pinned policy lists no measurements, so none is accepted");
  }
  const m = claims.measurement;
  if (typeof m !== "string" || m === "") return check("measurement", "fail", "the token has no measurement claim");
  if (pinned.includes(m.toLowerCase())) return check("measurement", "pass", `measurement ${m} is pinned`);
  return check("measurement", "fail", `measurement ${m} is not one of the ${pinned.length} pinned measurement(s): different code is running`);
}

function checkPlatform(claims, allowVirtual) {
  if (!claims) return check("platform", "skip", "no claims to read (format failed)");
  if (claims.debug === true) {
    return check("platform", "fail", `${claims.platform} with debugging enabled: the host can read the TEE's memory`);
  }
  if (isVirtual(claims)) {
    const name = JSON.stringify(claims.platform ?? null);
    const what = claims.platform === "virtual" ? "virtual (software only)" : `${name}, hardware: ${claims.hardware}; treated as virtual (software only)`;
    return allowVirtual === true
      ? check("platform", "pass", `${what}; allowed by the pinned policy, no hardware protects this data`)
      : check("platform", "fail", `${what}; the pinned policy does not allow virtual tokens`);
  }
  return check("platform", "pass", `${claims.platform} (hardware TEE)`);
}

/**
 * Verifies `token` against the JWKS and the pinned policy.
 *
 * @param {string} token compact JWS
 * @param {{jwks: object, issuer: string, nonce?: string|null, measurements: string[],
 *          allowVirtual: boolean, now?: number}} policy `now` in Unix seconds (default: the clock)
 * @returns {Promise<{checks: {name: string, result: "pass"|"fail"|"skip", detail: string}[],
 *          header: object|null, claims: object|null, virtual: boolean, ok: boolean}>}
 */
export async function verifyToken(token, { jwks, issuer, nonce, measurements, allowVirtual, now } = {}) {
  const when = typeof now === "number" ? now : Math.floor(Date.now() / 1000);
  const decoded = decodeToken(token);
  const checks = [];
  checks.push(
    decoded.problems.length === 0
      ? check("format", "pass", "three base64url parts, JSON header and claims")
      : check("format", "fail", decoded.problems.join("; ")),
  );
  checks.push(checkAlgorithm(decoded.header));
  const key = findKey(decoded.header, jwks);
  checks.push(key.check);
  checks.push(await checkSignature(decoded, key.jwk));
  checks.push(checkIssuer(decoded.claims, issuer));
  checks.push(checkExpiry(decoded.claims, when));
  checks.push(checkNonce(decoded.claims, nonce));
  checks.push(checkMeasurement(decoded.claims, measurements));
  checks.push(checkPlatform(decoded.claims, allowVirtual));
  const ok = checks.every((c) => c.result !== "fail") && checks[3].result === "pass";
  return { checks, header: decoded.header, claims: decoded.claims, virtual: isVirtual(decoded.claims), ok };
}
