//! Throws malformed and corrupted protocol at a live server from many
//! connections, then checks the server is alive, still answers correctly and
//! kept the data written before the storm.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::ServerProcess;

/// A valid request, for corrupting.
fn encode(argv: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One hostile input, chosen and shaped by `rng`.
fn hostile_input(rng: &mut fastrand::Rng) -> Vec<u8> {
    let edge_cases: &[&[u8]] = &[
        b"*2147483648\r\n",
        b"*-5\r\n*1\r\n$4\r\nPING\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$99999999999999999999\r\n",
        b"*1\r\n$3\r\nGETXX\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n",
        b"\"unbalanced\r\n",
        b"set 'a'b c\r\n",
        b"*1\r\n+PING\r\n",
        b"\r\n\r\n\n\n",
        b"*0\r\n*0\r\n",
        b"$5\r\nhello\r\n",
    ];
    match rng.u8(..4) {
        0 => edge_cases[rng.usize(..edge_cases.len())].to_vec(),
        1 => (0..rng.usize(1..512)).map(|_| rng.u8(..)).collect(),
        _ => {
            let key = format!("k{}", rng.u8(..));
            let mut wire = encode(&[b"SET", key.as_bytes(), b"value"]);
            wire.extend(encode(&[b"GET", key.as_bytes()]));
            wire.extend(encode(&[b"PING"]));
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..wire.len());
                wire[i] = rng.u8(..);
            }
            wire.truncate(rng.usize(1..=wire.len()));
            wire
        }
    }
}

#[test]
fn hostile_protocol_never_takes_the_server_down() {
    let server = ServerProcess::cinnabar(&[]);
    let mut setup = server.raw();
    assert_eq!(setup.cmd(&["SET", "survivor", "acknowledged"]), "+OK\r\n");

    let mut rng = fastrand::Rng::with_seed(0x0C1A_ABA5);
    for _ in 0..400 {
        let mut conn = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        conn.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        let input = hostile_input(&mut rng);
        // Send in random pieces, as a slow or broken client would.
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = rng.usize(1..=rest.len());
            if conn.write_all(&rest[..n]).is_err() {
                break;
            }
            rest = &rest[n..];
        }
        let mut sink = [0u8; 4096];
        let _ = conn.read(&mut sink);
    }

    let mut check = server.raw();
    assert_eq!(check.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(check.cmd(&["GET", "survivor"]), "$12\r\nacknowledged\r\n");
    assert!(!server.log().contains("panicked"), "server log shows a panic:\n{}", server.log());
}
