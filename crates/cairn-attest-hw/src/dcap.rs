//! Intel SGX and TDX: DCAP quotes verified offline with `dcap-qvl`.
//!
//! Evidence (JSON): `{ "quote": "<base64>", "collateral": { ... } }`. The collateral
//! is `dcap-qvl`'s `QuoteCollateralV3` JSON (TCB info, QE identity, CRLs and their
//! issuer chains, as a PCCS serves them). It is signed by Intel, so it may travel with
//! the evidence; when it does not, the verifier reads `<collateral_dir>/<fmspc>.json`
//! (FMSPC in lowercase hex, from the PCK certificate inside the quote).
//!
//! `dcap-qvl` checks the PCK chain up to the pinned Intel SGX Root CA, the CRLs, the
//! QE report and its binding to the attestation key, the quote signature, the TCB
//! info and QE identity signatures and validity at the given time, and derives the
//! TCB status and advisories. Cairn adds the canonical-bytes check, requires every
//! certificate chain (in the quote and in the collateral) to end in the pinned root
//! and the PCK CRL issuer chain to be the quote's own PCK CA chain, so that no byte of
//! a certificate goes unchecked, and maps the result to neutral claims; debug
//! enclaves are reported, and refused by appraisal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_attest::{
    EvidenceError, EvidenceVerifier, Platform, ReportData, TcbState, UnixTime, VerifiedEvidence,
};
use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::quote::{AuthData, Quote, Report};
use dcap_qvl::verify::{QuoteVerifier, VerifiedReport};
use serde::Deserialize;
use x509_cert::der::Encode;

use crate::b64_field;

/// Intel SGX Root CA, the trust anchor for PCK chains and collateral (the same
/// certificate `dcap-qvl` ships; its SHA-256 is checked by a test against testdata).
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("intel_sgx_root_ca.der");

const TEE_TYPE_SGX: u32 = 0x00;
const TEE_TYPE_TDX: u32 = 0x81;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DcapEvidence {
    quote: String,
    #[serde(default)]
    collateral: Option<QuoteCollateralV3>,
}

/// Verifies SGX or TDX DCAP quotes offline.
#[derive(Clone, Debug)]
pub struct DcapVerifier {
    platform: Platform,
    collateral_dir: Option<PathBuf>,
}

/// Sorts `dcap-qvl`'s error text into Cairn's categories so that callers can tell
/// stale collateral (fetch new collateral) from a forged quote (refuse the TEE).
fn classify(e: &anyhow::Error) -> EvidenceError {
    let text = format!("{e:#}");
    let lower = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&[
        "expired",
        "in the future",
        "crl",
        "tcbinfo",
        "tcb info",
        "qe identity",
        "qeidentity",
        "fmspc mismatch",
        "collateral",
    ]) {
        EvidenceError::Collateral(text)
    } else if has(&["certificate", "pck", "root ca", "chain"]) {
        EvidenceError::CertificateChain(text)
    } else if has(&[
        "decode",
        "unsupported",
        "must have version",
        "reserved bits",
    ]) {
        EvidenceError::Malformed(text)
    } else {
        EvidenceError::ReportSignature(text)
    }
}

impl DcapVerifier {
    /// An SGX quote verifier reading missing collateral from `collateral_dir`.
    pub fn sgx(collateral_dir: Option<PathBuf>) -> Self {
        Self {
            platform: Platform::Sgx,
            collateral_dir,
        }
    }

    /// A TDX quote verifier reading missing collateral from `collateral_dir`.
    pub fn tdx(collateral_dir: Option<PathBuf>) -> Self {
        Self {
            platform: Platform::Tdx,
            collateral_dir,
        }
    }

    fn collateral_for(&self, quote: &Quote) -> Result<QuoteCollateralV3, EvidenceError> {
        let dir = self.collateral_dir.as_ref().ok_or_else(|| {
            EvidenceError::MissingCollateral(
                "no collateral in the evidence and no collateral directory configured".into(),
            )
        })?;
        let chain = quote
            .raw_cert_chain()
            .map_err(|e| EvidenceError::Malformed(format!("quote certification data: {e}")))?;
        let pck = dcap_qvl::intel::parse_pck_extension_from_pem(chain)
            .map_err(|e| EvidenceError::CertificateChain(format!("PCK certificate: {e}")))?;
        let path = dir.join(format!("{}.json", hex::encode(pck.fmspc)));
        let bytes = std::fs::read(&path)
            .map_err(|e| EvidenceError::MissingCollateral(format!("{}: {e}", path.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| EvidenceError::Malformed(format!("{}: {e}", path.display())))
    }

    /// Verifies a raw quote with `collateral` (or collateral from the directory).
    pub fn verify_quote(
        &self,
        quote_bytes: &[u8],
        collateral: Option<QuoteCollateralV3>,
        at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let quote = Quote::parse(quote_bytes)
            .map_err(|e| EvidenceError::Malformed(format!("quote: {e:#}")))?;
        check_canonical(quote_bytes, &quote)?;
        let pck_chain = check_pck_chain(&quote)?;
        let found = match quote.header.tee_type {
            TEE_TYPE_SGX => Platform::Sgx,
            TEE_TYPE_TDX => Platform::Tdx,
            other => {
                return Err(EvidenceError::Malformed(format!(
                    "unknown TEE type 0x{other:x}"
                )));
            }
        };
        if found != self.platform {
            return Err(EvidenceError::WrongPlatform {
                expected: self.platform,
                found,
            });
        }
        let collateral = match collateral {
            Some(c) => c,
            None => self.collateral_for(&quote)?,
        };
        check_collateral_chains(&collateral, &pck_chain)?;
        // Debug TEEs pass verification so that the claims can say so; appraisal refuses
        // them unless a policy sets allow_debug.
        let verified = QuoteVerifier::new(INTEL_SGX_ROOT_CA_DER.to_vec())
            .allow_debug(true)
            .verify(quote_bytes, &collateral, at.secs())
            .map_err(|e| classify(&e))?;
        claims(&quote, verified)
    }
}

/// Length fields, the certification-data type and any slack between parsed parts
/// are not covered by a signature, so the quote must be exactly the encoding of what
/// was parsed. TDX quotes read through configfs-tsm arrive in a zero-padded buffer;
/// that padding is allowed, any other byte after the quote is not.
fn check_canonical(bytes: &[u8], quote: &Quote) -> Result<(), EvidenceError> {
    let again = parity_scale_codec::Encode::encode(quote);
    if let Some(i) = bytes.iter().zip(&again).position(|(a, b)| a != b) {
        return Err(EvidenceError::NonCanonical(format!(
            "byte {i} is not the encoding of the parsed quote (a length or type field was changed)"
        )));
    }
    let Some(padding) = bytes.get(again.len()..) else {
        return Err(EvidenceError::NonCanonical(
            "quote is shorter than its encoding".into(),
        ));
    };
    if let Some(i) = padding.iter().position(|&b| b != 0) {
        return Err(EvidenceError::NonCanonical(format!(
            "non-zero byte {} after the end of the quote",
            again.len() + i
        )));
    }
    // Version 4+ wraps the QE report in certification data of type 6; the type is
    // re-encoded as parsed, so it has to be checked by value.
    if let AuthData::V4(v4) = &quote.auth_data
        && v4.certification_data.cert_type != 6
    {
        return Err(EvidenceError::Malformed(format!(
            "outer certification data type is {}, quote v4 requires 6 (QE report)",
            v4.certification_data.cert_type
        )));
    }
    Ok(())
}

/// The PCK chain in the quote is not signed as a byte string; only the certificates
/// it encodes are checked. Requiring canonical PEM (64-column base64, `\n` line ends,
/// an optional trailing NUL as Intel's QE writes) and the pinned root as its last
/// certificate leaves no byte of it free to change.
fn check_pck_chain(quote: &Quote) -> Result<Vec<Vec<u8>>, EvidenceError> {
    use base64::Engine;
    let raw = quote
        .raw_cert_chain()
        .map_err(|e| EvidenceError::Malformed(format!("quote certification data: {e}")))?;
    let pem = raw.strip_suffix(b"\0").unwrap_or(raw);
    let certs = x509_cert::Certificate::load_pem_chain(pem)
        .map_err(|e| EvidenceError::CertificateChain(format!("PCK chain in the quote: {e}")))?;
    let mut canonical = Vec::with_capacity(pem.len());
    let mut ders = Vec::with_capacity(certs.len());
    for cert in &certs {
        let der = cert
            .to_der()
            .map_err(|e| EvidenceError::CertificateChain(format!("PCK chain in the quote: {e}")))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        ders.push(der);
        canonical.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            canonical.extend_from_slice(line);
            canonical.push(b'\n');
        }
        canonical.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    if canonical != pem {
        return Err(EvidenceError::NonCanonical(
            "the PCK certificate chain in the quote is not canonical PEM".into(),
        ));
    }
    if ders.last().map(Vec::as_slice) != Some(INTEL_SGX_ROOT_CA_DER) {
        return Err(EvidenceError::UntrustedRoot(
            "the PCK chain in the quote does not end in Intel's SGX Root CA".into(),
        ));
    }
    Ok(ders)
}

/// `dcap-qvl` verifies the TCB info and QE identity issuer chains from their leaf to
/// the pinned root and ignores the copy of the root they carry; it checks the PCK CRL
/// against the PCK CA found in the quote and does not read `pck_crl_issuer_chain` at
/// all. So that no certificate byte in the collateral goes unchecked, every chain must
/// parse and end in Intel's SGX Root CA, and the PCK CRL issuer chain must be exactly
/// the CA part of the quote's PCK chain (`pck_chain`, leaf first), whose issuer the CRL
/// really is.
fn check_collateral_chains(
    collateral: &QuoteCollateralV3,
    pck_chain: &[Vec<u8>],
) -> Result<(), EvidenceError> {
    for (name, pem) in [
        ("pck_crl_issuer_chain", &collateral.pck_crl_issuer_chain),
        ("tcb_info_issuer_chain", &collateral.tcb_info_issuer_chain),
        (
            "qe_identity_issuer_chain",
            &collateral.qe_identity_issuer_chain,
        ),
    ] {
        let pem = pem.trim_end_matches('\0').as_bytes();
        let certs = x509_cert::Certificate::load_pem_chain(pem)
            .and_then(|certs| {
                certs
                    .iter()
                    .map(Encode::to_der)
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| {
                EvidenceError::Collateral(format!("{name} is not a PEM certificate chain: {e}"))
            })?;
        if certs.last().map(Vec::as_slice) != Some(INTEL_SGX_ROOT_CA_DER) {
            return Err(EvidenceError::UntrustedRoot(format!(
                "collateral {name} does not end in Intel's SGX Root CA"
            )));
        }
        if name == "pck_crl_issuer_chain"
            && certs.as_slice() != pck_chain.get(1..).unwrap_or_default()
        {
            return Err(EvidenceError::Collateral(
                "pck_crl_issuer_chain is not the CA chain of the PCK certificate in the quote"
                    .into(),
            ));
        }
    }
    Ok(())
}

fn u16_hex(v: u16) -> String {
    hex::encode(v.to_be_bytes())
}

fn claims(quote: &Quote, v: VerifiedReport) -> Result<VerifiedEvidence, EvidenceError> {
    let mut svn = BTreeMap::from([
        ("pce_svn".to_owned(), u64::from(quote.header.pce_svn)),
        ("qe_svn".to_owned(), u64::from(quote.header.qe_svn)),
    ]);
    let mut registers = BTreeMap::new();
    let mut flags = BTreeMap::new();
    let (platform, measurement, report_data, debug) = match &v.report {
        Report::SgxEnclave(r) => {
            registers.insert("attributes".to_owned(), hex::encode(r.attributes));
            registers.insert("cpu_svn".to_owned(), hex::encode(r.cpu_svn));
            registers.insert("isv_prod_id".to_owned(), u16_hex(r.isv_prod_id));
            registers.insert("mr_enclave".to_owned(), hex::encode(r.mr_enclave));
            registers.insert("mr_signer".to_owned(), hex::encode(r.mr_signer));
            svn.insert("isv_svn".to_owned(), u64::from(r.isv_svn));
            // SGX ATTRIBUTES.FLAGS: bit 1 DEBUG, bit 4 PROVISIONKEY.
            flags.insert("provision_key".to_owned(), r.attributes[0] & 0x10 != 0);
            (
                Platform::Sgx,
                hex::encode(r.mr_enclave),
                r.report_data,
                r.attributes[0] & 0x02 != 0,
            )
        }
        other => {
            let td = other.as_td10().ok_or_else(|| {
                EvidenceError::Malformed("quote body is neither an SGX nor a TD report".into())
            })?;
            for (name, value) in [
                ("mr_config_id", &td.mr_config_id),
                ("mr_owner", &td.mr_owner),
                ("mr_owner_config", &td.mr_owner_config),
                ("mr_seam", &td.mr_seam),
                ("mr_signer_seam", &td.mr_signer_seam),
                ("mr_td", &td.mr_td),
                ("rtmr0", &td.rt_mr0),
                ("rtmr1", &td.rt_mr1),
                ("rtmr2", &td.rt_mr2),
                ("rtmr3", &td.rt_mr3),
            ] {
                registers.insert(name.to_owned(), hex::encode(value));
            }
            registers.insert("td_attributes".to_owned(), hex::encode(td.td_attributes));
            registers.insert("tee_tcb_svn".to_owned(), hex::encode(td.tee_tcb_svn));
            registers.insert("xfam".to_owned(), hex::encode(td.xfam));
            // TD_ATTRIBUTES bit 0 is DEBUG; bit 28 SEPT_VE_DISABLE.
            flags.insert(
                "sept_ve_disable".to_owned(),
                td.td_attributes[3] & 0x10 != 0,
            );
            (
                Platform::Tdx,
                hex::encode(td.mr_td),
                td.report_data,
                td.td_attributes[0] & 0x01 != 0,
            )
        }
    };
    tracing::debug!(%platform, status = %v.status, "verified DCAP quote");
    Ok(VerifiedEvidence {
        platform,
        hardware: true,
        measurement,
        registers,
        report_data: ReportData(report_data),
        debug,
        tcb: TcbState {
            status: Some(v.status),
            advisory_ids: v.advisory_ids,
            svn,
        },
        flags,
    })
}

impl EvidenceVerifier for DcapVerifier {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn verify(
        &self,
        evidence: &serde_json::Value,
        at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let ev: DcapEvidence = serde_json::from_value(evidence.clone())
            .map_err(|e| EvidenceError::Malformed(format!("DCAP evidence: {e}")))?;
        let quote = b64_field("quote", &ev.quote)?;
        self.verify_quote(&quote, ev.collateral, at)
    }
}
