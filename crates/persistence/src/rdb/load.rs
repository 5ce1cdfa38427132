//! Reading values and whole snapshots: every type Redis 7.0 writes, and the
//! older types it still loads (see `legacy`).
//!
//! Values are rebuilt through the storage types' public constructors with
//! the server's encoding limits, so a loaded key has the encoding Redis 7.0
//! would give it (a small hashtable-typed hash becomes a listpack, a listpack
//! over the limits becomes a hashtable). Listpack and intset blobs within the
//! limits are adopted as they are after a full integrity check. Anything
//! malformed is an `RdbError`, never a panic.

use std::collections::HashSet;
use std::io::Read;

use cinnabar_protocol::numbers::parse_f64;
use cinnabar_storage::hash::{Hash, HashLimits};
use cinnabar_storage::intset::IntSet;
use cinnabar_storage::list::End;
use cinnabar_storage::listpack::{Listpack, LpValue};
use cinnabar_storage::set::Set;
use cinnabar_storage::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamId};
use cinnabar_storage::zset::Added;
use cinnabar_storage::{Db, Entry, List, StrValue, Value, Zset, ZsetLimits};

use super::io::RdbReader;
use super::legacy::{ziplist_elements, zipmap_elements};
use super::save::{STREAM_ITEM_DELETED, STREAM_ITEM_SAMEFIELDS};
use super::{opcodes, types, AccessMeta, RdbError, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, RDB_VERSION};

/// The encoding limits and context loaded values are built with.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub hash: HashLimits,
    pub zset: ZsetLimits,
    pub set_max_intset_entries: usize,
    pub list_fill: i64,
    /// Number of databases (a SELECTDB beyond it is fatal).
    pub databases: usize,
    /// Keys whose expiry is before this are dropped (a master loading its
    /// own file); `None` keeps them (replicas, AOF preambles).
    pub expire_before_ms: Option<i64>,
    /// Verify the trailing CRC (`rdbchecksum`).
    pub verify_checksum: bool,
}

/// What a snapshot held besides keys.
#[derive(Default)]
pub struct Loaded {
    pub dbs: Vec<Db>,
    /// The aux fields in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function library codes (FUNCTION2 opcodes), for the scripting engine.
    pub functions: Vec<Vec<u8>>,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_keys_skipped: u64,
    /// True when the checksum was zero (saved with `rdbchecksum no`).
    pub checksum_disabled: bool,
    /// Bytes the snapshot took, checksum included: an AOF with an RDB
    /// preamble continues with commands from there.
    pub length: u64,
}

impl Loaded {
    pub fn aux_field(&self, name: &str) -> Option<&[u8]> {
        self.aux.iter().find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice())
    }
}

/// A loaded value, or `None` for an empty collection (Redis skips those).
type LoadedValue = Option<Value>;

/// Reads a value body of RDB type `rdb_type`.
pub fn load_value<R: Read>(r: &mut RdbReader<R>, rdb_type: u8, opts: &LoadOptions) -> Result<LoadedValue, RdbError> {
    let value = match rdb_type {
        types::STRING => Value::Str(StrValue::from_bytes(&r.string()?)),
        types::LIST => {
            let mut list = List::new(opts.list_fill);
            for _ in 0..r.count()? {
                list.push(End::Tail, &r.string()?);
            }
            Value::List(Box::new(list))
        }
        types::LIST_ZIPLIST => {
            let mut list = List::new(opts.list_fill);
            for e in ziplist_elements(&r.string()?)? {
                list.push(End::Tail, &e);
            }
            Value::List(Box::new(list))
        }
        types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => Value::List(Box::new(load_quicklist(r, rdb_type, opts)?)),
        types::SET => Value::Set(load_set(r, opts)?),
        types::SET_INTSET => Value::Set(load_intset(r, opts)?),
        types::ZSET | types::ZSET_2 => {
            let mut z = ZsetBuilder::new(opts);
            for _ in 0..r.count()? {
                let member = r.string()?;
                let score = if rdb_type == types::ZSET { r.text_double()? } else { r.binary_double()? };
                z.add(&member, score)?;
            }
            Value::Zset(z.finish())
        }
        types::ZSET_ZIPLIST => {
            let elements = ziplist_elements(&r.string()?)?;
            Value::Zset(zset_from_pairs(elements.iter().map(|e| e.as_slice()), opts)?)
        }
        types::ZSET_LISTPACK => Value::Zset(load_zset_listpack(r, opts)?),
        types::HASH => {
            let len = r.count()?;
            let mut h = HashBuilder::new(opts, len);
            for _ in 0..len {
                let field = r.string()?;
                let value = r.string()?;
                h.set(&field, &value)?;
            }
            Value::Hash(h.hash)
        }
        types::HASH_ZIPMAP | types::HASH_ZIPLIST => {
            let blob = r.string()?;
            let elements =
                if rdb_type == types::HASH_ZIPMAP { zipmap_elements(&blob)? } else { ziplist_elements(&blob)? };
            Value::Hash(hash_from_pairs(elements.iter().map(|e| e.as_slice()), opts)?)
        }
        types::HASH_LISTPACK => Value::Hash(load_hash_listpack(r, opts)?),
        types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 => Value::Stream(Box::new(load_stream(r, rdb_type)?)),
        types::MODULE_PRE_GA | types::MODULE_2 => {
            return Err(RdbError::corrupt("The RDB file contains module data I can't load: no matching module type"))
        }
        other => return Err(RdbError::corrupt(format!("Unknown RDB encoding type {other}"))),
    };
    Ok(Some(value).filter(|v| !is_empty_collection(v)))
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Str(_) | Value::Stream(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::Zset(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
    }
}

fn listpack(blob: Vec<u8>, what: &str) -> Result<Listpack, RdbError> {
    Listpack::from_bytes(blob).ok_or_else(|| RdbError::corrupt(format!("{what} integrity check failed.")))
}

fn load_quicklist<R: Read>(r: &mut RdbReader<R>, rdb_type: u8, opts: &LoadOptions) -> Result<List, RdbError> {
    let mut list = List::new(opts.list_fill);
    for _ in 0..r.count()? {
        let container = if rdb_type == types::LIST_QUICKLIST_2 { r.length()? } else { QUICKLIST_NODE_PACKED };
        let blob = r.string()?;
        match container {
            QUICKLIST_NODE_PLAIN => list.push(End::Tail, &blob),
            QUICKLIST_NODE_PACKED if rdb_type == types::LIST_QUICKLIST => {
                let mut node = Listpack::new();
                for e in ziplist_elements(&blob)? {
                    node.push_back(cinnabar_storage::listpack::LpInput::Bytes(&e));
                }
                list.push_node(node);
            }
            QUICKLIST_NODE_PACKED => list.push_node(listpack(blob, "Listpack")?),
            other => return Err(RdbError::corrupt(format!("Quicklist integrity check failed: container {other}"))),
        }
    }
    Ok(list)
}

fn duplicate_set_member() -> RdbError {
    RdbError::corrupt("Duplicate set members detected")
}

fn load_set<R: Read>(r: &mut RdbReader<R>, opts: &LoadOptions) -> Result<Set, RdbError> {
    let len = r.count()?;
    let mut set = if len > opts.set_max_intset_entries { Set::Table(Box::default()) } else { Set::new_ints() };
    for _ in 0..len {
        if !set.add(&r.string()?, opts.set_max_intset_entries) {
            return Err(duplicate_set_member());
        }
    }
    Ok(set)
}

fn load_intset<R: Read>(r: &mut RdbReader<R>, opts: &LoadOptions) -> Result<Set, RdbError> {
    let ints = IntSet::from_bytes(r.string()?).ok_or_else(|| RdbError::corrupt("Intset integrity check failed."))?;
    if ints.len() <= opts.set_max_intset_entries {
        return Ok(Set::Ints(ints));
    }
    let mut set = Set::Table(Box::default());
    let mut digits = Vec::with_capacity(20);
    for i in ints.iter() {
        digits.clear();
        LpValue::Int(i).write_to(&mut digits);
        set.add(&digits, opts.set_max_intset_entries);
    }
    Ok(set)
}

/// Builds a sorted set member by member in the encoding Redis would end
/// with (listpack while within the limits).
struct ZsetBuilder {
    zset: Option<Zset>,
    limits: ZsetLimits,
}

impl ZsetBuilder {
    fn new(opts: &LoadOptions) -> Self {
        ZsetBuilder { zset: None, limits: opts.zset }
    }

    fn add(&mut self, member: &[u8], score: f64) -> Result<(), RdbError> {
        if score.is_nan() {
            return Err(RdbError::corrupt("Zset with NAN score detected"));
        }
        let limits = self.limits;
        let z = self.zset.get_or_insert_with(|| Zset::for_first_member(limits, member.len()));
        match z.add(member, score, limits) {
            Added::New => Ok(()),
            _ => Err(RdbError::corrupt("Duplicate zset fields detected")),
        }
    }

    fn finish(self) -> Zset {
        self.zset.unwrap_or_default()
    }
}

fn zset_from_pairs<'a>(mut elements: impl Iterator<Item = &'a [u8]>, opts: &LoadOptions) -> Result<Zset, RdbError> {
    let mut z = ZsetBuilder::new(opts);
    while let Some(member) = elements.next() {
        let score = elements.next().ok_or_else(|| RdbError::corrupt("Zset listpack integrity check failed."))?;
        let score = parse_f64(score).ok_or_else(|| RdbError::corrupt("Zset listpack integrity check failed."))?;
        z.add(member, score)?;
    }
    Ok(z.finish())
}

/// An element of an adopted listpack as a set key, for duplicate checks
/// that allocate nothing.
#[derive(PartialEq, Eq, Hash)]
enum ElementKey<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> From<LpValue<'a>> for ElementKey<'a> {
    fn from(v: LpValue<'a>) -> Self {
        match v {
            LpValue::Str(s) => ElementKey::Str(s),
            LpValue::Int(i) => ElementKey::Int(i),
        }
    }
}

/// Bytes of an element in its string form.
fn element_len(v: LpValue) -> usize {
    match v {
        LpValue::Str(s) => s.len(),
        LpValue::Int(i) => cinnabar_storage::StrValue::Int(i).len(),
    }
}

/// Checks a pair listpack (hash or sorted set) to adopt as it is: an even
/// count, distinct keys, `check_value` accepting each value. Returns
/// whether it fits the listpack limits (`max_entries` pairs, elements of
/// at most `max_len` bytes; sorted sets limit only members).
fn check_pairs(
    lp: &Listpack,
    max_entries: usize,
    max_len: usize,
    values_limited: bool,
    check_value: impl Fn(LpValue) -> bool,
    what: &str,
) -> Result<bool, RdbError> {
    let bad = || RdbError::corrupt(format!("{what} integrity check failed."));
    let mut keys = HashSet::new();
    let mut fits = true;
    let mut it = lp.iter();
    while let Some(key) = it.next() {
        let value = it.next().ok_or_else(bad)?;
        if !check_value(value) || !keys.insert(ElementKey::from(key)) {
            return Err(bad());
        }
        fits &= element_len(key) <= max_len && (!values_limited || element_len(value) <= max_len);
    }
    Ok(fits && keys.len() <= max_entries)
}

fn valid_score(v: LpValue) -> bool {
    match v {
        LpValue::Int(_) => true,
        LpValue::Str(s) => parse_f64(s).is_some_and(|f| !f.is_nan()),
    }
}

fn owned_elements(lp: &Listpack) -> Vec<Vec<u8>> {
    lp.iter().map(|e| e.to_vec()).collect()
}

fn load_zset_listpack<R: Read>(r: &mut RdbReader<R>, opts: &LoadOptions) -> Result<Zset, RdbError> {
    let lp = listpack(r.string()?, "Zset listpack")?;
    let fits = check_pairs(&lp, opts.zset.max_entries, opts.zset.max_value, false, valid_score, "Zset listpack")?;
    // The blob is Redis's own listpack: keep it when it fits, as Redis does.
    if fits {
        return Ok(Zset::Listpack(lp));
    }
    zset_from_pairs(owned_elements(&lp).iter().map(|e| e.as_slice()), opts)
}

/// Builds a hash field by field in the encoding Redis would end with.
struct HashBuilder {
    hash: Hash,
    limits: HashLimits,
}

impl HashBuilder {
    fn new(opts: &LoadOptions, len: usize) -> Self {
        let hash = if len > opts.hash.max_listpack_entries { Hash::Table(Box::default()) } else { Hash::new() };
        HashBuilder { hash, limits: opts.hash }
    }

    fn set(&mut self, field: &[u8], value: &[u8]) -> Result<(), RdbError> {
        if self.hash.set(field, value, self.limits) {
            Ok(())
        } else {
            Err(RdbError::corrupt("Duplicate hash fields detected"))
        }
    }
}

fn hash_from_pairs<'a>(mut elements: impl Iterator<Item = &'a [u8]>, opts: &LoadOptions) -> Result<Hash, RdbError> {
    let mut h = HashBuilder::new(opts, 0);
    while let Some(field) = elements.next() {
        let value = elements.next().ok_or_else(|| RdbError::corrupt("Hash listpack integrity check failed."))?;
        h.set(field, value)?;
    }
    Ok(h.hash)
}

fn load_hash_listpack<R: Read>(r: &mut RdbReader<R>, opts: &LoadOptions) -> Result<Hash, RdbError> {
    let lp = listpack(r.string()?, "Hash listpack")?;
    let limits = opts.hash;
    let fits =
        check_pairs(&lp, limits.max_listpack_entries, limits.max_listpack_value, true, |_| true, "Hash listpack")?;
    if fits {
        return Ok(Hash::Listpack(lp));
    }
    hash_from_pairs(owned_elements(&lp).iter().map(|e| e.as_slice()), opts)
}

fn stream_id_from_key(key: &[u8]) -> Option<StreamId> {
    let key: [u8; 16] = key.try_into().ok()?;
    let ms = u64::from_be_bytes(key[..8].try_into().ok()?);
    let seq = u64::from_be_bytes(key[8..].try_into().ok()?);
    Some(StreamId::new(ms, seq))
}

fn load_id<R: Read>(r: &mut RdbReader<R>) -> Result<StreamId, RdbError> {
    Ok(StreamId::new(r.length()?, r.length()?))
}

fn bad_stream_listpack() -> RdbError {
    RdbError::corrupt("Stream listpack integrity check failed.")
}

/// Replays one node listpack (see `save::stream_node_listpack`) into `s`.
pub(crate) fn load_stream_node(s: &mut Stream, master_id: StreamId, lp: &Listpack) -> Result<(), RdbError> {
    let mut it = lp.iter();
    let int =
        |it: &mut dyn Iterator<Item = LpValue>| it.next().and_then(|v| v.as_i64()).ok_or_else(bad_stream_listpack);
    let live = int(&mut it)?;
    let deleted = int(&mut it)?;
    let num_names = usize::try_from(int(&mut it)?).map_err(|_| bad_stream_listpack())?;
    let names: Vec<Vec<u8>> =
        (0..num_names).map(|_| it.next().map(|v| v.to_vec())).collect::<Option<_>>().ok_or_else(bad_stream_listpack)?;
    if int(&mut it)? != 0 {
        return Err(bad_stream_listpack());
    }
    let name_refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
    if !s.load_node(master_id, &name_refs) {
        return Err(RdbError::corrupt("Listpack re-added with existing key"));
    }
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    while let Some(flags) = it.next() {
        let flags = flags.as_i64().ok_or_else(bad_stream_listpack)?;
        let ms = master_id.ms.wrapping_add(int(&mut it)? as u64);
        let seq = master_id.seq.wrapping_add(int(&mut it)? as u64);
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if flags & STREAM_ITEM_SAMEFIELDS != 0 {
            for name in &names {
                fields.push(name.clone());
                fields.push(it.next().ok_or_else(bad_stream_listpack)?.to_vec());
            }
        } else {
            let pairs = usize::try_from(int(&mut it)?).map_err(|_| bad_stream_listpack())?;
            for _ in 0..pairs * 2 {
                fields.push(it.next().ok_or_else(bad_stream_listpack)?.to_vec());
            }
        }
        int(&mut it)?; // the entry's element count, for backward walks
        let deleted_flag = flags & STREAM_ITEM_DELETED != 0;
        let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
        if !s.load_entry(StreamId::new(ms, seq), deleted_flag, &refs) {
            return Err(bad_stream_listpack());
        }
        if deleted_flag {
            seen_deleted += 1;
        } else {
            seen_live += 1;
        }
    }
    if (seen_live, seen_deleted) != (live, deleted) {
        return Err(bad_stream_listpack());
    }
    if live == 0 {
        return Err(RdbError::corrupt("Empty listpack inside stream"));
    }
    Ok(())
}

fn load_stream<R: Read>(r: &mut RdbReader<R>, rdb_type: u8) -> Result<Stream, RdbError> {
    let mut s = Stream::new();
    for _ in 0..r.count()? {
        let key = r.string()?;
        let master_id = stream_id_from_key(&key)
            .ok_or_else(|| RdbError::corrupt("Stream node key entry is not the size of a stream ID"))?;
        let lp = listpack(r.string()?, "Stream listpack")?;
        if lp.is_empty() {
            return Err(RdbError::corrupt("Empty listpack inside stream"));
        }
        load_stream_node(&mut s, master_id, &lp)?;
    }
    let length = r.length()?;
    s.last_id = load_id(r)?;
    if rdb_type == types::STREAM_LISTPACKS_2 {
        s.first_id = load_id(r)?;
        s.max_deleted_entry_id = load_id(r)?;
        s.entries_added = r.length()?;
    } else {
        s.first_id = s.edge_entry(false).map_or(StreamId::MIN, |(id, _)| id);
        s.entries_added = length;
    }
    if length != s.len() {
        return Err(RdbError::corrupt("Stream length inconsistent with rax entries"));
    }
    if s.entries_added < length {
        return Err(RdbError::corrupt("Stream entries added is below its length"));
    }
    let last_held = s.nodes().last().and_then(|n| n.entries().last()).map(|e| e.id);
    if last_held.is_some_and(|id| id > s.last_id) {
        return Err(RdbError::corrupt("Stream last ID is below an entry it holds"));
    }
    for _ in 0..r.count()? {
        let name = r.string()?;
        let last_id = load_id(r)?;
        let entries_read = if rdb_type == types::STREAM_LISTPACKS_2 {
            r.length()? as i64
        } else {
            s.entries_read_up_to(last_id).map_or(cinnabar_storage::stream::ENTRIES_READ_INVALID, |n| n as i64)
        };
        let group = load_group(r, ConsumerGroup::new(last_id, entries_read))?;
        if s.groups.insert(name.into_boxed_slice(), group).is_some() {
            return Err(RdbError::corrupt("Duplicated consumer group name"));
        }
    }
    Ok(s)
}

fn load_group<R: Read>(r: &mut RdbReader<R>, mut group: ConsumerGroup) -> Result<ConsumerGroup, RdbError> {
    for _ in 0..r.count()? {
        let id = stream_id_from_key(&r.raw::<16>()?).expect("16 bytes");
        let delivery_time = r.millis()?;
        let delivery_count = r.length()?;
        let pending = PendingEntry { consumer: Box::default(), delivery_time, delivery_count };
        if group.pel.insert(id, pending).is_some() {
            return Err(RdbError::corrupt("Duplicated global PEL entry loading stream consumer group"));
        }
    }
    // Every group PEL entry must belong to exactly one consumer.
    let mut owned_ids = HashSet::new();
    for _ in 0..r.count()? {
        let name = r.string()?.into_boxed_slice();
        if group.consumers.contains_key(&name) {
            return Err(RdbError::corrupt("Duplicate stream consumer detected."));
        }
        let seen_time = r.millis()?;
        let mut consumer = Consumer { seen_time, ..Consumer::default() };
        for _ in 0..r.count()? {
            let id = stream_id_from_key(&r.raw::<16>()?).expect("16 bytes");
            let pending = group
                .pel
                .get_mut(&id)
                .ok_or_else(|| RdbError::corrupt("Consumer entry not found in group global PEL"))?;
            if !owned_ids.insert(id) {
                return Err(RdbError::corrupt("Duplicated consumer PEL entry loading a stream consumer group"));
            }
            pending.consumer = name.clone();
            consumer.pel.insert(id);
        }
        group.consumers.insert(name, consumer);
    }
    if owned_ids.len() != group.pel.len() {
        return Err(RdbError::corrupt("Stream CG PEL entry without consumer"));
    }
    Ok(group)
}

/// The largest RESIZEDB hint acted on (tables grow past it as keys arrive).
const RESIZE_HINT_MAX: u64 = 1 << 22;

/// Per-key state set by the opcodes before a key.
#[derive(Default)]
struct KeyPrefix {
    expire_at: Option<i64>,
    access: Option<AccessMeta>,
}

/// Reads a whole snapshot into fresh databases. `stamp` turns the file's
/// access metadata (if any) into the key's access stamp; `progress` is
/// called with the bytes read so far after each key.
pub fn load_snapshot<R: Read>(
    inp: R,
    opts: &LoadOptions,
    stamp: &dyn Fn(Option<AccessMeta>) -> u32,
    progress: &mut dyn FnMut(u64),
) -> Result<Loaded, RdbError> {
    let mut r = RdbReader::new(inp);
    let header = r.raw::<9>()?;
    if &header[..5] != b"REDIS" {
        return Err(RdbError::corrupt("Wrong signature trying to load DB from file"));
    }
    let version = std::str::from_utf8(&header[5..]).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    if !(1..=RDB_VERSION).contains(&version) {
        return Err(RdbError::corrupt(format!("Can't handle RDB format version {version}")));
    }
    let mut loaded = Loaded { dbs: (0..opts.databases).map(|_| Db::new()).collect(), ..Loaded::default() };
    let mut db = 0usize;
    let mut prefix = KeyPrefix::default();
    loop {
        let op = r.byte()?;
        match op {
            opcodes::EXPIRETIME => prefix.expire_at = Some(r.seconds()? * 1000),
            opcodes::EXPIRETIME_MS => prefix.expire_at = Some(r.millis()?),
            opcodes::FREQ => prefix.access = Some(AccessMeta::Freq(r.byte()?)),
            opcodes::IDLE => prefix.access = Some(AccessMeta::IdleSeconds(r.length()?)),
            opcodes::EOF => break,
            opcodes::SELECTDB => {
                db = r.count()?;
                if db >= opts.databases {
                    return Err(RdbError::corrupt(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n",
                        opts.databases
                    )));
                }
            }
            opcodes::RESIZEDB => {
                // A hint: capped, so a corrupt size cannot allocate much.
                let keys = r.length()?.min(RESIZE_HINT_MAX) as usize;
                let expires = r.length()?.min(RESIZE_HINT_MAX) as usize;
                loaded.dbs[db].expand(keys, expires);
            }
            opcodes::AUX => {
                let key = r.string()?;
                let value = r.string()?;
                loaded.aux.push((key, value));
            }
            opcodes::FUNCTION2 => loaded.functions.push(r.string()?),
            opcodes::FUNCTION_PRE_GA => {
                return Err(RdbError::corrupt("Failed loading library, pre-release function format is not supported"))
            }
            opcodes::MODULE_AUX => {
                return Err(RdbError::corrupt("The RDB file contains AUX module data I can't load: no matching module"))
            }
            rdb_type => {
                let key = r.string()?;
                let value = load_value(&mut r, rdb_type, opts)?;
                let prefix = std::mem::take(&mut prefix);
                let Some(value) = value else {
                    loaded.empty_keys_skipped += 1;
                    continue;
                };
                let expired = matches!((prefix.expire_at, opts.expire_before_ms), (Some(at), Some(now)) if at < now);
                if expired {
                    loaded.keys_expired += 1;
                    continue;
                }
                let target = &mut loaded.dbs[db];
                let before = target.len();
                target.set(&key, Entry::new(value, stamp(prefix.access)), false);
                if target.len() == before {
                    return Err(RdbError::corrupt("Duplicated key found in RDB file"));
                }
                if let Some(at) = prefix.expire_at {
                    target.set_expire(&key, at);
                }
                loaded.keys_loaded += 1;
                progress(r.offset());
            }
        }
    }
    if version >= 5 {
        let expected = r.checksum_so_far();
        let stored = u64::from_le_bytes(r.raw::<8>()?);
        loaded.checksum_disabled = stored == 0;
        if opts.verify_checksum && stored != 0 && stored != expected {
            return Err(RdbError::corrupt(format!(
                "Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now."
            )));
        }
    }
    loaded.length = r.offset();
    Ok(loaded)
}
