//! One logical database: the key dictionary and the expiry dictionary.
//!
//! `Db` keeps the invariant that every key with a TTL exists in `keys`; it does
//! not decide when a key counts as expired for a command (the server does that,
//! because expiring a key must also be propagated and notified).

use crate::dict::Dict;
use crate::{SmallBytes, Value};

/// A value plus the access metadata OBJECT IDLETIME/FREQ and eviction read.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// LRU clock (seconds, 24 bits) or LFU counter and decay time, as Redis packs them.
    pub access: u32,
}

impl Entry {
    pub fn new(value: Value, access: u32) -> Self {
        Entry { value, access }
    }
}

/// One database; see the module comment.
#[derive(Default)]
pub struct Db {
    keys: Dict<SmallBytes, Entry>,
    expires: Dict<SmallBytes, i64>,
    /// Where the active-expire cycle resumes its scan of `expires`.
    pub expires_cursor: u64,
    /// Running average TTL of sampled keys (INFO keyspace `avg_ttl`).
    pub avg_ttl: i64,
}

impl Db {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.keys.get_mut(key)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }

    /// The absolute expiry time in milliseconds, if the key has one.
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    /// True if the key has a TTL that has passed at `now_ms` (a key lives through
    /// its expiry millisecond, as in Redis).
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        self.expire_at(key).is_some_and(|t| t < now_ms)
    }

    /// Adds or overwrites a key. Overwriting clears the TTL unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], entry: Entry, keep_ttl: bool) {
        match self.keys.get_mut(key) {
            Some(slot) => {
                *slot = entry;
                if !keep_ttl {
                    self.expires.remove(key);
                }
            }
            None => self.keys.insert_new(SmallBytes::new(key), entry),
        }
    }

    /// Removes a key and its TTL.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.keys.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(entry)
    }

    /// Sets the absolute expiry of an existing key. Returns false if it is absent.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) -> bool {
        let Some((k, _)) = self.keys.get_key_value(key) else {
            return false;
        };
        let k = k.clone();
        self.expires.insert(k, when_ms);
        true
    }

    /// Removes a TTL. Returns true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove(key).is_some()
    }

    /// Empties the database, handing back the old contents to be dropped wherever
    /// the caller likes (in the background for FLUSHALL ASYNC).
    pub fn take_all(&mut self) -> Db {
        std::mem::take(self)
    }

    pub fn random_key(&self) -> Option<&SmallBytes> {
        self.random_entry().map(|(k, _)| k)
    }

    /// A random key with its entry (eviction samples access stamps).
    pub fn random_entry(&self) -> Option<(&SmallBytes, &Entry)> {
        self.keys.random_entry()
    }

    /// A random key that has a TTL, with its expiry time.
    pub fn random_volatile(&self) -> Option<(&SmallBytes, i64)> {
        self.expires.random_entry().map(|(k, t)| (k, *t))
    }

    /// One SCAN step over the keys.
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&SmallBytes, &Entry)) -> u64 {
        self.keys.scan(cursor, visit)
    }

    /// One SCAN step over the keys that have a TTL (the active-expire cycle).
    pub fn scan_expires(&self, cursor: u64, visit: impl FnMut(&SmallBytes, &i64)) -> u64 {
        self.expires.scan(cursor, visit)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SmallBytes, &Entry)> {
        self.keys.iter()
    }

    /// Moves up to `n` buckets of each dictionary that is resizing, and starts
    /// shrinking ones that are mostly empty. Returns true while work remains.
    pub fn incremental_rehash(&mut self, n: usize) -> bool {
        self.keys.shrink_if_needed();
        self.expires.shrink_if_needed();
        let a = self.keys.rehash(n);
        let b = self.expires.rehash(n);
        a || b
    }

    /// Sizes the empty key and expiry tables for what is about to be added.
    pub fn expand(&mut self, keys: usize, expires: usize) {
        self.keys.expand(keys);
        self.expires.expand(expires);
    }

    /// Discourages resizing while a forked child shares memory pages.
    pub fn allow_resize(&mut self, allowed: bool) {
        self.keys.resize_allowed = allowed;
        self.expires.resize_allowed = allowed;
    }

    /// Chain statistics of the key and expiry tables (DEBUG HTSTATS).
    pub fn table_stats(&self) -> (Vec<crate::TableStats>, Vec<crate::TableStats>) {
        (self.keys.table_stats(), self.expires.table_stats())
    }
    /// Bytes of a node in the key dictionary and in the expiry dictionary.
    pub const KEY_NODE_SIZE: usize = Dict::<SmallBytes, Entry>::NODE_SIZE;
    pub const EXPIRE_NODE_SIZE: usize = Dict::<SmallBytes, i64>::NODE_SIZE;

    pub fn bucket_count(&self) -> (usize, usize) {
        (self.keys.bucket_count(), self.expires.bucket_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StrValue;

    /// Every key pays for one Entry inside its dictionary node: with the key
    /// and the chain link the node is 64 bytes, one allocator class (72
    /// would cost 80).
    #[test]
    fn entry_stays_compact() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 32);
        assert_eq!(Db::KEY_NODE_SIZE, 64);
    }

    #[test]
    fn ttl_follows_the_key() {
        let mut db = Db::new();
        let v = || Entry::new(Value::Str(StrValue::from_bytes(b"v")), 0);
        db.set(b"k", v(), false);
        assert!(db.set_expire(b"k", 100));
        assert!(db.is_expired(b"k", 101) && !db.is_expired(b"k", 100));
        db.set(b"k", v(), true);
        assert_eq!(db.expire_at(b"k"), Some(100), "KEEPTTL keeps it");
        db.set(b"k", v(), false);
        assert_eq!(db.expire_at(b"k"), None, "overwriting clears it");
        assert!(!db.set_expire(b"missing", 1));
        db.set_expire(b"k", 5);
        db.remove(b"k");
        assert_eq!((db.len(), db.expires_len()), (0, 0));
    }
}
