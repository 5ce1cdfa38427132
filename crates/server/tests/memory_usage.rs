//! MEMORY USAGE of compact collection encodings against the real
//! redis-server. Listpacks, intsets and quicklist nodes hold the same bytes
//! in both servers, so each value is reported with Redis's figure; only the
//! per-key overhead (our key-table node against Redis's dictEntry, key sds
//! and object header) differs, by the same amount for every key of the same
//! name length.

mod common;

use common::{Kind, ServerProcess};

fn usage(con: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("MEMORY").arg("USAGE").arg(key).query(con).unwrap_or_else(|e| panic!("MEMORY USAGE {key}: {e}"))
}

/// Each scenario's keys with their MEMORY USAGE.
fn usages(kind: Kind, config: &[&str], setup: &[Vec<String>]) -> Vec<(String, i64)> {
    let server = ServerProcess::start(kind, config);
    let mut con = server.client();
    for cmd in setup {
        let _: redis::Value = redis::cmd(&cmd[0]).arg(&cmd[1..]).query(&mut con).expect("setup command");
    }
    setup.iter().map(|cmd| (cmd[1].clone(), usage(&mut con, &cmd[1]))).collect()
}

fn command(name: &str, key: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
    [name.to_string(), key.to_string()].into_iter().chain(args).collect()
}

fn assert_same_offset(config: &[&str], setup: &[Vec<String>]) {
    let ours = usages(Kind::Cinnabar, config, setup);
    let redis = usages(Kind::Redis, config, setup);
    let offsets: Vec<(String, i64)> = ours.iter().zip(&redis).map(|((k, a), (_, b))| (k.clone(), a - b)).collect();
    assert!(offsets.iter().all(|(_, d)| *d == offsets[0].1), "cinnabar - redis per key: {offsets:?}");
}

#[test]
fn compact_encodings_report_redis_figures() {
    let setup = vec![
        command("HSET", "h1", ["f", "v"].map(String::from)),
        command("HSET", "h2", (0..100).flat_map(|i| [format!("field:{i}"), format!("{}", i * 7)])),
        command("ZADD", "z1", ["1", "a"].map(String::from)),
        command("ZADD", "z2", (0..100).flat_map(|i| [format!("{}.5", i), format!("member:{i}")])),
        command("SADD", "s1", ["1", "2", "3"].map(String::from)),
        command("SADD", "s2", (0..400).map(|i| (i * 100_000).to_string())),
        command("RPUSH", "l1", ["a".to_string()]),
        command("RPUSH", "l2", (0..3000).map(|i| format!("element:{i}"))),
    ];
    assert_same_offset(&[], &setup);
}

/// With list-compress-depth the inner quicklist nodes are LZF-compressed,
/// and MEMORY USAGE counts their compressed size, as Redis does.
#[test]
fn compressed_list_nodes_count_compressed() {
    let setup = vec![
        command("RPUSH", "l1", ["a".to_string()]),
        command("RPUSH", "l2", (0..3000).map(|i| format!("element:{}", i % 50))),
    ];
    assert_same_offset(&["--list-compress-depth", "1", "--list-max-listpack-size", "16"], &setup);
    let plain = usages(Kind::Cinnabar, &["--list-max-listpack-size", "16"], &setup);
    let compressed = usages(Kind::Cinnabar, &["--list-compress-depth", "1", "--list-max-listpack-size", "16"], &setup);
    assert!(compressed[1].1 * 4 < plain[1].1 * 3, "compressed {compressed:?}, plain {plain:?}");
}
