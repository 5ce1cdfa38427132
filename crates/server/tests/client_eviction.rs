//! `maxmemory-clients`: connections holding the most memory are closed when
//! all clients together reach the limit, CLIENT NO-EVICT ones are spared,
//! INFO counts `evicted_clients`, and 0 turns it off. Each scenario runs
//! against redis-server 7.0 and Cinnabar, which must behave alike.

mod common;

use std::time::{Duration, Instant};

use common::{Kind, RawConn, ServerProcess};

fn stat(conn: &mut RawConn, name: &str) -> String {
    let info = conn.cmd(&["INFO", "stats"]);
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or("").to_string()
}

/// Sends all of a 6 MB SET but its final CRLF: the value sits in the query
/// buffer. The server may close the connection before it is all sent.
fn start_big_set(conn: &mut RawConn) {
    use std::io::Write;
    let value = vec![b'x'; 6 << 20];
    let mut request = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).into_bytes();
    request.extend_from_slice(&value);
    let _ = conn.stream().write_all(&request);
}

/// True when the server closed `conn` within a few seconds.
fn closed(conn: &mut RawConn) -> bool {
    conn.stream().set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        match conn.read_some(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => {}
        }
    }
    false
}

/// What happens to a client whose query buffer passes the limit, and to
/// one with NO-EVICT: (first closed, evicted_clients, exempt one served).
fn scenario(kind: Kind, limit_args: &[&str]) -> (bool, String, String) {
    let server = ServerProcess::start(kind, limit_args);
    let mut big = server.raw();
    start_big_set(&mut big);
    let big_closed = closed(&mut big);
    let mut exempt = server.raw();
    assert_eq!(exempt.cmd(&["CLIENT", "NO-EVICT", "ON"]), "+OK\r\n");
    start_big_set(&mut exempt);
    std::thread::sleep(Duration::from_millis(500));
    exempt.send(b"\r\n");
    let exempt_reply = String::from_utf8_lossy(&exempt.read_reply()).into_owned();
    // Asked on the exempt connection: its query buffer may still hold its
    // 6 MB of room, so any other connection would be evicted now.
    (big_closed, stat(&mut exempt, "evicted_clients"), exempt_reply)
}

#[test]
fn the_biggest_client_is_evicted_and_no_evict_ones_are_spared() {
    let args: &[&str] = &["--maxmemory-clients", "5mb"];
    let redis = scenario(Kind::Redis, args);
    let cinnabar = scenario(Kind::Cinnabar, args);
    assert_eq!(cinnabar, redis);
    assert_eq!(cinnabar, (true, "1".to_string(), "+OK\r\n".to_string()));
}

#[test]
fn a_percentage_of_maxmemory_is_the_limit() {
    let args: &[&str] = &["--maxmemory", "100mb", "--maxmemory-clients", "5%"];
    let redis = scenario(Kind::Redis, args);
    let cinnabar = scenario(Kind::Cinnabar, args);
    assert_eq!(cinnabar, redis);
    assert_eq!(cinnabar.1, "1");
}

#[test]
fn zero_turns_client_eviction_off() {
    let server = ServerProcess::cinnabar(&["--maxmemory-clients", "0"]);
    let mut big = server.raw();
    start_big_set(&mut big);
    assert!(!closed(&mut big));
    big.send(b"\r\n");
    big.stream().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(big.read_reply(), b"+OK\r\n");
    assert_eq!(stat(&mut server.raw(), "evicted_clients"), "0");
}

/// A whole request that puts its own client over the limit: the client is
/// evicted before the command runs.
#[test]
fn a_client_evicted_by_its_own_request_does_not_get_it_run() {
    let outcome = |kind: Kind| {
        let server = ServerProcess::start(kind, &["--maxmemory-clients", "5mb"]);
        let mut big = server.raw();
        start_big_set(&mut big);
        let _ = std::io::Write::write_all(&mut big.stream(), b"\r\n");
        let closed = closed(&mut big);
        std::thread::sleep(Duration::from_millis(200));
        let mut control = server.raw();
        (closed, control.cmd(&["EXISTS", "big"]), stat(&mut control, "evicted_clients"))
    };
    let redis = outcome(Kind::Redis);
    assert_eq!(outcome(Kind::Cinnabar), redis);
    assert_eq!(redis, (true, ":0\r\n".to_string(), "1".to_string()));
}
