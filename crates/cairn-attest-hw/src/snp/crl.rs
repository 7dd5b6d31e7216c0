//! AMD's certificate revocation lists for SEV-SNP chains.
//!
//! AMD's Key Distribution Service publishes one CRL per product line and key kind
//! (`https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/crl`, and `/vlek/v1/...` for
//! VLEK chains): a DER X.509 CRL issued and signed by the product's ARK, listing the
//! serial numbers of revoked ASKs/ASVKs (and the ARK itself, should AMD revoke it).
//! Intel's CRLs are checked for DCAP by `dcap-qvl`; this module is the AMD side.
//!
//! Invariants (each failure is an [`EvidenceError`] naming the CRL and what to do):
//! - the CRL is exactly DER (re-encoding what was parsed gives the same bytes), so the
//!   bytes its signature covers are the bytes that were read;
//! - it is issued by the chain's ARK (same name) and its signature verifies with that
//!   ARK's key, RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt, as AMD signs;
//! - it is current at the verification time: `thisUpdate <= at <= nextUpdate`, and a
//!   CRL without `nextUpdate` is refused (it could not say when it goes stale);
//! - it carries no critical extension, in the list or in an entry (RFC 5280 5.2 and
//!   5.3: a CRL with a critical extension the verifier does not process must not be
//!   used, and AMD's CRLs define none);
//! - a chain whose ARK or ASK/ASVK serial number is listed is refused with
//!   [`EvidenceError::Revoked`], distinct from every other failure.

use cairn_attest::{EvidenceError, UnixTime};
use rsa::pkcs1::RsaPssParams;
use rsa::signature::Verifier;
use sha2_v010::Sha384;
use x509_cert::crl::CertificateList;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{Decode, Encode};

const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SALT_LEN: usize = 48;

/// A certificate a CRL may list: its name in errors and its certificate.
pub(crate) struct Listed<'a> {
    /// E.g. `ASK-Milan`.
    pub(crate) subject: String,
    /// The certificate.
    pub(crate) cert: &'a x509_cert::Certificate,
}

/// Where a CRL came from, for errors: a file, or the evidence's `crl` field, and the
/// KDS address a current one can be fetched from.
pub(crate) struct CrlSource {
    /// `evidence field crl`, or the file's path.
    pub(crate) name: String,
    /// `https://kdsintf.amd.com/...` for this product and key kind.
    pub(crate) kds_url: String,
}

fn collateral(source: &CrlSource, what: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Collateral(format!("AMD CRL from {}: {what}", source.name))
}

/// Checks that the RSASSA-PSS parameters are the ones AMD signs with.
pub(super) fn check_algorithm(
    crl: &CertificateList,
    source: &CrlSource,
) -> Result<(), EvidenceError> {
    let alg = &crl.signature_algorithm;
    if *alg != crl.tbs_cert_list.signature {
        return Err(collateral(
            source,
            "outer signature algorithm differs from the signed one",
        ));
    }
    if crl.signature.unused_bits() != 0 {
        return Err(collateral(
            source,
            "signature BIT STRING declares unused bits",
        ));
    }
    let amd = || {
        collateral(
            source,
            "not signed with RSASSA-PSS, SHA-384, MGF1-SHA-384 and a 48-byte salt, as AMD signs",
        )
    };
    if alg.oid != RSASSA_PSS {
        return Err(amd());
    }
    let params: RsaPssParams<'_> = alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as().ok())
        .ok_or_else(amd)?;
    let mgf_hash = params.mask_gen.parameters.map(|p| p.oid);
    if params.hash.oid != SHA384
        || params.mask_gen.oid != MGF1
        || mgf_hash != Some(SHA384)
        || usize::from(params.salt_len) != SALT_LEN
    {
        return Err(amd());
    }
    Ok(())
}

/// Parses `der` as an AMD CRL for the chain ending in `ark`, checks it (see the module
/// invariants) at `at`, and refuses any of `listed` whose serial it lists.
pub(crate) fn check(
    der: &[u8],
    source: &CrlSource,
    ark: &Listed<'_>,
    listed: &[Listed<'_>],
    at: UnixTime,
) -> Result<(), EvidenceError> {
    let crl = CertificateList::from_der(der)
        .map_err(|e| collateral(source, format_args!("not a DER X.509 CRL (v2): {e}")))?;
    if crl.to_der().ok().as_deref() != Some(der) {
        return Err(collateral(
            source,
            "not DER-encoded exactly (re-encoding differs)",
        ));
    }
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != ark.cert.tbs_certificate.subject {
        return Err(collateral(
            source,
            format_args!(
                "issued by {}, not by {} that the chain ends in; use the CRL from {}",
                tbs.issuer, ark.subject, source.kds_url
            ),
        ));
    }
    check_algorithm(&crl, source)?;
    let key = rsa::RsaPublicKey::try_from(
        ark.cert
            .tbs_certificate
            .subject_public_key_info
            .owned_to_ref(),
    )
    .map_err(|e| collateral(source, format_args!("{} has no RSA key: {e}", ark.subject)))?;
    let signature = rsa::pss::Signature::try_from(crl.signature.raw_bytes())
        .map_err(|e| collateral(source, format_args!("signature: {e}")))?;
    let signed = tbs
        .to_der()
        .map_err(|e| collateral(source, format_args!("re-encoding: {e}")))?;
    rsa::pss::VerifyingKey::<Sha384>::new_with_salt_len(key, SALT_LEN)
        .verify(&signed, &signature)
        .map_err(|_| {
            collateral(
                source,
                format_args!("signature does not verify with the key of {}", ark.subject),
            )
        })?;

    let this_update = UnixTime(tbs.this_update.to_unix_duration().as_secs());
    let next_update = tbs
        .next_update
        .map(|t| UnixTime(t.to_unix_duration().as_secs()))
        .ok_or_else(|| {
            collateral(
                source,
                "has no nextUpdate, so it cannot be known to be current",
            )
        })?;
    if at < this_update || at > next_update {
        return Err(collateral(
            source,
            format_args!(
                "valid {this_update} .. {next_update}, not at {at}; fetch a current one from {}",
                source.kds_url
            ),
        ));
    }
    let critical = tbs
        .crl_extensions
        .iter()
        .flatten()
        .chain(
            tbs.revoked_certificates
                .iter()
                .flatten()
                .flat_map(|r| r.crl_entry_extensions.iter().flatten()),
        )
        .find(|e| e.critical);
    if let Some(ext) = critical {
        return Err(collateral(
            source,
            format_args!(
                "carries critical extension {}, which Cairn does not process",
                ext.extn_id
            ),
        ));
    }
    for revoked in tbs.revoked_certificates.iter().flatten() {
        for cert in std::iter::once(ark).chain(listed) {
            if revoked.serial_number == cert.cert.tbs_certificate.serial_number {
                return Err(EvidenceError::Revoked {
                    subject: cert.subject.clone(),
                    serial: hex::encode(revoked.serial_number.as_bytes()),
                    crl: source.name.clone(),
                    revoked_at: UnixTime(revoked.revocation_date.to_unix_duration().as_secs()),
                });
            }
        }
    }
    Ok(())
}
