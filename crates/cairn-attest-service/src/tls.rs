//! The service's TLS identity: operator-supplied PEM files, or a self-signed
//! certificate generated once and kept in the state directory.

use std::path::Path;
use std::sync::Arc;

use cairn_crypto::private_file;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ServiceError;

/// Loads `tls/cert.pem` and `tls/key.pem` from `dir`, creating a self-signed pair for
/// `names` (DNS names or IP addresses) the first time.
pub(crate) fn self_signed(
    dir: &Path,
    names: &[String],
) -> Result<(Vec<u8>, Vec<u8>), ServiceError> {
    let tls = dir.join("tls");
    let (cert_path, key_path) = (tls.join("cert.pem"), tls.join("key.pem"));
    if let (Ok(cert), Ok(key)) = (std::fs::read(&cert_path), std::fs::read(&key_path)) {
        return Ok((cert, key));
    }
    private_file::create_dir_all(&tls)?;
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| ServiceError::Tls(format!("self-signed certificate: {e}")))?;
    let cert = generated.cert.pem().into_bytes();
    let key = generated.signing_key.serialize_pem().into_bytes();
    private_file::write_atomic(&key_path, &key)?;
    // Public, but the rule for the state directory is simpler without exceptions.
    private_file::write_atomic(&cert_path, &cert)?;
    tracing::info!(cert = %cert_path.display(), ?names, "generated a self-signed TLS certificate");
    Ok((cert, key))
}

/// A rustls server configuration (ring provider) for a PEM chain and key.
pub(crate) fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<ServerConfig>, ServiceError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServiceError::Tls(format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ServiceError::Tls(
            "no certificate in the certificate PEM".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| ServiceError::Tls(format!("private key PEM: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServiceError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServiceError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
