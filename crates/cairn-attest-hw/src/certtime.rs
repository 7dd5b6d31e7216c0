//! Certificate validity periods, read with `x509-cert`.

use cairn_attest::{EvidenceError, UnixTime};

/// Checks that `cert` is valid at `at`; `subject` names it in the error.
pub(crate) fn check_validity(
    subject: &str,
    cert: &x509_cert::Certificate,
    at: UnixTime,
) -> Result<(), EvidenceError> {
    let v = &cert.tbs_certificate.validity;
    let not_before = UnixTime(v.not_before.to_unix_duration().as_secs());
    let not_after = UnixTime(v.not_after.to_unix_duration().as_secs());
    if at < not_before || at > not_after {
        return Err(EvidenceError::CertificateTime {
            subject: subject.to_owned(),
            not_before,
            not_after,
            at,
        });
    }
    Ok(())
}

/// Checks the parts of a certificate its signature does not cover.
///
/// RFC 5280 4.1.1.2: the outer signature algorithm must equal the one inside the
/// signed TBS part. The outer copy is not covered by the signature, so a verifier
/// that reads only one of them would accept a certificate with the other changed.
pub(crate) fn check_algorithm_consistency(
    subject: &str,
    cert: &x509_cert::Certificate,
) -> Result<(), EvidenceError> {
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err(EvidenceError::CertificateChain(format!(
            "{subject}: outer signature algorithm differs from the signed one"
        )));
    }
    // The signature BIT STRING's unused-bits count is outside the signed part too, and
    // RSA and ECDSA signatures are whole octets: anything but 0 is a tampered encoding.
    if cert.signature.unused_bits() != 0 {
        return Err(EvidenceError::CertificateChain(format!(
            "{subject}: signature BIT STRING declares unused bits"
        )));
    }
    Ok(())
}
