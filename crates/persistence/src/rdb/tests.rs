//! Round trips of every type and encoding through save and load, and the
//! reader's behaviour on truncated and bit-flipped files.

use cinnabar_storage::hash::{Hash, HashLimits};
use cinnabar_storage::list::End;
use cinnabar_storage::set::Set;
use cinnabar_storage::stream::{ConsumerGroup, NodeLimits, Stream, StreamId};
use cinnabar_storage::{Db, Entry, List, StrValue, Value, Zset, ZsetLimits};
use proptest::prelude::*;

use super::*;

const HASH: HashLimits = HashLimits { max_listpack_entries: 128, max_listpack_value: 64 };
const ZSET: ZsetLimits = ZsetLimits { max_entries: 128, max_value: 64 };

fn opts() -> LoadOptions {
    LoadOptions {
        hash: HASH,
        zset: ZSET,
        set_max_intset_entries: 512,
        list_fill: -2,
        databases: 16,
        expire_before_ms: None,
        verify_checksum: true,
    }
}

fn put(db: &mut Db, key: &str, value: Value) {
    db.set(key.as_bytes(), Entry::new(value, 0), false);
}

fn sample_dbs() -> Vec<Db> {
    let mut db = Db::new();
    put(&mut db, "int", Value::Str(StrValue::from_bytes(b"-123456789012")));
    put(&mut db, "small", Value::Str(StrValue::from_bytes(b"7")));
    put(&mut db, "text", Value::Str(StrValue::from_bytes(&b"abc".repeat(100))));
    let mut list = List::new(-2);
    for i in 0..5000 {
        list.push(End::Tail, format!("element-{i}").as_bytes());
    }
    put(&mut db, "list", Value::List(Box::new(list)));
    for (name, n) in [("smallhash", 10), ("bighash", 1000)] {
        let mut h = Hash::new();
        for i in 0..n {
            h.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), HASH);
        }
        put(&mut db, name, Value::Hash(h));
    }
    for (name, n, prefix) in [("intset", 100, ""), ("bigset", 1000, ""), ("strset", 10, "m")] {
        let mut s = Set::for_member(format!("{prefix}0").as_bytes());
        for i in 0..n {
            s.add(format!("{prefix}{i}").as_bytes(), 512);
        }
        put(&mut db, name, Value::Set(s));
    }
    for (name, n) in [("smallzset", 10), ("bigzset", 1000)] {
        let mut z = Zset::for_first_member(ZSET, 2);
        for i in 0..n {
            z.add(format!("m{i}").as_bytes(), i as f64 * 1.5, ZSET);
        }
        put(&mut db, name, Value::Zset(z));
    }
    let mut s = Stream::new();
    for i in 1..=300u64 {
        let fields: Vec<&[u8]> = if i % 7 == 0 { vec![b"other", b"x"] } else { vec![b"a", b"1", b"b", b"2"] };
        s.append(StreamId::new(i, 0), &fields, NodeLimits::default());
        s.last_id = StreamId::new(i, 0);
    }
    s.delete(StreamId::new(5, 0));
    let mut g = ConsumerGroup::new(StreamId::new(10, 0), 10);
    g.assign(StreamId::new(3, 0), b"alice", 1000, 2);
    g.assign(StreamId::new(4, 0), b"bob", 1001, 1);
    g.consumers.entry(Box::from(&b"carol"[..])).or_default().seen_time = 77;
    s.groups.insert(Box::from(&b"g1"[..]), g);
    put(&mut db, "stream", Value::Stream(Box::new(s)));
    db.set_expire(b"int", 4_000_000_000_000);
    let mut other = Db::new();
    put(&mut other, "k", Value::Str(StrValue::from_bytes(b"v")));
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
    dbs[0] = db;
    dbs[3] = other;
    dbs
}

fn save(dbs: &[Db], functions: &[Vec<u8>]) -> Vec<u8> {
    let aux = Aux { redis_ver: "7.0.15".into(), ctime: 1, used_mem: 2, repl: None, aof_base: false };
    let opts = SaveOptions { compress: true, checksum: true };
    save_snapshot(Vec::new(), opts, &aux, functions, dbs, &|_| None, &mut || {}).unwrap()
}

fn load(bytes: &[u8]) -> Result<Loaded, RdbError> {
    load_snapshot(bytes, &opts(), &|_| 0, &mut |_| {})
}

#[test]
fn every_type_round_trips() {
    let dbs = sample_dbs();
    let functions = vec![b"#!lua name=lib\nredis.register_function('f', function() return 1 end)".to_vec()];
    let bytes = save(&dbs, &functions);
    let loaded = load(&bytes).unwrap();
    assert_eq!(loaded.functions, functions);
    assert_eq!(loaded.aux_field("redis-ver"), Some(&b"7.0.15"[..]));
    for (a, b) in dbs.iter().zip(&loaded.dbs) {
        assert_eq!(a.len(), b.len());
        for (key, entry) in a.iter() {
            let other = b.get(key).unwrap_or_else(|| panic!("{key:?} missing"));
            assert_eq!(entry.value, other.value, "{key:?}");
            assert_eq!(entry.value.encoding(), other.value.encoding(), "{key:?}");
            assert_eq!(a.expire_at(key), b.expire_at(key));
        }
    }
}

#[test]
fn stream_node_listpacks_round_trip_byte_for_byte() {
    let dbs = sample_dbs();
    let s = dbs[0].get(b"stream").unwrap().value.as_stream().unwrap();
    let mut rebuilt = Stream::new();
    for node in s.nodes() {
        let lp = save::stream_node_listpack(&node);
        load::load_stream_node(&mut rebuilt, node.master_id, &lp).unwrap();
        let again = rebuilt.nodes().last().map(|n| save::stream_node_listpack(&n)).unwrap();
        assert_eq!(lp.as_bytes(), again.as_bytes());
    }
}

#[test]
fn dump_payload_round_trips_and_checks_its_footer() {
    let dbs = sample_dbs();
    for (_, entry) in dbs[0].iter() {
        let payload = dump::dump_value(&entry.value, true);
        assert!(dump::payload_is_valid(&payload));
        assert_eq!(dump::restore_value(&payload, &opts()).unwrap().unwrap(), entry.value);
        let mut bad = payload.clone();
        bad[0] ^= 1;
        assert!(!dump::payload_is_valid(&bad));
    }
}

#[test]
fn wrong_checksum_is_refused() {
    let mut bytes = save(&sample_dbs(), &[]);
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    assert!(matches!(load(&bytes), Err(RdbError::Corrupt(m)) if m.contains("checksum")));
}

/// DUMP payloads of every sample value, for the RESTORE fuzzing below.
fn sample_payloads() -> &'static [Vec<u8>] {
    static PAYLOADS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    PAYLOADS.get_or_init(|| sample_dbs()[0].iter().map(|(_, e)| dump::dump_value(&e.value, true)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A RESTORE payload's checksum is no protection (anyone can compute
    /// it): decoding any body of any type must fail cleanly, never panic.
    #[test]
    fn arbitrary_restore_bodies_never_panic(rdb_type in 0u8..24, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut payload = vec![rdb_type];
        payload.extend_from_slice(&body);
        payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crate::CRC64.checksum(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        prop_assert!(dump::payload_is_valid(&payload));
        let _ = dump::restore_value(&payload, &opts());
    }

    #[test]
    fn flipped_restore_payloads_never_panic(which in 0usize..100, flip in 0usize..100_000, bit in 0u8..8) {
        let payloads = sample_payloads();
        let mut payload = payloads[which % payloads.len()].clone();
        let body = payload.len() - 10;
        payload[flip % body] ^= 1 << bit;
        let _ = dump::restore_value(&payload, &opts());
    }

    #[test]
    fn truncated_or_flipped_files_fail_cleanly(cut in 0usize..100_000, flip in 0usize..100_000, bit in 0u8..8) {
        static SAVED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let bytes = SAVED.get_or_init(|| save(&sample_dbs(), &[]));
        let cut = cut % bytes.len();
        prop_assert!(load(&bytes[..cut]).is_err());
        let mut flipped = bytes.to_vec();
        let at = flip % bytes.len();
        flipped[at] ^= 1 << bit;
        let _ = load(&flipped);
        let mut unchecked = opts();
        unchecked.verify_checksum = false;
        let _ = load_snapshot(&flipped[..], &unchecked, &|_| 0, &mut |_| {});
    }
}

#[test]
fn replication_aux_fields_are_written_when_given() {
    let aux = Aux {
        redis_ver: "7.0.15".into(),
        ctime: 1,
        used_mem: 2,
        repl: Some((3, "a".repeat(40), 12345)),
        aof_base: true,
    };
    let opts = SaveOptions { compress: false, checksum: false };
    let bytes = save_snapshot(Vec::new(), opts, &aux, &[], &[], &|_| None, &mut || {}).unwrap();
    let loaded = load(&bytes).unwrap();
    assert!(loaded.checksum_disabled);
    let fields: Vec<&[u8]> = loaded.aux.iter().map(|(k, _)| k.as_slice()).collect();
    let expected: [&[u8]; 8] = [
        b"redis-ver",
        b"redis-bits",
        b"ctime",
        b"used-mem",
        b"repl-stream-db",
        b"repl-id",
        b"repl-offset",
        b"aof-base",
    ];
    assert_eq!(fields, expected);
    assert_eq!(loaded.aux_field("repl-offset"), Some(&b"12345"[..]));
    assert_eq!(loaded.aux_field("aof-base"), Some(&b"1"[..]));
}
