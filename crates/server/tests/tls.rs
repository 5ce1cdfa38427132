//! TLS client connections: certificates made with the openssl command line,
//! spoken to with `redis-cli --tls` and `redis-benchmark --tls`.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use common::{cinnabar_binary, free_port, Kind, ServerProcess};

/// A CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &Path) {
    let script = r#"set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=TestCA
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext
"#;
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

struct Tls {
    certs: tempfile::TempDir,
    server: ServerProcess,
    tls_port: u16,
}

impl Tls {
    fn start(extra: &[&str]) -> Tls {
        Tls::start_kind(Kind::Cinnabar, extra)
    }

    fn start_kind(kind: Kind, extra: &[&str]) -> Tls {
        let certs = tempfile::tempdir().unwrap();
        make_certs(certs.path());
        Tls::start_in(kind, certs, extra)
    }

    /// A server on the certificates `make_certs` left in `certs`.
    fn start_in(kind: Kind, certs: tempfile::TempDir, extra: &[&str]) -> Tls {
        let tls_port = free_port();
        let path = |f: &str| certs.path().join(f).to_string_lossy().into_owned();
        let (cert, key, ca, port) = (path("server.crt"), path("server.key"), path("ca.crt"), tls_port.to_string());
        let mut args = vec!["--tls-port", &port, "--tls-cert-file", &cert, "--tls-key-file", &key];
        args.extend(["--tls-ca-cert-file", &ca]);
        args.extend_from_slice(extra);
        let server = ServerProcess::start(kind, &args);
        Tls { certs, server, tls_port }
    }

    fn file(&self, name: &str) -> String {
        self.certs.path().join(name).to_string_lossy().into_owned()
    }

    /// redis-cli over TLS, with the client certificate or without; its
    /// output (stdout then stderr).
    fn cli(&self, with_cert: bool, args: &[&str]) -> String {
        self.cli_with(self.certs.path(), with_cert, args)
    }

    /// `cli` trusting the CA (and showing the client certificate) of the
    /// certificates in `certs`.
    fn cli_with(&self, certs: &Path, with_cert: bool, args: &[&str]) -> String {
        let file = |name: &str| certs.join(name).to_string_lossy().into_owned();
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "--cacert", &file("ca.crt"), "-p", &self.tls_port.to_string()]);
        if with_cert {
            cmd.args(["--cert", &file("client.crt"), "--key", &file("client.key")]);
        }
        let out = cmd.args(args).output().expect("redis-cli");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
    }
}

#[test]
fn commands_run_over_tls_beside_the_plain_port() {
    let tls = Tls::start(&[]);
    assert_eq!(tls.cli(true, &["PING"]), "PONG");
    assert_eq!(tls.cli(true, &["SET", "k", "v"]), "OK");
    assert_eq!(tls.cli(true, &["GET", "k"]), "v");
    // A large value crosses several TLS records both ways.
    let big = "x".repeat(100_000);
    assert_eq!(tls.cli(true, &["SET", "big", &big]), "OK");
    assert_eq!(tls.cli(true, &["STRLEN", "big"]), "100000");
    assert_eq!(tls.cli(true, &["GET", "big"]).len(), 100_000);
    // The plain port serves the same data.
    assert_eq!(tls.server.raw().cmd(&["GET", "k"]), "$1\r\nv\r\n");
}

#[test]
fn auth_clients_yes_refuses_a_client_without_certificate() {
    let tls = Tls::start(&[]);
    assert_ne!(tls.cli(false, &["PING"]), "PONG");
    assert_eq!(tls.cli(true, &["PING"]), "PONG");
}

#[test]
fn auth_clients_optional_accepts_a_client_without_certificate() {
    let tls = Tls::start(&["--tls-auth-clients", "optional"]);
    assert_eq!(tls.cli(false, &["PING"]), "PONG");
    assert_eq!(tls.cli(true, &["PING"]), "PONG");
}

#[test]
fn a_plain_client_on_the_tls_port_is_disconnected() {
    let tls = Tls::start(&[]);
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", tls.tls_port)).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    plain.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"+PONG"), "{got:?}");
    // The server lives on.
    assert_eq!(tls.cli(true, &["PING"]), "PONG");
    assert_eq!(tls.server.raw().cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn redis_benchmark_runs_over_tls() {
    let tls = Tls::start(&[]);
    let out = Command::new("redis-benchmark")
        .args(["--tls", "--cacert", &tls.file("ca.crt"), "--cert", &tls.file("client.crt")])
        .args(["--key", &tls.file("client.key"), "-p", &tls.tls_port.to_string()])
        .args(["-t", "set,get", "-n", "2000", "-c", "4", "-q"])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SET:") && text.contains("GET:"), "{text}");
    assert_eq!(tls.cli(true, &["DBSIZE"]), "1");
}

#[test]
fn bad_certificate_paths_stop_the_server_as_redis() {
    let port = free_port().to_string();
    let out = Command::new(cinnabar_binary())
        .args(["--port", "0", "--tls-port", &port, "--tls-cert-file", "/nonexistent/server.crt"])
        .args(["--tls-key-file", "/nonexistent/server.key", "--tls-auth-clients", "no"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("Failed to load certificate: /nonexistent/server.crt"), "{log}");
    assert!(log.contains("Failed to configure TLS. Check logs for more info."), "{log}");

    let out = Command::new(cinnabar_binary()).args(["--port", "0", "--tls-port", &port]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No tls-cert-file configured!"));
}

#[test]
fn auth_clients_no_asks_no_certificate_and_protocols_apply() {
    let tls = Tls::start(&["--tls-auth-clients", "no", "--tls-protocols", "TLSv1.2"]);
    assert_eq!(tls.cli(false, &["PING"]), "PONG");
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", tls.tls_port), "-tls1_3"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a TLSv1.3 handshake succeeded with tls-protocols TLSv1.2");
}

/// CONFIG SET of the certificate files rebuilds the context for new
/// connections; a file that cannot be loaded is refused with Redis's error
/// and the old context stays. Run against redis-server too.
#[test]
fn config_set_reloads_the_tls_context_for_new_connections() {
    let scenario = |kind: Kind| -> Vec<String> {
        let tls = Tls::start_kind(kind, &[]);
        let rotated = tempfile::tempdir().unwrap();
        make_certs(rotated.path());
        let file = |name: &str| rotated.path().join(name).to_string_lossy().into_owned();
        let mut plain = tls.server.raw();
        let mut seen = vec![tls.cli(true, &["PING"])];
        let (cert, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
        seen.push(plain.cmd(&["CONFIG", "SET", "tls-cert-file", &cert, "tls-key-file", &key, "tls-ca-cert-file", &ca]));
        // The old CA no longer vouches for the server; the new one does.
        seen.push((tls.cli(true, &["PING"]) == "PONG").to_string());
        seen.push(tls.cli_with(rotated.path(), true, &["PING"]));
        seen.push(plain.cmd(&["CONFIG", "SET", "tls-cert-file", "/nonexistent/server.crt"]));
        seen.push((plain.cmd(&["CONFIG", "GET", "tls-cert-file"]).contains(&cert)).to_string());
        seen.push(tls.cli_with(rotated.path(), true, &["PING"]));
        seen
    };
    let redis = scenario(Kind::Redis);
    assert_eq!(scenario(Kind::Cinnabar), redis);
    assert_eq!(redis[3], "PONG");
    assert!(redis[4].starts_with("-ERR CONFIG SET failed"), "{}", redis[4]);
}

/// An encrypted PKCS#8 key is read with `tls-key-file-pass`; a wrong pass
/// set at run time is refused and the working context stays.
#[test]
fn an_encrypted_key_is_read_with_tls_key_file_pass() {
    let scenario = |kind: Kind| -> Vec<String> {
        let certs = tempfile::tempdir().unwrap();
        make_certs(certs.path());
        let out = Command::new("openssl")
            .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "server.key", "-out", "server-enc.key"])
            .args(["-passout", "pass:s3cret"])
            .current_dir(certs.path())
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let key = certs.path().join("server-enc.key").to_string_lossy().into_owned();
        let tls = Tls::start_in(kind, certs, &["--tls-key-file", &key, "--tls-key-file-pass", "s3cret"]);
        let mut plain = tls.server.raw();
        vec![
            tls.cli(true, &["PING"]),
            plain.cmd(&["CONFIG", "SET", "tls-key-file-pass", "wrong"]),
            tls.cli(true, &["PING"]),
        ]
    };
    let redis = scenario(Kind::Redis);
    assert_eq!(scenario(Kind::Cinnabar), redis);
    assert_eq!(redis[0], "PONG");
}

/// `tls-replication yes`: a Cinnabar replica of a redis-server master's
/// TLS port, and a redis-server replica of Cinnabar's, both sync and follow.
#[test]
fn replication_runs_over_tls_both_ways() {
    for (master_kind, replica_kind) in [(Kind::Redis, Kind::Cinnabar), (Kind::Cinnabar, Kind::Redis)] {
        let master = Tls::start_kind(master_kind, &[]);
        master.server.raw().cmd(&["SET", "before", "1"]);
        let (cert, key, ca) = (master.file("server.crt"), master.file("server.key"), master.file("ca.crt"));
        let port = master.tls_port.to_string();
        let replica = ServerProcess::start(
            replica_kind,
            &["--tls-replication", "yes", "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-ca-cert-file", &ca]
                .into_iter()
                .chain(["--replicaof", "127.0.0.1", &port])
                .collect::<Vec<_>>(),
        );
        master.server.raw().cmd(&["SET", "after", "2"]);
        let mut r = replica.raw();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while r.cmd(&["GET", "after"]) != "$1\r\n2\r\n" {
            assert!(std::time::Instant::now() < deadline, "{master_kind:?} -> {replica_kind:?}: {}", replica.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(r.cmd(&["GET", "before"]), "$1\r\n1\r\n");
        assert!(r.cmd(&["INFO", "replication"]).contains("master_link_status:up"));
    }
}
