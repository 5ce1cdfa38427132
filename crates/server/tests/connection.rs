//! Connection-level behaviour a one-connection corpus cannot show: malformed
//! protocol (same bytes in, same bytes out, closed or not, against the real
//! redis-server), pipelining and split requests, connection limits, CLIENT
//! KILL/PAUSE/REPLY across connections, MONITOR, HELLO 3 and AUTH.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::ServerProcess;

/// Sends `input` on a fresh connection and returns what came back, and
/// whether the server closed the connection (rather than going quiet).
fn exchange_raw(port: u16, input: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_millis(1500))).expect("timeout");
    stream.write_all(input).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Sends each input to both servers and requires identical bytes and closing.
fn assert_same_raw_behaviour(args: &[&str], cases: &[Vec<u8>]) {
    let servers = ServerProcess::both(args);
    for input in cases {
        let ours = exchange_raw(servers[0].port, input);
        let theirs = exchange_raw(servers[1].port, input);
        assert_eq!(
            (mask_hello_id(&ours.0), ours.1),
            (mask_hello_id(&theirs.0), theirs.1),
            "input {:?}",
            String::from_utf8_lossy(&input[..input.len().min(80)])
        );
    }
}

/// The output with the client id in HELLO replies replaced by `:ID`
/// (ids depend on how many connections a server has seen).
fn mask_hello_id(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output).into_owned();
    let marker = "$2\r\nid\r\n:";
    let Some(at) = text.find(marker) else { return text };
    let start = at + marker.len();
    let end = start + text[start..].find('\r').expect("id line");
    format!("{}ID{}", &text[..start], &text[end..])
}

fn with_quit(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.extend_from_slice(b"QUIT\r\n");
    v
}

#[test]
fn protocol_errors_match_redis() {
    let long = |prefix: &[u8]| {
        let mut v = prefix.to_vec();
        v.extend(std::iter::repeat_n(b'1', 70 * 1024));
        v
    };
    let cases = vec![
        b"*abc\r\n".to_vec(),
        b"*3000000000\r\n".to_vec(),
        b"*1\r\n*1\r\n".to_vec(),
        b"*1\r\nx\r\n".to_vec(),
        b"*1\r\n$abc\r\n".to_vec(),
        b"*1\r\n$-1\r\n".to_vec(),
        b"*1\r\n$600000000\r\n".to_vec(),
        b"*2\r\n$4\r\nECHO\r\n$1x\r\n".to_vec(),
        b"\"unbalanced\r\n".to_vec(),
        b"ECHO 'a\r\n".to_vec(),
        b"ECHO \"a\"b\r\n".to_vec(),
        long(b""),
        long(b"*"),
        long(b"*1\r\n$"),
        b"PING\r\n*1\r\n$x\r\nPING\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"PING\r\nHost: example.com\r\n".to_vec(),
        with_quit(b"\r\n\n  \r\nPING\r\n"),
        with_quit(b"*0\r\n*-1\r\n*-5\r\nPING\r\n"),
        with_quit(b"*1\r\n$4\r\nPINGxx"),
        with_quit(b"ECHO \"a\\x41\\n\" 'b''c' \"\"\r\n"),
        with_quit(b"*1\r\n$0\r\n\r\n"),
        with_quit(b"ping\n"),
        with_quit(b"*1\n$4\nPING\n"),
        with_quit(b"+PING\r\n:1\r\n$4\r\n"),
        b"*1\r\n$ 4\r\nPING\r\n".to_vec(),
        b"*1\r\n$+4\r\nPING\r\n".to_vec(),
        b"* 1\r\n".to_vec(),
        b"*1\r\n$-5\r\n".to_vec(),
        b"*01\r\n$4\r\nPING\r\n".to_vec(),
        with_quit(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"),
        with_quit(b"ECHO \"\\xzz\" \"\\u\"\r\n"),
        with_quit(b"ECHO \"a\"\"b\"\r\n"),
        with_quit(b"ECHO 'a\\'b'\r\n"),
    ];
    assert_same_raw_behaviour(&[], &cases);
}

#[test]
fn unauthenticated_request_limits_match_redis() {
    let big = {
        let mut v = b"*2\r\n$4\r\nAUTH\r\n$20000\r\n".to_vec();
        v.extend(std::iter::repeat_n(b'a', 20000));
        v.extend_from_slice(b"\r\n");
        v
    };
    let cases = vec![
        b"*11\r\n".to_vec(),
        big,
        with_quit(b"*10\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"),
        with_quit(b"GET k\r\nAUTH wrong\r\nAUTH default wrong\r\nAUTH secret\r\nGET k\r\n"),
        with_quit(b"HELLO 3\r\nHELLO 3 AUTH default wrong\r\nCLIENT SETNAME x\r\n"),
        with_quit(b"HELLO 2 AUTH default secret SETNAME n\r\nCLIENT GETNAME\r\n"),
        with_quit(b"HELLO 2 AUTH default secret SETNAME \"a b\"\r\nGET k\r\n"),
        with_quit(b"AUTH secret\r\nRESET\r\nGET k\r\n"),
    ];
    assert_same_raw_behaviour(&["--requirepass", "secret"], &cases);
}

#[test]
fn auth_flow_with_requirepass_and_redis_rs() {
    let server = ServerProcess::cinnabar(&["--requirepass", "secret"]);
    let mut conn = server.client();
    let err = redis::cmd("GET").arg("k").query::<Option<String>>(&mut conn).unwrap_err();
    assert_eq!(err.code(), Some("NOAUTH"));
    let url = format!("redis://:secret@127.0.0.1:{}/", server.port);
    let mut authed = redis::Client::open(url).unwrap().get_connection().expect("authenticated connection");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut authed).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut authed).unwrap();
    assert_eq!(v, "v");
    let wrong = format!("redis://:nope@127.0.0.1:{}/", server.port);
    assert!(redis::Client::open(wrong).unwrap().get_connection().is_err());
}

#[test]
fn pipelining_ten_thousand_commands_in_one_write() {
    let server = ServerProcess::cinnabar(&[]);
    let mut conn = server.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$5\r\nk{:04}\r\n$1\r\nv\r\n", i % 10_000).as_bytes());
    }
    batch.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$5\r\nk9999\r\n");
    conn.send(&batch);
    for _ in 0..10_000 {
        assert_eq!(conn.read_reply(), b"+OK\r\n");
    }
    assert_eq!(conn.read_reply(), b"$1\r\nv\r\n");
}

#[test]
fn request_split_byte_by_byte() {
    let server = ServerProcess::cinnabar(&[]);
    let mut conn = server.raw();
    let request = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nECHO split-inline\r\n";
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_nodelay(true).unwrap();
    for byte in request {
        stream.write_all(&[*byte]).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut reader = std::io::BufReader::new(stream);
    let mut out = Vec::new();
    common::read_frame(&mut reader, &mut out).unwrap();
    common::read_frame(&mut reader, &mut out).unwrap();
    assert_eq!(out, b"+OK\r\n$12\r\nsplit-inline\r\n");
    assert_eq!(conn.cmd(&["GET", "key"]), "$5\r\nvalue\r\n");
}

#[test]
fn maxclients_rejects_and_counts() {
    for server in ServerProcess::both(&["--maxclients", "2"]) {
        let mut first = server.raw();
        assert_eq!(first.cmd(&["PING"]), "+PONG\r\n");
        let mut second = server.raw();
        assert_eq!(second.cmd(&["PING"]), "+PONG\r\n");
        let (reply, closed) = exchange_raw(server.port, b"PING\r\n");
        assert_eq!(String::from_utf8_lossy(&reply), "-ERR max number of clients reached\r\n", "{:?}", server.kind);
        assert!(closed);
        // INFO lives in another family; check the counter wherever it exists.
        let info = first.cmd(&["INFO", "stats"]);
        if !info.starts_with("-ERR unknown command") {
            assert!(info.contains("rejected_connections:1\r\n"), "{:?}: {info}", server.kind);
        }
    }
}

#[test]
fn timeout_closes_idle_clients_but_not_monitors() {
    let server = ServerProcess::cinnabar(&["--timeout", "1"]);
    let mut idle = server.raw();
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
    // The idle connection is closed by the server: reading ends.
    assert_eq!(idle.read_to_close(), b"");
    let mut other = server.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    let line = String::from_utf8_lossy(&monitor.read_reply()).into_owned();
    assert!(line.ends_with("\"PING\"\r\n"), "{line}");
}

#[test]
fn client_kill_closes_another_connection() {
    let server = ServerProcess::cinnabar(&[]);
    let mut victim = server.raw();
    let mut killer = server.raw();
    let id = victim.cmd(&["CLIENT", "ID"]).trim_start_matches(':').trim().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert_eq!(victim.read_to_close(), b"");
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), ":0\r\n");

    // The old form names the peer address and answers +OK.
    let mut second = server.raw();
    let info = second.cmd(&["CLIENT", "INFO"]);
    let addr = info.split(' ').find_map(|f| f.strip_prefix("addr=")).unwrap().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &addr]), "+OK\r\n");
    assert_eq!(second.read_to_close(), b"");
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &addr]), "-ERR No such client\r\n");

    // SKIPME no lets a client kill itself, after its reply.
    let mut me = server.raw();
    let my_id = me.cmd(&["CLIENT", "ID"]).trim_start_matches(':').trim().to_string();
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", &my_id]), ":0\r\n");
    me.send_command(&[b"CLIENT", b"KILL", b"ID", my_id.as_bytes(), b"SKIPME", b"no"]);
    assert_eq!(me.read_to_close(), b":1\r\n");
}

#[test]
fn client_pause_write_holds_writes_and_lets_reads_through() {
    for server in ServerProcess::both(&[]) {
        let mut admin = server.raw();
        let mut writer = server.raw();
        let mut reader = server.raw();
        assert_eq!(admin.cmd(&["SET", "k", "before"]), "+OK\r\n");
        assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
        writer.send_command(&[b"SET", b"k", b"after"]);
        assert_eq!(reader.cmd(&["GET", "k"]), "$6\r\nbefore\r\n", "{:?}", server.kind);
        assert!(writer.stays_quiet(), "{:?}: the SET must wait", server.kind);
        let list = reader.cmd(&["CLIENT", "LIST"]);
        assert!(list.contains("flags=b"), "{:?}: {list}", server.kind);
        assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert_eq!(writer.read_reply(), b"+OK\r\n");
        assert_eq!(reader.cmd(&["GET", "k"]), "$5\r\nafter\r\n");

        // A short pause ends by itself; ALL holds reads too.
        assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "200", "ALL"]), "+OK\r\n");
        assert_eq!(reader.cmd(&["GET", "k"]), "$5\r\nafter\r\n");
    }
}

#[test]
fn client_reply_off_and_skip() {
    for server in ServerProcess::both(&[]) {
        let mut conn = server.raw();
        conn.send(b"CLIENT REPLY OFF\r\nPING a\r\nSET k v\r\nNOSUCH\r\nCLIENT REPLY ON\r\nPING b\r\n");
        assert_eq!(conn.read_reply(), b"+OK\r\n");
        assert_eq!(conn.read_reply(), b"$1\r\nb\r\n");
        conn.send(b"CLIENT REPLY SKIP\r\nPING c\r\nPING d\r\nCLIENT REPLY SKIP\r\nNOSUCH\r\nPING e\r\n");
        assert_eq!(conn.read_reply(), b"$1\r\nd\r\n");
        assert_eq!(conn.read_reply(), b"$1\r\ne\r\n");
        conn.send(b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING f\r\nRESET\r\nPING g\r\n");
        assert_eq!(conn.read_reply(), b"+RESET\r\n", "{:?}", server.kind);
        assert_eq!(conn.read_reply(), b"$1\r\ng\r\n");
        conn.send(b"CLIENT REPLY SKIP\r\nRESET\r\nPING h\r\n");
        assert_eq!(conn.read_reply(), b"$1\r\nh\r\n", "{:?}", server.kind);
    }
}

/// A MONITOR line without its timestamp and client port, which differ
/// between servers: `[0 127.0.0.1] "set" "k" "v"`.
fn monitor_line_shape(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line).into_owned();
    let (stamp, rest) = text.split_once(' ').expect("timestamp");
    let (secs, micros) = stamp.trim_start_matches('+').split_once('.').expect("seconds.micros");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{text}");
    let (client, args) = rest.split_once("] ").expect("client");
    let client = client.rsplit_once(':').map_or(client, |(host, _port)| host);
    format!("{client}] {args}")
}

#[test]
fn monitor_sees_other_clients_commands_like_redis() {
    let commands: Vec<Vec<&[u8]>> = vec![
        vec![b"SET", b"k", b"v a\"l\\\x01\xff\n"],
        vec![b"GET", b"k"],
        vec![b"SELECT", b"2"],
        vec![b"CLIENT", b"LIST"],
        vec![b"CONFIG", b"GET", b"port"],
        vec![b"AUTH", b"default", b"pw"],
        vec![b"HELLO", b"2", b"AUTH", b"default", b"pw"],
        vec![b"NOSUCH", b"x"],
        vec![b"GET"],
        vec![b"PING", b"last"],
    ];
    let mut shapes = Vec::new();
    for server in ServerProcess::both(&[]) {
        let mut monitor = server.raw();
        let mut other = server.raw();
        assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
        for argv in &commands {
            other.call(argv);
        }
        let mut lines = Vec::new();
        loop {
            let line = monitor_line_shape(&monitor.read_reply());
            let done = line.ends_with("\"PING\" \"last\"\r\n");
            lines.push(line);
            if done {
                break;
            }
        }
        shapes.push(lines);
    }
    assert_eq!(shapes[0], shapes[1]);
}

#[test]
fn hello_3_switches_to_resp3_replies() {
    let mut outputs = Vec::new();
    for server in ServerProcess::both(&[]) {
        let mut conn = server.raw();
        let mut out = vec![mask_hello_id(conn.cmd(&["HELLO", "3"]).as_bytes())];
        for words in [
            &["GET", "missing"][..],
            &["SET", "k", "1"],
            &["CLIENT", "GETNAME"],
            &["ECHO", "x"],
            &["HELLO", "2", "SETNAME", "n"],
            &["GET", "missing"],
        ] {
            out.push(mask_hello_id(conn.cmd(words).as_bytes()));
        }
        outputs.push(out);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[0][1] == "_\r\n");
}

#[test]
fn client_list_fields_match_redis() {
    let mut shapes = Vec::new();
    for server in ServerProcess::both(&[]) {
        let mut conn = server.raw();
        // A round trip guarantees the server has accepted the second
        // connection before CLIENT LIST counts it.
        let mut other = server.raw();
        other.cmd(&["PING"]);
        conn.cmd(&["CLIENT", "SETNAME", "me"]);
        conn.cmd(&["SELECT", "3"]);
        let info = conn.cmd(&["CLIENT", "INFO"]);
        let list = conn.cmd(&["CLIENT", "LIST"]);
        assert!(info.starts_with('$'), "{info}");
        let fields: Vec<String> = info
            .lines()
            .nth(1)
            .unwrap()
            .split(' ')
            .map(|f| {
                let (k, v) = f.split_once('=').unwrap();
                let stable =
                    ["name", "events", "flags", "db", "sub", "psub", "ssub", "multi", "multi-mem", "oll", "omem"];
                let v = if stable.contains(&k) || (k == "cmd" || k == "user" || k == "redir" || k == "resp") {
                    v
                } else {
                    "*"
                };
                format!("{k}={v}")
            })
            .collect();
        assert_eq!(list.lines().filter(|l| l.starts_with("id=")).count(), 2, "{:?}: {list}", server.kind);
        shapes.push(fields.join(" "));
    }
    assert_eq!(shapes[0], shapes[1]);
}

/// A network namespace joined to this one by a veth pair with private
/// addresses (10.213.N.1 here, 10.213.N.2 inside): a client run inside it
/// reaches our servers from a non-loopback address. Removed on drop.
struct Netns {
    name: String,
    veth: String,
    host_ip: String,
}

impl Netns {
    /// None (and why, printed) when this machine cannot make one: not root,
    /// no `ip`, or no permission to create namespaces.
    fn create() -> Option<Netns> {
        let id = std::process::id();
        let octet = id % 250 + 1;
        let netns =
            Netns { name: format!("cinnabar-{id}"), veth: format!("cnb{id}"), host_ip: format!("10.213.{octet}.1") };
        let peer = format!("cnp{id}");
        let inner_ip = format!("10.213.{octet}.2/30");
        let host_cidr = format!("{}/30", netns.host_ip);
        let steps: [&[&str]; 7] = [
            &["netns", "add", &netns.name],
            &["link", "add", &netns.veth, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &netns.name],
            &["addr", "add", &host_cidr, "dev", &netns.veth],
            &["link", "set", &netns.veth, "up"],
            &["-n", &netns.name, "addr", "add", &inner_ip, "dev", &peer],
            &["-n", &netns.name, "link", "set", &peer, "up"],
        ];
        for step in steps {
            let ok = std::process::Command::new("ip").args(step).output().is_ok_and(|o| o.status.success());
            if !ok {
                eprintln!("cannot set up a network namespace (ip {step:?} failed): protected mode not exercised");
                return None;
            }
        }
        Some(netns)
    }

    /// redis-cli run inside the namespace against `port` on our side.
    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.name, "redis-cli", "-h", &self.host_ip, "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("ip netns exec");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["link", "del", &self.veth]).output();
        let _ = std::process::Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

#[test]
fn protected_mode_denies_non_loopback_peers_like_redis() {
    let Some(netns) = Netns::create() else { return };
    let mut denials = Vec::new();
    for server in ServerProcess::both(&["--bind", "* -::*", "--protected-mode", "yes"]) {
        denials.push(netns.cli(server.port, &["PING"]));
        // Loopback peers are still served.
        assert_eq!(server.raw().cmd(&["PING"]), "+PONG\r\n");
    }
    assert!(denials[0].contains("DENIED Redis is running in protected mode"), "{}", denials[0]);
    assert_eq!(denials[0], denials[1]);

    // With a password, or with protected mode off, the same peer is served.
    let password = ["--bind", "* -::*", "--requirepass", "pw"];
    for server in ServerProcess::both(&password) {
        assert_eq!(netns.cli(server.port, &["-a", "pw", "--no-auth-warning", "PING"]).trim(), "PONG");
    }
    for server in ServerProcess::both(&["--bind", "* -::*", "--protected-mode", "no"]) {
        assert_eq!(netns.cli(server.port, &["PING"]).trim(), "PONG");
    }
}
