//! TLS (rustls with the ring provider): builds the server context from the
//! `tls-*` directives, drives one client connection's TLS session over its
//! socket with the same readiness calls as a plain TcpStream (see
//! `net::Transport`), so the plain path stays untouched; and, with
//! `tls-replication yes`, connects a replica to its master over TLS
//! (`connect_to_master`).
//!
//! `tls-ciphers` and `tls-ciphersuites` (OpenSSL cipher strings) are accepted
//! but not applied: rustls offers only its own safe suites.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, ServerConnection,
    SignatureScheme, SupportedProtocolVersion,
};
use tokio::net::TcpStream;

use crate::config::Config;

/// Why the TLS context could not be built: the line Redis logs before
/// "Failed to configure TLS. Check logs for more info."
pub type TlsError = String;

/// Logs why the TLS context could not be built, as Redis does.
pub fn log_failure(cause: &TlsError) {
    crate::log::log_at!(Warning, "{}", cause);
    crate::log::log_at!(Warning, "Failed to configure TLS. Check logs for more info.");
}

/// The directives the TLS context is built from: CONFIG SET of any of them
/// rebuilds it.
pub const CONTEXT_DIRECTIVES: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-protocols",
];

/// Builds the server-side TLS context from the configuration.
pub fn server_config(config: &Config) -> Result<Arc<ServerConfig>, TlsError> {
    if config.tls_cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if config.tls_key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let auth = config.tls_auth_clients.as_str();
    let needs_ca = auth != "no" || config.tls_cluster || config.tls_replication;
    if needs_ca && config.tls_ca_cert_file.is_empty() && config.tls_ca_cert_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, \
                    tls-replication or tls-auth-clients are enabled!"
            .into());
    }
    let versions = protocol_versions(&config.tls_protocols)?;
    let certs = load_certs(&config.tls_cert_file)?;
    let key = load_key(&config.tls_key_file, &config.tls_key_file_pass)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {}", e))?;
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let roots = Arc::new(ca_roots(config)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let verifier = if auth == "optional" { verifier.allow_unauthenticated() } else { verifier };
        let verifier = verifier.build().map_err(|e| format!("Failed to configure CA certificate(s): {}", e))?;
        builder.with_client_cert_verifier(verifier)
    };
    let server_config =
        builder.with_single_cert(certs, key).map_err(|e| format!("Failed to load private key: {}", e))?;
    Ok(Arc::new(server_config))
}

/// Parses `tls-protocols` as Redis does (case-insensitive words); empty means
/// TLSv1.2 and TLSv1.3. TLSv1 and TLSv1.1 are known but not offered.
fn protocol_versions(spec: &str) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    const INVALID: &str =
        "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.";
    if spec.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut versions = Vec::new();
    for word in spec.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => {}
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            _ => return Err(INVALID.into()),
        }
    }
    if versions.is_empty() {
        return Err("Only TLSv1.2 and TLSv1.3 are supported by tls-protocols.".into());
    }
    Ok(versions)
}

/// The private key of `path`; an encrypted PKCS#8 key (`ENCRYPTED PRIVATE
/// KEY`, as `openssl pkcs8 -topk8` writes it) is decrypted with `pass`
/// (`tls-key-file-pass`). rustls reads only clear keys, so decryption is
/// the RustCrypto `pkcs8` crate's (PBES2: PBKDF2 or scrypt, AES-CBC).
fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let fail = |e: &dyn std::fmt::Display| format!("Failed to load private key: {}: {}", path, e);
    let pem = std::fs::read_to_string(path).map_err(|e| fail(&e))?;
    if !pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| fail(&e));
    }
    let (_, document) = pkcs8::Document::from_pem(&pem).map_err(|e| fail(&e))?;
    let encrypted = document.decode_msg::<pkcs8::EncryptedPrivateKeyInfo>().map_err(|e| fail(&e))?;
    let clear = encrypted.decrypt(pass).map_err(|e| fail(&e))?;
    Ok(PrivateKeyDer::Pkcs8(clear.as_bytes().to_vec().into()))
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("Failed to load certificate: {}: {}", path, e))?;
    if certs.is_empty() {
        return Err(format!("Failed to load certificate: {}: no certificate found", path));
    }
    Ok(certs)
}

/// The trusted CAs for client certificates: `tls-ca-cert-file`, and every
/// PEM certificate in the files of `tls-ca-cert-dir`.
fn ca_roots(config: &Config) -> Result<RootCertStore, TlsError> {
    let fail = |e: &dyn std::fmt::Display| format!("Failed to configure CA certificate(s) file/directory: {}", e);
    let mut roots = RootCertStore::empty();
    let mut add = |certs: Vec<CertificateDer<'static>>| -> Result<(), TlsError> {
        for cert in certs {
            roots.add(cert).map_err(|e| fail(&e))?;
        }
        Ok(())
    };
    if !config.tls_ca_cert_file.is_empty() {
        add(load_certs(&config.tls_ca_cert_file).map_err(|e| fail(&e))?)?;
    }
    if !config.tls_ca_cert_dir.is_empty() {
        for entry in std::fs::read_dir(&config.tls_ca_cert_dir).map_err(|e| fail(&e))? {
            let path = entry.map_err(|e| fail(&e))?.path();
            // Other files (hash links to the same CAs, READMEs) are skipped.
            if let Ok(certs) = load_certs(&path.to_string_lossy()) {
                add(certs)?;
            }
        }
    }
    Ok(roots)
}

/// The context a replica connects to its master with: the master's
/// certificate must be signed by `tls-ca-cert-file`/`-dir`; ours is
/// `tls-client-cert-file` (and key) if set, else `tls-cert-file`.
fn replication_client_config(config: &Config) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(ca_roots(config)?);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("Failed to configure CA certificate(s): {}", e))?;
    let versions = protocol_versions(&config.tls_protocols)?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {}", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyNameVerifier(verifier)));
    let (cert, key, pass) = if config.tls_client_cert_file.is_empty() {
        (&config.tls_cert_file, &config.tls_key_file, &config.tls_key_file_pass)
    } else {
        (&config.tls_client_cert_file, &config.tls_client_key_file, &config.tls_client_key_file_pass)
    };
    let client = if cert.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key, pass)?)
            .map_err(|e| format!("Failed to load private key: {}", e))?
    };
    Ok(Arc::new(client))
}

/// Checks the master's certificate chain against our CAs but not the name
/// in it, as Redis (OpenSSL with SSL_VERIFY_PEER and no host check) does: a
/// master is often reached by an address its certificate does not list.
#[derive(Debug)]
struct AnyNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A replica's TLS session with its master.
pub type MasterStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Runs the TLS handshake of a replica with its master over `tcp`.
pub async fn connect_to_master(config: &Config, tcp: TcpStream, host: &str) -> Result<MasterStream, String> {
    let context = replication_client_config(config)?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("invalid master host {host}: {e}"))?;
    tokio_rustls::TlsConnector::from(context)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with the MASTER failed: {e}"))
}

/// A TLS session over a connected socket, read and written with the
/// socket's own readiness, like the plain TcpStream it wraps.
pub struct TlsConn {
    tcp: TcpStream,
    session: ServerConnection,
    /// Records that came with the handshake's may hold requests already.
    fresh: bool,
}

/// `Read`/`Write` on a tokio socket without waiting, for rustls's
/// `read_tls`/`write_tls`.
struct NonBlocking<'a>(&'a TcpStream);

impl Read for NonBlocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsConn {
    /// Runs the handshake (tokio-rustls), then keeps the socket and session.
    pub async fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<Self> {
        let stream = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
        let (tcp, session) = stream.into_inner();
        Ok(TlsConn { tcp, session, fresh: true })
    }

    /// The socket is readable. Decrypted bytes never wait in the session but
    /// after the handshake: `try_read_buf` hands over all of them each time,
    /// and a socket read short of WouldBlock leaves the socket readable.
    pub async fn readable(&self) -> io::Result<()> {
        if self.fresh {
            return Ok(());
        }
        self.tcp.readable().await
    }

    /// Reads and decrypts what the socket holds into `buf`: Ok(0) at the end
    /// of the connection, WouldBlock when no whole record has arrived.
    pub fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.fresh = false;
        let eof = match self.session.read_tls(&mut NonBlocking(&self.tcp)) {
            Ok(n) => n == 0,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) => return Err(e),
        };
        let state = self.session.process_new_packets().map_err(|e| {
            // Send the alert telling the peer why, as best effort.
            let _ = self.session.write_tls(&mut NonBlocking(&self.tcp));
            io::Error::new(io::ErrorKind::InvalidData, e)
        })?;
        // Post-handshake messages (session tickets, key updates) go out now.
        self.flush_tls()?;
        let available = state.plaintext_bytes_to_read();
        if available > 0 {
            let start = buf.len();
            buf.resize(start + available, 0);
            let n = self.session.reader().read(&mut buf[start..])?;
            buf.truncate(start + n);
            return Ok(n);
        }
        if eof || state.peer_has_closed() {
            return Ok(0);
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// The socket can take more encrypted bytes.
    pub async fn writable(&self) -> io::Result<()> {
        self.tcp.writable().await
    }

    /// Encrypts what the session buffer takes of `buf` and sends what the
    /// socket takes: the rest stays buffered until `unflushed` is false.
    pub fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = if buf.is_empty() { 0 } else { self.session.writer().write(buf)? };
        self.flush_tls()?;
        Ok(n)
    }

    /// Encrypted bytes wait for the socket.
    pub fn unflushed(&self) -> bool {
        self.session.wants_write()
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut NonBlocking(&self.tcp)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::protocol_versions;

    #[test]
    fn tls_protocols_parse_as_redis() {
        assert_eq!(protocol_versions("").unwrap().len(), 2);
        let only13 = protocol_versions("tlsv1.3").unwrap();
        assert_eq!(only13.len(), 1);
        assert_eq!(only13[0].version, rustls::ProtocolVersion::TLSv1_3);
        assert_eq!(protocol_versions("TLSv1.1 TLSv1.2").unwrap().len(), 1);
        assert!(protocol_versions("TLSv1.4").unwrap_err().starts_with("Invalid tls-protocols specified."));
        assert!(protocol_versions("TLSv1").is_err());
    }
}
