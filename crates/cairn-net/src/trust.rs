//! Whom a node trusts: the CAs of the channel's organizations, with their
//! revocation lists, as rustls certificate verifiers.
//!
//! A certificate is accepted in two steps, both during the TLS handshake:
//! 1. webpki path validation against the org CAs (signature, validity, key
//!    usage, EKU clientAuth for clients / serverAuth and the host name for
//!    servers), so a certificate from an unknown CA never completes a handshake;
//! 2. [`MspSet::identify`]: revocation list, NodeOU role, MSP id — the same
//!    rules the ledger applies to signers.
//!
//! Invariant: the trust can be replaced at run time ([`Trust::update`], e.g.
//! after a config block revokes a certificate); every later handshake uses
//! the new set, and [`Trust::generation`] changes so that servers re-check
//! identities of connections opened before.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use cairn_crypto::{Identity, MspConfig, MspSet, Role};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::{NetError, Refusal};

/// The provider every Cairn TLS endpoint uses: ring.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

struct TrustState {
    msps: MspSet,
    client: Arc<dyn ClientCertVerifier>,
    server: Arc<WebPkiServerVerifier>,
}

/// The channel organizations a node trusts, shared by its TLS server and
/// client configurations. Cheap to share (`Arc<Trust>`).
pub struct Trust {
    state: RwLock<Arc<TrustState>>,
    generation: AtomicU64,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.current();
        f.debug_struct("Trust")
            .field("orgs", &state.msps.msp_ids().collect::<Vec<_>>())
            .field("generation", &self.generation())
            .finish()
    }
}

impl Trust {
    /// Trusts the CAs (minus revoked certificates) of these organizations.
    pub fn new(orgs: &[MspConfig]) -> Result<Arc<Trust>, NetError> {
        Ok(Arc::new(Trust {
            state: RwLock::new(Arc::new(build_state(orgs)?)),
            generation: AtomicU64::new(0),
        }))
    }

    /// Replaces the trusted organizations (new CAs or revocation lists).
    pub fn update(&self, orgs: &[MspConfig]) -> Result<(), NetError> {
        let state = Arc::new(build_state(orgs)?);
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = state;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Changes whenever [`Trust::update`] runs.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The trusted organizations' MSP ids.
    pub fn msp_ids(&self) -> Vec<String> {
        self.current().msps.msp_ids().map(str::to_string).collect()
    }

    /// Validates a DER certificate as a channel identity now (org CA,
    /// validity, revocation, role).
    pub fn identify(&self, cert_der: &[u8]) -> Result<Identity, Refusal> {
        self.current()
            .msps
            .identify(cert_der, cairn_crypto::unix_now())
            .map_err(Refusal::Identity)
    }

    fn current(&self) -> Arc<TrustState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn build_state(orgs: &[MspConfig]) -> Result<TrustState, NetError> {
    let trust_err = |reason: String| NetError::Trust { reason };
    let msps = MspSet::from_configs(orgs).map_err(|e| trust_err(e.to_string()))?;
    if msps.is_empty() {
        return Err(trust_err("no organizations given".into()));
    }
    let mut roots = RootCertStore::empty();
    for msp in msps.iter() {
        roots
            .add(CertificateDer::from(msp.ca().der().to_vec()))
            .map_err(|e| trust_err(format!("{}: CA certificate: {e}", msp.msp_id())))?;
    }
    let roots = Arc::new(roots);
    let client = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .map_err(|e| trust_err(e.to_string()))?;
    let server = WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| trust_err(e.to_string()))?;
    Ok(TrustState {
        msps,
        client,
        server,
    })
}

/// Turns a refusal into the rustls error the handshake fails with; its
/// text (our reason) is what the accept loop logs.
fn refuse(refusal: Refusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(refusal))))
}

fn chain_refusal(e: rustls::Error, who: &str) -> rustls::Error {
    let reason = match &e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            format!("the {who} certificate is not issued by the CA of any channel organization")
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired) => {
            format!("the {who} certificate has expired")
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidYet) => {
            format!("the {who} certificate is not valid yet")
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
            format!("the {who} certificate does not name the host that was called")
        }
        other => format!("{who} certificate: {other}"),
    };
    refuse(Refusal::Chain { reason })
}

/// Verifies client certificates: org CA chain, then channel identity.
#[derive(Debug)]
pub(crate) struct ClientVerifier {
    pub(crate) trust: Arc<Trust>,
}

impl ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Hints are optional; every Cairn client has exactly one certificate
        // and sends it regardless, and the CA list changes at run time.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let state = self.trust.current();
        state
            .client
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(|e| chain_refusal(e, "client"))?;
        self.trust.identify(end_entity).map_err(refuse)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .client
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .client
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.current().client.supported_verify_schemes()
    }
}

/// Whom a call may reach, proven by the server's certificate in the TLS
/// handshake itself (before any request byte is sent): a node of one of
/// these orgs with this role. Host names and configured labels prove
/// nothing (every generated peer certificate names `localhost`), so a
/// sender that must reach a particular org's peer pins it here.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerRequirement {
    /// The org the server's certificate must belong to.
    pub msp_id: String,
    /// The role the server's certificate must carry.
    pub role: Role,
}

impl ServerRequirement {
    /// A peer of `msp_id`.
    pub fn peer_of(msp_id: &str) -> ServerRequirement {
        ServerRequirement {
            msp_id: msp_id.to_string(),
            role: Role::Peer,
        }
    }

    fn check(&self, id: &Identity) -> Result<(), Refusal> {
        if id.msp_id() == self.msp_id && id.role() == self.role {
            return Ok(());
        }
        Err(Refusal::WrongServer {
            subject: id.subject().to_string(),
            msp_id: id.msp_id().to_string(),
            role: id.role(),
            expected: format!("a {} of {}", self.role, self.msp_id),
        })
    }
}

/// Verifies server certificates: org CA chain and host name, then a channel
/// identity whose role is a node (peer or orderer), and the
/// [`ServerRequirement`] of a pinned client.
#[derive(Debug)]
pub(crate) struct ServerVerifier {
    pub(crate) trust: Arc<Trust>,
    pub(crate) require: Option<ServerRequirement>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let state = self.trust.current();
        state
            .server
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| chain_refusal(e, "server"))?;
        let id = self.trust.identify(end_entity).map_err(refuse)?;
        if !matches!(id.role(), Role::Peer | Role::Orderer) {
            return Err(refuse(Refusal::Role {
                subject: id.subject().to_string(),
                msp_id: id.msp_id().to_string(),
                role: id.role(),
                endpoint: "a node's TLS server",
                allowed: "peer, orderer".into(),
            }));
        }
        if let Some(require) = &self.require {
            require.check(&id).map_err(refuse)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .server
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .server
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.current().server.supported_verify_schemes()
    }
}
