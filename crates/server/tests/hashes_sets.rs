//! Properties of the random and cursor-based hash and set commands that a
//! byte-for-byte corpus cannot check: SPOP, SRANDMEMBER and HRANDFIELD
//! (counts, uniqueness, membership, repeats for negative counts, a fair
//! spread) in every encoding and every one of Redis's sampling cases, and
//! HSCAN/SSCAN completeness on large collections that change during the
//! scan. Each property runs against Cinnabar and against the real
//! redis-server, so the test itself is checked too.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{Kind, ServerProcess};
use redis::Connection;

fn both(test: impl Fn(&mut Connection)) {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &[]);
        test(&mut server.client());
    }
}

fn members(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Sets named by their encoding: small intset, small hashtable, large hashtable.
fn fill_sets(con: &mut Connection) -> Vec<(String, BTreeSet<String>)> {
    let mut sets = Vec::new();
    for (key, items) in [("ints", members(100, "")), ("strs", members(100, "m")), ("large", members(3000, "m"))] {
        redis::cmd("SADD").arg(key).arg(&items).query::<i64>(con).unwrap();
        sets.push((key.to_string(), items.into_iter().collect()));
    }
    let encodings: Vec<String> =
        sets.iter().map(|(k, _)| redis::cmd("OBJECT").arg("ENCODING").arg(k).query(con).unwrap()).collect();
    assert_eq!(encodings, ["intset", "hashtable", "hashtable"]);
    sets
}

#[test]
fn srandmember_counts_uniqueness_and_repeats() {
    both(|con| {
        for (key, set) in fill_sets(con) {
            let size = set.len();
            // Every sampling case: few, about a third, most, all, more than all.
            for count in [1, 5, size / 4, size / 2, size - 1, size, size + 10] {
                let got: Vec<String> = redis::cmd("SRANDMEMBER").arg(&key).arg(count).query(con).unwrap();
                let distinct: BTreeSet<String> = got.iter().cloned().collect();
                assert_eq!(got.len(), count.min(size), "{key} {count}");
                assert_eq!(distinct.len(), got.len(), "{key} {count}: repeats");
                assert!(distinct.is_subset(&set));
            }
            let got: Vec<String> = redis::cmd("SRANDMEMBER").arg(&key).arg(-(3 * size as i64)).query(con).unwrap();
            assert_eq!(got.len(), 3 * size);
            assert!(got.iter().all(|m| set.contains(m)));
            let distinct: BTreeSet<&String> = got.iter().collect();
            assert!(distinct.len() < got.len(), "a negative count repeats members");
        }
    });
}

#[test]
fn random_members_are_spread_evenly() {
    both(|con| {
        for items in [members(10, ""), members(10, "m")] {
            redis::cmd("DEL").arg("s").query::<i64>(con).unwrap();
            redis::cmd("SADD").arg("s").arg(&items).query::<i64>(con).unwrap();
            let got: Vec<String> = redis::cmd("SRANDMEMBER").arg("s").arg(-20_000).query(con).unwrap();
            let mut counts: HashMap<String, usize> = HashMap::new();
            got.into_iter().for_each(|m| *counts.entry(m).or_default() += 1);
            assert_eq!(counts.len(), 10);
            // Expected 2000 each; a fair draw is never this far off.
            assert!(counts.values().all(|&c| (1400..=2600).contains(&c)), "{counts:?}");
        }
    });
}

#[test]
fn spop_removes_exactly_what_it_returns() {
    both(|con| {
        for (key, set) in fill_sets(con) {
            let mut left = set.clone();
            // Pop a few, then most of the rest (the "keep survivors" case), then all.
            for count in [3, left.len() - 3 - 10, 100] {
                let popped: Vec<String> = redis::cmd("SPOP").arg(&key).arg(count).query(con).unwrap();
                let popped_set: BTreeSet<String> = popped.iter().cloned().collect();
                assert_eq!(popped.len(), count.min(left.len()), "{key} {count}");
                assert_eq!(popped_set.len(), popped.len(), "{key}: popped a member twice");
                assert!(popped_set.is_subset(&left));
                left = left.difference(&popped_set).cloned().collect();
                let now: BTreeSet<String> = redis::cmd("SMEMBERS").arg(&key).query(con).unwrap();
                assert_eq!(now, left);
            }
            assert!(!redis::cmd("EXISTS").arg(&key).query::<bool>(con).unwrap());
        }
        redis::cmd("SADD").arg("one").arg("a").query::<i64>(con).unwrap();
        let popped: Option<String> = redis::cmd("SPOP").arg("one").query(con).unwrap();
        assert_eq!(popped.as_deref(), Some("a"));
        assert!(!redis::cmd("EXISTS").arg("one").query::<bool>(con).unwrap());
    });
}

#[test]
fn hrandfield_pairs_belong_to_the_hash() {
    both(|con| {
        for (key, n) in [("small", 50usize), ("large", 2000)] {
            let hash: BTreeMap<String, String> = (0..n).map(|i| (format!("f{i}"), format!("v{i}"))).collect();
            redis::cmd("HSET").arg(key).arg(&hash).query::<i64>(con).unwrap();
            for count in [1, 7, n / 3, n / 2, n - 1, n, n + 5] {
                let flat: Vec<String> =
                    redis::cmd("HRANDFIELD").arg(key).arg(count).arg("WITHVALUES").query(con).unwrap();
                let fields: BTreeSet<&String> = flat.iter().step_by(2).collect();
                assert_eq!(flat.len(), 2 * count.min(n), "{key} {count}");
                assert_eq!(fields.len(), count.min(n), "{key} {count}: repeated fields");
                assert!(flat.chunks(2).all(|p| hash.get(&p[0]) == Some(&p[1])));
            }
            let flat: Vec<String> =
                redis::cmd("HRANDFIELD").arg(key).arg(-(2 * n as i64)).arg("WITHVALUES").query(con).unwrap();
            assert_eq!(flat.len(), 4 * n);
            assert!(flat.chunks(2).all(|p| hash.get(&p[0]) == Some(&p[1])));
            let fields: Vec<String> = redis::cmd("HRANDFIELD").arg(key).arg(-5).query(con).unwrap();
            assert_eq!(fields.len(), 5);
            assert!(fields.iter().all(|f| hash.contains_key(f)));
        }
    });
}

/// Runs a whole HSCAN or SSCAN over `key` (COUNT 20), calling `between`
/// after every call, and returns every element seen.
fn scan_all(
    con: &mut Connection,
    command: &str,
    key: &str,
    mut between: impl FnMut(&mut Connection, usize),
) -> Vec<String> {
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    let mut step = 0;
    loop {
        let (next, batch): (u64, Vec<String>) =
            redis::cmd(command).arg(key).arg(cursor).arg("COUNT").arg(20).query(con).unwrap();
        seen.extend(batch);
        cursor = next;
        if cursor == 0 {
            return seen;
        }
        between(con, step);
        step += 1;
    }
}

#[test]
fn scans_see_every_element_present_throughout_while_the_collection_changes() {
    both(|con| {
        let stable = members(3000, "keep");
        redis::cmd("SADD").arg("s").arg(&stable).query::<i64>(con).unwrap();
        redis::cmd("SADD").arg("s").arg(members(1000, "drop")).query::<i64>(con).unwrap();
        let pairs: Vec<(String, String)> = stable.iter().map(|f| (f.clone(), "v".to_string())).collect();
        redis::cmd("HSET").arg("h").arg(&pairs).query::<i64>(con).unwrap();
        redis::cmd("HSET")
            .arg("h")
            .arg(members(1000, "drop").iter().map(|f| (f.as_str(), "v")).collect::<Vec<_>>())
            .query::<i64>(con)
            .unwrap();
        // Grow past a resize and shrink, mid-scan.
        let churn = |con: &mut Connection, command: &str, key: &str, step: usize| {
            let grow: Vec<String> = (0..40).map(|i| format!("new{step}-{i}")).collect();
            let drop: Vec<String> = (0..20).map(|i| format!("drop{}", step * 20 + i)).collect();
            if command == "SSCAN" {
                redis::cmd("SADD").arg(key).arg(&grow).query::<i64>(con).unwrap();
                redis::cmd("SREM").arg(key).arg(&drop).query::<i64>(con).unwrap();
            } else {
                redis::cmd("HSET")
                    .arg(key)
                    .arg(grow.iter().map(|f| (f.as_str(), "v")).collect::<Vec<_>>())
                    .query::<i64>(con)
                    .unwrap();
                redis::cmd("HDEL").arg(key).arg(&drop).query::<i64>(con).unwrap();
            }
        };
        let seen: BTreeSet<String> =
            scan_all(con, "SSCAN", "s", |c, step| churn(c, "SSCAN", "s", step)).into_iter().collect();
        assert!(stable.iter().all(|m| seen.contains(m)), "SSCAN missed a member");
        let flat = scan_all(con, "HSCAN", "h", |c, step| churn(c, "HSCAN", "h", step));
        let fields: BTreeSet<&String> = flat.iter().step_by(2).collect();
        assert!(stable.iter().all(|f| fields.contains(f)), "HSCAN missed a field");
        assert!(flat.chunks(2).all(|p| p[1] == "v"));
    });
}

#[test]
fn small_collections_scan_whole_in_one_call() {
    both(|con| {
        redis::cmd("HSET").arg("h").arg(&[("a", "1"), ("b", "2")]).query::<i64>(con).unwrap();
        redis::cmd("SADD").arg("s").arg(&[3, 1, 2]).query::<i64>(con).unwrap();
        let (cursor, items): (u64, Vec<String>) =
            redis::cmd("HSCAN").arg("h").arg(0).arg("COUNT").arg(1).query(con).unwrap();
        assert_eq!((cursor, items), (0, vec!["a".into(), "1".into(), "b".into(), "2".into()]));
        let (cursor, items): (u64, Vec<String>) =
            redis::cmd("SSCAN").arg("s").arg(0).arg("COUNT").arg(1).query(con).unwrap();
        assert_eq!((cursor, items), (0, vec!["1".into(), "2".into(), "3".into()]));
    });
}
