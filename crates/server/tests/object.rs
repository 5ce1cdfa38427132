//! OBJECT under the settings a one-connection corpus cannot choose: LFU and
//! LRU eviction policies (FREQ counters, IDLETIME, shared integers) and idle
//! time measured across a real wait. Every scenario runs against Cinnabar and
//! the real redis-server, which must agree.

mod common;

use common::{Kind, ServerProcess};
use std::time::Duration;

fn run(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    redis::cmd(args[0]).arg(&args[1..]).query(con)
}

fn int(con: &mut redis::Connection, args: &[&str]) -> i64 {
    redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The raw reply, for error texts compared byte for byte.
fn raw_reply(server: &ServerProcess, args: &[&str]) -> String {
    server.raw().cmd(args)
}

#[test]
fn lfu_policy_counts_accesses_and_hides_idle_time() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &["--maxmemory-policy", "allkeys-lfu", "--maxmemory", "100mb"]);
        let mut con = server.client();
        run(&mut con, &["SET", "k", "v"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "FREQ", "k"]), 5, "{kind:?}: new keys start at 5");
        run(&mut con, &["GET", "k"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "FREQ", "k"]), 6, "{kind:?}: the first access always counts");
        assert_eq!(int(&mut con, &["OBJECT", "FREQ", "k"]), 6, "{kind:?}: OBJECT itself is no access");
        run(&mut con, &["SET", "m", "v"]).unwrap();
        run(&mut con, &["MSET", "m", "w"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "FREQ", "m"]), 6, "{kind:?}: MSET touches, then keeps the counter");
        run(&mut con, &["INCR", "n"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "FREQ", "n"]), 5, "{kind:?}");
        run(&mut con, &["INCR", "n"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "FREQ", "n"]), 6, "{kind:?}: INCR keeps the counter it bumped");
        assert_eq!(
            raw_reply(&server, &["OBJECT", "IDLETIME", "k"]),
            "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
            "{kind:?}"
        );
        // With a memory limit and an LFU policy, small integers are not shared.
        run(&mut con, &["SET", "small", "5"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "REFCOUNT", "small"]), 1, "{kind:?}");
    }
}

#[test]
fn lru_policy_with_a_limit_stops_sharing_integers() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &["--maxmemory-policy", "allkeys-lru", "--maxmemory", "100mb"]);
        let mut con = server.client();
        run(&mut con, &["SET", "small", "5"]).unwrap();
        assert_eq!(int(&mut con, &["OBJECT", "REFCOUNT", "small"]), 1, "{kind:?}");
        assert!(raw_reply(&server, &["OBJECT", "FREQ", "small"])
            .starts_with("-ERR An LFU maxmemory policy is not selected"));
    }
}

#[test]
fn idle_time_grows_until_the_key_is_accessed() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &[]);
        let mut con = server.client();
        run(&mut con, &["SET", "k", "v"]).unwrap();
        run(&mut con, &["SET", "other", "v"]).unwrap();
        std::thread::sleep(Duration::from_millis(2200));
        assert!(int(&mut con, &["OBJECT", "IDLETIME", "k"]) >= 1, "{kind:?}");
        // OBJECT does not count as an access; GET does.
        assert!(int(&mut con, &["OBJECT", "IDLETIME", "k"]) >= 1, "{kind:?}");
        run(&mut con, &["GET", "k"]).unwrap();
        assert!(
            int(&mut con, &["OBJECT", "IDLETIME", "k"]) < int(&mut con, &["OBJECT", "IDLETIME", "other"]),
            "{kind:?}"
        );
    }
}

/// With `lfu-log-factor 0` every access adds exactly one to the LFU counter, so
/// FREQ shows how many times each command touched its key.
#[test]
fn each_command_touches_its_keys_as_often_as_in_redis() {
    let commands: &[&[&str]] = &[
        &["GET", "k"],
        &["MGET", "k", "k"],
        &["STRLEN", "k"],
        &["GETRANGE", "k", "0", "1"],
        &["SET", "k", "w"],
        &["SET", "k", "w", "NX"],
        &["SET", "k", "w", "XX", "GET"],
        &["SETNX", "k", "w"],
        &["SETEX", "k", "100", "w"],
        &["GETSET", "k", "w"],
        &["MSET", "k", "w"],
        &["MSETNX", "k", "w"],
        &["GETEX", "k"],
        &["GETEX", "k", "PX", "100000"],
        &["APPEND", "k", "x"],
        &["SETRANGE", "k", "1", "x"],
        &["INCR", "n"],
        &["INCRBY", "n", "1000000"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["LCS", "k", "n"],
        &["SETBIT", "k", "3", "1"],
        &["GETBIT", "k", "3"],
        &["BITCOUNT", "k"],
        &["BITPOS", "k", "1"],
        &["BITFIELD", "k", "GET", "u8", "0"],
        &["BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u8", "0"],
        &["BITFIELD_RO", "k", "GET", "u8", "0"],
        &["BITOP", "OR", "k", "k", "n"],
        &["OBJECT", "ENCODING", "k"],
    ];
    let args = ["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0", "--maxmemory", "100mb"];
    let counters = |kind: Kind| -> Vec<(i64, i64)> {
        let server = ServerProcess::start(kind, &args);
        let mut con = server.client();
        commands
            .iter()
            .map(|cmd| {
                // Fresh keys, counters at 5.
                run(&mut con, &["DEL", "k", "n"]).unwrap();
                run(&mut con, &["SET", "k", "v"]).unwrap();
                run(&mut con, &["SET", "n", "12345678"]).unwrap();
                run(&mut con, cmd).unwrap();
                (int(&mut con, &["OBJECT", "FREQ", "k"]), int(&mut con, &["OBJECT", "FREQ", "n"]))
            })
            .collect()
    };
    let ours = counters(Kind::Cinnabar);
    let theirs = counters(Kind::Redis);
    for ((cmd, o), t) in commands.iter().zip(&ours).zip(&theirs) {
        assert_eq!(o, t, "{cmd:?}: (FREQ k, FREQ n) differ");
    }
    assert!(theirs.iter().any(|&(k, _)| k > 6), "some command touches a key twice");
}
