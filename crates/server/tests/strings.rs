//! String commands over time and across connections: expiry set by SET's and
//! GETEX's options (with real waits), TTLs kept or cleared by other writes, and
//! MSET/MSETNX seen atomically from a second connection. Every scenario runs
//! against Cinnabar and against the real redis-server, which must agree.

mod common;

use common::{Kind, ServerProcess};
use std::time::{Duration, Instant};

fn both(scenario: impl Fn(&mut redis::Connection, Kind)) {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &[]);
        scenario(&mut server.client(), kind);
    }
}

fn get(con: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(con).expect("GET")
}

fn run(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Polls until `key` is gone (lazy expiry on access); false if it never goes.
fn becomes_absent(con: &mut redis::Connection, key: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if get(con, key).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Waits well past a short TTL without touching the key.
fn wait_past(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms * 3 + 200));
}

#[test]
fn set_expiry_options_expire_the_key() {
    both(|con, kind| {
        let far =
            (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 300).to_string();
        let cases: &[&[&str]] = &[
            &["SET", "px", "v", "PX", "100"],
            &["SET", "ex", "v", "EX", "1"],
            &["SET", "pxat", "v", "PXAT", &far],
            &["PSETEX", "psetex", "100", "v"],
            &["SETEX", "setex", "1", "v"],
        ];
        for args in cases {
            run(con, args);
        }
        for args in cases {
            assert!(becomes_absent(con, args[1]), "{kind:?}: {args:?} never expired");
        }
    });
}

#[test]
fn long_ttls_keep_the_key() {
    both(|con, kind| {
        run(con, &["SET", "k", "v", "EX", "1000"]);
        run(con, &["SET", "k2", "v", "PX", "1000000"]);
        wait_past(100);
        assert_eq!(get(con, "k").as_deref(), Some("v"), "{kind:?}");
        assert_eq!(get(con, "k2").as_deref(), Some("v"), "{kind:?}");
    });
}

#[test]
fn getex_sets_and_removes_ttls() {
    both(|con, kind| {
        run(con, &["SET", "a", "1"]);
        run(con, &["SET", "b", "2", "PX", "200"]);
        run(con, &["SET", "c", "3"]);
        assert_eq!(run(con, &["GETEX", "a", "PX", "100"]), redis::Value::BulkString(b"1".to_vec()));
        run(con, &["GETEX", "b", "PERSIST"]);
        run(con, &["GETEX", "c"]);
        assert!(becomes_absent(con, "a"), "{kind:?}: GETEX PX did not expire the key");
        wait_past(200);
        assert_eq!(get(con, "b").as_deref(), Some("2"), "{kind:?}: GETEX PERSIST kept the TTL");
        assert_eq!(get(con, "c").as_deref(), Some("3"), "{kind:?}: plain GETEX added a TTL");
        // An absolute time in the past deletes at once.
        run(con, &["GETEX", "c", "EXAT", "1"]);
        assert_eq!(get(con, "c"), None, "{kind:?}");
    });
}

#[test]
fn writes_keep_or_clear_the_ttl_like_redis() {
    both(|con, kind| {
        // These edit the value in place or say KEEPTTL: the TTL stays.
        let keeping: &[(&str, &[&str])] = &[
            ("append", &["APPEND", "append", "x"]),
            ("setrange", &["SETRANGE", "setrange", "0", "x"]),
            ("incr", &["INCR", "incr"]),
            ("incrbyfloat", &["INCRBYFLOAT", "incrbyfloat", "1.5"]),
            ("setbit", &["SETBIT", "setbit", "0", "1"]),
            ("keepttl", &["SET", "keepttl", "2", "KEEPTTL"]),
            ("bitfield", &["BITFIELD", "bitfield", "SET", "u8", "0", "1"]),
        ];
        // These replace the value: the TTL goes.
        let clearing: &[(&str, &[&str])] =
            &[("set", &["SET", "set", "2"]), ("getset", &["GETSET", "getset", "2"]), ("mset", &["MSET", "mset", "2"])];
        for (key, args) in keeping.iter().chain(clearing) {
            run(con, &["SET", key, "1", "PX", "150"]);
            run(con, args);
        }
        for (key, args) in keeping {
            assert!(becomes_absent(con, key), "{kind:?}: {args:?} dropped the TTL");
        }
        for (key, args) in clearing {
            assert!(get(con, key).is_some(), "{kind:?}: {args:?} kept the TTL");
        }
    });
}

#[test]
fn expired_keys_behave_as_absent_for_writes() {
    both(|con, kind| {
        run(con, &["SET", "k", "old", "PX", "50"]);
        run(con, &["SET", "n", "5", "PX", "50"]);
        run(con, &["SET", "s", "abc", "PX", "50"]);
        wait_past(50);
        assert_eq!(run(con, &["SET", "k", "new", "NX"]), redis::Value::Okay, "{kind:?}");
        assert_eq!(run(con, &["INCR", "n"]), redis::Value::Int(1), "{kind:?}");
        assert_eq!(run(con, &["APPEND", "s", "d"]), redis::Value::Int(1), "{kind:?}");
    });
}

#[test]
fn mset_is_atomic_for_other_connections() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &[]);
        let mut writer = server.client();
        let mut reader = server.client();
        let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
        for round in 0..20 {
            let mut mset = redis::cmd("MSET");
            for k in &keys {
                mset.arg(k).arg(round);
            }
            // The writer runs in another thread so the reader's MGET races it.
            let seen = std::thread::scope(|s| {
                let w = s.spawn(|| mset.query::<redis::Value>(&mut writer).expect("MSET"));
                let seen: Vec<Option<i64>> = redis::cmd("MGET").arg(&keys).query(&mut reader).expect("MGET");
                w.join().expect("writer");
                seen
            });
            assert!(seen.iter().all(|v| *v == seen[0]), "{kind:?}: MGET saw a half-applied MSET: {seen:?}");
        }
        let taken: i64 = redis::cmd("MSETNX").arg("key:0").arg("x").arg("fresh").arg("y").query(&mut writer).unwrap();
        assert_eq!(taken, 0, "{kind:?}");
        let fresh: Option<String> = redis::cmd("GET").arg("fresh").query(&mut reader).unwrap();
        assert_eq!(fresh, None, "{kind:?}: MSETNX set a key although another existed");
    }
}
