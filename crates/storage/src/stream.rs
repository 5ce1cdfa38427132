//! The stream value: entries ordered by ID, grouped into nodes, plus the
//! consumer groups with their pending-entries lists and consumers.
//!
//! Entries live in nodes keyed by the ID of the node's first entry, as Redis
//! keeps them in listpacks under a radix tree. Clients can observe node
//! boundaries (XTRIM/XADD with `~` only remove whole nodes, and deleted
//! entries stay in their node until the whole node goes), so a node here
//! fills and splits exactly when Redis's listpack would: after
//! `stream-node-max-entries` entries (deleted ones included) or once its
//! listpack byte size plus the new entry's field/value lengths reach
//! `stream-node-max-bytes`. For that the node tracks the size its listpack
//! would have (`listpack_bytes`), computed with listpack's encoding rules,
//! while the entries themselves are packed into one byte buffer per node
//! (length-prefixed strings; field names equal to the node's first entry's
//! are left out, as Redis's listpack leaves them out), read back through
//! `Fields`: appending allocates nothing per entry, and an entry costs its
//! bytes plus ~26, without re-implementing listpack's byte format, which
//! nothing here needs (RDB writing converts).
//!
//! This module knows nothing about commands, replies or time: callers pass
//! IDs, limits and timestamps in.

use cinnabar_protocol::numbers::push_u64;
use std::collections::{BTreeMap, BTreeSet};

use crate::bytes::{read_varint, varint};
use crate::listpack::{entry_size, LpInput};

/// A stream entry ID: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == StreamId::MIN
    }

    /// The next ID, or None after the largest one.
    pub fn next(&self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID, or None before 0-0.
    pub fn prev(&self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// `ms-seq`, as replies spell an ID. Written digit by digit: XADD
    /// formats an ID per call, and `format!` showed in its profile.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(41); // two 20-digit numbers and the dash
        push_u64(&mut out, self.ms);
        out.push(b'-');
        push_u64(&mut out, self.seq);
        out
    }
}

/// When a node is full (Redis's `stream-node-max-bytes` / `-entries`; 0 = no limit).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

/// Largest listpack Redis builds; also the cap on one entry's total field/value bytes.
pub const LISTPACK_MAX_SIZE: usize = 1 << 30;
/// Listpack header (total bytes, element count) plus its end marker.
const LISTPACK_OVERHEAD: usize = 6 + 1;

/// How a stream is trimmed (XADD/XTRIM MAXLEN or MINID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimTo {
    MaxLen(u64),
    MinId(StreamId),
}

/// One stored entry; its strings are in its node's `data` from `at`.
#[derive(Clone, Debug, PartialEq)]
struct NodeEntry {
    id: StreamId,
    deleted: bool,
    /// Offset in `Node::data`; a node's data stays under 2 GiB (its
    /// listpack size, which bounds it, is capped at `LISTPACK_MAX_SIZE`,
    /// and so is one entry).
    at: u32,
}

/// First byte of an entry in `Node::data` whose field names are the
/// master fields (only the values follow); otherwise the byte is 0 and the
/// pair count follows as a varint, then every name and value.
const SAME_FIELDS: u8 = 1;

/// An entry's alternating fields and values, as stored in its node.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    /// The node's master field names, when the entry left its names out.
    names: Option<&'a [Box<[u8]>]>,
    /// Length-prefixed strings, starting with this entry's first.
    data: &'a [u8],
    len: usize,
}

impl<'a> Fields<'a> {
    fn of(node: &'a Node, entry: &NodeEntry) -> Self {
        let data = &node.data[entry.at as usize..];
        if data[0] == SAME_FIELDS {
            let names = &*node.master_fields;
            return Fields { names: Some(names), data: &data[1..], len: names.len() * 2 };
        }
        let (pairs, n) = read_varint(&data[1..]);
        Fields { names: None, data: &data[1 + n..], len: pairs * 2 }
    }

    /// Number of strings (twice the number of pairs).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> FieldsIter<'a> {
        FieldsIter { fields: *self, next: 0 }
    }
}

impl<'a> IntoIterator for Fields<'a> {
    type Item = &'a [u8];
    type IntoIter = FieldsIter<'a>;
    fn into_iter(self) -> FieldsIter<'a> {
        self.iter()
    }
}

/// Iterator over `Fields`.
pub struct FieldsIter<'a> {
    fields: Fields<'a>,
    next: usize,
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let i = self.next;
        if i >= self.fields.len {
            return None;
        }
        self.next += 1;
        if let (Some(names), 0) = (self.fields.names, i % 2) {
            return Some(&names[i / 2]);
        }
        let (len, n) = read_varint(self.fields.data);
        let (s, rest) = self.fields.data[n..].split_at(len);
        self.fields.data = rest;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.fields.len - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for FieldsIter<'_> {}

/// A run of consecutive entries, the counterpart of one Redis listpack.
#[derive(Clone, Debug, PartialEq)]
struct Node {
    /// The first entry's field names: entries with the same names are stored
    /// compressed in Redis, which changes the listpack size.
    master_fields: Box<[Box<[u8]>]>,
    /// Listpack bytes of num-fields, the master fields and the terminator.
    master_bytes: usize,
    /// Listpack bytes of every entry (deleted ones stay in the listpack).
    entry_bytes: usize,
    live: usize,
    entries: Vec<NodeEntry>,
    /// Every entry's strings, packed (see `SAME_FIELDS`).
    data: Vec<u8>,
}

impl Node {
    fn new(fields: &[&[u8]]) -> Node {
        Node::with_master_fields(fields.iter().step_by(2).map(|f| Box::from(*f)).collect())
    }

    /// An empty node whose master entry has these field names.
    fn with_master_fields(names: Box<[Box<[u8]>]>) -> Node {
        let master_bytes = int_entry_size(names.len() as i64)
            + names.iter().map(|n| string_entry_size(n)).sum::<usize>()
            + int_entry_size(0);
        Node { master_fields: names, master_bytes, entry_bytes: 0, live: 0, entries: Vec::new(), data: Vec::new() }
    }

    fn deleted(&self) -> usize {
        self.entries.len() - self.live
    }

    /// The size Redis's listpack for this node has now.
    fn listpack_bytes(&self) -> usize {
        LISTPACK_OVERHEAD
            + int_entry_size(self.live as i64)
            + int_entry_size(self.deleted() as i64)
            + self.master_bytes
            + self.entry_bytes
    }

    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        fields.len() == self.master_fields.len() * 2
            && fields.iter().step_by(2).zip(self.master_fields.iter()).all(|(f, m)| *f == &**m)
    }

    fn push(&mut self, master_id: StreamId, id: StreamId, fields: &[&[u8]]) {
        let same = self.same_fields(fields);
        let flags = if same { 2 } else { 0 };
        let mut bytes = int_entry_size(flags)
            + int_entry_size(id.ms.wrapping_sub(master_id.ms) as i64)
            + int_entry_size(id.seq.wrapping_sub(master_id.seq) as i64);
        let pairs = fields.len() / 2;
        let mut lp_count = pairs as i64 + 3;
        if !same {
            bytes += int_entry_size(pairs as i64);
            lp_count += pairs as i64 + 1;
        }
        for (i, f) in fields.iter().enumerate() {
            if !same || i % 2 == 1 {
                bytes += string_entry_size(f);
            }
        }
        bytes += int_entry_size(lp_count);
        self.entry_bytes += bytes;
        self.live += 1;
        let at = self.data.len() as u32;
        if same {
            self.data.push(SAME_FIELDS);
        } else {
            self.data.push(0);
            self.push_varint(pairs);
        }
        for (i, f) in fields.iter().enumerate() {
            if !same || i % 2 == 1 {
                self.push_varint(f.len());
                self.data.extend_from_slice(f);
            }
        }
        self.entries.push(NodeEntry { id, deleted: false, at });
    }

    fn push_varint(&mut self, n: usize) {
        let (buf, len) = varint(n);
        self.data.extend_from_slice(&buf[..len]);
    }

    /// Gives back growth slack once the node takes no more entries.
    fn seal(&mut self) {
        self.entries.shrink_to_fit();
        self.data.shrink_to_fit();
    }

    fn last_id(&self) -> StreamId {
        self.entries.last().map_or(StreamId::MIN, |e| e.id)
    }

    /// Index of the first entry with id >= `id`.
    fn lower_bound(&self, id: StreamId) -> usize {
        self.entries.partition_point(|e| e.id < id)
    }

    fn heap_size(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<NodeEntry>()
            + self.data.capacity()
            + self.master_fields.iter().map(|f| f.len() + 16).sum::<usize>()
    }
}

/// Bytes a listpack element takes for `s`.
fn string_entry_size(s: &[u8]) -> usize {
    entry_size(LpInput::Bytes(s))
}

/// Bytes a listpack element takes for the integer `v`.
fn int_entry_size(v: i64) -> usize {
    entry_size(LpInput::Int(v))
}

/// A node key as Redis's radix tree stores it: ms then seq, big-endian.
fn radix_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// Nodes under (and including) the node reached after `depth` bytes of the
/// sorted, distinct `keys`: a compressed node for a shared prefix, a
/// branching node, then each child's subtree; a key's end is a leaf node.
fn radix_subtree_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    if keys.len() == 1 {
        return if depth == 16 { 1 } else { 2 };
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let prefix = (depth..16).take_while(|&i| first[i] == last[i]).count();
    let at = depth + prefix;
    let mut nodes = usize::from(prefix > 0) + 1;
    let mut rest = keys;
    while let Some(k) = rest.first() {
        let n = rest.partition_point(|x| x[at] == k[at]);
        nodes += radix_subtree_nodes(&rest[..n], at + 1);
        rest = &rest[n..];
    }
    nodes
}

/// An entry pending in a group: who has it, since when, how often delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEntry {
    pub consumer: Box<[u8]>,
    pub delivery_time: i64,
    pub delivery_count: u64,
}

/// A consumer of a group (Redis 7.0 tracks only its seen-time and its PEL).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Consumer {
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

/// `entries_read` when the group's read counter is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A consumer group: its cursor, its PEL and its consumers, both ordered as
/// Redis's radix trees order them.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroup {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, PendingEntry>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        ConsumerGroup { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// Removes `id` from the group PEL and from its consumer's PEL.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Deletes a consumer and its pending entries; returns how many it had.
    pub fn remove_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pel {
            self.pel.remove(id);
        }
        Some(consumer.pel.len())
    }

    /// Gives the pending entry `id` to `consumer` (which must exist).
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], delivery_time: i64, delivery_count: u64) {
        if let Some(old) = self.pel.get(&id) {
            let old = old.consumer.clone();
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        self.pel.insert(id, PendingEntry { consumer: Box::from(consumer), delivery_time, delivery_count });
        self.consumers.entry(Box::from(consumer)).or_default().pel.insert(id);
    }
}

/// A stream: see the module comment.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted_entry_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
}

/// A live entry as scans return it: its ID and alternating fields and values.
pub type EntryRef<'a> = (StreamId, Fields<'a>);

/// An entry as a node holds it, deleted ones included (what RDB stores).
#[derive(Clone, Copy, Debug)]
pub struct StoredEntry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    /// Alternating fields and values.
    pub fields: Fields<'a>,
}

/// A node as RDB stores it: its key (the first entry's ID), the master
/// entry's field names, and every entry it holds.
pub struct NodeRef<'a> {
    pub master_id: StreamId,
    pub master_fields: &'a [Box<[u8]>],
    pub live: usize,
    node: &'a Node,
}

impl<'a> NodeRef<'a> {
    pub fn entries(&self) -> impl Iterator<Item = StoredEntry<'a>> + 'a {
        self.node.entries.iter().map(|e| StoredEntry { id: e.id, deleted: e.deleted, fields: Fields::of(self.node, e) })
    }
}

impl Stream {
    pub fn new() -> Self {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (Redis's listpacks).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry with `id` (which the caller checked is above
    /// `last_id`); `fields` alternates field and value.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        debug_assert!(id > self.last_id, "stream IDs only grow");
        let total: usize = fields.iter().map(|f| f.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX_SIZE,
            n => n.min(LISTPACK_MAX_SIZE),
        };
        let tail_full = self.nodes.last_key_value().is_some_and(|(_, node)| {
            node.listpack_bytes() + total >= max_bytes
                || (limits.max_entries != 0 && node.entries.len() >= limits.max_entries)
        });
        if tail_full {
            self.nodes.last_entry().expect("a full tail exists").get_mut().seal();
        }
        if tail_full || self.nodes.is_empty() {
            self.nodes.insert(id, Node::new(fields));
        }
        let mut tail = self.nodes.last_entry().expect("a tail node exists");
        let master_id = *tail.key();
        tail.get_mut().push(master_id, id, fields);
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// The key of the node that may hold `id`.
    fn node_key_for(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// The fields of entry `id`, if it is live.
    pub fn get(&self, id: StreamId) -> Option<Fields<'_>> {
        let node = &self.nodes[&self.node_key_for(id)?];
        let i = node.lower_bound(id);
        node.entries.get(i).filter(|e| e.id == id && !e.deleted).map(|e| Fields::of(node, e))
    }

    /// Live entries with `start <= id <= end`, in order (reversed if `rev`),
    /// at most `count` of them (0: no limit).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<EntryRef<'_>> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let from = self.node_key_for(start).unwrap_or(start);
        let live = |e: &NodeEntry| !e.deleted && e.id >= start && e.id <= end;
        let full = |out: &Vec<EntryRef>| count != 0 && out.len() >= count;
        if rev {
            for node in self.nodes.range(from..=end).rev().map(|(_, n)| n) {
                for e in node.entries.iter().rev().filter(|e| live(e)) {
                    if full(&out) {
                        return out;
                    }
                    out.push((e.id, Fields::of(node, e)));
                }
            }
        } else {
            for node in self.nodes.range(from..=end).map(|(_, n)| n) {
                for e in node.entries[node.lower_bound(start)..].iter().filter(|e| live(e)) {
                    if full(&out) {
                        return out;
                    }
                    out.push((e.id, Fields::of(node, e)));
                }
            }
        }
        out
    }

    /// The nodes in ID order, for RDB writing.
    pub fn nodes(&self) -> impl Iterator<Item = NodeRef<'_>> + '_ {
        self.nodes.iter().map(|(id, node)| NodeRef {
            master_id: *id,
            master_fields: &node.master_fields,
            live: node.live,
            node,
        })
    }

    /// Starts a node keyed `master_id` with the master entry's field names,
    /// as RDB loading rebuilds a stream node by node. Returns false if the
    /// key does not follow the previous node's entries.
    pub fn load_node(&mut self, master_id: StreamId, names: &[&[u8]]) -> bool {
        if self.nodes.last_key_value().is_some_and(|(_, n)| n.last_id() >= master_id) {
            return false;
        }
        let node = Node::with_master_fields(names.iter().map(|n| Box::from(*n)).collect());
        self.nodes.insert(master_id, node);
        true
    }

    /// Appends an entry (possibly a deleted one) to the last loaded node.
    /// Returns false if there is no node or `id` does not grow.
    pub fn load_entry(&mut self, id: StreamId, deleted: bool, fields: &[&[u8]]) -> bool {
        let Some(mut tail) = self.nodes.last_entry() else { return false };
        let master_id = *tail.key();
        let node = tail.get_mut();
        if id < master_id || node.entries.last().is_some_and(|e| e.id >= id) {
            return false;
        }
        node.push(master_id, id, fields);
        if deleted {
            node.live -= 1;
            node.entries.last_mut().expect("just pushed").deleted = true;
        } else {
            self.length += 1;
        }
        true
    }

    /// The first entry ID still held, deleted ones included (what Redis
    /// propagates as the effective MINID of an approximate trim).
    pub fn first_id_with_tombstones(&self) -> Option<StreamId> {
        self.nodes.values().next().and_then(|n| n.entries.first()).map(|e| e.id)
    }

    /// How many nodes Redis's radix tree of node keys has (XINFO's
    /// `radix-tree-nodes`), counting the compressed tree its inserts build.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|id| radix_key(*id)).collect();
        if keys.is_empty() {
            1
        } else {
            radix_subtree_nodes(&keys, 0)
        }
    }

    /// The first (or last) live entry.
    pub fn edge_entry(&self, last: bool) -> Option<EntryRef<'_>> {
        self.range(StreamId::MIN, StreamId::MAX, last, 1).pop()
    }

    /// Deletes entry `id` as XDEL does (updating first_id and
    /// max_deleted_entry_id). Returns whether it was live.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if !self.remove_entry(id) {
            return false;
        }
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.refresh_first_id();
        }
        true
    }

    /// Marks an entry deleted; a node whose last live entry goes is dropped.
    fn remove_entry(&mut self, id: StreamId) -> bool {
        let Some(key) = self.node_key_for(id) else { return false };
        let node = self.nodes.get_mut(&key).expect("key just found");
        let i = node.lower_bound(id);
        match node.entries.get_mut(i) {
            Some(e) if e.id == id && !e.deleted => e.deleted = true,
            _ => return false,
        }
        node.live -= 1;
        if node.live == 0 {
            self.nodes.remove(&key);
        }
        self.length -= 1;
        true
    }

    fn refresh_first_id(&mut self) {
        self.first_id = self.edge_entry(false).map_or(StreamId::MAX, |(id, _)| id);
    }

    /// Trims as XTRIM does: whole nodes while they fit the limit, then (only
    /// when not `approx`) single entries of the next node. `limit` caps the
    /// entries removed (0: no cap). Returns the number removed.
    pub fn trim(&mut self, to: TrimTo, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        while let Some((&key, node)) = self.nodes.first_key_value() {
            if let TrimTo::MaxLen(max) = to {
                if self.length <= max {
                    break;
                }
            }
            let live = node.live as u64;
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole = match to {
                TrimTo::MaxLen(max) => self.length - live >= max,
                TrimTo::MinId(min) => node.last_id() < min,
            };
            if whole {
                self.nodes.remove(&key);
                self.length -= live;
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            removed += self.trim_inside_first_node(key, to);
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if removed != 0 {
            self.refresh_first_id();
        }
        removed
    }

    /// Marks the node's entries deleted from the front until the limit holds.
    fn trim_inside_first_node(&mut self, key: StreamId, to: TrimTo) -> u64 {
        let node = self.nodes.get_mut(&key).expect("trimming an existing node");
        let mut removed = 0;
        for e in node.entries.iter_mut() {
            let stop = match to {
                TrimTo::MaxLen(max) => self.length <= max,
                TrimTo::MinId(min) => e.id >= min,
            };
            if stop {
                break;
            }
            if !e.deleted {
                e.deleted = true;
                node.live -= 1;
                self.length -= 1;
                removed += 1;
            }
        }
        removed
    }

    /// Whether an entry deleted by XDEL may lie in `start..=end` (Redis's
    /// `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() || self.first_id > self.max_deleted_entry_id {
            return false;
        }
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// How many entries lie before and at `id` since the stream began, when
    /// that can be known; None otherwise (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`).
    pub fn entries_read_up_to(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            }
            if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// The group's lag, if it can be known (XINFO's `lag`).
    pub fn group_lag(&self, group: &ConsumerGroup) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != ENTRIES_READ_INVALID && !self.range_has_tombstones(group.last_id, StreamId::MAX) {
            return Some(self.entries_added.wrapping_sub(group.entries_read as u64));
        }
        self.entries_read_up_to(group.last_id).map(|read| self.entries_added - read)
    }

    /// Rough heap bytes, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|n| 64 + n.heap_size()).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| {
                64 + name.len()
                    + g.pel.values().map(|p| 48 + p.consumer.len()).sum::<usize>()
                    + g.consumers.iter().map(|(n, c)| 48 + n.len() + 24 * c.pel.len()).sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Stream>() + nodes + groups
    }

    /// Allocations freeing this takes, as Redis estimates it: its radix
    /// tree's node count, and per group one plus the first group's PEL size.
    pub fn free_effort(&self) -> usize {
        let first_pel = self.groups.values().next().map_or(0, |g| g.pel.len());
        self.radix_tree_nodes() + self.groups.len() * (1 + first_pel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    #[test]
    fn ids_are_spelled_ms_dash_seq() {
        assert_eq!(StreamId::new(0, 0).to_bytes(), b"0-0");
        assert_eq!(StreamId::new(1700000000123, 7).to_bytes(), b"1700000000123-7");
        assert_eq!(StreamId::MAX.to_bytes(), format!("{}-{}", u64::MAX, u64::MAX).into_bytes());
    }

    #[test]
    fn nodes_split_at_max_entries_like_redis() {
        let mut s = Stream::new();
        for i in 1..=1000 {
            s.append(id(i), &[b"f", b"v"], NodeLimits::default());
        }
        assert_eq!(s.node_count(), 10);
        assert_eq!(s.trim(TrimTo::MaxLen(950), true, 10_000), 0);
        assert_eq!(s.trim(TrimTo::MaxLen(899), true, 10_000), 100);
        assert_eq!(s.len(), 900);
    }

    #[test]
    fn listpack_sizes_follow_encoding_rules() {
        assert_eq!(int_entry_size(0), 2);
        assert_eq!(int_entry_size(-1), 3);
        assert_eq!(int_entry_size(1 << 40), 10);
        assert_eq!(string_entry_size(b"abc"), 5);
        assert_eq!(string_entry_size(b"-0"), 4);
        assert_eq!(string_entry_size(&[b'x'; 200]), 204);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, u8),
        Del(u16),
        Trim(bool, u16, bool),
        Range(u16, u16, bool, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1u8..5, any::<u8>()).prop_map(|(gap, n)| Op::Add(gap, n)),
            2 => (0u16..600).prop_map(Op::Del),
            1 => (any::<bool>(), 0u16..600, any::<bool>()).prop_map(|(m, n, a)| Op::Trim(m, n, a)),
            2 => (0u16..600, 0u16..600, any::<bool>(), any::<u8>()).prop_map(|(a, b, r, c)| Op::Range(a, b, r, c)),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_btreemap_model(ops in proptest::collection::vec(op(), 1..300), max_entries in 1usize..8) {
            let limits = NodeLimits { max_bytes: 4096, max_entries };
            let mut s = Stream::new();
            let mut model: BTreeMap<StreamId, Vec<Vec<u8>>> = BTreeMap::new();
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Add(gap, n) => {
                        next += u64::from(gap);
                        // Mostly the node's first field names (stored without
                        // them), sometimes others.
                        let v = vec![n; usize::from(n % 8)];
                        let fields: Vec<Vec<u8>> = match n % 3 {
                            0 => vec![b"f".to_vec(), v.clone(), b"other".to_vec(), vec![b'x'; usize::from(n)]],
                            _ => vec![b"f".to_vec(), v],
                        };
                        let args: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
                        s.append(id(next), &args, limits);
                        model.insert(id(next), fields);
                    }
                    Op::Del(k) => {
                        let k = id(u64::from(k));
                        prop_assert_eq!(s.delete(k), model.remove(&k).is_some());
                    }
                    Op::Trim(by_len, n, approx) => {
                        let to = if by_len { TrimTo::MaxLen(u64::from(n)) } else { TrimTo::MinId(id(u64::from(n))) };
                        let before = model.len();
                        let removed = s.trim(to, approx, 0);
                        if !approx {
                            match to {
                                TrimTo::MaxLen(max) => while model.len() as u64 > max { model.pop_first(); },
                                TrimTo::MinId(min) => model.retain(|k, _| *k >= min),
                            }
                            prop_assert_eq!(removed as usize, before - model.len());
                        } else {
                            // Approximate trimming removes a prefix, never too much.
                            for _ in 0..removed {
                                let (k, _) = model.pop_first().expect("removed no more than held");
                                if let TrimTo::MinId(min) = to { prop_assert!(k < min); }
                            }
                            if let TrimTo::MaxLen(max) = to { prop_assert!(model.len() as u64 >= max.min(before as u64)); }
                        }
                    }
                    Op::Range(a, b, rev, count) => {
                        let (a, b) = (id(u64::from(a)), id(u64::from(b)));
                        let got: Vec<StreamId> = s.range(a, b, rev, usize::from(count)).iter().map(|e| e.0).collect();
                        let mut want: Vec<StreamId> = if a <= b { model.range(a..=b).map(|(k, _)| *k).collect() } else { vec![] };
                        if rev { want.reverse(); }
                        if count != 0 { want.truncate(usize::from(count)); }
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(s.len() as usize, model.len());
                prop_assert_eq!(s.first_id, model.keys().next().copied().unwrap_or_default());
                let all: Vec<(StreamId, Vec<Vec<u8>>)> = s
                    .range(StreamId::MIN, StreamId::MAX, false, 0)
                    .iter()
                    .map(|(id, f)| (*id, f.iter().map(<[u8]>::to_vec).collect()))
                    .collect();
                prop_assert_eq!(all, model.clone().into_iter().collect::<Vec<_>>());
                if let Some((k, fields)) = model.iter().next() {
                    prop_assert_eq!(s.get(*k).map(|f| f.iter().map(<[u8]>::to_vec).collect::<Vec<_>>()), Some(fields.clone()));
                }
            }
        }
    }
}
