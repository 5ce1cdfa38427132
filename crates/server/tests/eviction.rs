//! maxmemory and eviction: each policy is filled past its limit by a
//! pipelined writer, then the survivors must have the property the policy
//! promises (recently read keys survive LRU, frequently read ones LFU,
//! keys without TTL every volatile-* policy, the longest TTLs volatile-ttl),
//! used_memory must end close to maxmemory, evicted_keys must grow and
//! `evicted` notifications must arrive. Exact survivors depend on random
//! sampling, so only properties are asserted. noeviction's refusals are
//! compared byte for byte with redis-server.

mod common;

use std::time::{Duration, Instant};

use common::{Kind, RawConn, ServerProcess};
use redis::Connection;

/// Values big enough that the data dwarfs per-key bookkeeping.
const VALUE: [u8; 1000] = [b'x'; 1000];

fn info_field(con: &mut Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    let prefix = format!("{field}:");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {field} in {text}"));
    line[prefix.len()..].trim().parse().expect("numeric field")
}

/// Writes `count` keys `<prefix><i>`, with a TTL of `ttl(i)` seconds when
/// given, in pipelined batches. Returns how many refusals were seen (at
/// least one per batch that had any).
fn write_keys(con: &mut Connection, prefix: &str, count: usize, ttl: Option<&dyn Fn(usize) -> u64>) -> usize {
    let mut refused = 0;
    for start in (0..count).step_by(200) {
        let mut pipe = redis::pipe();
        for i in start..(start + 200).min(count) {
            let cmd = pipe.cmd("SET").arg(format!("{prefix}{i}")).arg(&VALUE[..]);
            if let Some(ttl) = ttl {
                cmd.arg("EX").arg(ttl(i));
            }
        }
        match pipe.query::<Vec<redis::Value>>(con) {
            Ok(values) => refused += values.iter().filter(|v| matches!(v, redis::Value::ServerError(_))).count(),
            Err(e) => {
                assert_eq!(e.code(), Some("OOM"), "{e:?}");
                refused += 1;
            }
        }
    }
    refused
}

/// Reads each of `keys` `times` times.
fn read_keys(con: &mut Connection, keys: &[String], times: usize) {
    for _ in 0..times {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("GET").arg(key).ignore();
        }
        let () = pipe.query(con).expect("GETs");
    }
}

fn exists(con: &mut Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<i64>(con).expect("EXISTS") == 1
}

fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

fn surviving(con: &mut Connection, keys: &[String]) -> usize {
    keys.iter().filter(|k| exists(con, k)).count()
}

/// Sets maxmemory to what is used now plus `headroom` bytes and returns it.
fn limit_memory_to_current_plus(con: &mut Connection, headroom: u64) -> u64 {
    let limit = info_field(con, "memory", "used_memory") + headroom;
    let () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(limit).query(con).expect("CONFIG SET");
    limit
}

/// used_memory ends within 5% of maxmemory after an eviction burst.
fn assert_memory_held_near(con: &mut Connection, limit: u64) {
    let used = info_field(con, "memory", "used_memory");
    let ratio = used as f64 / limit as f64;
    assert!((0.95..=1.05).contains(&ratio), "used_memory {used} vs maxmemory {limit} ({ratio:.3})");
}

#[test]
fn allkeys_lru_keeps_recently_read_keys() {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", "allkeys-lru"]);
    let mut con = server.client();
    write_keys(&mut con, "old:", 8000, None);
    // The LRU clock counts seconds: reads a second later are strictly newer.
    std::thread::sleep(Duration::from_millis(1100));
    let hot = names("old:", 0..800);
    read_keys(&mut con, &hot, 1);
    let limit = limit_memory_to_current_plus(&mut con, 256 << 10);
    assert_eq!(write_keys(&mut con, "new:", 3000, None), 0);
    let evicted = info_field(&mut con, "stats", "evicted_keys");
    assert!(evicted >= 2500, "evicted_keys {evicted}");
    assert!(surviving(&mut con, &hot) >= 790, "recently read keys were evicted");
    let cold_left = surviving(&mut con, &names("old:", 800..8000));
    assert!(cold_left <= 7200 - 2000, "{cold_left} never-read keys left");
    assert_memory_held_near(&mut con, limit);
}

#[test]
fn allkeys_lfu_keeps_frequently_read_keys() {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut con = server.client();
    write_keys(&mut con, "k:", 8000, None);
    let hot = names("k:", 0..800);
    read_keys(&mut con, &hot, 5);
    let freq: i64 = redis::cmd("OBJECT").arg("FREQ").arg("k:1").query(&mut con).expect("OBJECT FREQ");
    assert!(freq > 5, "read keys count more than new ones ({freq})");
    let limit = limit_memory_to_current_plus(&mut con, 256 << 10);
    assert_eq!(write_keys(&mut con, "new:", 3000, None), 0);
    assert!(info_field(&mut con, "stats", "evicted_keys") >= 2500);
    assert!(surviving(&mut con, &hot) >= 790, "frequently read keys were evicted");
    assert_memory_held_near(&mut con, limit);
}

/// Keys without a TTL all survive a volatile policy; keys with one go.
fn volatile_policy_spares_persistent_keys(policy: &str) {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", policy]);
    let mut con = server.client();
    write_keys(&mut con, "p:", 3000, None);
    write_keys(&mut con, "v:", 6000, Some(&|_| 10_000));
    let limit = limit_memory_to_current_plus(&mut con, 256 << 10);
    assert_eq!(write_keys(&mut con, "w:", 3000, Some(&|_| 10_000)), 0, "{policy}");
    assert!(info_field(&mut con, "stats", "evicted_keys") >= 2500, "{policy}");
    assert_eq!(surviving(&mut con, &names("p:", 0..3000)), 3000, "{policy} evicted a key without TTL");
    assert_memory_held_near(&mut con, limit);
    // Once only keys without a TTL are left, writes are refused.
    assert!(write_keys(&mut con, "p2:", 12000, None) > 0, "{policy} never refused a write");
    assert_eq!(surviving(&mut con, &names("p:", 0..3000)), 3000, "{policy} evicted a key without TTL");
}

#[test]
fn volatile_lru_spares_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-lru");
}

#[test]
fn volatile_lfu_spares_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-lfu");
}

#[test]
fn volatile_random_spares_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-random");
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiries_first() {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", "volatile-ttl"]);
    let mut con = server.client();
    // v:i expires after 10000 + i seconds: low i first.
    write_keys(&mut con, "v:", 8000, Some(&|i| 10_000 + i as u64));
    let limit = limit_memory_to_current_plus(&mut con, 256 << 10);
    assert_eq!(write_keys(&mut con, "w:", 2000, Some(&|_| 100_000)), 0);
    let soonest_left = surviving(&mut con, &names("v:", 0..2000));
    let latest_left = surviving(&mut con, &names("v:", 6000..8000));
    assert!(soonest_left < 1000, "{soonest_left} of the 2000 nearest expiries left");
    assert!(latest_left > 1900, "only {latest_left} of the 2000 farthest expiries left");
    assert_memory_held_near(&mut con, limit);
}

#[test]
fn allkeys_random_evicts_and_notifies_each_eviction() {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", "allkeys-random", "--notify-keyspace-events", "Ee"]);
    let mut con = server.client();
    let mut subscriber = RawConn::connect(server.port);
    subscriber.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    write_keys(&mut con, "k:", 6000, None);
    let limit = limit_memory_to_current_plus(&mut con, 256 << 10);
    assert_eq!(write_keys(&mut con, "n:", 2000, None), 0);
    let evicted = info_field(&mut con, "stats", "evicted_keys");
    assert!(evicted >= 1500, "evicted_keys {evicted}");
    for _ in 0..evicted {
        let message = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
        assert!(message.contains("__keyevent@0__:evicted"), "{message}");
        let key = message.lines().last().unwrap_or_default().to_string();
        assert!(!exists(&mut con, &key), "{key} notified as evicted but present");
    }
    assert_memory_held_near(&mut con, limit);
}

#[test]
fn config_set_maxmemory_evicts_without_waiting_for_a_command() {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", "allkeys-lru", "--notify-keyspace-events", "Ee"]);
    let mut con = server.client();
    write_keys(&mut con, "k:", 6000, None);
    let mut subscriber = RawConn::connect(server.port);
    subscriber.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    let used = info_field(&mut con, "memory", "used_memory");
    let () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(used / 2).query(&mut con).expect("CONFIG SET");
    // No further command: the eviction runs in the background.
    let started = Instant::now();
    let message = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
    assert!(message.contains("evicted"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(server.log().contains("is smaller than the current memory usage"), "{}", server.log());
}

/// The replies of noeviction past the limit: refused writes (alone and in
/// MULTI), working reads and deletions.
fn noeviction_session(kind: Kind) -> Vec<String> {
    let server = ServerProcess::start(kind, &["--maxmemory-policy", "noeviction"]);
    let mut con = server.client();
    write_keys(&mut con, "k:", 3000, None);
    limit_memory_to_current_plus(&mut con, 64 << 10);
    assert!(write_keys(&mut con, "more:", 2000, None) > 0, "{kind:?} accepted every write");
    assert_eq!(info_field(&mut con, "stats", "evicted_keys"), 0);
    // Over the limit since the first refusal: the episode is still running.
    std::thread::sleep(Duration::from_millis(30));
    let current = info_field(&mut con, "stats", "current_eviction_exceeded_time");
    assert!(current >= 30, "{kind:?}: current_eviction_exceeded_time {current}");
    assert!(info_field(&mut con, "stats", "total_eviction_exceeded_time") >= current);
    assert_eq!(info_field(&mut con, "memory", "mem_not_counted_for_evict"), 0);
    let mut raw = server.raw();
    let mut replies = Vec::new();
    for words in [
        &["SET", "fresh", "v"][..],
        &["GET", "k:1"],
        &["APPEND", "k:1", "x"],
        &["MULTI"],
        &["GET", "k:1"],
        &["EXEC"],
        &["MULTI"],
        &["EXEC"],
        &["DEL", "k:2"],
        &["EXISTS", "k:2"],
    ] {
        replies.push(raw.cmd(words));
    }
    replies
}

#[test]
fn noeviction_refuses_writes_as_redis_does() {
    let ours = noeviction_session(Kind::Cinnabar);
    assert_eq!(ours, noeviction_session(Kind::Redis));
    assert_eq!(ours[0], "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert!(ours[1].starts_with("$1000\r\n"));
}

#[test]
fn an_evicted_watched_key_fails_the_transaction() {
    let server = ServerProcess::cinnabar(&["--maxmemory-policy", "allkeys-lru"]);
    let mut watcher = server.raw();
    watcher.cmd(&["SET", "w", "v"]);
    watcher.cmd(&["WATCH", "w"]);
    watcher.cmd(&["MULTI"]);
    watcher.cmd(&["GET", "w"]);
    let mut other = server.raw();
    // Any memory is too much: every key goes.
    other.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(other.cmd(&["EXISTS", "w"]), ":0\r\n");
    assert_eq!(watcher.cmd(&["EXEC"]), "*-1\r\n");
}
