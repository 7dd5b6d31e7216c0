//! A node's (or client's) TLS identity: its org certificate and key, and the
//! rustls configurations built from them. TLS 1.3 only, ring provider,
//! mutual authentication always.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use cairn_crypto::SigningIdentity;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::attestation::AttestationToken;
use crate::error::NetError;
use crate::trust::{ClientVerifier, ServerRequirement, ServerVerifier, Trust, provider};

/// ALPN protocols, preferred first: HTTP/2 multiplexes many calls over one
/// connection (one handshake per pair of nodes).
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A certificate and key from the cryptogen layout, with the trust they are
/// checked against, ready to serve or call over mutual TLS.
#[derive(Clone)]
pub struct TlsIdentity {
    signer: SigningIdentity,
    trust: Arc<Trust>,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    attestation: AttestationToken,
}

/// The rustls client configuration of `signer` whose server verifier also
/// applies `require`.
fn client_config(
    signer: &SigningIdentity,
    trust: &Arc<Trust>,
    require: Option<ServerRequirement>,
) -> Result<ClientConfig, NetError> {
    let tls_err = |e: rustls::Error| NetError::Tls {
        reason: e.to_string(),
    };
    let (cert, key) = cert_and_key(signer)?;
    let mut client = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .dangerous()
        // Not dangerous: the verifier does full webpki path validation
        // against the org CAs plus the channel identity checks.
        .with_custom_certificate_verifier(Arc::new(ServerVerifier {
            trust: trust.clone(),
            require,
        }))
        .with_client_auth_cert(vec![cert], key)
        .map_err(tls_err)?;
    client.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(client)
}

fn cert_and_key(
    signer: &SigningIdentity,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), NetError> {
    let cert = CertificateDer::from(signer.identity().der().to_vec());
    let key_der = signer.key().to_pkcs8_der().map_err(|e| NetError::Tls {
        reason: format!("private key: {e}"),
    })?;
    Ok((
        cert,
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec())),
    ))
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("identity", self.signer.identity())
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads `dir/cert.pem` and `dir/key.pem` (e.g. `crypto/org1/orderers/orderer0`).
    pub fn load(dir: &Path, trust: Arc<Trust>) -> Result<TlsIdentity, NetError> {
        let signer = SigningIdentity::from_dir(dir).map_err(|e| NetError::Identity {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        TlsIdentity::new(signer, trust)
    }

    /// Uses an identity already loaded. Its certificate must itself be valid
    /// under `trust` (a node that would refuse itself is misconfigured).
    pub fn new(signer: SigningIdentity, trust: Arc<Trust>) -> Result<TlsIdentity, NetError> {
        let own = signer.identity();
        trust.identify(own.der()).map_err(|e| NetError::Identity {
            path: own.subject().into(),
            reason: format!("this identity is not valid under the channel organizations: {e}"),
        })?;
        let (cert, key) = cert_and_key(&signer)?;
        let tls_err = |e: rustls::Error| NetError::Tls {
            reason: e.to_string(),
        };

        let mut server = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .with_client_cert_verifier(Arc::new(ClientVerifier {
                trust: trust.clone(),
            }))
            .with_single_cert(vec![cert], key)
            .map_err(tls_err)?;
        server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        let client = client_config(&signer, &trust, None)?;

        Ok(TlsIdentity {
            signer,
            trust,
            server: Arc::new(server),
            client: Arc::new(client),
            attestation: AttestationToken::new(),
        })
    }

    /// The identity (certificate and key).
    pub fn signer(&self) -> &SigningIdentity {
        &self.signer
    }

    /// The organizations this identity trusts.
    pub fn trust(&self) -> &Arc<Trust> {
        &self.trust
    }

    /// Presents `token` (an attested node's, kept renewed by its owner)
    /// with every call of the clients built from this identity.
    pub fn with_attestation(mut self, token: AttestationToken) -> TlsIdentity {
        self.attestation = token;
        self
    }

    /// The attestation token this identity presents (empty unless attested).
    pub fn attestation(&self) -> &AttestationToken {
        &self.attestation
    }

    /// The rustls server configuration (client certificate required).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    /// The rustls client configuration (presents this certificate).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.client.clone()
    }

    /// A client configuration that completes a handshake only with a server
    /// that proves `require` (see [`crate::Client::pinned`]).
    pub fn pinned_client_config(
        &self,
        require: &ServerRequirement,
    ) -> Result<Arc<ClientConfig>, NetError> {
        client_config(&self.signer, &self.trust, Some(require.clone())).map(Arc::new)
    }
}
