//! Redis's own command-line tools against Cinnabar, as users run them:
//! redis-cli (plain commands, --raw, --pipe mass insertion, --scan, --bigkeys,
//! RESP3) with output compared to the real redis-server's, and a
//! redis-benchmark smoke run.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Kind, ServerProcess};

/// Runs redis-cli against `port` with `args`, feeding `stdin`; returns stdout.
fn cli(port: u16, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed (scripts/test.sh installs redis-tools)");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    let out = child.wait_with_output().expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The same redis-cli session against Cinnabar and redis-server.
fn both(script: impl Fn(u16) -> String) -> (String, String) {
    let ours = ServerProcess::start(Kind::Cinnabar, &[]);
    let theirs = ServerProcess::start(Kind::Redis, &[]);
    (script(ours.port), script(theirs.port))
}

#[test]
fn redis_cli_commands_print_the_same() {
    let (ours, theirs) = both(|port| {
        let mut out = String::new();
        for args in [
            &["set", "greeting", "hello world"][..],
            &["get", "greeting"],
            &["--no-raw", "get", "greeting"],
            &["incrby", "counter", "41"],
            &["--no-raw", "incr", "counter"],
            &["mset", "a", "1", "b", "2"],
            &["--no-raw", "mget", "a", "b", "missing"],
            &["get", "no-such-key"],
            &["--no-raw", "get", "no-such-key"],
            &["nosuchcommand", "x"],
            &["--no-raw", "set", "k"],
            &["-3", "--no-raw", "incrbyfloat", "f", "1.5"],
            &["dbsize"],
        ] {
            out += &format!("$ redis-cli {}\n{}", args.join(" "), cli(port, args, b""));
        }
        out
    });
    assert_eq!(ours, theirs);
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    let mut protocol = Vec::new();
    for i in 0..10_000 {
        let key = format!("key:{i}");
        let value = format!("value:{i}");
        protocol.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n", key.len(), value.len()).as_bytes(),
        );
    }
    let server = ServerProcess::cinnabar(&[]);
    let out = cli(server.port, &["--pipe"], &protocol);
    assert!(out.contains("errors: 0, replies: 10000"), "{out}");
    assert_eq!(cli(server.port, &["dbsize"], b""), "10000\n");
    assert_eq!(cli(server.port, &["get", "key:9999"], b""), "value:9999\n");
}

#[test]
fn redis_cli_scan_and_bigkeys() {
    let (ours, theirs) = both(|port| {
        cli(port, &["mset", "user:1", "a", "user:2", "bbbbbbbbbb", "order:1", "c"], b"");
        let mut keys: Vec<String> =
            cli(port, &["--scan", "--pattern", "user:*"], b"").lines().map(String::from).collect();
        keys.sort();
        let bigkeys = cli(port, &["--bigkeys"], b"");
        // The sampling progress lines depend on SCAN order; the summary does not.
        let summary: Vec<&str> = bigkeys
            .lines()
            .filter(|l| l.starts_with("Biggest") || l.contains("keys with") || l.contains("Sampled"))
            .collect();
        format!("{keys:?}\n{}", summary.join("\n"))
    });
    assert_eq!(ours, theirs);
    assert!(ours.contains("user:2"), "{ours}");
}

#[test]
fn redis_benchmark_runs_cleanly() {
    let server = ServerProcess::cinnabar(&[]);
    let out = Command::new("redis-benchmark")
        .args(["-p", &server.port.to_string(), "-t", "set,get,incr,mset,ping", "-n", "2000", "-c", "4", "-q"])
        .output()
        .expect("redis-benchmark is installed (scripts/test.sh installs redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("WARNING"), "redis-benchmark warned: {text}");
    for test in ["SET", "GET", "INCR", "MSET (10 keys)", "PING_INLINE", "PING_MBULK"] {
        assert!(text.contains(&format!("{test}: ")), "no {test} line in: {text}");
    }
}
