//! AMD SEV-SNP: attestation report + VCEK/VLEK → ASK/ASVK → ARK.
//!
//! Evidence (JSON, binary fields in standard base64):
//!
//! ```json
//! { "report": "<1184-byte ATTESTATION_REPORT>", "vek": "<VCEK or VLEK DER>",
//!   "ask": "<ASK or ASVK DER, optional for VCEK>", "ark": "<ARK DER, optional>",
//!   "crl": "<AMD CRL DER, optional>" }
//! ```
//!
//! Checks, in order (each failure names itself): the report parses and is canonical;
//! the chain ends in an ARK pinned by the `sev` crate (Milan, Genoa or Turin) and every
//! link verifies (RSA-PSS); every certificate is valid at the verification time; every
//! AMD CRL supplied ([`crl`]: the evidence's `crl`, and from the collateral directory
//! `crl-<product>.der` for a VCEK chain or `crl-vlek-<product>.der` for a VLEK chain,
//! product in lowercase) is authentic, issued by the chain's ARK and current, and lists
//! neither the ARK nor the ASK/ASVK (a listed one is [`EvidenceError::Revoked`]); the
//! report's `reported_tcb` equals the TCB the VEK certifies (and, for a VCEK, `chip_id`
//! equals its `hwID`); the report's ECDSA P-384 signature verifies with the VEK.
//!
//! The claims carry `flags.amd_crl_checked`: true when at least one CRL was checked.
//! Without a CRL revocation is unknown, not assumed absent, and appraisal policies
//! refuse such evidence by default (see `cairn_attest::policy`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_attest::{
    EvidenceError, EvidenceVerifier, Platform, ReportData, TcbState, UnixTime, VerifiedEvidence,
};
use serde::Deserialize;
use sev::certs::snp::{Certificate, Verifiable, builtin};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;
use x509_cert::der::Decode;
use x509_cert::der::asn1::ObjectIdentifier;

use crate::b64_field;
use crate::certtime::{check_algorithm_consistency, check_validity};

mod crl;
#[cfg(test)]
mod tests;

const REPORT_LEN: usize = 1184;
const SIGNATURE_OFFSET: usize = 0x2A0;
const SIG_COMPONENT_LEN: usize = 72;
const P384_SCALAR_LEN: usize = 48;

type BuiltinCert = fn() -> std::io::Result<Certificate>;

/// The AMD product lines whose ARK (and ASK) the `sev` crate pins.
const PRODUCTS: [(&str, BuiltinCert, BuiltinCert); 3] = [
    ("Milan", builtin::milan::ark, builtin::milan::ask),
    ("Genoa", builtin::genoa::ark, builtin::genoa::ask),
    ("Turin", builtin::turin::ark, builtin::turin::ask),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnpEvidence {
    report: String,
    #[serde(default)]
    vek: Option<String>,
    #[serde(default)]
    ask: Option<String>,
    #[serde(default)]
    ark: Option<String>,
    #[serde(default)]
    crl: Option<String>,
}

/// A product line's trust anchor: its ARK, and its ASK for VCEKs sent without one.
#[derive(Clone, Debug)]
struct Root {
    product: &'static str,
    ark: Certificate,
    ask: Certificate,
}

/// Verifies SEV-SNP evidence offline.
#[derive(Clone, Debug, Default)]
pub struct SnpVerifier {
    collateral_dir: Option<PathBuf>,
    /// Replaces AMD's pinned roots in unit tests, which need an ARK whose key they
    /// hold to sign CRLs.
    #[cfg(test)]
    test_roots: Option<Vec<Root>>,
}

/// Which endorsement key signed the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VekKind {
    Vcek,
    Vlek,
}

impl VekKind {
    fn name(self) -> &'static str {
        match self {
            VekKind::Vcek => "VCEK",
            VekKind::Vlek => "VLEK",
        }
    }
}

fn cert(field: &str, der: &[u8]) -> Result<Certificate, EvidenceError> {
    Certificate::from_der(der)
        .map_err(|e| EvidenceError::Malformed(format!("{field} is not a DER certificate: {e}")))
}

fn x509(c: &Certificate) -> x509_cert::Certificate {
    c.clone().into()
}

fn extension<'a>(cert: &'a x509_cert::Certificate, oid: &str) -> Option<&'a [u8]> {
    let oid = ObjectIdentifier::new(oid).ok()?;
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// AMD VCEK/VLEK TCB extensions (KDS specification, table "VCEK certificate extensions").
const TCB_EXTENSIONS: [(&str, &str); 4] = [
    ("bootloader", "1.3.6.1.4.1.3704.1.3.1"),
    ("tee", "1.3.6.1.4.1.3704.1.3.2"),
    ("snp", "1.3.6.1.4.1.3704.1.3.3"),
    ("microcode", "1.3.6.1.4.1.3704.1.3.8"),
];
const FMC_EXTENSION: &str = "1.3.6.1.4.1.3704.1.3.9";
const HWID_EXTENSION: &str = "1.3.6.1.4.1.3704.1.4";

fn spl(vek: &x509_cert::Certificate, name: &str, oid: &str) -> Result<u8, EvidenceError> {
    let raw = extension(vek, oid)
        .ok_or_else(|| EvidenceError::Tcb(format!("VEK has no {name} SPL extension ({oid})")))?;
    u8::from_der(raw)
        .map_err(|_| EvidenceError::Tcb(format!("VEK {name} SPL extension is not a small INTEGER")))
}

fn check_tcb(
    report: &AttestationReport,
    vek: &x509_cert::Certificate,
    kind: VekKind,
) -> Result<(), EvidenceError> {
    let tcb = &report.reported_tcb;
    let reported = [tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode];
    for ((name, oid), value) in TCB_EXTENSIONS.iter().zip(reported) {
        let certified = spl(vek, name, oid)?;
        if certified != value {
            return Err(EvidenceError::Tcb(format!(
                "reported_tcb.{name} is {value} but the {} certifies {certified}",
                kind.name()
            )));
        }
    }
    if let Some(fmc) = tcb.fmc {
        let certified = spl(vek, "fmc", FMC_EXTENSION)?;
        if certified != fmc {
            return Err(EvidenceError::Tcb(format!(
                "reported_tcb.fmc is {fmc} but the {} certifies {certified}",
                kind.name()
            )));
        }
    }
    if kind == VekKind::Vcek {
        let hw_id = extension(vek, HWID_EXTENSION)
            .ok_or_else(|| EvidenceError::Tcb("VCEK has no hwID extension".into()))?;
        // Turin VCEKs certify an 8-byte hwID; earlier products the full 64-byte chip id.
        if hw_id.is_empty() || !report.chip_id.starts_with(hw_id) {
            return Err(EvidenceError::Tcb(
                "chip_id in the report is not the hwID the VCEK certifies".into(),
            ));
        }
    }
    Ok(())
}

fn check_canonical(bytes: &[u8], report: &AttestationReport) -> Result<(), EvidenceError> {
    let again = report
        .to_bytes()
        .map_err(|e| EvidenceError::Malformed(format!("report cannot be re-encoded: {e}")))?;
    if let Some(i) = bytes.iter().zip(again.iter()).position(|(a, b)| a != b) {
        return Err(EvidenceError::NonCanonical(format!(
            "byte 0x{i:03x} is a reserved or unused field and must be zero"
        )));
    }
    // r and s are 48-byte little-endian scalars zero-padded to 72 bytes; the decoder
    // keeps the padding but the signature check ignores it, so it must be checked here.
    for start in [SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIG_COMPONENT_LEN] {
        let pad = start + P384_SCALAR_LEN..start + SIG_COMPONENT_LEN;
        if let Some(i) = bytes[pad.clone()].iter().position(|&b| b != 0) {
            return Err(EvidenceError::NonCanonical(format!(
                "byte 0x{:03x} is signature padding and must be zero",
                pad.start + i
            )));
        }
    }
    Ok(())
}

/// The chain that verified: product line, ARK and ASK/ASVK.
struct VerifiedChain {
    product: &'static str,
    ark: Certificate,
    ask: Certificate,
}

/// AMD's roots as the `sev` crate pins them.
fn pinned_roots() -> Result<Vec<Root>, EvidenceError> {
    let builtin_err =
        |e: std::io::Error| EvidenceError::UntrustedRoot(format!("pinned AMD certificate: {e}"));
    PRODUCTS
        .iter()
        .map(|(product, ark, ask)| {
            Ok(Root {
                product,
                ark: ark().map_err(builtin_err)?,
                ask: ask().map_err(builtin_err)?,
            })
        })
        .collect()
}

fn verify_chain(
    roots: Vec<Root>,
    given_ark: Option<Certificate>,
    given_ask: Option<Certificate>,
    vek: &Certificate,
    kind: VekKind,
) -> Result<VerifiedChain, EvidenceError> {
    for Root {
        product,
        ark,
        ask: pinned_ask,
    } in roots
    {
        if given_ark.as_ref().is_some_and(|g| *g != ark) {
            continue;
        }
        match &given_ask {
            Some(ask) => {
                if (&ark, ask).verify().is_err() {
                    continue;
                }
                (ask, vek).verify().map_err(|e| {
                    EvidenceError::CertificateChain(format!(
                        "the {product} ASK/ASVK does not sign the {}: {e}",
                        kind.name()
                    ))
                })?;
                return Ok(VerifiedChain {
                    product,
                    ark,
                    ask: ask.clone(),
                });
            }
            None if kind == VekKind::Vcek && (&pinned_ask, vek).verify().is_ok() => {
                return Ok(VerifiedChain {
                    product,
                    ark,
                    ask: pinned_ask,
                });
            }
            None => {}
        }
    }
    Err(match (given_ark.is_some(), given_ask.is_some(), kind) {
        (true, _, _) => EvidenceError::UntrustedRoot(
            "the ARK in the evidence is not AMD's Milan, Genoa or Turin ARK".into(),
        ),
        (false, true, _) => EvidenceError::CertificateChain(
            "the ASK/ASVK is not signed by AMD's Milan, Genoa or Turin ARK".into(),
        ),
        (false, false, VekKind::Vlek) => EvidenceError::MissingCollateral(
            "a VLEK-signed report needs the ASVK certificate (evidence field ask)".into(),
        ),
        (false, false, VekKind::Vcek) => EvidenceError::CertificateChain(
            "the VCEK is not signed by AMD's Milan, Genoa or Turin ASK".into(),
        ),
    })
}

/// An endorsement key (VCEK or VLEK) whose chain to a pinned AMD ARK verified.
pub struct CertifiedVek {
    product: &'static str,
    kind: VekKind,
    vek: Certificate,
    vek_x509: x509_cert::Certificate,
    crl_checked: bool,
}

impl CertifiedVek {
    /// The AMD product line whose ARK the chain ends in (`Milan`, `Genoa`, `Turin`).
    pub fn product(&self) -> &'static str {
        self.product
    }

    /// Whether the key is a VLEK (cloud-provider key) rather than a VCEK (chip key).
    pub fn is_vlek(&self) -> bool {
        self.kind == VekKind::Vlek
    }

    /// Whether at least one current AMD CRL was checked for the chain (and listed
    /// neither its ARK nor its ASK/ASVK).
    pub fn crl_checked(&self) -> bool {
        self.crl_checked
    }
}

fn parse_report(bytes: &[u8]) -> Result<(AttestationReport, VekKind), EvidenceError> {
    if bytes.len() != REPORT_LEN {
        return Err(EvidenceError::Malformed(format!(
            "report is {} bytes, an SNP attestation report is {REPORT_LEN}",
            bytes.len()
        )));
    }
    let report = AttestationReport::from_bytes(bytes)
        .map_err(|e| EvidenceError::Malformed(format!("report: {e}")))?;
    check_canonical(bytes, &report)?;
    if report.sig_algo != 1 {
        return Err(EvidenceError::Malformed(format!(
            "signature algorithm {} is not ECDSA P-384 with SHA-384 (1)",
            report.sig_algo
        )));
    }
    let kind = match report.key_info.signing_key() {
        0 => VekKind::Vcek,
        1 => VekKind::Vlek,
        other => {
            return Err(EvidenceError::ReportSignature(format!(
                "report is not signed by a VCEK or VLEK (SIGNING_KEY {other})"
            )));
        }
    };
    Ok((report, kind))
}

impl SnpVerifier {
    /// A verifier that looks for missing certificates (`vcek.der`, `vlek.der`,
    /// `ask.der`, `asvk.der`) in `collateral_dir`.
    pub fn new(collateral_dir: Option<PathBuf>) -> Self {
        Self {
            collateral_dir,
            #[cfg(test)]
            test_roots: None,
        }
    }

    fn roots(&self) -> Result<Vec<Root>, EvidenceError> {
        #[cfg(test)]
        if let Some(roots) = &self.test_roots {
            return Ok(roots.clone());
        }
        pinned_roots()
    }

    fn read_collateral(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.collateral_dir.as_ref()?.join(name)).ok()
    }

    /// Checks every CRL for `product` supplied in `given` (the evidence) and, for each
    /// key kind in `kinds`, in the collateral directory. Returns whether any was checked.
    fn check_crls(
        &self,
        product: &str,
        kinds: &[VekKind],
        given: Option<&[u8]>,
        ark: &x509_cert::Certificate,
        ca: &x509_cert::Certificate,
        at: UnixTime,
    ) -> Result<bool, EvidenceError> {
        let kds = |kind: VekKind| {
            let path = if kind == VekKind::Vlek {
                "vlek"
            } else {
                "vcek"
            };
            format!("https://kdsintf.amd.com/{path}/v1/{product}/crl")
        };
        let mut crls = Vec::new();
        if let Some(der) = given {
            let kds_url = kinds
                .iter()
                .map(|k| kds(*k))
                .collect::<Vec<_>>()
                .join(" or ");
            crls.push((
                der.to_vec(),
                crl::CrlSource {
                    name: "evidence field crl".into(),
                    kds_url,
                },
            ));
        }
        for &kind in kinds {
            let Some(dir) = &self.collateral_dir else {
                break;
            };
            let file = match kind {
                VekKind::Vcek => format!("crl-{}.der", product.to_ascii_lowercase()),
                VekKind::Vlek => format!("crl-vlek-{}.der", product.to_ascii_lowercase()),
            };
            let path = dir.join(file);
            match std::fs::read(&path) {
                Ok(der) => crls.push((
                    der,
                    crl::CrlSource {
                        name: path.display().to_string(),
                        kds_url: kds(kind),
                    },
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(EvidenceError::Collateral(format!(
                        "AMD CRL {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        let ca_name = if kinds == [VekKind::Vlek] {
            "ASVK"
        } else {
            "ASK"
        };
        let ark = crl::Listed {
            subject: format!("ARK-{product}"),
            cert: ark,
        };
        let listed = [crl::Listed {
            subject: format!("{ca_name}-{product}"),
            cert: ca,
        }];
        for (der, source) in &crls {
            crl::check(der, source, &ark, &listed, at)?;
        }
        Ok(!crls.is_empty())
    }

    /// Verifies the chain VEK → ASK/ASVK → pinned ARK, every certificate's validity at
    /// `at`, and the AMD CRLs supplied (`crl_der`, and the collateral directory's).
    /// Without `ask_der`, a VCEK is checked against the pinned ASKs.
    pub fn certify_vek(
        &self,
        vek_der: &[u8],
        ask_der: Option<&[u8]>,
        ark_der: Option<&[u8]>,
        crl_der: Option<&[u8]>,
        vlek: bool,
        at: UnixTime,
    ) -> Result<CertifiedVek, EvidenceError> {
        let kind = if vlek { VekKind::Vlek } else { VekKind::Vcek };
        let vek = cert("vek", vek_der)?;
        let ask = ask_der.map(|d| cert("ask", d)).transpose()?;
        let ark = ark_der.map(|d| cert("ark", d)).transpose()?;
        let chain = verify_chain(self.roots()?, ark, ask, &vek, kind)?;
        let (ark_x, ask_x, vek_x509) = (x509(&chain.ark), x509(&chain.ask), x509(&vek));
        check_algorithm_consistency("ASK", &ask_x)?;
        check_algorithm_consistency(kind.name(), &vek_x509)?;
        check_validity(&format!("ARK-{}", chain.product), &ark_x, at)?;
        check_validity(&format!("ASK-{}", chain.product), &ask_x, at)?;
        check_validity(kind.name(), &vek_x509, at)?;
        let crl_checked = self.check_crls(chain.product, &[kind], crl_der, &ark_x, &ask_x, at)?;
        Ok(CertifiedVek {
            product: chain.product,
            kind,
            vek,
            vek_x509,
            crl_checked,
        })
    }

    /// Verifies an AMD signing CA (an ASK or ASVK) on its own: it must be signed by one
    /// of the pinned ARKs (whose self-signature is checked too), equal `ark_der` if that
    /// is given, be valid at `at`, and not be listed in the AMD CRLs supplied (`crl_der`,
    /// and both of the collateral directory's). Returns the product line (`Milan`,
    /// `Genoa`, `Turin`).
    pub fn certify_signing_ca(
        &self,
        ca_der: &[u8],
        ark_der: Option<&[u8]>,
        crl_der: Option<&[u8]>,
        at: UnixTime,
    ) -> Result<&'static str, EvidenceError> {
        let ca = cert("ask", ca_der)?;
        let given_ark = ark_der.map(|d| cert("ark", d)).transpose()?;
        for Root { product, ark, .. } in self.roots()? {
            if given_ark.as_ref().is_some_and(|g| *g != ark) || (&ark, &ca).verify().is_err() {
                continue;
            }
            (&ark, &ark).verify().map_err(|e| {
                EvidenceError::UntrustedRoot(format!(
                    "pinned ARK-{product} is not self-signed: {e}"
                ))
            })?;
            let (ark_x, ca_x) = (x509(&ark), x509(&ca));
            check_algorithm_consistency("ASK", &ca_x)?;
            check_validity(&format!("ARK-{product}"), &ark_x, at)?;
            check_validity(&format!("ASK-{product}"), &ca_x, at)?;
            self.check_crls(
                product,
                &[VekKind::Vcek, VekKind::Vlek],
                crl_der,
                &ark_x,
                &ca_x,
                at,
            )?;
            return Ok(product);
        }
        Err(if given_ark.is_some() {
            EvidenceError::UntrustedRoot(
                "the ARK given is not AMD's Milan, Genoa or Turin ARK, or does not sign the ASK/ASVK"
                    .into(),
            )
        } else {
            EvidenceError::CertificateChain(
                "the ASK/ASVK is not signed by AMD's Milan, Genoa or Turin ARK".into(),
            )
        })
    }

    /// Verifies a report against an already certified VEK: canonical bytes, TCB and
    /// chip id against the VEK's extensions, and the signature.
    pub fn verify_report(
        &self,
        report_bytes: &[u8],
        vek: &CertifiedVek,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let (report, kind) = parse_report(report_bytes)?;
        if kind != vek.kind {
            return Err(EvidenceError::ReportSignature(format!(
                "report says it is signed by a {}, but a {} was supplied",
                kind.name(),
                vek.kind.name()
            )));
        }
        check_tcb(&report, &vek.vek_x509, kind)?;
        (&vek.vek, &report).verify().map_err(|e| {
            EvidenceError::ReportSignature(format!(
                "the {} does not sign the report: {e}",
                kind.name()
            ))
        })?;
        Ok(claims(&report, vek))
    }

    /// Verifies the decoded parts of SNP evidence; missing certificates come from the
    /// collateral directory, and its CRL is checked along with `crl_der`.
    pub fn verify_parts(
        &self,
        report_bytes: &[u8],
        vek_der: Option<&[u8]>,
        ask_der: Option<&[u8]>,
        ark_der: Option<&[u8]>,
        crl_der: Option<&[u8]>,
        at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let (_, kind) = parse_report(report_bytes)?;
        let (vek_file, ask_file) = match kind {
            VekKind::Vcek => ("vcek.der", "ask.der"),
            VekKind::Vlek => ("vlek.der", "asvk.der"),
        };
        let vek_owned = match vek_der {
            Some(_) => None,
            None => Some(self.read_collateral(vek_file).ok_or_else(|| {
                EvidenceError::MissingCollateral(format!(
                    "no {} certificate in the evidence (field vek) or collateral directory ({vek_file})",
                    kind.name()
                ))
            })?),
        };
        let ask_owned = ask_der
            .is_none()
            .then(|| self.read_collateral(ask_file))
            .flatten();
        let vek = self.certify_vek(
            vek_der.or(vek_owned.as_deref()).unwrap_or_default(),
            ask_der.or(ask_owned.as_deref()),
            ark_der,
            crl_der,
            kind == VekKind::Vlek,
            at,
        )?;
        self.verify_report(report_bytes, &vek)
    }
}

fn claims(report: &AttestationReport, vek: &CertifiedVek) -> VerifiedEvidence {
    let (kind, product) = (vek.kind, vek.product);
    let measurement = hex::encode(report.measurement);
    let registers = BTreeMap::from([
        (
            "author_key_digest".to_owned(),
            hex::encode(report.author_key_digest),
        ),
        ("chip_id".to_owned(), hex::encode(report.chip_id)),
        ("family_id".to_owned(), hex::encode(report.family_id)),
        ("host_data".to_owned(), hex::encode(report.host_data)),
        (
            "id_key_digest".to_owned(),
            hex::encode(report.id_key_digest),
        ),
        ("image_id".to_owned(), hex::encode(report.image_id)),
        ("measurement".to_owned(), measurement.clone()),
        ("report_id".to_owned(), hex::encode(report.report_id)),
    ]);
    let tcb = &report.reported_tcb;
    let mut svn = BTreeMap::from([
        ("bootloader".to_owned(), u64::from(tcb.bootloader)),
        ("guest_svn".to_owned(), u64::from(report.guest_svn)),
        ("microcode".to_owned(), u64::from(tcb.microcode)),
        ("snp".to_owned(), u64::from(tcb.snp)),
        ("tee".to_owned(), u64::from(tcb.tee)),
        ("vmpl".to_owned(), u64::from(report.vmpl)),
    ]);
    if let Some(fmc) = tcb.fmc {
        svn.insert("fmc".to_owned(), u64::from(fmc));
    }
    let policy = report.policy;
    let flags = BTreeMap::from([
        ("amd_crl_checked".to_owned(), vek.crl_checked),
        ("migrate_ma".to_owned(), policy.migrate_ma_allowed()),
        ("single_socket".to_owned(), policy.single_socket_required()),
        ("smt".to_owned(), policy.smt_allowed()),
        ("vlek".to_owned(), kind == VekKind::Vlek),
    ]);
    tracing::debug!(product, measurement = %measurement, "verified SEV-SNP report");
    VerifiedEvidence {
        platform: Platform::SevSnp,
        hardware: true,
        measurement,
        registers,
        report_data: ReportData(report.report_data),
        debug: policy.debug_allowed(),
        tcb: TcbState {
            status: None,
            advisory_ids: Vec::new(),
            svn,
        },
        flags,
    }
}

impl EvidenceVerifier for SnpVerifier {
    fn platform(&self) -> Platform {
        Platform::SevSnp
    }

    fn verify(
        &self,
        evidence: &serde_json::Value,
        at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let ev: SnpEvidence = serde_json::from_value(evidence.clone())
            .map_err(|e| EvidenceError::Malformed(format!("SEV-SNP evidence: {e}")))?;
        let report = b64_field("report", &ev.report)?;
        let vek = ev.vek.as_deref().map(|v| b64_field("vek", v)).transpose()?;
        let ask = ev.ask.as_deref().map(|v| b64_field("ask", v)).transpose()?;
        let ark = ev.ark.as_deref().map(|v| b64_field("ark", v)).transpose()?;
        let crl = ev.crl.as_deref().map(|v| b64_field("crl", v)).transpose()?;
        self.verify_parts(
            &report,
            vek.as_deref(),
            ask.as_deref(),
            ark.as_deref(),
            crl.as_deref(),
            at,
        )
    }
}
