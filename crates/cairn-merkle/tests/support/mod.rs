//! Test-only guard: RFC 6962 §2.1 written straight from its recursive definitions, sharing
//! no code with the crate (it hashes with `sha2` directly and works on byte arrays).

#![allow(dead_code)] // Each test binary uses a different part of this module.

use sha2::{Digest, Sha256};

/// `SHA-256(0x00 || d)`.
pub fn leaf(d: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(d);
    h.finalize().into()
}

fn children(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// Largest power of two strictly less than `n` (`n > 1`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes (RFC 6962 §2.1).
pub fn mth(d: &[[u8; 32]]) -> [u8; 32] {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => d[0],
        n => {
            let k = split(n);
            children(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]) (RFC 6962 §2.1.1).
pub fn path(m: usize, d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 6962 §2.1.2).
pub fn proof(m: usize, d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    subproof(m, d, true)
}

fn subproof(m: usize, d: &[[u8; 32]], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// Every root of every prefix of `d`, index = size, computed incrementally only in the
/// sense that each is a fresh call to [`mth`].
pub fn all_roots(d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    (0..=d.len()).map(|n| mth(&d[..n])).collect()
}
