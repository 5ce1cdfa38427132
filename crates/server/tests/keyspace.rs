//! Keyspace behaviour a one-connection corpus cannot show: SCAN's guarantee
//! while the keyspace changes under it, active expiry of keys nobody reads,
//! FLUSHALL ASYNC on a large database, and SWAPDB/MOVE/COPY as seen from a
//! second connection. The scenarios that hold for any Redis also run against
//! the real redis-server, so the test itself is checked against the oracle.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Kind, ServerProcess};

/// Upper bound for waiting on background work; the tests assert outcomes,
/// never how fast they came.
const PATIENCE: Duration = Duration::from_secs(60);

fn set_many(con: &mut redis::Connection, prefix: &str, count: usize, ttl_ms: Option<u64>) {
    let mut pipe = redis::pipe();
    for i in 0..count {
        let key = format!("{prefix}{i}");
        pipe.cmd("SET").arg(&key).arg(i).ignore();
        if let Some(ms) = ttl_ms {
            pipe.cmd("PEXPIRE").arg(&key).arg(ms).ignore();
        }
    }
    pipe.query::<()>(con).expect("pipelined SETs");
}

fn del_many(con: &mut redis::Connection, prefix: &str, count: usize) {
    let mut pipe = redis::pipe();
    for i in 0..count {
        pipe.cmd("DEL").arg(format!("{prefix}{i}")).ignore();
    }
    pipe.query::<()>(con).expect("pipelined DELs");
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).expect("DBSIZE")
}

/// A field of INFO, or None while the server has no INFO (or not that field).
fn info_field(con: &mut redis::Connection, field: &str) -> Option<u64> {
    let text: String = redis::cmd("INFO").arg("all").query(con).ok()?;
    text.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')?.trim().parse().ok())
}

/// Polls `done` until it holds; panics (rather than hangs) after `PATIENCE`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Walks the whole keyspace with SCAN while keys come and go between calls
/// (enough of them to make the table grow, then shrink) and checks that every
/// key present for the whole walk was returned.
fn scan_survives_churn(kind: Kind) {
    let server = ServerProcess::start(kind, &[]);
    let mut con = server.client();
    set_many(&mut con, "stable:", 1000, None);
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    let mut step = 0;
    loop {
        let (next, keys): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(20).query(&mut con).expect("SCAN");
        seen.extend(keys);
        cursor = next;
        if cursor == 0 {
            break;
        }
        step += 1;
        match step {
            3 => set_many(&mut con, "churn:", 20_000, None),
            10 => del_many(&mut con, "churn:", 20_000),
            // Give the cron time to start shrinking the emptied table mid-walk.
            11..=14 => std::thread::sleep(Duration::from_millis(150)),
            _ => {
                redis::cmd("SET").arg(format!("extra:{step}")).arg(1).query::<()>(&mut con).expect("SET");
                redis::cmd("DEL").arg(format!("extra:{}", step - 1)).query::<()>(&mut con).expect("DEL");
            }
        }
    }
    let missing: Vec<String> = (0..1000).map(|i| format!("stable:{i}")).filter(|k| !seen.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "{kind:?}: SCAN missed {} stable keys: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn scan_returns_every_key_present_throughout() {
    scan_survives_churn(Kind::Cinnabar);
}

#[test]
fn scan_churn_scenario_holds_on_redis() {
    scan_survives_churn(Kind::Redis);
}

/// 10k keys with a short TTL that no command reads still go away, and
/// `expired_keys` counts them (where INFO exists).
fn active_expiry_removes_unread_keys(kind: Kind) {
    let server = ServerProcess::start(kind, &[]);
    let mut con = server.client();
    let expired_before = info_field(&mut con, "expired_keys");
    // Two databases, so the cycle has to move between them.
    for db in [9, 0] {
        redis::cmd("SELECT").arg(db).query::<()>(&mut con).expect("SELECT");
        set_many(&mut con, "volatile:", 5_000, Some(200));
        set_many(&mut con, "durable:", 100, None);
    }
    // Only DBSIZE and INFO from here on: no command reads the volatile keys.
    for db in [0, 9] {
        redis::cmd("SELECT").arg(db).query::<()>(&mut con).expect("SELECT");
        wait_until("active expiry to remove the volatile keys", || dbsize(&mut con) == 100);
        let durable: u64 = redis::cmd("EXISTS").arg("durable:0").arg("durable:99").query(&mut con).expect("EXISTS");
        assert_eq!(durable, 2);
    }
    if let (Some(before), Some(after)) = (expired_before, info_field(&mut con, "expired_keys")) {
        assert_eq!(after - before, 10_000, "expired_keys counts every key the cycle removed");
    }
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    active_expiry_removes_unread_keys(Kind::Cinnabar);
}

#[test]
fn active_expiry_scenario_holds_on_redis() {
    active_expiry_removes_unread_keys(Kind::Redis);
}

/// FLUSHALL ASYNC leaves empty databases at once and the lazy-free counters
/// (where INFO exists) account for every key freed in the background.
fn flushall_async_frees_in_background(kind: Kind) {
    let server = ServerProcess::start(kind, &[]);
    let mut con = server.client();
    set_many(&mut con, "big:", 100_000, None);
    redis::cmd("SELECT").arg(2).query::<()>(&mut con).expect("SELECT");
    set_many(&mut con, "other:", 1000, Some(100_000));
    redis::cmd("FLUSHALL").arg("ASYNC").query::<()>(&mut con).expect("FLUSHALL ASYNC");
    assert_eq!(dbsize(&mut con), 0);
    // The server keeps serving, and the emptied databases are usable at once.
    redis::cmd("SET").arg("big:1").arg("new").query::<()>(&mut con).expect("SET");
    let value: String = redis::cmd("GET").arg("big:1").query(&mut con).expect("GET");
    assert_eq!(value, "new");
    redis::cmd("SELECT").arg(0).query::<()>(&mut con).expect("SELECT");
    assert_eq!(dbsize(&mut con), 0);
    if info_field(&mut con, "lazyfreed_objects").is_some() {
        wait_until("the lazyfree thread to free 101000 keys", || {
            info_field(&mut con, "lazyfreed_objects") == Some(101_000)
                && info_field(&mut con, "lazyfree_pending_objects") == Some(0)
        });
    }
}

#[test]
fn flushall_async_empties_a_large_database_at_once() {
    flushall_async_frees_in_background(Kind::Cinnabar);
}

#[test]
fn flushall_async_scenario_holds_on_redis() {
    flushall_async_frees_in_background(Kind::Redis);
}

/// SWAPDB, MOVE and COPY change what a client that selected another database sees.
fn cross_database_changes_are_visible(kind: Kind) {
    let server = ServerProcess::start(kind, &[]);
    let mut zero = server.client();
    let mut one = server.client();
    redis::cmd("SELECT").arg(1).query::<()>(&mut one).expect("SELECT 1");
    let get = |con: &mut redis::Connection, key: &str| -> Option<String> {
        redis::cmd("GET").arg(key).query(con).expect("GET")
    };

    redis::cmd("SET").arg("moved").arg("m").query::<()>(&mut zero).expect("SET");
    redis::cmd("EXPIRE").arg("moved").arg(1000).query::<()>(&mut zero).expect("EXPIRE");
    let moved: i64 = redis::cmd("MOVE").arg("moved").arg(1).query(&mut zero).expect("MOVE");
    assert_eq!(moved, 1);
    assert_eq!(get(&mut one, "moved").as_deref(), Some("m"));
    assert_eq!(get(&mut zero, "moved"), None);
    let ttl: i64 = redis::cmd("TTL").arg("moved").query(&mut one).expect("TTL");
    assert!(ttl > 900, "MOVE keeps the TTL, got {ttl}");

    redis::cmd("SET").arg("copied").arg("c").query::<()>(&mut zero).expect("SET");
    let copied: i64 = redis::cmd("COPY").arg("copied").arg("copy").arg("DB").arg(1).query(&mut zero).expect("COPY");
    assert_eq!(copied, 1);
    assert_eq!(get(&mut one, "copy").as_deref(), Some("c"));
    assert_eq!(get(&mut zero, "copied").as_deref(), Some("c"));

    redis::cmd("SET").arg("only-in-zero").arg("z").query::<()>(&mut zero).expect("SET");
    redis::cmd("SWAPDB").arg(0).arg(1).query::<()>(&mut zero).expect("SWAPDB");
    assert_eq!(get(&mut one, "only-in-zero").as_deref(), Some("z"));
    assert_eq!(get(&mut one, "copied").as_deref(), Some("c"));
    assert_eq!(get(&mut zero, "moved").as_deref(), Some("m"));
    assert_eq!(get(&mut zero, "only-in-zero"), None);

    redis::cmd("FLUSHDB").query::<()>(&mut one).expect("FLUSHDB");
    assert_eq!(dbsize(&mut one), 0);
    assert_eq!(get(&mut zero, "moved").as_deref(), Some("m"));
}

#[test]
fn swapdb_move_copy_seen_from_another_connection() {
    cross_database_changes_are_visible(Kind::Cinnabar);
}

#[test]
fn cross_database_scenario_holds_on_redis() {
    cross_database_changes_are_visible(Kind::Redis);
}
