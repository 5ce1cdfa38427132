//! `Hash`: the hash type and its two Redis 7.0 encodings.
//!
//! A small hash is a listpack of alternating field and value entries, in
//! insertion order (Redis's `listpack` encoding: a few bytes per entry). It
//! becomes a hashtable — a `Dict` keyed by `FieldValue`s, each a field and its
//! value packed into one `SmallBytes`, so a pair of up to 21 bytes lives in
//! its 32-byte dict node with no allocation of its own — exactly when Redis
//! converts: when a field or value longer than `hash-max-listpack-value` is
//! written, or the field count passes `hash-max-listpack-entries`. Like Redis
//! it never converts back. Sampling (HRANDFIELD) follows Redis's cases so
//! replies have Redis's shape.

use std::borrow::Borrow;

use crate::bytes::{read_varint, varint};
use crate::dict::Dict;
use crate::listpack::{Listpack, LpInput, LpValue, Pos};
use crate::SmallBytes;

/// The encoding limits, from the server's configuration.
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

/// A hashtable hash's entry: a varint field length, the field and the value
/// in one `SmallBytes`. It hashes and compares as its field alone, so the
/// table looks entries up by field.
#[derive(Clone)]
pub struct FieldValue(SmallBytes);

impl FieldValue {
    pub fn new(field: &[u8], value: &[u8]) -> Self {
        let (prefix, n) = varint(field.len());
        FieldValue(SmallBytes::concat(&[&prefix[..n], field, value]))
    }

    fn split(&self) -> (&[u8], &[u8]) {
        let (field_len, prefix) = read_varint(&self.0);
        self.0[prefix..].split_at(field_len)
    }

    pub fn field(&self) -> &[u8] {
        self.split().0
    }

    pub fn value(&self) -> &[u8] {
        self.split().1
    }

    /// Bytes allocated outside the dict node (0 when the pair is inline).
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

impl Borrow<[u8]> for FieldValue {
    fn borrow(&self) -> &[u8] {
        self.field()
    }
}

impl PartialEq for FieldValue {
    fn eq(&self, other: &Self) -> bool {
        self.field() == other.field()
    }
}

impl Eq for FieldValue {}

impl std::hash::Hash for FieldValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.field().hash(state)
    }
}

/// A hashtable-encoded hash's table.
pub type FieldTable = Dict<FieldValue, ()>;

/// A hash; see the module comment. The table is boxed so that the common
/// small hash costs 24 bytes here, not the table's 96.
pub enum Hash {
    Listpack(Listpack),
    Table(Box<FieldTable>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::new())
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Listpack(lp) => Hash::Listpack(lp.clone()),
            Hash::Table(table) => {
                let mut copy = Dict::new();
                for (pair, ()) in table.iter() {
                    copy.insert_new(pair.clone(), ());
                }
                Hash::Table(Box::new(copy))
            }
        }
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().all(|(field, value)| other.get(&field.to_vec()).is_some_and(|v| same(v, value)))
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Whether two stored elements have the same string form.
fn same(a: LpValue, b: LpValue) -> bool {
    match (a, b) {
        (LpValue::Int(x), LpValue::Int(y)) => x == y,
        _ => a.to_vec() == b.to_vec(),
    }
}

/// A field/value pair as stored.
pub type Pair<'a> = (LpValue<'a>, LpValue<'a>);

fn pair_of(pair: &FieldValue) -> Pair<'_> {
    let (field, value) = pair.split();
    (LpValue::Str(field), LpValue::Str(value))
}

impl Hash {
    pub fn new() -> Self {
        Self::default()
    }

    /// OBJECT ENCODING's name for the current encoding.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position of the field entry in a listpack hash.
    fn find_in(lp: &Listpack, field: &[u8]) -> Option<Pos> {
        lp.find(lp.first()?, field, 1)
    }

    pub fn get(&self, field: &[u8]) -> Option<LpValue<'_>> {
        match self {
            Hash::Listpack(lp) => {
                let pos = Self::find_in(lp, field)?;
                Some(lp.get(lp.next(pos).expect("every field has a value")))
            }
            Hash::Table(t) => t.get_key_value(field).map(|(pair, ())| LpValue::Str(pair.value())),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to a hashtable before a write whose arguments include a string
    /// longer than the listpack value limit (Redis's `hashTypeTryConversion`,
    /// which looks at every field and value of the command, new or not).
    pub fn prepare_for(&mut self, args: &[&[u8]], limits: HashLimits) {
        if matches!(self, Hash::Listpack(_)) && args.iter().any(|a| a.len() > limits.max_listpack_value) {
            self.convert_to_table();
        }
    }

    /// Sets `field` to `value`; returns true if the field is new. Converts to a
    /// hashtable when either string is too long for a listpack, or when the
    /// field count passes the listpack limit.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        self.prepare_for(&[field, value], limits);
        match self {
            Hash::Listpack(lp) => {
                if let Some(pos) = Self::find_in(lp, field) {
                    let value_pos = lp.next(pos).expect("every field has a value");
                    lp.replace(value_pos, LpInput::Bytes(value));
                    return false;
                }
                lp.push_back(LpInput::Bytes(field));
                lp.push_back(LpInput::Bytes(value));
                if lp.len() / 2 > limits.max_listpack_entries {
                    self.convert_to_table();
                }
                true
            }
            Hash::Table(t) => match t.replace_key(FieldValue::new(field, value)) {
                Ok(_) => false,
                Err(pair) => {
                    t.insert_new(pair, ());
                    true
                }
            },
        }
    }

    /// Removes `field`; returns true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => match Self::find_in(lp, field) {
                Some(pos) => {
                    lp.delete_range(pos, 2);
                    true
                }
                None => false,
            },
            Hash::Table(t) => {
                let removed = t.remove(field).is_some();
                if removed {
                    t.shrink_if_needed();
                }
                removed
            }
        }
    }

    fn convert_to_table(&mut self) {
        if let Hash::Listpack(lp) = self {
            let mut table = Dict::new();
            let mut entries = lp.iter();
            while let (Some(field), Some(value)) = (entries.next(), entries.next()) {
                table.insert_new(FieldValue::new(&field.to_vec(), &value.to_vec()), ());
            }
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Every field/value pair: insertion order for a listpack, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Pair<'_>> + '_> {
        match self {
            Hash::Listpack(lp) => {
                let mut entries = lp.iter();
                Box::new(std::iter::from_fn(move || Some((entries.next()?, entries.next()?))))
            }
            Hash::Table(t) => Box::new(t.iter().map(|(pair, ())| pair_of(pair))),
        }
    }

    /// One SCAN step over a hashtable hash (a listpack hash is returned
    /// whole by the caller, as Redis does). Returns the next cursor.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(Pair)) -> u64 {
        match self {
            Hash::Listpack(_) => {
                self.iter().for_each(visit);
                0
            }
            Hash::Table(t) => t.scan(cursor, |pair, ()| visit(pair_of(pair))),
        }
    }

    /// A uniformly chosen pair.
    pub fn random_pair(&self) -> Option<Pair<'_>> {
        match self {
            Hash::Listpack(lp) => {
                let n = lp.len() / 2;
                if n == 0 {
                    return None;
                }
                let pos = lp.seek(2 * fastrand::usize(..n) as i64)?;
                Some((lp.get(pos), lp.get(lp.next(pos)?)))
            }
            Hash::Table(t) => t.fair_random_entry().map(|(pair, ())| pair_of(pair)),
        }
    }

    /// `count` pairs chosen independently (the same pair may repeat), as
    /// HRANDFIELD with a negative count returns them. Lazy, because `count`
    /// may be far larger than the hash.
    pub fn sample_with_repeats(&self, count: usize) -> Box<dyn Iterator<Item = Pair<'_>> + '_> {
        match self {
            Hash::Listpack(_) => {
                let pairs: Vec<Pair> = self.iter().collect();
                Box::new((0..count).map(move |_| pairs[fastrand::usize(..pairs.len())]))
            }
            Hash::Table(_) => Box::new((0..count).filter_map(|_| self.random_pair())),
        }
    }

    /// Up to `count` distinct pairs, following Redis's HRANDFIELD cases: the
    /// whole hash when `count` covers it; for a listpack, a selection sample
    /// kept in listpack order; for a table, removal from a copy when most
    /// pairs are wanted, random picks until enough are distinct otherwise.
    pub fn sample_unique(&self, count: usize) -> Vec<Pair<'_>> {
        let size = self.len();
        if count >= size {
            return self.iter().collect();
        }
        match self {
            Hash::Listpack(_) => ordered_selection(self.iter(), size, count),
            Hash::Table(_) if count * 3 > size => {
                let mut all: Vec<Pair> = self.iter().collect();
                while all.len() > count {
                    all.swap_remove(fastrand::usize(..all.len()));
                }
                all
            }
            Hash::Table(_) => {
                let mut seen = std::collections::HashSet::with_capacity(count);
                let mut picked = Vec::with_capacity(count);
                while picked.len() < count {
                    let pair = self.random_pair().expect("the hash is not empty");
                    if seen.insert(pair.0.to_vec()) {
                        picked.push(pair);
                    }
                }
                picked
            }
        }
    }

    /// Heap bytes owned, for MEMORY USAGE and lazy-free decisions.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.capacity(),
            Hash::Table(t) => {
                let strings: usize = t.iter().map(|(pair, ())| pair.heap_size()).sum();
                std::mem::size_of::<FieldTable>()
                    + t.bucket_count() * std::mem::size_of::<usize>()
                    + t.len() * FieldTable::NODE_SIZE
                    + strings
            }
        }
    }
}

/// Picks `count` of `size` items, each subset equally likely, keeping their
/// order (selection sampling, as Redis's `lpRandomPairsUnique`).
pub fn ordered_selection<T>(items: impl Iterator<Item = T>, size: usize, count: usize) -> Vec<T> {
    let mut picked = Vec::with_capacity(count);
    let mut remaining = size;
    for item in items {
        let wanted = count - picked.len();
        if wanted == 0 {
            break;
        }
        if fastrand::usize(..remaining) < wanted {
            picked.push(item);
        }
        remaining -= 1;
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const LIMITS: HashLimits = HashLimits { max_listpack_entries: 8, max_listpack_value: 10 };

    fn as_map(h: &Hash) -> HashMap<Vec<u8>, Vec<u8>> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    /// A short pair lives in a 32-byte node, field and value together.
    #[test]
    fn short_pairs_take_one_small_node() {
        assert_eq!(FieldTable::NODE_SIZE, 32);
        assert_eq!(std::mem::size_of::<Hash>(), 16);
        let pair = FieldValue::new(b"field:1234", b"abc");
        assert_eq!((pair.field(), pair.value(), pair.heap_size()), (&b"field:1234"[..], &b"abc"[..], 0));
        let long = FieldValue::new(&[b'f'; 200], b"");
        assert_eq!((long.field(), long.value()), (&[b'f'; 200][..], &b""[..]));
    }

    #[test]
    fn converts_when_redis_does() {
        let mut h = Hash::new();
        for i in 0..8 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f9", b"v", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(b"f", &[b'x'; 10], LIMITS);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", &[b'x'; 11], LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"f");
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn listpack_keeps_insertion_order() {
        let mut h = Hash::new();
        for f in [&b"b"[..], b"a", b"10", b"c"] {
            h.set(f, f, LIMITS);
        }
        h.set(b"a", b"new", LIMITS);
        let fields: Vec<Vec<u8>> = h.iter().map(|(f, _)| f.to_vec()).collect();
        assert_eq!(fields, vec![b"b".to_vec(), b"a".to_vec(), b"10".to_vec(), b"c".to_vec()]);
        assert_eq!(h.get(b"a").unwrap().to_vec(), b"new");
    }

    #[test]
    fn samples_are_distinct_members() {
        for n in [5usize, 50] {
            let mut h = Hash::new();
            for i in 0..n {
                h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
            }
            for count in [1, 2, n / 3, n / 2, n - 1, n, n + 3] {
                let sample = h.sample_unique(count);
                let fields: std::collections::HashSet<Vec<u8>> = sample.iter().map(|p| p.0.to_vec()).collect();
                assert_eq!(sample.len(), count.min(n));
                assert_eq!(fields.len(), sample.len());
            }
            assert_eq!(h.sample_with_repeats(3 * n).count(), 3 * n);
        }
    }

    proptest! {
        /// The hash behaves like a HashMap, across the conversion.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec((any::<bool>(), 0u8..20, prop_oneof![
            Just(Vec::new()), prop::collection::vec(b'0'..=b'9', 1..4), prop::collection::vec(any::<u8>(), 0..14)]), 1..120)) {
            let mut h = Hash::new();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            for (set, f, value) in ops {
                let field = format!("{f}").into_bytes();
                if set {
                    prop_assert_eq!(h.set(&field, &value, LIMITS), model.insert(field.clone(), value).is_none());
                } else {
                    prop_assert_eq!(h.remove(&field), model.remove(&field).is_some());
                }
                prop_assert_eq!(h.len(), model.len());
                prop_assert_eq!(as_map(&h), model.clone());
                prop_assert_eq!(h.get(&field).map(|v| v.to_vec()), model.get(&field).cloned());
                let long = model.values().any(|v| v.len() > LIMITS.max_listpack_value);
                if long || model.len() > LIMITS.max_listpack_entries {
                    prop_assert_eq!(h.encoding(), "hashtable");
                }
            }
            prop_assert_eq!(h.clone(), h);
        }
    }
}
