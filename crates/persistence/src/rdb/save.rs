//! Writing values and whole snapshots in Redis 7.0's RDB layout.
//!
//! Each value is written in the type Redis 7.0 would choose for its
//! encoding: listpack and intset blobs as they are (they are Redis's bytes),
//! hashtables and skiplists element by element, lists as QUICKLIST_2 nodes,
//! streams as STREAM_LISTPACKS_2 with their listpacks rebuilt from the
//! stream's nodes.

use std::io::Write;

use cinnabar_storage::hash::Hash;
use cinnabar_storage::listpack::{Listpack, LpInput, LpValue};
use cinnabar_storage::set::Set;
use cinnabar_storage::stream::{NodeRef, Stream, StreamId};
use cinnabar_storage::{Db, Entry, StrValue, Value, Zset};

use super::io::RdbWriter;
use super::{opcodes, types, RdbError, QUICKLIST_NODE_PACKED, RDB_VERSION};

/// How strings are written (`rdbcompression`, `rdbchecksum`).
#[derive(Clone, Copy, Debug)]
pub struct SaveOptions {
    pub compress: bool,
    pub checksum: bool,
}

/// What a key's access stamp means for the file: Redis stores an idle time
/// under an LRU eviction policy and a frequency under an LFU one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMeta {
    IdleSeconds(u64),
    Freq(u8),
}

/// The aux fields at the head of a snapshot.
#[derive(Clone, Debug, Default)]
pub struct Aux {
    pub redis_ver: String,
    pub ctime: i64,
    pub used_mem: u64,
    /// Replication info (repl-stream-db, repl-id, repl-offset), written
    /// when the server has a replication backlog or a master.
    pub repl: Option<(i64, String, i64)>,
    pub aof_base: bool,
}

/// The RDB type byte for a value.
pub fn value_type(value: &Value) -> u8 {
    match value {
        Value::Str(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(s) => match *s {
            Set::Ints(_) => types::SET_INTSET,
            Set::Table(_) => types::SET,
        },
        Value::Zset(z) => match *z {
            Zset::Listpack(_) => types::ZSET_LISTPACK,
            Zset::SkipList(_) => types::ZSET_2,
        },
        Value::Hash(h) => match *h {
            Hash::Listpack(_) => types::HASH_LISTPACK,
            Hash::Table(_) => types::HASH,
        },
        Value::Stream(_) => types::STREAM_LISTPACKS_2,
    }
}

/// Writes a value's body (what follows the type byte and the key).
pub fn save_value<W: Write>(w: &mut RdbWriter<W>, value: &Value) -> Result<(), RdbError> {
    match value {
        Value::Str(StrValue::Int(i)) => w.int_string(*i),
        Value::Str(s) => w.string(&s.as_bytes()),
        Value::List(list) => {
            w.length(list.node_count() as u64)?;
            for lp in list.node_listpacks() {
                w.length(QUICKLIST_NODE_PACKED)?;
                w.string(lp.as_bytes())?;
            }
            Ok(())
        }
        Value::Set(set) => match set {
            Set::Ints(ints) => w.string(ints.as_bytes()),
            table => {
                w.length(table.len() as u64)?;
                table.iter().try_for_each(|m| save_element(w, m))
            }
        },
        Value::Zset(z) => match z {
            Zset::Listpack(lp) => w.string(lp.as_bytes()),
            skiplist => save_skiplist(w, skiplist),
        },
        Value::Hash(h) => match h {
            Hash::Listpack(lp) => w.string(lp.as_bytes()),
            table => {
                w.length(table.len() as u64)?;
                table.iter().try_for_each(|(f, v)| {
                    save_element(w, f)?;
                    save_element(w, v)
                })
            }
        },
        Value::Stream(s) => save_stream(w, s),
    }
}

fn save_element<W: Write>(w: &mut RdbWriter<W>, e: LpValue) -> Result<(), RdbError> {
    match e {
        LpValue::Str(s) => w.string(s),
        LpValue::Int(i) => w.int_string(i),
    }
}

/// ZSET_2: members with binary scores, highest first (Redis walks its
/// skiplist from the tail so loading inserts at the head).
fn save_skiplist<W: Write>(w: &mut RdbWriter<W>, z: &Zset) -> Result<(), RdbError> {
    w.length(z.len() as u64)?;
    let mut result = Ok(());
    z.visit(0, usize::MAX, true, &mut |member, score| {
        if result.is_ok() {
            result = w.string(member).and_then(|()| w.binary_double(score));
        }
    });
    result
}

/// The 16-byte node key Redis's radix tree uses: ms then seq, big-endian.
pub(crate) fn stream_id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// Flags of a stream listpack entry.
pub(crate) const STREAM_ITEM_DELETED: i64 = 1;
pub(crate) const STREAM_ITEM_SAMEFIELDS: i64 = 2;

/// The listpack Redis keeps for a stream node: the master entry (live and
/// deleted counts, the master field names, a 0 terminator), then each entry
/// (flags, ID deltas, fields and values or only values when the names equal
/// the master's, and the entry's element count).
pub(crate) fn stream_node_listpack(node: &NodeRef) -> Listpack {
    let mut lp = Listpack::new();
    let entries: Vec<_> = node.entries().collect();
    let deleted = entries.iter().filter(|e| e.deleted).count();
    lp.push_back(LpInput::Int(node.live as i64));
    lp.push_back(LpInput::Int(deleted as i64));
    lp.push_back(LpInput::Int(node.master_fields.len() as i64));
    for name in node.master_fields {
        lp.push_back(LpInput::Bytes(name));
    }
    lp.push_back(LpInput::Int(0));
    for e in entries {
        let pairs = e.fields.len() / 2;
        let same = pairs == node.master_fields.len()
            && e.fields.iter().step_by(2).zip(node.master_fields).all(|(f, m)| *f == **m);
        let mut flags = if same { STREAM_ITEM_SAMEFIELDS } else { 0 };
        if e.deleted {
            flags |= STREAM_ITEM_DELETED;
        }
        lp.push_back(LpInput::Int(flags));
        lp.push_back(LpInput::Int(e.id.ms.wrapping_sub(node.master_id.ms) as i64));
        lp.push_back(LpInput::Int(e.id.seq.wrapping_sub(node.master_id.seq) as i64));
        if same {
            for value in e.fields.iter().skip(1).step_by(2) {
                lp.push_back(LpInput::Bytes(value));
            }
            lp.push_back(LpInput::Int(pairs as i64 + 3));
        } else {
            lp.push_back(LpInput::Int(pairs as i64));
            for f in e.fields.iter() {
                lp.push_back(LpInput::Bytes(f));
            }
            lp.push_back(LpInput::Int(2 * pairs as i64 + 4));
        }
    }
    lp
}

fn save_id<W: Write>(w: &mut RdbWriter<W>, id: StreamId) -> Result<(), RdbError> {
    w.length(id.ms)?;
    w.length(id.seq)
}

fn save_stream<W: Write>(w: &mut RdbWriter<W>, s: &Stream) -> Result<(), RdbError> {
    w.length(s.node_count() as u64)?;
    for node in s.nodes() {
        w.string(&stream_id_key(node.master_id))?;
        w.string(stream_node_listpack(&node).as_bytes())?;
    }
    w.length(s.len())?;
    save_id(w, s.last_id)?;
    save_id(w, s.first_id)?;
    save_id(w, s.max_deleted_entry_id)?;
    w.length(s.entries_added)?;
    w.length(s.groups.len() as u64)?;
    for (name, group) in &s.groups {
        w.string(name)?;
        save_id(w, group.last_id)?;
        w.length(group.entries_read as u64)?;
        w.length(group.pel.len() as u64)?;
        for (id, pending) in &group.pel {
            w.raw(&stream_id_key(*id))?;
            w.millis(pending.delivery_time)?;
            w.length(pending.delivery_count)?;
        }
        w.length(group.consumers.len() as u64)?;
        for (name, consumer) in &group.consumers {
            w.string(name)?;
            w.millis(consumer.seen_time)?;
            w.length(consumer.pel.len() as u64)?;
            for id in &consumer.pel {
                w.raw(&stream_id_key(*id))?;
            }
        }
    }
    Ok(())
}

fn save_aux<W: Write>(w: &mut RdbWriter<W>, key: &str, value: &[u8]) -> Result<(), RdbError> {
    w.byte(opcodes::AUX)?;
    w.string(key.as_bytes())?;
    w.string(value)
}

fn save_aux_fields<W: Write>(w: &mut RdbWriter<W>, aux: &Aux) -> Result<(), RdbError> {
    let int = |v: i64| v.to_string().into_bytes();
    save_aux(w, "redis-ver", aux.redis_ver.as_bytes())?;
    save_aux(w, "redis-bits", b"64")?;
    save_aux(w, "ctime", &int(aux.ctime))?;
    save_aux(w, "used-mem", &int(aux.used_mem as i64))?;
    if let Some((db, id, offset)) = &aux.repl {
        save_aux(w, "repl-stream-db", &int(*db))?;
        save_aux(w, "repl-id", id.as_bytes())?;
        save_aux(w, "repl-offset", &int(*offset))?;
    }
    save_aux(w, "aof-base", &int(i64::from(aux.aof_base)))
}

/// Writes one key with its expiry and access metadata.
fn save_key<W: Write>(
    w: &mut RdbWriter<W>,
    key: &[u8],
    entry: &Entry,
    expire_at: Option<i64>,
    access: Option<AccessMeta>,
) -> Result<(), RdbError> {
    if let Some(when) = expire_at {
        w.byte(opcodes::EXPIRETIME_MS)?;
        w.millis(when)?;
    }
    match access {
        Some(AccessMeta::IdleSeconds(idle)) => {
            w.byte(opcodes::IDLE)?;
            w.length(idle)?;
        }
        Some(AccessMeta::Freq(freq)) => w.raw(&[opcodes::FREQ, freq])?,
        None => {}
    }
    w.byte(value_type(&entry.value))?;
    w.string(key)?;
    save_value(w, &entry.value)
}

/// Writes a whole snapshot: header, aux fields, function libraries, every
/// non-empty database, EOF and the checksum. `access` maps a key's stamp to
/// what the file records; `after_key` runs after each key (progress,
/// `rdb-key-save-delay`). Returns the sink.
pub fn save_snapshot<W: Write>(
    out: W,
    opts: SaveOptions,
    aux: &Aux,
    functions: &[Vec<u8>],
    dbs: &[Db],
    access: &dyn Fn(&Entry) -> Option<AccessMeta>,
    after_key: &mut dyn FnMut(),
) -> Result<W, RdbError> {
    let mut w = RdbWriter::new(out, opts.compress, opts.checksum);
    w.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
    save_aux_fields(&mut w, aux)?;
    for code in functions {
        w.byte(opcodes::FUNCTION2)?;
        w.string(code)?;
    }
    for (index, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        w.byte(opcodes::SELECTDB)?;
        w.length(index as u64)?;
        w.byte(opcodes::RESIZEDB)?;
        w.length(db.len() as u64)?;
        w.length(db.expires_len() as u64)?;
        for (key, entry) in db.iter() {
            save_key(&mut w, key, entry, db.expire_at(key), access(entry))?;
            after_key();
        }
    }
    w.byte(opcodes::EOF)?;
    w.finish()
}
