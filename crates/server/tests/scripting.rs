//! A script running past busy-reply-threshold: other connections, old and
//! new, are answered BUSY, SCRIPT KILL stops a script that has not written, refuses
//! one that has, and SHUTDOWN NOSAVE ends the server even then. Script flags
//! deciding what CLIENT PAUSE WRITE holds and how EXEC judges queued scripts
//! over maxmemory, compared with redis-server.

mod common;

use common::{Kind, RawConn, ServerProcess};
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

const LIBRARY: &str = "#!lua name=lib\n\
    redis.register_function('w', function() return redis.call('set', 'k', 'w') end)\n\
    redis.register_function{function_name='r', callback=function() return redis.call('get', 'k') end, flags={'no-writes'}}";

#[test]
fn client_pause_write_holds_scripts_that_may_write() {
    for server in ServerProcess::both(&[]) {
        let mut admin = server.raw();
        assert_eq!(admin.cmd(&["FUNCTION", "LOAD", LIBRARY]), "$3\r\nlib\r\n");
        assert_eq!(admin.cmd(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
        let mut reader = server.raw();
        // Read-only scripts run: no-writes ones, and any under *_RO.
        assert_eq!(reader.cmd(&["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"]), "$1\r\nv\r\n");
        assert_eq!(reader.cmd(&["EVAL_RO", "return redis.call('get','k')", "0"]), "$1\r\nv\r\n");
        assert_eq!(reader.cmd(&["FCALL", "r", "0"]), "$1\r\nv\r\n");
        assert_eq!(reader.cmd(&["FCALL_RO", "r", "0"]), "$1\r\nv\r\n");
        // Scripts that may write wait: without shebang, with a shebang
        // lacking no-writes, a write function even under FCALL_RO.
        let held: [&[&[u8]]; 3] = [
            &[b"EVAL", b"return redis.call('set','k','legacy')", b"0"],
            &[b"EVAL", b"#!lua\nreturn redis.call('set','k','flagged')", b"0"],
            &[b"FCALL_RO", b"w", b"0"],
        ];
        let mut writers: Vec<RawConn> = held
            .iter()
            .map(|argv| {
                let mut conn = server.raw();
                conn.send_command(argv);
                conn
            })
            .collect();
        for writer in &writers {
            assert!(writer.stays_quiet(), "{:?}: a script that may write must wait", server.kind);
        }
        assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert_eq!(writers[0].read_reply(), b"+OK\r\n");
        assert_eq!(writers[1].read_reply(), b"+OK\r\n");
        assert_eq!(
            String::from_utf8_lossy(&writers[2].read_reply()),
            "-ERR Can not execute a script with write flag using *_ro command.\r\n"
        );
    }
}

/// The replies of `steps`, each run on the connection it names, on a fresh
/// server of each kind: they must be identical. Returns Cinnabar's.
fn same_replies_on_connections(connections: usize, steps: &[(usize, &[&str])]) -> Vec<String> {
    let replies: Vec<Vec<String>> = ServerProcess::both(&[])
        .iter()
        .map(|server| {
            let mut conns: Vec<RawConn> = (0..connections).map(|_| server.raw()).collect();
            steps.iter().map(|(conn, words)| conns[*conn].cmd(words)).collect()
        })
        .collect();
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(replies[0][i], replies[1][i], "{step:?}");
    }
    replies.into_iter().next().unwrap()
}

#[test]
fn exec_judges_queued_scripts_by_their_flags_over_maxmemory() {
    const LOADED_LATER: &str = "#!lua\nreturn 2";
    const LOADED_LATER_SHA: &str = "327e60b78547ebb77ec450ead371d5bd10cbdd69";
    let replies = same_replies_on_connections(
        2,
        &[
            (0, &["SET", "x", "1"]),
            // Scripts that may not grow memory leave EXEC runnable.
            (0, &["MULTI"]),
            (0, &["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", "0"]),
            (0, &["EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','a','b')", "0"]),
            (0, &["EVAL", "return redis.call('set','c','d')", "0"]),
            (1, &["CONFIG", "SET", "maxmemory", "1"]),
            (0, &["EXEC"]),
            (1, &["CONFIG", "SET", "maxmemory", "0"]),
            // A flagged script without allow-oom makes EXEC a denyoom command.
            (0, &["MULTI"]),
            (0, &["EVAL", "#!lua\nreturn 1", "0"]),
            (1, &["CONFIG", "SET", "maxmemory", "1"]),
            (0, &["EXEC"]),
            (1, &["CONFIG", "SET", "maxmemory", "0"]),
            // Queued before its script was loaded, EVALSHA is refused when it
            // starts instead.
            (0, &["MULTI"]),
            (0, &["EVALSHA", LOADED_LATER_SHA, "0"]),
            (1, &["SCRIPT", "LOAD", LOADED_LATER]),
            (1, &["CONFIG", "SET", "maxmemory", "1"]),
            (0, &["EXEC"]),
            (1, &["CONFIG", "SET", "maxmemory", "0"]),
        ],
    );
    // The script without shebang runs, and its first denyoom command fails.
    assert_eq!(
        replies[6],
        "*3\r\n$1\r\n1\r\n+OK\r\n-OOM command not allowed when used memory > 'maxmemory'. \
         script: 8631d5e9f45c888edd2a39e4156406df3f25ef41, on @user_script:1.\r\n"
    );
    assert_eq!(
        replies[11],
        "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(
        replies[17],
        "*1\r\n-OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'\r\n"
    );
}

/// Waits until no BGSAVE runs.
fn wait_for_bgsave(conn: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while conn.cmd(&["INFO", "persistence"]).contains("rdb_bgsave_in_progress:1") {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn scripts_after_a_failed_bgsave_write_only_if_flagged_to() {
    let scripts: &[&[&str]] = &[
        &["EVAL", "return redis.call('set','k','v')", "0"],
        &["EVAL", "return redis.pcall('set','k','v')", "0"],
        &["EVAL", "return redis.call('get','k')", "0"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn redis.call('set','k','v')", "0"],
        &["MULTI"],
        &["EVAL", "#!lua flags=no-writes\nreturn 2", "0"],
        &["EXEC"],
        &["MULTI"],
        &["EVAL", "#!lua\nreturn 3", "0"],
        &["EXEC"],
    ];
    let mut replies = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &["--save", "3600 1"]);
        // A non-empty directory where the dump should go: the rename fails.
        std::fs::create_dir_all(server.dir.path().join("dump.rdb").join("blocker")).unwrap();
        let mut conn = server.raw();
        assert_eq!(conn.cmd(&["BGSAVE"]), "+Background saving started\r\n");
        wait_for_bgsave(&mut conn);
        replies.push(scripts.iter().map(|argv| conn.cmd(argv)).collect::<Vec<_>>());
    }
    for (i, script) in scripts.iter().enumerate() {
        assert_eq!(replies[0][i], replies[1][i], "{script:?}");
    }
    assert!(replies[0][0].starts_with("-MISCONF Redis is configured to save RDB snapshots"), "{:?}", replies[0]);
    assert!(replies[0][3].starts_with("-MISCONF Redis is configured to save RDB snapshots"), "{:?}", replies[0]);
    assert_eq!(replies[0][4], "$-1\r\n");
}
