//! `Dict`: a chained hash table that grows and shrinks incrementally.
//!
//! Like Redis's dict it keeps two tables while resizing and moves a few buckets
//! on each write (and in the server's cron), so no single command ever pays for
//! rehashing millions of keys. The same two-table shape gives SCAN its guarantee
//! (a reverse-binary cursor visits every bucket that existed for the whole scan,
//! across resizes) and lets us pick a random entry in O(1) expected time.
//! A fresh bucket array is allocated zeroed, so a huge table costs nothing until
//! its pages are touched.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

type Link<K, V> = Option<Box<Node<K, V>>>;

struct Node<K, V> {
    key: K,
    value: V,
    next: Link<K, V>,
}

struct Table<K, V> {
    buckets: Vec<Link<K, V>>,
    used: usize,
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table { buckets: Vec::new(), used: 0 }
    }

    /// A table of `size` empty buckets, allocated zeroed: the allocator hands
    /// back untouched pages, so creating a huge table does not stall the caller.
    fn with_size(size: usize) -> Self {
        let layout = std::alloc::Layout::array::<Link<K, V>>(size).expect("table size fits in memory");
        // SAFETY: `Option<Box<_>>` is guaranteed to use the null pointer for
        // `None`, so zeroed memory is `size` valid `None`s; the pointer comes from
        // the global allocator with the layout `Vec` will free it with.
        let buckets = unsafe {
            let ptr = std::alloc::alloc_zeroed(layout) as *mut Link<K, V>;
            if ptr.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Vec::from_raw_parts(ptr, size, size)
        };
        Table { buckets, used: 0 }
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// Frees a drained table. A large bucket array goes to a background
    /// thread: giving tens of megabytes of touched pages back to the kernel
    /// takes milliseconds (measured: ~6 ms for 2^24 buckets), which would
    /// stall the command that finished the rehash.
    fn retire(mut self) {
        debug_assert_eq!(self.used, 0, "only drained tables are retired");
        let buckets = std::mem::take(&mut self.buckets);
        if buckets.capacity() * std::mem::size_of::<Link<K, V>>() < BACKGROUND_FREE_BYTES {
            return;
        }
        let layout = std::alloc::Layout::array::<Link<K, V>>(buckets.capacity()).expect("it was allocated");
        let ptr = std::mem::ManuallyDrop::new(buckets).as_mut_ptr() as usize;
        release_in_background(ptr, layout);
    }
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table::empty()
    }
}

/// Bucket arrays at least this big are freed off the caller's thread.
const BACKGROUND_FREE_BYTES: usize = 1 << 20;

/// Frees an allocation on a dedicated thread (started on first use). The
/// allocation holds only empty buckets, so freeing it is plain deallocation.
fn release_in_background(ptr: usize, layout: std::alloc::Layout) {
    use std::sync::mpsc::{channel, Sender};
    use std::sync::OnceLock;
    static RELEASER: OnceLock<Sender<(usize, std::alloc::Layout)>> = OnceLock::new();
    let sender = RELEASER.get_or_init(|| {
        let (tx, rx) = channel::<(usize, std::alloc::Layout)>();
        std::thread::Builder::new()
            .name("dict-release".into())
            .spawn(move || {
                for (ptr, layout) in rx {
                    // SAFETY: `ptr` came from the global allocator with `layout`
                    // (a Vec's buffer), and ownership was given up by the sender.
                    unsafe { std::alloc::dealloc(ptr as *mut u8, layout) };
                }
            })
            .expect("spawn the dict release thread");
        tx
    });
    if let Err(returned) = sender.send((ptr, layout)) {
        let (ptr, layout) = returned.0;
        // SAFETY: as above; the thread is gone, so free it here.
        unsafe { std::alloc::dealloc(ptr as *mut u8, layout) };
    }
}

/// Chain-length statistics of one table, as DEBUG HTSTATS reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStats {
    pub size: usize,
    pub used: usize,
    /// Buckets holding at least one entry.
    pub slots: usize,
    pub max_chain: usize,
    pub total_chain: usize,
    /// Buckets by chain length; the last element also counts longer chains.
    pub histogram: [usize; TableStats::HISTOGRAM_LEN],
}

impl TableStats {
    pub const HISTOGRAM_LEN: usize = 50;

    fn of<K, V>(table: &Table<K, V>) -> TableStats {
        let mut stats = TableStats {
            size: table.buckets.len(),
            used: table.used,
            slots: 0,
            max_chain: 0,
            total_chain: 0,
            histogram: [0; Self::HISTOGRAM_LEN],
        };
        for bucket in &table.buckets {
            let chain = std::iter::successors(bucket.as_deref(), |node| node.next.as_deref()).count();
            stats.histogram[chain.min(Self::HISTOGRAM_LEN - 1)] += 1;
            if chain > 0 {
                stats.slots += 1;
                stats.max_chain = stats.max_chain.max(chain);
                stats.total_chain += chain;
            }
        }
        stats
    }
}

const INITIAL_SIZE: usize = 4;
/// Above this load factor a table grows even while resizing is discouraged.
const FORCE_RESIZE_RATIO: usize = 5;
/// Below this fill percentage a table is worth shrinking.
const MIN_FILL_PERCENT: usize = 10;

/// The hash table; see the module comment.
pub struct Dict<K, V> {
    tables: [Table<K, V>; 2],
    /// Next bucket of `tables[0]` to move while a resize is in progress.
    rehash_idx: Option<usize>,
    hasher: foldhash::fast::RandomState,
    /// False while a snapshot child shares our memory (fewer copied pages).
    pub resize_allowed: bool,
}

impl<K, V> Dict<K, V> {
    /// Bytes of one entry's node (key, value and chain link), before the
    /// allocator rounds it up; for memory accounting.
    pub const NODE_SIZE: usize = std::mem::size_of::<Node<K, V>>();
}

impl<K: Hash + Eq, V> Default for Dict<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, V> Dict<K, V> {
    pub fn new() -> Self {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_idx: None,
            hasher: foldhash::fast::RandomState::default(),
            resize_allowed: true,
        }
    }

    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Total buckets across both tables (for DEBUG and memory accounting).
    pub fn bucket_count(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    /// Chain statistics of the main table and, while resizing, of the target
    /// table (DEBUG HTSTATS).
    pub fn table_stats(&self) -> Vec<TableStats> {
        self.tables[..self.live_tables()].iter().map(TableStats::of).collect()
    }

    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        self.hasher.hash_one(key) as usize
    }

    fn live_tables(&self) -> usize {
        if self.is_rehashing() {
            2
        } else {
            1
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in &self.tables[..self.live_tables()] {
            let mut link = &t.buckets[h & t.mask()];
            while let Some(node) = link {
                if node.key.borrow() == key {
                    return Some((&node.key, &node.value));
                }
                link = &node.next;
            }
        }
        None
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        let (_, link) = self.link_of(h, key)?;
        link.as_mut().map(|n| &mut n.value)
    }

    /// The table holding `key` and the link (bucket head or `next` field) that
    /// points at its node. The chain is walked once to find the table and once
    /// more mutably: chains average under one node, and this keeps the code safe.
    fn link_of<Q>(&mut self, h: usize, key: &Q) -> Option<(usize, &mut Link<K, V>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let live = self.live_tables();
        let slot = self.tables[..live].iter().position(|t| {
            let mut link = &t.buckets[h & t.mask()];
            while let Some(node) = link {
                if node.key.borrow() == key {
                    return true;
                }
                link = &node.next;
            }
            false
        })?;
        let t = &mut self.tables[slot];
        let idx = h & t.mask();
        let mut link = &mut t.buckets[idx];
        while link.as_ref().is_some_and(|n| n.key.borrow() != key) {
            link = &mut link.as_mut().expect("checked by the loop condition").next;
        }
        Some((slot, link))
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(&key) {
            return Some(std::mem::replace(slot, value));
        }
        self.insert_new(key, value);
        None
    }

    /// Swaps in `key` for the stored key equal to it, keeping the value:
    /// for tables whose key carries data beyond its identity (a hash's
    /// field with its value). Returns the old key, or `key` back if absent.
    pub fn replace_key(&mut self, key: K) -> Result<K, K> {
        if self.is_empty() {
            return Err(key);
        }
        self.rehash_step();
        let h = self.hash(&key);
        match self.link_of(h, &key) {
            Some((_, Some(node))) => Ok(std::mem::replace(&mut node.key, key)),
            _ => Err(key),
        }
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: K, value: V) {
        self.rehash_step();
        self.grow_if_needed();
        let h = self.hash(&key);
        let t = &mut self.tables[if self.rehash_idx.is_some() { 1 } else { 0 }];
        let idx = h & t.mask();
        let next = t.buckets[idx].take();
        t.buckets[idx] = Some(Box::new(Node { key, value, next }));
        t.used += 1;
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        let (slot, link) = self.link_of(h, key)?;
        let mut node = link.take().expect("link_of points at the key's node");
        *link = node.next.take();
        self.tables[slot].used -= 1;
        Some((node.key, node.value))
    }

    /// Removes everything, returning the old contents so the caller can drop
    /// them elsewhere (FLUSHALL ASYNC frees on a background thread).
    pub fn take_all(&mut self) -> Dict<K, V> {
        std::mem::take(self)
    }

    /// Sizes an empty table for `n` entries at once (Redis's `dictExpand`,
    /// which RDB loading uses so a million keys are not rehashed twenty times).
    pub fn expand(&mut self, n: usize) {
        if self.is_empty() && !self.is_rehashing() {
            self.resize_to(n);
        }
    }

    fn grow_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let t = &self.tables[0];
        if t.buckets.is_empty() {
            self.resize_to(INITIAL_SIZE);
        } else if t.used >= t.buckets.len() && (self.resize_allowed || t.used / t.buckets.len() > FORCE_RESIZE_RATIO) {
            self.resize_to(t.used + 1);
        }
    }

    /// Starts shrinking when the table is mostly empty (Redis's `htNeedsResize`).
    /// Returns true if a resize started.
    pub fn shrink_if_needed(&mut self) -> bool {
        let size = self.tables[0].buckets.len();
        if self.is_rehashing() || !self.resize_allowed || size <= INITIAL_SIZE {
            return false;
        }
        if self.tables[0].used * 100 / size >= MIN_FILL_PERCENT {
            return false;
        }
        self.resize_to(self.tables[0].used.max(INITIAL_SIZE));
        true
    }

    fn resize_to(&mut self, wanted: usize) {
        let size = wanted.max(INITIAL_SIZE).next_power_of_two();
        if size == self.tables[0].buckets.len() {
            return;
        }
        if self.tables[0].buckets.is_empty() {
            self.tables[0] = Table::with_size(size);
        } else {
            self.tables[1] = Table::with_size(size);
            self.rehash_idx = Some(0);
        }
    }

    /// Moves up to `n` buckets to the new table, visiting at most `10 * n`
    /// empty ones. Returns true while there is more to move.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * 10;
        for _ in 0..n {
            if self.tables[0].used == 0 {
                break;
            }
            while self.tables[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = self.tables[0].buckets[idx].take();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let h = self.hash(&node.key);
                let dst = &mut self.tables[1];
                let slot = h & dst.mask();
                node.next = dst.buckets[slot].take();
                dst.buckets[slot] = Some(node);
                dst.used += 1;
                self.tables[0].used -= 1;
            }
            idx += 1;
        }
        if self.tables[0].used == 0 {
            let grown = std::mem::take(&mut self.tables[1]);
            std::mem::replace(&mut self.tables[0], grown).retire();
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    fn rehash_step(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash(1);
        }
    }

    /// One step of a SCAN: calls `visit` for every entry in the bucket(s) that
    /// `cursor` names and returns the next cursor (0 when the scan is complete).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor as usize;
        let mut emit = |t: &Table<K, V>, v: usize| {
            let mut link = &t.buckets[v & t.mask()];
            while let Some(node) = link {
                visit(&node.key, &node.value);
                link = &node.next;
            }
        };
        if !self.is_rehashing() {
            let t = &self.tables[0];
            emit(t, v);
            v = next_cursor(v, t.mask());
        } else {
            let (small, large) = if self.tables[0].buckets.len() <= self.tables[1].buckets.len() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let (m0, m1) = (small.mask(), large.mask());
            emit(small, v);
            // Visit every bucket of the large table that expands this small one.
            loop {
                emit(large, v);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v as u64
    }

    /// A random entry, each bucket equally likely (Redis's `dictGetRandomKey`).
    pub fn random_entry(&self) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let bucket = loop {
            let link = match self.rehash_idx {
                Some(start) => {
                    let s0 = self.tables[0].buckets.len();
                    let total = s0 + self.tables[1].buckets.len();
                    let h = fastrand::usize(start..total);
                    if h >= s0 {
                        &self.tables[1].buckets[h - s0]
                    } else {
                        &self.tables[0].buckets[h]
                    }
                }
                None => &self.tables[0].buckets[fastrand::usize(..) & self.tables[0].mask()],
            };
            if link.is_some() {
                break link;
            }
        };
        let mut len = 0;
        let mut link = bucket;
        while let Some(node) = link {
            len += 1;
            link = &node.next;
        }
        let mut pick = fastrand::usize(..len);
        let mut link = bucket;
        while let Some(node) = link {
            if pick == 0 {
                return Some((&node.key, &node.value));
            }
            pick -= 1;
            link = &node.next;
        }
        unreachable!("the chain has len nodes")
    }

    /// A random entry with little bias from chain lengths (Redis's
    /// `dictGetFairRandomKey`, which SRANDMEMBER, SPOP and HRANDFIELD use):
    /// up to 15 entries are gathered from consecutive buckets starting at a
    /// random one, and one of them is picked uniformly.
    pub fn fair_random_entry(&self) -> Option<(&K, &V)> {
        const SAMPLE: usize = 15;
        if self.is_empty() {
            return None;
        }
        let mask = self.tables[..self.live_tables()].iter().map(Table::mask).max().unwrap_or(0);
        let mut sample: Vec<(&K, &V)> = Vec::with_capacity(SAMPLE);
        let mut i = fastrand::usize(..) & mask;
        let mut empty_run = 0;
        // Unlike Redis, never wrap around onto buckets already gathered: in a
        // small table that would count some entries twice.
        for _ in 0..(SAMPLE * 10).min(mask + 1) {
            for (t, table) in self.tables[..self.live_tables()].iter().enumerate() {
                // Buckets of the old table below the rehash index are already moved.
                if i > table.mask() || (t == 0 && self.rehash_idx.is_some_and(|r| i < r)) {
                    continue;
                }
                let mut link = &table.buckets[i];
                empty_run = if link.is_none() { empty_run + 1 } else { 0 };
                while let Some(node) = link {
                    if sample.len() < SAMPLE {
                        sample.push((&node.key, &node.value));
                    }
                    link = &node.next;
                }
            }
            if sample.len() == SAMPLE {
                break;
            }
            // A long empty stretch: jump elsewhere rather than crawl through it.
            i = if empty_run > SAMPLE {
                empty_run = 0;
                fastrand::usize(..) & mask
            } else {
                (i + 1) & mask
            };
        }
        if sample.is_empty() {
            return self.random_entry();
        }
        Some(sample[fastrand::usize(..sample.len())])
    }

    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter { dict: self, table: 0, bucket: 0, node: None }
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }
}

/// Advances a reverse-binary cursor: increments the bits above `mask` first,
/// so buckets already visited stay visited when the table grows or shrinks.
fn next_cursor(v: usize, mask: usize) -> usize {
    let v = v | !mask;
    (v.reverse_bits().wrapping_add(1)).reverse_bits()
}

/// Iterator over all entries (both tables while resizing).
pub struct Iter<'a, K, V> {
    dict: &'a Dict<K, V>,
    table: usize,
    bucket: usize,
    node: Option<&'a Node<K, V>>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                return Some((&node.key, &node.value));
            }
            let t = self.dict.tables.get(self.table)?;
            if self.bucket >= t.buckets.len() {
                self.table += 1;
                self.bucket = 0;
                continue;
            }
            self.node = t.buckets[self.bucket].as_deref();
            self.bucket += 1;
        }
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Unlinks chains iteratively so a long chain cannot overflow the stack.
    fn drop(&mut self) {
        if self.used == 0 {
            return; // a drained table: just free the array, without touching it
        }
        for bucket in &mut self.buckets {
            let mut chain = bucket.take();
            while let Some(mut node) = chain {
                chain = node.next.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn table_stats_account_for_every_bucket_and_entry() {
        let mut d: Dict<u64, u64> = Dict::new();
        (0..1000).for_each(|i| d.insert_new(i, i));
        let stats = d.table_stats();
        assert!(!stats.is_empty() && stats.len() <= 2);
        assert_eq!(stats.iter().map(|t| t.used).sum::<usize>(), 1000);
        for t in &stats {
            assert_eq!(t.total_chain, t.used);
            assert_eq!(t.histogram.iter().sum::<usize>(), t.size);
            assert_eq!(t.size - t.histogram[0], t.slots);
        }
    }

    #[test]
    fn insert_get_remove_through_resizes() {
        let mut d: Dict<u64, u64> = Dict::new();
        for i in 0..10_000 {
            assert_eq!(d.insert(i, i * 2), None);
        }
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000 {
            assert_eq!(d.get(&i), Some(&(i * 2)));
        }
        for i in (0..10_000).step_by(2) {
            assert_eq!(d.remove(&i), Some(i * 2));
        }
        while d.shrink_if_needed() || d.rehash(100) {}
        assert_eq!(d.len(), 5_000);
        assert_eq!(d.iter().count(), 5_000);
        assert!(d.get(&2).is_none() && d.get(&3).is_some());
    }

    /// Fair sampling reaches every entry, spreads picks evenly even when
    /// chains are uneven, and works while a resize is in progress.
    #[test]
    fn fair_random_entries_cover_the_table_evenly() {
        let mut d: Dict<u32, ()> = Dict::new();
        for i in 0..10 {
            d.insert(i, ());
        }
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for _ in 0..20_000 {
            *counts.entry(*d.fair_random_entry().unwrap().0).or_default() += 1;
        }
        assert_eq!(counts.len(), 10);
        assert!(counts.values().all(|&c| (1400..=2600).contains(&c)), "{counts:?}");
        for i in 10..1000 {
            d.insert(i, ());
        }
        assert!(d.is_rehashing() || d.len() == 1000);
        let seen: HashSet<u32> = (0..100_000).map(|_| *d.fair_random_entry().unwrap().0).collect();
        assert!(seen.len() > 990, "only {} distinct entries", seen.len());
        assert!(Dict::<u32, ()>::new().fair_random_entry().is_none());
    }

    /// SCAN's guarantee: every key present for the whole scan is returned,
    /// even while the table grows and shrinks between calls.
    #[test]
    fn scan_survives_resizing() {
        let mut d: Dict<u64, ()> = Dict::new();
        for i in 0..1000 {
            d.insert(i, ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u64;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(*k);
            });
            // Churn: grow with new keys, then delete them again, forcing resizes.
            for j in 0..50 {
                d.insert(100_000 + round * 50 + j, ());
            }
            if round % 7 == 6 {
                for j in 0..(round + 1) * 50 {
                    d.remove(&(100_000 + j));
                }
                d.shrink_if_needed();
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(&i), "key {i} missed");
        }
    }

    /// Tables past the background-free size are retired to the release
    /// thread; the dict must not notice.
    #[test]
    fn grows_past_the_background_free_size() {
        let mut d: Dict<u64, u64> = Dict::new();
        let n = 300_000u64; // 2^19 buckets = 4 MiB: several tables retired in the background
        for i in 0..n {
            d.insert(i, i);
        }
        while d.rehash(1000) {}
        assert!(d.bucket_count() * 8 >= BACKGROUND_FREE_BYTES);
        assert_eq!(d.len(), n as usize);
        assert!((0..n).all(|i| d.get(&i) == Some(&i)));
    }

    #[test]
    fn random_entry_reaches_everything() {
        let mut d: Dict<u64, ()> = Dict::new();
        for i in 0..16 {
            d.insert(i, ());
        }
        let mut counts = HashMap::new();
        for _ in 0..5000 {
            *counts.entry(*d.random_entry().unwrap().0).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 16);
    }
}
