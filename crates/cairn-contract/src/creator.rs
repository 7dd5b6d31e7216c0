//! Who submitted the proposal, as contracts see it (`ctx.clientIdentity`).

use std::collections::BTreeMap;

use cairn_crypto::{Identity, Role};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// The proposal creator's identity, reduced to what contracts may ask about.
///
/// Build it from the validated [`Identity`] of the proposal's creator
/// certificate ([`CreatorInfo::from_identity`]); the peer has already checked
/// the certificate against the channel's MSPs and the proposal signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatorInfo {
    msp_id: String,
    role: Role,
    id: String,
    attrs: BTreeMap<String, String>,
    cert_der: Vec<u8>,
    cert_pem: String,
}

impl CreatorInfo {
    /// The creator as contracts see it, from its validated identity.
    pub fn from_identity(identity: &Identity) -> Self {
        let id = fabric_node_id(identity.der()).unwrap_or_else(|| identity.fabric_id());
        CreatorInfo {
            msp_id: identity.msp_id().to_owned(),
            role: identity.role(),
            id,
            attrs: identity.attrs().clone(),
            cert_der: identity.der().to_vec(),
            cert_pem: identity.certificate().to_pem(),
        }
    }

    /// The creator's MSP id (`getMSPID()`).
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The creator's NodeOU role (the lifecycle requires `admin` to approve).
    pub fn role(&self) -> Role {
        self.role
    }

    /// Fabric's Node.js client id, `x509::/K=v/...::/K=v/...`: subject and
    /// issuer attributes in certificate order (`getID()`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Fabric CA attributes from the certificate (`getAttributeValue()`).
    pub fn attrs(&self) -> &BTreeMap<String, String> {
        &self.attrs
    }

    /// The creator certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The creator certificate, PEM: what Fabric's `getIDBytes()` and
    /// `getCreator().idBytes` return.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

/// Formats a certificate's subject and issuer the way fabric-shim's
/// `ClientIdentity` does: `x509::/C=US/O=Org1/CN=user1::/C=US/CN=ca.org1`.
fn fabric_node_id(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(format!(
        "x509::{}::{}",
        format_dn(cert.subject()),
        format_dn(cert.issuer())
    ))
}

fn format_dn(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        let key = short_name(&oid).unwrap_or(oid.as_str()).to_owned();
        let value = match attr.as_str() {
            Ok(s) => s.to_owned(),
            Err(_) => hex::encode(attr.as_slice()),
        };
        out.push('/');
        out.push_str(&key);
        out.push('=');
        // fabric-shim escapes '/' inside values so the id stays splittable.
        out.push_str(&value.replace('/', "\\/"));
    }
    out
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.97" => "organizationIdentifier",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "E",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_crypto::{CertificateAuthority, IssueRequest, KeyType, MspSet};

    #[test]
    fn id_is_fabric_node_form_in_certificate_order() {
        let ca = CertificateAuthority::new(
            "Org1",
            "Org1MSP",
            KeyType::Ed25519,
            cairn_crypto::unix_now() - 3600,
            cairn_crypto::unix_now() + 10 * 365 * 86_400,
        )
        .unwrap();
        let mut req = IssueRequest::new("user1@org1.cairn", Role::Client, 30);
        req.attrs.insert("role".into(), "auditor".into());
        let (cert, _key) = ca.issue(&req, KeyType::Ed25519).unwrap();
        let msps = MspSet::from_configs(&[ca.msp_config()]).unwrap();
        let identity = msps.identify(cert.der(), cairn_crypto::unix_now()).unwrap();
        let creator = CreatorInfo::from_identity(&identity);
        assert_eq!(
            creator.id(),
            "x509::/O=Org1/organizationIdentifier=Org1MSP/OU=client/CN=user1@org1.cairn\
             ::/O=Org1/organizationIdentifier=Org1MSP/CN=ca.org1.cairn"
        );
        assert_eq!(creator.msp_id(), "Org1MSP");
        assert_eq!(creator.role(), Role::Client);
        assert_eq!(
            creator.attrs().get("role").map(String::as_str),
            Some("auditor")
        );
        assert!(
            creator
                .cert_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }
}
