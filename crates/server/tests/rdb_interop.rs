//! RDB files and DUMP payloads against the real redis-server 7.0: a dataset
//! with every type and encoding written by either server loads in the other
//! with the same DEBUG DIGEST (and passes redis-check-rdb), DUMP/RESTORE work
//! both ways, and the snapshot driver behaves under concurrent writes,
//! failures, corrupt files, a killed child and a slow start-up load.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Kind, RawConn, ServerProcess};

const DEBUG: [&str; 2] = ["--enable-debug-command", "yes"];

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(con: &mut redis::Connection, args: &[&str]) -> String {
    let value = cmd(con, args);
    redis::from_redis_value::<String>(&value).unwrap_or_else(|_| format!("{value:?}"))
}

/// Fills the current server with every type in each of its encodings,
/// across several databases.
fn populate(con: &mut redis::Connection) {
    cmd(con, &["SET", "int", "12345"]);
    cmd(con, &["SET", "bigint", "-9223372036854775808"]);
    cmd(con, &["SET", "embstr", "hello"]);
    cmd(con, &["SET", "raw", &"compressible ".repeat(40)]);
    cmd(con, &["SET", "ttl", "v", "PX", "100000000"]);
    cmd(con, &["PFADD", "hll-sparse", "a", "b", "c"]);
    let many: Vec<String> = (0..3000).map(|i| format!("e{i}")).collect();
    let mut pfadd = vec!["PFADD", "hll-dense"];
    pfadd.extend(many.iter().map(String::as_str));
    cmd(con, &pfadd);
    for i in 0..2000 {
        cmd(con, &["RPUSH", "list-nodes", &format!("element-{i}"), &i.to_string()]);
    }
    cmd(con, &["RPUSH", "list-small", "a", "1", "-7", "b"]);
    cmd(con, &["HSET", "hash-lp", "f1", "v1", "f2", "2"]);
    for i in 0..600 {
        cmd(con, &["HSET", "hash-ht", &format!("field{i}"), &format!("value{i}")]);
    }
    cmd(con, &["HSET", "hash-long", "f", &"x".repeat(100)]);
    cmd(con, &["SADD", "set-int", "1", "2", "-300", "70000", "5000000000"]);
    cmd(con, &["SADD", "set-ht", "a", "b", "c"]);
    for i in 0..600 {
        cmd(con, &["SADD", "set-bigint", &i.to_string()]);
    }
    cmd(con, &["ZADD", "zset-lp", "1", "a", "2.5", "b", "-inf", "c"]);
    for i in 0..300 {
        cmd(con, &["ZADD", "zset-sl", &format!("{}", i as f64 / 3.0), &format!("member{i}")]);
    }
    for i in 1..=250 {
        let id = format!("{i}-1");
        if i % 5 == 0 {
            cmd(con, &["XADD", "stream", &id, "other", "field"]);
        } else {
            cmd(con, &["XADD", "stream", &id, "a", &i.to_string(), "b", "x"]);
        }
    }
    cmd(con, &["XDEL", "stream", "7-1", "120-1"]);
    cmd(con, &["XGROUP", "CREATE", "stream", "g1", "0"]);
    cmd(con, &["XGROUP", "CREATE", "stream", "g2", "$"]);
    cmd(con, &["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "stream", ">"]);
    cmd(con, &["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "stream", ">"]);
    cmd(con, &["XGROUP", "CREATECONSUMER", "stream", "g1", "carol"]);
    cmd(con, &["XACK", "stream", "g1", "1-1"]);
    cmd(con, &["SELECT", "3"]);
    cmd(con, &["SET", "in-db-3", "x"]);
    cmd(con, &["RPUSH", "l3", "a"]);
    cmd(con, &["SELECT", "0"]);
}

fn digest(con: &mut redis::Connection) -> String {
    text(con, &["DEBUG", "DIGEST"])
}

/// Keys of db 0 with their encodings, sorted.
fn encodings(con: &mut redis::Connection) -> Vec<(String, String)> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).unwrap();
    let mut out: Vec<(String, String)> =
        keys.into_iter().map(|k| (k.clone(), text(con, &["OBJECT", "ENCODING", &k]))).collect();
    out.sort();
    out
}

fn check_rdb(path: &Path) {
    let out = Command::new("redis-check-rdb").arg(path).output().expect("redis-check-rdb runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && report.contains("RDB looks OK"), "{report}");
}

#[test]
fn snapshots_cross_load_between_cinnabar_and_redis() {
    let cinnabar = ServerProcess::cinnabar(&[&DEBUG[..], &["--save", ""]].concat());
    let mut ours = cinnabar.client();
    populate(&mut ours);
    let our_digest = digest(&mut ours);
    assert_eq!(text(&mut ours, &["SAVE"]), "OK");
    // Encodings as loading gives them (a PFADD string is raw until reloaded).
    assert_eq!(text(&mut ours, &["DEBUG", "RELOAD", "NOSAVE"]), "OK");
    assert_eq!(digest(&mut ours), our_digest);
    let our_encodings = encodings(&mut ours);
    let our_file = cinnabar.dir.path().join("dump.rdb");
    check_rdb(&our_file);

    // redis-server loads Cinnabar's file: same data, same encodings.
    let dir = cinnabar.dir.path().to_str().unwrap();
    let redis = ServerProcess::redis(&[&DEBUG[..], &["--dir", dir]].concat());
    let mut theirs = redis.client();
    assert_eq!(digest(&mut theirs), our_digest);
    assert_eq!(encodings(&mut theirs), our_encodings);
    drop(ours);

    // Cinnabar loads redis-server's file, with a plain quicklist node added.
    cmd(&mut theirs, &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    cmd(&mut theirs, &["RPUSH", "list-plain", "a", &"p".repeat(500), "b"]);
    let their_digest = digest(&mut theirs);
    let their_encodings = encodings(&mut theirs);
    assert_eq!(text(&mut theirs, &["SAVE"]), "OK");
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(&our_file, copy.path().join("dump.rdb")).unwrap();
    let reloaded = ServerProcess::cinnabar(&[&DEBUG[..], &["--dir", copy.path().to_str().unwrap()]].concat());
    let mut ours = reloaded.client();
    assert_eq!(digest(&mut ours), their_digest);
    assert_eq!(encodings(&mut ours), their_encodings);
    assert!(reloaded.log().contains("Done loading RDB, keys loaded: "), "{}", reloaded.log());
}

/// STRLEN and the last bytes of the 100 MB string.
fn big_string_shape(con: &mut redis::Connection) -> (String, String) {
    (text(con, &["STRLEN", "big"]), text(con, &["GETRANGE", "big", "-3", "-1"]))
}

#[test]
fn a_100_mb_string_crosses_both_ways() {
    // Uncompressed, so the debug build's LZF does not dominate the run time.
    let args = ["--save", "", "--rdbcompression", "no"];
    let cinnabar = ServerProcess::cinnabar(&args);
    let mut ours = cinnabar.client();
    cmd(&mut ours, &["SETRANGE", "big", &(100 * 1024 * 1024 - 3).to_string(), "end"]);
    let shape = big_string_shape(&mut ours);
    assert_eq!(shape, ("104857600".to_string(), "end".to_string()));
    assert_eq!(text(&mut ours, &["SAVE"]), "OK");
    let dir = cinnabar.dir.path().to_str().unwrap();
    let redis = ServerProcess::redis(&[&args[..], &["--dir", dir]].concat());
    let mut theirs = redis.client();
    assert_eq!(big_string_shape(&mut theirs), shape);
    assert_eq!(text(&mut theirs, &["SAVE"]), "OK");
    drop(ours);
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(cinnabar.dir.path().join("dump.rdb"), copy.path().join("dump.rdb")).unwrap();
    let reloaded = ServerProcess::cinnabar(&[&args[..], &["--dir", copy.path().to_str().unwrap()]].concat());
    assert_eq!(big_string_shape(&mut reloaded.client()), shape);
}

#[test]
fn dump_and_restore_work_both_ways() {
    let cinnabar = ServerProcess::cinnabar(&DEBUG);
    let redis = ServerProcess::redis(&DEBUG);
    let (mut ours, mut theirs) = (cinnabar.client(), redis.client());
    populate(&mut ours);
    populate(&mut theirs);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut ours).unwrap();
    // The copies are restored without a TTL, which the digest would show.
    for key in keys.iter().filter(|k| *k != "ttl") {
        let copy = format!("{key}-copy");
        for forward in [true, false] {
            let (from, to) = if forward { (&mut ours, &mut theirs) } else { (&mut theirs, &mut ours) };
            let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(from).unwrap();
            let _: () = redis::cmd("RESTORE").arg(&copy).arg(0).arg(&payload).arg("REPLACE").query(to).unwrap();
            let original = text(from, &["DEBUG", "DIGEST-VALUE", key]);
            assert_eq!(text(to, &["DEBUG", "DIGEST-VALUE", &copy]), original, "{key}");
        }
        let encoding = text(&mut theirs, &["OBJECT", "ENCODING", &copy]);
        assert_eq!(text(&mut ours, &["OBJECT", "ENCODING", &copy]), encoding, "{key}");
    }
}

#[test]
fn restore_options_and_errors_match_redis() {
    let servers = [ServerProcess::cinnabar(&DEBUG), ServerProcess::redis(&DEBUG)];
    let mut replies = Vec::new();
    for server in &servers {
        let mut con = server.client();
        cmd(&mut con, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
        cmd(&mut con, &["RPUSH", "src", "a", "b"]);
        let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut con).unwrap();
        let mut bad = payload.clone();
        bad[1] ^= 1;
        let mut raw = server.raw();
        let mut call = |args: &[&[u8]]| String::from_utf8_lossy(&raw.call(args)).into_owned();
        let p = payload.as_slice();
        replies.push(vec![
            call(&[b"RESTORE", b"src", b"0", p]),
            call(&[b"RESTORE", b"dst", b"-1", p]),
            call(&[b"RESTORE", b"dst", b"x", p]),
            call(&[b"RESTORE", b"dst", b"0", &bad]),
            call(&[b"RESTORE", b"dst", b"0", b"short"]),
            call(&[b"RESTORE", b"dst", b"0", p, b"FREQ", b"300"]),
            call(&[b"RESTORE", b"dst", b"0", p, b"IDLETIME", b"-1"]),
            call(&[b"RESTORE", b"dst", b"0", p, b"BOGUS"]),
            call(&[b"RESTORE", b"dst", b"0", p, b"FREQ", b"42"]),
            call(&[b"OBJECT", b"FREQ", b"dst"]),
            call(&[b"RESTORE", b"dst", b"0", p]),
            call(&[b"RESTORE", b"dst", b"1", p, b"REPLACE", b"ABSTTL"]),
            call(&[b"EXISTS", b"dst"]),
            call(&[b"RESTORE", b"dst", b"100000", p, b"REPLACE"]),
            (call(&[b"PTTL", b"dst"]).trim_start_matches(':').trim().parse::<i64>().unwrap() > 90_000).to_string(),
            call(&[b"DUMP", b"missing"]),
        ]);
    }
    assert_eq!(replies[0], replies[1]);
}

/// The value of one INFO field.
fn info_field(raw: &mut RawConn, section: &str, field: &str) -> String {
    let info = raw.cmd(&["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} not in {info}"))
        .to_string()
}

fn wait_for_bgsave(raw: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(raw, "persistence", "rdb_bgsave_in_progress") == "1" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts redis-server on a copy of `file` and returns its DEBUG DIGEST.
fn digest_in_redis(file: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(file, dir.path().join("dump.rdb")).unwrap();
    let redis = ServerProcess::redis(&[&DEBUG[..], &["--dir", dir.path().to_str().unwrap()]].concat());
    digest(&mut redis.client())
}

#[test]
fn bgsave_snapshots_the_moment_of_the_fork() {
    let cinnabar = ServerProcess::cinnabar(&[&DEBUG[..], &["--save", "", "--rdb-key-save-delay", "2000"]].concat());
    let mut con = cinnabar.client();
    for i in 0..300 {
        cmd(&mut con, &["SET", &format!("key:{i}"), &i.to_string()]);
    }
    let at_fork = digest(&mut con);
    assert_eq!(text(&mut con, &["BGSAVE"]), "Background saving started");
    let mut raw = cinnabar.raw();
    assert_eq!(raw.cmd(&["BGSAVE"]), "-ERR Background save already in progress\r\n");
    assert_eq!(raw.cmd(&["SAVE"]), "-ERR Background save already in progress\r\n");
    assert_eq!(info_field(&mut raw, "persistence", "rdb_bgsave_in_progress"), "1");
    for i in 0..100 {
        cmd(&mut con, &["SET", &format!("key:{i}"), "changed"]);
    }
    wait_for_bgsave(&mut raw);
    assert_eq!(info_field(&mut raw, "persistence", "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut raw, "persistence", "rdb_changes_since_last_save"), "100");
    assert_ne!(info_field(&mut raw, "stats", "latest_fork_usec"), "0");
    assert_eq!(info_field(&mut raw, "stats", "total_forks"), "1");
    assert!(cinnabar.log().contains("Background saving terminated with success"), "{}", cinnabar.log());
    assert_eq!(digest_in_redis(&cinnabar.dir.path().join("dump.rdb")), at_fork);
}

#[test]
fn failed_bgsave_stops_writes_with_misconf_like_redis() {
    let mut replies = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &["--save", "3600 1"]);
        // A non-empty directory where the dump should go: the rename fails.
        std::fs::create_dir_all(server.dir.path().join("dump.rdb").join("blocker")).unwrap();
        let mut raw = server.raw();
        let started = raw.cmd(&["BGSAVE"]);
        wait_for_bgsave(&mut raw);
        let status = info_field(&mut raw, "persistence", "rdb_last_bgsave_status");
        replies.push((started, status, raw.cmd(&["SET", "k", "v"]), raw.cmd(&["GET", "k"])));
        raw.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
        assert_eq!(raw.cmd(&["SET", "k", "v"]), "+OK\r\n");
    }
    assert!(replies[0].2.starts_with("-MISCONF "), "{replies:?}");
    assert_eq!(replies[0], replies[1]);
}

/// Runs Cinnabar in `dir` until it exits; returns its status and log.
fn run_until_exit(dir: &Path) -> (Option<i32>, String) {
    let port = common::free_port().to_string();
    let log = dir.join("server.log");
    let mut child = Command::new(common::cinnabar_binary())
        .args(["--port", &port, "--bind", "127.0.0.1"])
        .current_dir(dir)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

fn saved_dump() -> (tempfile::TempDir, Vec<u8>) {
    let server = ServerProcess::cinnabar(&["--save", ""]);
    let mut con = server.client();
    populate(&mut con);
    cmd(&mut con, &["SAVE"]);
    let bytes = std::fs::read(server.dir.path().join("dump.rdb")).unwrap();
    (tempfile::tempdir().unwrap(), bytes)
}

#[test]
fn corrupt_and_truncated_dumps_are_refused_at_start_up() {
    let (dir, good) = saved_dump();
    let path = dir.path().join("dump.rdb");
    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x20;
    let cases: [(&[u8], &str); 3] = [
        (&good[..good.len() / 3], "Terminating server after rdb file reading failure."),
        (&flipped, "Terminating server after rdb file reading failure."),
        (b"NOTREDIS0010", "Wrong signature trying to load DB from file"),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&path, bytes).unwrap();
        let (status, log) = run_until_exit(dir.path());
        assert_eq!(status, Some(1), "{log}");
        assert!(log.contains(expected), "{log}");
        assert!(!log.contains("Ready to accept connections"), "{log}");
    }
}

/// The pid in the log line "Background saving started by pid N".
fn bgsave_child_pid(log: &str) -> i32 {
    let line = log.lines().rev().find(|l| l.contains("Background saving started by pid")).expect("bgsave logged");
    line.rsplit(' ').next().unwrap().trim().parse().unwrap()
}

#[test]
fn a_killed_bgsave_child_leaves_the_previous_dump_intact() {
    let server = ServerProcess::cinnabar(&["--save", "", "--rdb-key-save-delay", "20000"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "before", "1"]);
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    raw.cmd(&["SAVE"]);
    let path = server.dir.path().join("dump.rdb");
    let before = std::fs::read(&path).unwrap();
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "20000"]);
    for i in 0..200 {
        raw.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    let pid = bgsave_child_pid(&server.log());
    std::thread::sleep(Duration::from_millis(100));
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    wait_for_bgsave(&mut raw);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!server.dir.path().join(format!("temp-{pid}.rdb")).exists());
    assert_eq!(info_field(&mut raw, "persistence", "rdb_last_bgsave_status"), "err");
    assert!(server.log().contains("Background saving terminated by signal 9"), "{}", server.log());
}

#[test]
fn clients_get_loading_while_the_dump_loads() {
    let (dir, good) = saved_dump();
    std::fs::write(dir.path().join("dump.rdb"), good).unwrap();
    let port = common::free_port();
    let mut child = Command::new(common::cinnabar_binary())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--key-load-delay", "100000"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut raw = loop {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            drop(stream);
            break RawConn::connect(port);
        }
        assert!(Instant::now() < deadline, "never listened");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(raw.cmd(&["GET", "int"]), "-LOADING Redis is loading the dataset in memory\r\n");
    assert_eq!(info_field(&mut raw, "persistence", "loading"), "1");
    assert!(raw.cmd(&["INFO", "persistence"]).contains("loading_total_bytes:"));
    raw.cmd(&["CONFIG", "SET", "key-load-delay", "0"]);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn shutdown_saves_when_save_points_exist_and_not_with_nosave() {
    let server = ServerProcess::cinnabar(&[]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "kept", "yes"]);
    raw.cmd(&["FLUSHALL"]);
    // FLUSHALL with save points writes an empty dump at once.
    assert!(server.dir.path().join("dump.rdb").exists());
    raw.cmd(&["SET", "kept", "yes"]);
    let mut server = server;
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(server.log().contains("Saving the final RDB snapshot before exiting."), "{}", server.log());
    let dir: PathBuf = server.dir.path().into();
    let restarted = ServerProcess::cinnabar(&["--dir", dir.to_str().unwrap()]);
    assert_eq!(restarted.raw().cmd(&["GET", "kept"]), "$3\r\nyes\r\n");

    let nosave = ServerProcess::cinnabar(&[]);
    let mut raw = nosave.raw();
    raw.cmd(&["SET", "k", "v"]);
    raw.send_command(&[b"SHUTDOWN", b"NOSAVE"]);
    let mut nosave = nosave;
    assert_eq!(nosave.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!nosave.dir.path().join("dump.rdb").exists());
}

#[test]
fn debug_reload_keeps_the_dataset() {
    let server = ServerProcess::cinnabar(&[&DEBUG[..], &["--save", ""]].concat());
    let mut con = server.client();
    populate(&mut con);
    let before = digest(&mut con);
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(text(&mut con, &["DEBUG", "RELOAD"]), "OK");
    assert_eq!(digest(&mut con), before);
    // The reload saved first.
    let lastsave: u64 = text(&mut con, &["LASTSAVE"]).parse().unwrap();
    assert!(lastsave >= started, "{lastsave} < {started}");
    assert!(server.log().contains("DB reloaded by DEBUG RELOAD"));
}

#[test]
fn save_points_start_a_bgsave_from_the_cron() {
    let server = ServerProcess::cinnabar(&["--save", "1 2"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "a", "1"]);
    raw.cmd(&["SET", "b", "2"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("Background saving terminated with success") {
        assert!(Instant::now() < deadline, "no save point fired: {}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.log().contains("2 changes in 1 seconds. Saving..."), "{}", server.log());
    assert_eq!(info_field(&mut raw, "persistence", "rdb_changes_since_last_save"), "0");
    assert!(server.dir.path().join("dump.rdb").exists());
}

#[test]
fn a_bgsave_child_outliving_its_parent_finishes_the_dump_and_frees_the_port() {
    // 300 keys at 10 ms each: the child runs for about 3 seconds.
    let mut server = ServerProcess::cinnabar(&["--save", "", "--rdb-key-save-delay", "10000"]);
    let mut raw = server.raw();
    for i in 0..300 {
        raw.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));
    // The child closes the inherited listening socket as soon as it starts
    // (allow it a moment to be scheduled): the port is free long before
    // the child is done.
    let deadline = Instant::now() + Duration::from_secs(1);
    while std::net::TcpListener::bind(("127.0.0.1", server.port)).is_err() {
        assert!(Instant::now() < deadline, "the child still holds the listening port");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dump = server.dir.path().join("dump.rdb");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dump.exists() {
        assert!(Instant::now() < deadline, "the orphaned child never renamed its dump");
        std::thread::sleep(Duration::from_millis(20));
    }
    check_rdb(&dump);
}

/// Saves a key restored with `option value` on `from` and returns
/// `OBJECT <query>` of that key once `to` has loaded the dump.
fn access_meta_after_transfer(from: Kind, to: Kind, policy: &str, option: &str, value: &str, query: &str) -> i64 {
    let args = ["--save", "", "--maxmemory-policy", policy];
    let source = ServerProcess::start(from, &args);
    let mut con = source.client();
    cmd(&mut con, &["SET", "src", "v"]);
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut con).unwrap();
    let _: () = redis::cmd("RESTORE").arg("k").arg(0).arg(&payload).arg(option).arg(value).query(&mut con).unwrap();
    assert_eq!(text(&mut con, &["SAVE"]), "OK");
    let dir = source.dir.path().to_str().unwrap();
    let target = ServerProcess::start(to, &[&args[..], &["--dir", dir]].concat());
    let reply = text(&mut target.client(), &["OBJECT", query, "k"]);
    reply.parse().unwrap()
}

#[test]
fn lfu_counters_and_lru_idle_times_travel_in_the_dump() {
    for (from, to) in [(Kind::Cinnabar, Kind::Redis), (Kind::Redis, Kind::Cinnabar)] {
        assert_eq!(access_meta_after_transfer(from, to, "allkeys-lfu", "FREQ", "100", "FREQ"), 100);
        let idle = access_meta_after_transfer(from, to, "allkeys-lru", "IDLETIME", "1000", "IDLETIME");
        assert!((1000..1010).contains(&idle), "{from:?} -> {to:?}: idle {idle}");
    }
}

/// A small tmpfs mounted for one test (root only), unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(kilobytes: u32) -> Option<SmallDisk> {
        let path = tempfile::tempdir().unwrap().keep();
        let size = format!("size={kilobytes}k");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            eprintln!("cannot mount a tmpfs (not root?): the full-disk case is not exercised");
            let _ = std::fs::remove_dir(&path);
            return None;
        }
        Some(SmallDisk { path })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).output();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Bytes no compressor shrinks (xorshift).
fn incompressible(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// BGSAVE on a full disk: reported (status err, MISCONF), the previous dump
/// is left as it was and no partial file stays behind.
#[test]
fn bgsave_on_a_full_disk_keeps_the_previous_dump() {
    let Some(disk) = SmallDisk::mount(512) else { return };
    let dir = disk.path.to_str().unwrap();
    let server = ServerProcess::cinnabar(&["--dir", dir, "--save", "3600 1"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "small", "1"]);
    assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
    let dump = disk.path.join("dump.rdb");
    let before = std::fs::read(&dump).unwrap();
    let big = incompressible(700 * 1024);
    raw.call(&[b"SET", b"big", &big]);
    assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    wait_for_bgsave(&mut raw);
    assert_eq!(info_field(&mut raw, "persistence", "rdb_last_bgsave_status"), "err");
    assert!(raw.cmd(&["SET", "k", "v"]).starts_with("-MISCONF "));
    assert_eq!(std::fs::read(&dump).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(&disk.path)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(server.log().contains("No space left on device"), "{}", server.log());
    drop(server);
}
