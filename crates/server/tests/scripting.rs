//! A script running past busy-reply-threshold: other connections, old and
//! new, are answered BUSY, SCRIPT KILL stops a script that has not written, refuses
//! one that has, and SHUTDOWN NOSAVE ends the server even then.

mod common;

use common::ServerProcess;
use std::time::{Duration, Instant};

const BUSY: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// Waits until the server answers BUSY on `conn` (the script passed the
/// threshold).
fn wait_busy(conn: &mut common::RawConn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = String::from_utf8_lossy(&conn.call(&[b"PING"])).into_owned();
        if reply == BUSY {
            return;
        }
        assert!(Instant::now() < deadline, "never busy: {reply}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn script_kill_stops_a_busy_read_only_script() {
    let server = ServerProcess::cinnabar(&["--busy-reply-threshold", "100"]);
    let mut runner = server.raw();
    let mut other = server.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    runner.send_command(&[b"EVAL", b"while true do end", b"0"]);
    wait_busy(&mut other);
    // A connection made while the script runs is accepted and answered too.
    let mut late = server.raw();
    assert_eq!(late.cmd(&["GET", "k"]), BUSY);
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_reply()).into_owned();
    assert!(killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "), "{killed}");
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(runner.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(late.cmd(&["PING"]), "+PONG\r\n");
    assert!(server.log().contains("Slow script detected: still in execution after"));
}

#[test]
fn a_script_that_wrote_is_unkillable_but_shutdown_nosave_ends_the_server() {
    let mut server = ServerProcess::cinnabar(&["--busy-reply-threshold", "100"]);
    let mut runner = server.raw();
    let mut other = server.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    runner.send_command(&[b"EVAL", b"redis.call('set', 'k', 'v') while true do end", b"0"]);
    wait_busy(&mut other);
    let refused = other.cmd(&["SCRIPT", "KILL"]);
    assert!(refused.starts_with("-UNKILLABLE Sorry the script already executed write commands"), "{refused}");
    other.send_command(&[b"SHUTDOWN", b"NOSAVE"]);
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn commands_from_scripts_count_in_commandstats_as_redis_counts_them() {
    let server = ServerProcess::cinnabar(&[]);
    let mut conn = server.raw();
    conn.cmd(&["EVAL", "redis.call('set','a','1') redis.pcall('incr','a','b') return redis.call('get','a')", "0"]);
    conn.cmd(&["EVAL", "return redis.call('incr', 'zz', 'x')", "0"]);
    let stats = conn.cmd(&["INFO", "commandstats"]);
    let line = |name: &str| -> String {
        let prefix = format!("cmdstat_{name}:");
        let line = stats.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{name} in {stats}"));
        line.split(',').filter(|f| !f.contains("usec")).collect::<Vec<_>>().join(",")
    };
    // The same counts redis-server 7.0.15 reports after these two scripts.
    assert_eq!(line("set"), "cmdstat_set:calls=1,rejected_calls=0,failed_calls=0");
    assert_eq!(line("get"), "cmdstat_get:calls=1,rejected_calls=0,failed_calls=0");
    assert_eq!(line("incr"), "cmdstat_incr:calls=0,rejected_calls=2,failed_calls=0");
    assert_eq!(line("eval"), "cmdstat_eval:calls=2,rejected_calls=0,failed_calls=1");
}
