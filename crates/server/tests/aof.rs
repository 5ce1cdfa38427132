//! The append-only file end to end: restarts keep every type (DEBUG DIGEST),
//! AOF directories travel both ways between Cinnabar and redis-server 7.0 and
//! pass redis-check-aof, truncated and corrupt tails are handled as Redis
//! handles them, acknowledged writes survive kill -9, rewrites under writes
//! keep everything, and the AOF can be switched on at run time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Kind, RawConn, ServerProcess};

/// A directory that outlives the servers started in it.
fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn start_in(kind: Kind, dir: &Path, extra: &[&str]) -> ServerProcess {
    let dir = dir.to_str().expect("utf-8 path");
    // `always` unless a test says otherwise: tests kill servers with SIGKILL,
    // and everysec may legitimately hold writes back for up to 2 s.
    let mut args = vec!["--dir", dir, "--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--appendfsync", "always"];
    args.extend(["--enable-debug-command", "yes"]);
    args.extend_from_slice(extra);
    ServerProcess::start(kind, &args)
}

fn digest(server: &ServerProcess) -> String {
    server.raw().cmd(&["DEBUG", "DIGEST"])
}

fn info_field(conn: &mut RawConn, name: &str) -> String {
    let info = conn.cmd(&["INFO", "persistence"]);
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or("").to_string()
}

/// Waits until no rewrite runs or is scheduled (both read from one INFO:
/// between two calls a scheduled rewrite may start).
fn wait_rewrite_done(conn: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = conn.cmd(&["INFO", "persistence"]);
        if info.contains("aof_rewrite_in_progress:0\r\n") && info.contains("aof_rewrite_scheduled:0\r\n") {
            return;
        }
        assert!(Instant::now() < deadline, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Fills the dataset with every type and encoding, TTLs and several databases.
fn populate(c: &mut RawConn) {
    let big = "v".repeat(100);
    c.cmd(&["SET", "str", "hello"]);
    c.cmd(&["SET", "int", "12345"]);
    c.cmd(&["SET", "ttl", "x", "PX", "100000000"]);
    c.cmd(&["RPUSH", "small-list", "a", "b", "1"]);
    for i in 0..150 {
        c.cmd(&["RPUSH", "big-list", &format!("{i}{big}")]);
        c.cmd(&["SADD", "big-set", &format!("m{i}")]);
        c.cmd(&["HSET", "big-hash", &format!("f{i}"), &big]);
        c.cmd(&["ZADD", "big-zset", &format!("{}.5", i), &format!("z{i}")]);
    }
    c.cmd(&["SADD", "intset", "1", "2", "-3"]);
    c.cmd(&["HSET", "small-hash", "a", "1", "b", "2"]);
    c.cmd(&["ZADD", "small-zset", "-inf", "lo", "inf", "hi", "0.1", "mid"]);
    c.cmd(&["EXPIRE", "small-hash", "100000"]);
    c.cmd(&["XADD", "stream", "1-1", "f", "v"]);
    c.cmd(&["XADD", "stream", "2-1", "f", "v", "g", "w"]);
    c.cmd(&["XADD", "stream", "3-1", "a", "b"]);
    c.cmd(&["XDEL", "stream", "3-1"]);
    c.cmd(&["XGROUP", "CREATE", "stream", "grp", "0"]);
    c.cmd(&["XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "STREAMS", "stream", ">"]);
    c.cmd(&["XGROUP", "CREATECONSUMER", "stream", "grp", "bob"]);
    c.cmd(&["XADD", "empty-stream", "MAXLEN", "0", "5-5", "x", "y"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "other-db", "1"]);
    c.cmd(&["INCR", "other-db"]);
    c.cmd(&["SELECT", "0"]);
}

fn redis_check_aof(manifest: &Path) -> (bool, String) {
    let out = Command::new("redis-check-aof").arg(manifest).output().expect("redis-check-aof runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Restarts Cinnabar on the AOF in `dir`: it must hold `expected` (DEBUG
/// DIGEST), and redis-check-aof must accept the files.
fn assert_reloads(dir: &Path, expected: &str) {
    let restarted = start_in(Kind::Cinnabar, dir, &[]);
    assert_eq!(digest(&restarted), expected);
    let (ok, report) = redis_check_aof(&manifest_path(dir));
    assert!(ok, "{report}");
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("appendonlydir").join("appendonly.aof.manifest")
}

/// The redis.conf default, which the tests otherwise turn off: the rewrite
/// writes the base in RDB format.
const RDB_PREAMBLE: &[&str] = &["--aof-use-rdb-preamble", "yes"];

/// The base file the manifest names (older bases may still await deletion).
fn manifest_base(dir: &Path) -> String {
    let manifest = std::fs::read_to_string(manifest_path(dir)).expect("manifest");
    let line = manifest.lines().find(|l| l.ends_with(" type b")).expect("a base line");
    line.split(' ').nth(1).expect("file name").to_string()
}

#[test]
fn every_type_survives_restart_and_loads_in_redis() {
    survives_restart_and_loads_in_redis(&[], "appendonly.aof.2.base.aof");
}

#[test]
fn an_rdb_base_survives_restart_and_loads_in_redis() {
    survives_restart_and_loads_in_redis(RDB_PREAMBLE, "appendonly.aof.2.base.rdb");
}

fn survives_restart_and_loads_in_redis(extra: &[&str], base: &str) {
    let dir = data_dir();
    let expected = {
        let server = start_in(Kind::Cinnabar, dir.path(), extra);
        let mut c = server.raw();
        populate(&mut c);
        assert_eq!(c.cmd(&["BGREWRITEAOF"]), "+Background append only file rewriting started\r\n");
        c.cmd(&["RPUSH", "after-rewrite", "1"]);
        wait_rewrite_done(&mut c);
        c.cmd(&["XACK", "stream", "grp", "1-1"]);
        digest(&server)
        // Dropping the server kills it with SIGKILL: no shutdown flush.
    };
    assert_eq!(manifest_base(dir.path()), base);
    let restarted = start_in(Kind::Cinnabar, dir.path(), extra);
    assert_eq!(digest(&restarted), expected, "log: {}", restarted.log());
    drop(restarted);
    let (ok, report) = redis_check_aof(&manifest_path(dir.path()));
    assert!(ok, "{report}");
    let redis = start_in(Kind::Redis, dir.path(), extra);
    assert_eq!(digest(&redis), expected);
}

#[test]
fn redis_aof_directory_loads_in_cinnabar() {
    redis_directory_loads_in_cinnabar(&[], "appendonly.aof.2.base.aof");
}

#[test]
fn redis_directory_with_an_rdb_base_loads_in_cinnabar() {
    redis_directory_loads_in_cinnabar(RDB_PREAMBLE, "appendonly.aof.2.base.rdb");
}

fn redis_directory_loads_in_cinnabar(extra: &[&str], base: &str) {
    let dir = data_dir();
    let expected = {
        let redis = start_in(Kind::Redis, dir.path(), extra);
        let mut c = redis.raw();
        populate(&mut c);
        c.cmd(&["BGREWRITEAOF"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "aof_rewrite_in_progress") != "0" || info_field(&mut c, "aof_rewrites") != "1" {
            assert!(Instant::now() < deadline, "redis rewrite did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        c.cmd(&["MULTI"]);
        c.cmd(&["INCR", "in-transaction"]);
        c.cmd(&["LPUSH", "small-list", "z"]);
        c.cmd(&["EXEC"]);
        c.cmd(&["SET", "ttl2", "y", "EX", "100000"]);
        let digest = digest(&redis);
        // Redis may still hold writes in its buffer (everysec postpones them
        // behind the fsync of the file the rewrite retired): shut it down
        // cleanly instead of killing it.
        shut_down(redis);
        digest
    };
    assert_eq!(manifest_base(dir.path()), base);
    let cinnabar = start_in(Kind::Cinnabar, dir.path(), extra);
    assert_eq!(digest(&cinnabar), expected, "log: {}", cinnabar.log());
    assert!(cinnabar.log().contains("DB loaded from incr file appendonly.aof.2.incr.aof"));
}

fn shut_down(mut server: ServerProcess) {
    let mut c = server.raw();
    c.send_command(&[b"SHUTDOWN"]);
    c.read_to_close();
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
}

/// Starts Cinnabar in `dir` expecting it to exit; returns (exit code, log).
fn start_expecting_exit(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let port = common::free_port().to_string();
    let mut args = vec!["--port", &port, "--dir", dir.to_str().unwrap(), "--appendonly", "yes"];
    args.extend_from_slice(extra);
    let out = Command::new(common::cinnabar_binary()).args(&args).output().expect("spawn");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn last_incr_file(dir: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(manifest_path(dir)).unwrap();
    let name = manifest.lines().rfind(|l| l.ends_with("type i")).unwrap().split(' ').nth(1).unwrap().to_string();
    dir.join("appendonlydir").join(name)
}

fn append_to(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

#[test]
fn truncated_tail_is_cut_only_when_allowed_and_garbage_refuses() {
    let dir = data_dir();
    {
        let server = start_in(Kind::Cinnabar, dir.path(), &[]);
        let mut c = server.raw();
        c.cmd(&["SET", "kept", "1"]);
    }
    let incr = last_incr_file(dir.path());
    let good_len = std::fs::metadata(&incr).unwrap().len();
    append_to(&incr, b"*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$1\r\n");

    let (code, log) = start_expecting_exit(dir.path(), &["--aof-load-truncated", "no"]);
    assert_eq!(code, Some(1));
    assert!(log.contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"), "{log}");

    let server = start_in(Kind::Cinnabar, dir.path(), &["--aof-load-truncated", "yes"]);
    let log = server.log();
    assert!(log.contains("!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"), "{log}");
    assert!(log.contains(&format!("!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {good_len} !!!")));
    let mut c = server.raw();
    assert_eq!(c.cmd(&["GET", "kept"]), "$1\r\n1\r\n");
    assert_eq!(c.cmd(&["EXISTS", "lost"]), ":0\r\n");
    c.cmd(&["SET", "after", "2"]);
    drop(server);
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(server.raw().cmd(&["GET", "after"]), "$1\r\n2\r\n");
    drop(server);

    append_to(&incr, b"this is not a command\r\n");
    let (code, log) = start_expecting_exit(dir.path(), &["--aof-load-truncated", "yes"]);
    assert_eq!(code, Some(1));
    assert!(log.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof"), "{log}");
}

#[test]
fn old_single_file_aof_is_migrated() {
    let dir = data_dir();
    std::fs::write(dir.path().join("appendonly.aof"), b"*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n").unwrap();
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(server.raw().cmd(&["GET", "old"]), "$5\r\nstyle\r\n");
    assert!(server.log().contains(
        "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."
    ));
    let manifest = std::fs::read_to_string(manifest_path(dir.path())).unwrap();
    assert_eq!(manifest, "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
    assert!(!dir.path().join("appendonly.aof").exists());
}

#[test]
fn old_single_file_aof_with_an_rdb_preamble_is_migrated() {
    let dir = data_dir();
    let expected = {
        let d = dir.path().to_str().unwrap();
        let redis = ServerProcess::redis(&["--dir", d, "--enable-debug-command", "yes"]);
        let mut c = redis.raw();
        populate(&mut c);
        c.cmd(&["SAVE"]);
        c.cmd(&["SET", "old", "style"]);
        digest(&redis)
    };
    let mut file = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    std::fs::remove_file(dir.path().join("dump.rdb")).unwrap();
    file.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n");
    std::fs::write(dir.path().join("appendonly.aof"), file).unwrap();
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(digest(&server), expected, "log: {}", server.log());
    assert!(server.log().contains("Reading the remaining AOF tail..."));
}

/// Runs a writer that INCRs a counter and counts the acknowledged replies,
/// kills the server with SIGKILL after `run`, and returns the count.
fn acknowledged_before_kill(server: &ServerProcess, run: Duration) -> (u64, Vec<(Instant, u64)>) {
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = RawConn::connect(port);
            let mut progress = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                c.send_command(&[b"INCR", b"counter"]);
                let mut line = [0u8; 64];
                match c.read_some(&mut line) {
                    Ok(n) if n > 0 && line[0] == b':' => {
                        let n = acked.fetch_add(1, Ordering::SeqCst) + 1;
                        progress.push((Instant::now(), n));
                    }
                    _ => break,
                }
            }
            progress
        })
    };
    std::thread::sleep(run);
    server.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    let progress = writer.join().unwrap();
    (acked.load(Ordering::SeqCst), progress)
}

fn counter(server: &ServerProcess) -> u64 {
    let reply = server.raw().cmd(&["GET", "counter"]);
    reply.lines().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[test]
fn kill_9_loses_no_acknowledged_write_with_fsync_always() {
    let dir = data_dir();
    let mut expected_at_least = 0;
    for round in 0..4u64 {
        let server = start_in(Kind::Cinnabar, dir.path(), &["--appendfsync", "always"]);
        assert!(counter(&server) >= expected_at_least, "round {round}: lost acknowledged writes");
        let before = counter(&server);
        let run = Duration::from_millis(150 + fastrand_ms(round));
        let (acked, _) = acknowledged_before_kill(&server, run);
        expected_at_least = before + acked;
    }
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert!(counter(&server) >= expected_at_least);
    assert!(expected_at_least > 0);
}

/// A varying delay without a random crate: 0..250 ms spread over rounds.
fn fastrand_ms(round: u64) -> u64 {
    (round * 97 + std::process::id() as u64) % 250
}

#[test]
fn kill_9_with_everysec_loses_at_most_about_a_second() {
    let dir = data_dir();
    let server = start_in(Kind::Cinnabar, dir.path(), &["--appendfsync", "everysec"]);
    let (acked, progress) = acknowledged_before_kill(&server, Duration::from_millis(600));
    drop(server);
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    let recovered = counter(&server);
    let killed_at = progress.last().map(|(t, _)| *t).unwrap_or_else(Instant::now);
    let acked_a_second_before =
        progress.iter().take_while(|(t, _)| *t + Duration::from_millis(1100) < killed_at).last().map_or(0, |(_, n)| *n);
    assert!(recovered >= acked_a_second_before, "recovered {recovered}, acked {acked}");
    assert!(recovered <= acked + 1);
}

#[test]
fn rewrites_under_concurrent_writes_keep_everything() {
    let dir = data_dir();
    let server = start_in(Kind::Cinnabar, dir.path(), &["--appendfsync", "always"]);
    let port = server.port;
    let writer = std::thread::spawn(move || {
        let mut c = RawConn::connect(port);
        for i in 0..600 {
            assert!(c.cmd(&["RPUSH", "seq", &i.to_string()]).starts_with(':'));
        }
    });
    let mut c = server.raw();
    for _ in 0..5 {
        assert_eq!(c.cmd(&["BGREWRITEAOF"]), "+Background append only file rewriting started\r\n");
        wait_rewrite_done(&mut c);
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().unwrap();
    assert_eq!(info_field(&mut c, "aof_rewrites"), "5");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let expected = digest(&server);
    drop(server);
    let files: Vec<String> = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "history files were deleted: {files:?}");
    let restarted = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(restarted.raw().cmd(&["LLEN", "seq"]), ":600\r\n");
    assert_eq!(digest(&restarted), expected);
}

#[test]
fn config_set_appendonly_turns_the_aof_on_and_off() {
    let dir = data_dir();
    let d = dir.path().to_str().unwrap();
    let server =
        ServerProcess::cinnabar(&["--dir", d, "--aof-use-rdb-preamble", "no", "--enable-debug-command", "yes"]);
    let mut c = server.raw();
    populate(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    // Made while the first base is written: kept by the temp incr file.
    c.cmd(&["SET", "during-rewrite", "1"]);
    wait_rewrite_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_rewrites"), "1");
    c.cmd(&["SET", "after-on", "1"]);
    let expected = digest(&server);
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    c.cmd(&["SET", "after-off", "1"]);
    drop(server);
    assert_reloads(dir.path(), &expected);
}

#[test]
fn timestamp_annotations_are_written_and_accepted() {
    let dir = data_dir();
    {
        let server = start_in(Kind::Cinnabar, dir.path(), &["--aof-timestamp-enabled", "yes"]);
        server.raw().cmd(&["SET", "k", "v"]);
    }
    let incr = std::fs::read_to_string(last_incr_file(dir.path())).unwrap();
    assert!(incr.starts_with("#TS:"), "{incr:?}");
    let (ok, report) = redis_check_aof(&manifest_path(dir.path()));
    assert!(ok, "{report}");
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(server.raw().cmd(&["GET", "k"]), "$1\r\nv\r\n");
}

#[test]
fn info_persistence_has_redis_aof_fields() {
    for appendonly in ["no", "yes"] {
        let names = |kind| {
            let dir = data_dir();
            let server =
                ServerProcess::start(kind, &["--dir", dir.path().to_str().unwrap(), "--appendonly", appendonly]);
            let info = server.raw().cmd(&["INFO", "persistence"]);
            let fields: Vec<String> = info
                .lines()
                .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
                .filter(|k| k.starts_with("aof_") || k.starts_with("module_fork"))
                .collect();
            fields
        };
        assert_eq!(names(Kind::Cinnabar), names(Kind::Redis), "appendonly {appendonly}");
    }
}

#[test]
fn keys_whose_ttl_passed_stay_alive_while_the_aof_loads() {
    // Replayed commands saw `k` alive: APPEND extends it instead of creating
    // a fresh key without TTL, and the key expires once loading is over.
    let dir = data_dir();
    let mut commands = Vec::new();
    for argv in [&["SET", "k", "v"][..], &["PEXPIREAT", "k", "1000"], &["APPEND", "k", "x"], &["SET", "live", "1"]] {
        commands.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for arg in argv {
            commands.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
    }
    std::fs::write(dir.path().join("appendonly.aof"), commands).unwrap();
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.cmd(&["GET", "live"]), "$1\r\n1\r\n");
}

/// An AOF directory whose incr file is /dev/full: every write fails (ENOSPC).
fn unwritable_aof_dir() -> tempfile::TempDir {
    let dir = data_dir();
    let aof_dir = dir.path().join("appendonlydir");
    std::fs::create_dir(&aof_dir).unwrap();
    std::fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    std::fs::write(aof_dir.join("appendonly.aof.1.base.aof"), b"").unwrap();
    std::os::unix::fs::symlink("/dev/full", aof_dir.join("appendonly.aof.1.incr.aof")).unwrap();
    dir
}

#[test]
fn a_failed_write_with_fsync_always_stops_the_server() {
    let dir = unwritable_aof_dir();
    let mut server = start_in(Kind::Cinnabar, dir.path(), &[]);
    let mut c = server.raw();
    c.send_command(&[b"SET", b"a", b"1"]);
    assert_eq!(c.read_to_close(), b"", "no reply may promise durability");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(server
        .log()
        .contains("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."));
}

#[test]
fn writes_are_refused_while_the_aof_cannot_be_written() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let dir = unwritable_aof_dir();
        // (With `always` both servers exit on the failed write instead.)
        let server = start_in(kind, dir.path(), &["--appendfsync", "everysec"]);
        let mut c = server.raw();
        assert_eq!(c.cmd(&["SET", "a", "1"]), "+OK\r\n", "{kind:?}");
        assert_eq!(
            c.cmd(&["SET", "b", "1"]),
            "-MISCONF Errors writing to the AOF file: No space left on device\r\n",
            "{kind:?}"
        );
        assert_eq!(c.cmd(&["GET", "a"]), "$1\r\n1\r\n");
        assert_eq!(info_field(&mut c, "aof_last_write_status"), "err", "{kind:?}");
    }
}

#[test]
fn debug_loadaof_reloads_without_appending_twice() {
    let dir = data_dir();
    let server = start_in(Kind::Cinnabar, dir.path(), &[]);
    let mut c = server.raw();
    for _ in 0..3 {
        c.cmd(&["INCR", "counter"]);
    }
    c.cmd(&["SET", "also-kept", "1"]);
    let incr = last_incr_file(dir.path());
    let size = std::fs::metadata(&incr).unwrap().len();
    // Keys that exist only in memory (POPULATE is not propagated) go away.
    c.cmd(&["DEBUG", "POPULATE", "10"]);
    assert_eq!(c.cmd(&["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), ":2\r\n");
    assert_eq!(c.cmd(&["GET", "counter"]), "$1\r\n3\r\n");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), size);
    c.cmd(&["INCR", "counter"]);
    drop(server);
    let restarted = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(restarted.raw().cmd(&["GET", "counter"]), "$1\r\n4\r\n");
}

#[test]
fn failed_rewrites_are_reported_and_automatic_ones_back_off() {
    let dir = data_dir();
    // A slow rewrite (a second per key) whose child the test kills.
    let server = start_in(
        Kind::Cinnabar,
        dir.path(),
        &["--auto-aof-rewrite-percentage", "1", "--auto-aof-rewrite-min-size", "1", "--rdb-key-save-delay", "1000000"],
    );
    let mut c = server.raw();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd(&["BGREWRITEAOF"]), "+Background append only file rewriting started\r\n");
    assert_eq!(c.cmd(&["BGREWRITEAOF"]), "-ERR Background append only file rewriting already in progress\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let limited = "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes";
    while !server.log().contains(limited) {
        assert!(Instant::now() < deadline, "{}", server.log());
        for child in server.children() {
            let _ = Command::new("kill").args(["-9", &child.to_string()]).status();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "err");
    assert_eq!(info_field(&mut c, "aof_rewrites_consecutive_failures"), "3");
    assert!(server.log().contains("Background AOF rewrite terminated by signal 9"));
    // No half-written base is left behind.
    let temp_files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-rewriteaof"));
    assert_eq!(temp_files.count(), 0);
    // Writes go on: the AOF still appends to its newest incr file.
    c.cmd(&["SET", "after", "1"]);
    drop(server);
    let restarted = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(restarted.raw().cmd(&["GET", "after"]), "$1\r\n1\r\n");
}

/// One child at a time: BGREWRITEAOF during a BGSAVE is scheduled, BGSAVE
/// during a rewrite is refused or scheduled, and each scheduled job runs
/// when the other ends. The replies are compared with redis-server's.
#[test]
fn rewrites_and_bgsaves_take_turns_as_in_redis() {
    let script = |kind: Kind| -> Vec<String> {
        let dir = data_dir();
        // About half a second per child: 10 keys, 50 ms each.
        let server = start_in(kind, dir.path(), &["--rdb-key-save-delay", "50000"]);
        let mut c = server.raw();
        for i in 0..10 {
            c.cmd(&["SET", &format!("k{i}"), "v"]);
        }
        let mut replies = vec![
            c.cmd(&["BGSAVE"]),
            c.cmd(&["BGREWRITEAOF"]),
            info_field(&mut c, "aof_rewrite_scheduled"),
            c.cmd(&["BGSAVE"]),
            c.cmd(&["SAVE"]),
        ];
        // The scheduled rewrite starts once the BGSAVE ended.
        let deadline = Instant::now() + Duration::from_secs(20);
        while info_field(&mut c, "aof_rewrite_in_progress") != "1" {
            assert!(Instant::now() < deadline, "the scheduled rewrite never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        replies.extend([c.cmd(&["BGSAVE"]), c.cmd(&["BGSAVE", "SCHEDULE"]), c.cmd(&["BGREWRITEAOF"])]);
        c.cmd(&["MULTI"]);
        c.cmd(&["BGREWRITEAOF"]);
        replies.push(c.cmd(&["EXEC"]));
        wait_rewrite_done(&mut c);
        // The scheduled BGSAVE runs after the rewrite.
        while info_field(&mut c, "rdb_saves") != "2" || info_field(&mut c, "rdb_bgsave_in_progress") != "0" {
            assert!(Instant::now() < deadline, "the scheduled BGSAVE never ran");
            std::thread::sleep(Duration::from_millis(5));
        }
        replies.extend([info_field(&mut c, "aof_rewrites"), info_field(&mut c, "aof_last_bgrewrite_status")]);
        replies
    };
    let redis = script(Kind::Redis);
    let cinnabar = script(Kind::Cinnabar);
    assert_eq!(cinnabar, redis);
    assert_eq!(redis[1], "+Background append only file rewriting scheduled\r\n");
}

/// CONFIG SET appendonly yes while a BGSAVE runs: the first rewrite waits
/// for it, and what is written meanwhile is kept once the AOF is on.
#[test]
fn turning_the_aof_on_during_a_bgsave_waits_for_it() {
    let dir = data_dir();
    let d = dir.path().to_str().unwrap();
    let args =
        ["--dir", d, "--rdb-key-save-delay", "50000", "--enable-debug-command", "yes", "--appendfsync", "always"];
    let server = ServerProcess::cinnabar(&args);
    let mut c = server.raw();
    for i in 0..10 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(info_field(&mut c, "aof_rewrite_scheduled"), "1");
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    c.cmd(&["SET", "while-waiting", "1"]);
    wait_rewrite_done(&mut c);
    c.cmd(&["SET", "after", "1"]);
    let expected = digest(&server);
    drop(server);
    assert_reloads(dir.path(), &expected);
}

/// kill -9 of the server during a rewrite: the child goes with it (its base
/// could never be installed), and the AOF as it was loads with every
/// acknowledged write, including those made during the rewrite.
#[test]
fn a_rewrite_child_dies_with_its_server_and_the_aof_still_loads() {
    let dir = data_dir();
    let server = start_in(Kind::Cinnabar, dir.path(), &["--rdb-key-save-delay", "100000"]);
    let mut c = server.raw();
    for i in 0..20 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(c.cmd(&["BGREWRITEAOF"]), "+Background append only file rewriting started\r\n");
    c.cmd(&["SET", "during", "1"]);
    let children = server.children();
    assert_eq!(children.len(), 1);
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{}", children[0])).exists() {
        assert!(Instant::now() < deadline, "the rewrite child outlived its server");
        std::thread::sleep(Duration::from_millis(20));
    }
    let restarted = start_in(Kind::Cinnabar, dir.path(), &[]);
    assert_eq!(restarted.raw().cmd(&["DBSIZE"]), ":21\r\n");
    let (ok, report) = redis_check_aof(&manifest_path(dir.path()));
    assert!(ok, "{report}");
}

/// While the AOF replays at start-up, connections are accepted and answered
/// -LOADING (INFO says `loading:1`), as Redis answers them; then the whole
/// dataset is there.
#[test]
fn clients_get_loading_while_the_aof_loads() {
    let dir = data_dir();
    {
        let server = start_in(Kind::Cinnabar, dir.path(), &[]);
        let mut c = server.raw();
        for i in 0..3000 {
            c.cmd(&["SET", &format!("k{i}"), "v"]);
        }
    }
    let port = common::free_port();
    let d = dir.path().to_str().unwrap();
    // 0.5 ms a command: the replay takes about 1.5 s.
    let mut child = Command::new(common::cinnabar_binary())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir", d, "--appendonly", "yes"])
        .args(["--key-load-delay", "500"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break RawConn::connect(port);
        }
        assert!(Instant::now() < deadline, "never listened");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(c.cmd(&["GET", "k1"]), "-LOADING Redis is loading the dataset in memory\r\n");
    assert_eq!(info_field(&mut c, "loading"), "1");
    assert_ne!(info_field(&mut c, "loading_total_bytes"), "0");
    while c.cmd(&["PING"]) != "+PONG\r\n" {
        assert!(Instant::now() < deadline, "the AOF never finished loading");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.cmd(&["DBSIZE"]), ":3000\r\n");
    assert_eq!(info_field(&mut c, "loading"), "0");
    let _ = child.kill();
    let _ = child.wait();
}
