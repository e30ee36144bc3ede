//! HTTPS for the service: a certificate chain and its private key (PEM files), served with
//! rustls (ring provider) through `axum-server`.
use std::path::Path;

use axum_server::tls_rustls::RustlsConfig;

/// Loads `cert` (PEM chain) and `key` (PEM private key); the error names the files and the cause.
pub async fn load(cert: &Path, key: &Path) -> Result<RustlsConfig, String> {
    // One process-wide provider; a second install (another service in this process) is fine.
    // ring (deprecated by rustls only for lacking post-quantum key exchange) rather than
    // aws-lc-rs, whose build needs cmake and a second C toolchain on every machine.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    for (flag, f) in [("--tls-cert", cert), ("--tls-key", key)] {
        if !f.is_file() {
            return Err(format!("{flag} {}: no such file", f.display()));
        }
    }
    RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
        format!(
            "--tls-cert {} / --tls-key {}: not a PEM certificate chain and its private key: {e}",
            cert.display(),
            key.display()
        )
    })
}
