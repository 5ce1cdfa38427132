//! Lists as Redis 7.0 stores them: a quicklist, i.e. a sequence of listpack
//! nodes. Redis 7.0 always uses this encoding for lists (OBJECT ENCODING
//! "quicklist"; the single-listpack encoding for small lists came in 7.2).
//!
//! Node size follows `list-max-listpack-size` (the `fill`): negative values
//! cap a node's bytes at 4/8/16/32/64 KB for -1..-5, positive values cap its
//! element count (with Redis's 8 KB safety limit on bytes). Insertion rules
//! follow Redis's quicklist: push into the end node if it has room, else a new
//! node; an insert in the middle of a full node splits it and then merges
//! neighbours that fit together. Elements larger than `packed_threshold` are
//! not given plain nodes.
//!
//! `list-compress-depth` (fixed when the list is created, as in Redis): the
//! `depth` nodes at each end stay raw, every node between them is kept
//! LZF-compressed when it has at least `MIN_COMPRESS_BYTES` and compression
//! saves at least `MIN_COMPRESS_IMPROVE` bytes (else it stays raw until it
//! changes). A write decompresses the nodes it touches and recompresses them
//! when done; a read through `&self` decompresses a node into a cache that
//! the next write drops.
//!
//! Index lookups walk node counts from the nearer end, so they cost
//! O(nodes), not O(elements).

use std::cell::{Cell, OnceCell};
use std::collections::VecDeque;

use crate::listpack::{Listpack, LpInput, LpValue, Pos};
use crate::lzf;

/// Byte limits for fill -1..-5 (Redis's `optimization_level`).
const SIZE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Largest node a positive (count) fill may build (Redis's SIZE_SAFETY_LIMIT).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's estimate of an entry's overhead when deciding whether it fits.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Bytes of a listpack's header and terminator, counted once when two
/// nodes merge.
const LISTPACK_OVERHEAD: usize = 7;
/// Heap bytes of a quicklist node and of the quicklist header in Redis.
pub const NODE_STRUCT_SIZE: usize = 40;
pub const LIST_STRUCT_SIZE: usize = 40;
/// Nodes smaller than this are not worth compressing (Redis's value).
pub const MIN_COMPRESS_BYTES: usize = 48;
/// Compression must save at least this many bytes to be kept.
pub const MIN_COMPRESS_IMPROVE: usize = 8;
/// Bytes of the length header Redis stores before a node's LZF data.
pub const LZF_HEADER_SIZE: usize = 4;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// A node's listpack, raw or compressed. The compressed form is boxed so a
/// node stays small: a long list has one per ~8 KB of elements, and Redis's
/// node is 32 bytes.
#[derive(Clone, Debug)]
enum Body {
    Raw(Listpack),
    Compressed(Box<Compressed>),
}

#[derive(Clone, Debug)]
struct Compressed {
    lzf: Box<[u8]>,
    raw_len: usize,
    /// The listpack, decompressed for a read; dropped by the next write.
    cache: OnceCell<Listpack>,
}

/// One listpack node and its element count (kept here so index walks never
/// decode a listpack header).
#[derive(Clone, Debug)]
struct Node {
    body: Body,
    count: usize,
    /// Compressing the current contents was tried and did not pay.
    incompressible: bool,
}

impl Node {
    fn new() -> Node {
        Node { body: Body::Raw(Listpack::new()), count: 0, incompressible: false }
    }

    /// The listpack, for reading.
    fn lp(&self) -> &Listpack {
        match &self.body {
            Body::Raw(lp) => lp,
            Body::Compressed(c) => c.cache.get_or_init(|| unpack(&c.lzf, c.raw_len)),
        }
    }

    /// The listpack, for writing: decompressed for good (until recompressed).
    fn lp_mut(&mut self) -> &mut Listpack {
        self.decompress();
        self.incompressible = false;
        match &mut self.body {
            Body::Raw(lp) => lp,
            Body::Compressed(_) => unreachable!("just decompressed"),
        }
    }

    /// The listpack's size, compressed or not (Redis's `node->sz`).
    fn bytes_len(&self) -> usize {
        match &self.body {
            Body::Raw(lp) => lp.bytes_len(),
            Body::Compressed(c) => c.raw_len,
        }
    }

    #[cfg(test)]
    fn is_compressed(&self) -> bool {
        matches!(self.body, Body::Compressed(_))
    }

    fn decompress(&mut self) {
        if let Body::Compressed(c) = &mut self.body {
            let lp = c.cache.take().unwrap_or_else(|| unpack(&c.lzf, c.raw_len));
            self.body = Body::Raw(lp);
        }
    }

    /// Compresses the node if that pays, as Redis's `__quicklistCompressNode`.
    fn compress(&mut self) {
        let Body::Raw(lp) = &self.body else { return };
        if self.incompressible {
            return;
        }
        let raw_len = lp.bytes_len();
        let lzf = if raw_len < MIN_COMPRESS_BYTES { Vec::new() } else { lzf::compress(lp.as_bytes()) };
        if lzf.is_empty() || lzf.len() + MIN_COMPRESS_IMPROVE >= raw_len {
            self.incompressible = true;
            return;
        }
        self.body =
            Body::Compressed(Box::new(Compressed { lzf: lzf.into_boxed_slice(), raw_len, cache: OnceCell::new() }));
    }

    fn drop_cache(&mut self) {
        if let Body::Compressed(c) = &mut self.body {
            c.cache.take();
        }
    }
}

fn unpack(lzf: &[u8], raw_len: usize) -> Listpack {
    Listpack::from_trusted_bytes(lzf::decompress(lzf, raw_len).expect("node compressed by this module"))
}

/// A Redis 7.0 quicklist; see the module comment.
#[derive(Clone, Debug)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    fill: i32,
    /// Nodes kept raw at each end; 0 compresses nothing.
    compress_depth: usize,
    /// A read filled some node's decompression cache.
    caches_filled: Cell<bool>,
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.fill == other.fill && self.len == other.len && self.iter().eq(other.iter())
    }
}

/// Node sizes for memory accounting and serialization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSize {
    /// The listpack's bytes.
    pub raw: usize,
    /// The LZF data's bytes, when the node is compressed.
    pub compressed: Option<usize>,
}

impl List {
    /// An empty list whose nodes follow `fill` (list-max-listpack-size).
    pub fn new(fill: i64) -> List {
        Self::with_compress_depth(fill, 0)
    }

    /// An empty list that also keeps nodes deeper than `depth` from either
    /// end compressed (list-compress-depth).
    pub fn with_compress_depth(fill: i64, depth: usize) -> List {
        // Redis clamps the fill to what a node can describe.
        let fill = fill.clamp(-(SIZE_LIMITS.len() as i64), 1 << 15) as i32;
        List { nodes: VecDeque::new(), len: 0, fill, compress_depth: depth, caches_filled: Cell::new(false) }
    }

    /// Nodes kept raw at each end (0: no compression).
    pub fn compress_depth(&self) -> usize {
        self.compress_depth
    }

    /// Every node's raw and compressed size, head to tail.
    pub fn node_footprints(&self) -> impl Iterator<Item = NodeSize> + '_ {
        self.nodes.iter().map(|n| NodeSize {
            raw: n.bytes_len(),
            compressed: match &n.body {
                Body::Raw(_) => None,
                Body::Compressed(c) => Some(c.lzf.len()),
            },
        })
    }

    /// Node `i`'s listpack for reading (decompressed into its cache if needed).
    fn lp(&self, i: usize) -> &Listpack {
        self.note_read();
        self.nodes[i].lp()
    }

    fn note_read(&self) {
        if self.compress_depth != 0 {
            self.caches_filled.set(true);
        }
    }

    /// Restores the compression invariant after a write: caches dropped,
    /// nodes within the depth raw, the others compressed. After a push or pop
    /// only nodes near the ends can be out of place; other writes check all.
    fn recompress(&mut self, everywhere: bool) {
        if self.caches_filled.replace(false) {
            self.nodes.iter_mut().for_each(Node::drop_cache);
        }
        let depth = self.compress_depth;
        let len = self.nodes.len();
        if depth == 0 {
            return;
        }
        let near = (depth + 2).min(len);
        let fix = |node: &mut Node, i: usize| {
            if i < depth || i + depth >= len {
                node.decompress();
            } else {
                node.compress();
            }
        };
        if everywhere {
            self.nodes.iter_mut().enumerate().for_each(|(i, n)| fix(n, i));
        } else {
            (0..near).chain(len - near..len).for_each(|i| fix(&mut self.nodes[i], i));
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The node size limit in force (list-max-listpack-size, clamped).
    pub fn fill(&self) -> i32 {
        self.fill
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes, counted as Redis's MEMORY USAGE does: the quicklist header,
    /// and each node's struct plus its listpack.
    pub fn memory_usage(&self) -> usize {
        LIST_STRUCT_SIZE + self.nodes.iter().map(|n| NODE_STRUCT_SIZE + n.bytes_len()).sum::<usize>()
    }

    /// The node struct sizes and listpack byte lengths, for sampling callers.
    pub fn node_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.iter().map(Node::bytes_len)
    }

    /// Would a node of `bytes` bytes and `count` elements be within the fill?
    fn fits(&self, bytes: usize, count: usize) -> bool {
        if self.fill < 0 {
            bytes <= SIZE_LIMITS[(-self.fill - 1) as usize]
        } else {
            bytes <= SIZE_SAFETY_LIMIT && count <= self.fill as usize
        }
    }

    /// May `value` be added to node `i` (Redis's `_quicklistNodeAllowInsert`)?
    fn node_allows_insert(&self, i: usize, value: &[u8]) -> bool {
        let node = &self.nodes[i];
        self.fits(node.bytes_len() + value.len() + SIZE_ESTIMATE_OVERHEAD, node.count + 1)
    }

    /// May nodes `a` and `b` become one (Redis's `_quicklistNodeAllowMerge`)?
    fn nodes_allow_merge(&self, a: usize, b: usize) -> bool {
        let (a, b) = (&self.nodes[a], &self.nodes[b]);
        self.fits(a.bytes_len() + b.bytes_len() - LISTPACK_OVERHEAD, a.count + b.count)
    }

    /// Makes room for one more node, growing the node table by an eighth
    /// rather than doubling it: a long list's table would otherwise carry
    /// up to a node's worth of unused slots per node (Redis links its nodes,
    /// with no slack), while an eighth keeps growth amortised O(1). A list's
    /// first node gets a table of one: most lists are small.
    fn reserve_node(&mut self) {
        let len = self.nodes.len();
        if len == self.nodes.capacity() {
            let extra = if len == 0 { 1 } else { (len / 8).max(4) };
            self.nodes.reserve_exact(extra);
        }
    }

    pub fn push(&mut self, end: End, value: &[u8]) {
        let input = LpInput::Bytes(value);
        match end {
            End::Head => {
                if self.nodes.is_empty() || !self.node_allows_insert(0, value) {
                    self.reserve_node();
                    self.nodes.push_front(Node::new());
                }
                let node = &mut self.nodes[0];
                node.lp_mut().push_front(input);
                node.count += 1;
            }
            End::Tail => {
                if self.nodes.is_empty() || !self.node_allows_insert(self.nodes.len() - 1, value) {
                    self.reserve_node();
                    self.nodes.push_back(Node::new());
                }
                let node = self.nodes.back_mut().expect("a node was just ensured");
                node.lp_mut().push_back(input);
                node.count += 1;
            }
        }
        self.len += 1;
        self.recompress(false);
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let index = match end {
            End::Head => 0,
            End::Tail => self.len.checked_sub(1)?,
        };
        let value = self.get(index as i64)?;
        self.delete_elements(index, 1);
        self.recompress(false);
        Some(value)
    }

    /// Normalizes a possibly negative index; None if out of range.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let i = if index < 0 { self.len as i64 + index } else { index };
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }

    /// The node holding element `index` (in range) and the index within it,
    /// walking from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut left = index;
            for (i, node) in self.nodes.iter().enumerate() {
                if left < node.count {
                    return (i, left);
                }
                left -= node.count;
            }
        } else {
            let mut right = self.len - 1 - index;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                if right < node.count {
                    return (i, node.count - 1 - right);
                }
                right -= node.count;
            }
        }
        unreachable!("index {index} checked against len {}", self.len)
    }

    fn position(&self, node: usize, offset: usize) -> Pos {
        let count = self.nodes[node].count;
        let from_end = offset >= count / 2;
        let seek = if from_end { offset as i64 - count as i64 } else { offset as i64 };
        self.lp(node).seek(seek).expect("offset within the node")
    }

    /// The element at `index` (negative counts from the tail).
    pub fn get(&self, index: i64) -> Option<Vec<u8>> {
        let (node, offset) = self.locate(self.resolve(index)?);
        Some(self.lp(node).get(self.position(node, offset)).to_vec())
    }

    /// Replaces the element at `index`; false if out of range.
    pub fn set(&mut self, index: i64, value: &[u8]) -> bool {
        let Some(index) = self.resolve(index) else { return false };
        let (node, offset) = self.locate(index);
        let pos = self.position(node, offset);
        self.nodes[node].lp_mut().replace(pos, LpInput::Bytes(value));
        self.recompress(true);
        true
    }

    /// Index of the first element equal to `value`.
    pub fn find(&self, value: &[u8]) -> Option<usize> {
        self.iter().position(|e| lp_eq(e, value))
    }

    /// Inserts `value` next to element `index` (before it unless `after`),
    /// with Redis's quicklist insertion rules (`_quicklistInsert`): into the
    /// pivot's node if it has room, else into the neighbour at that edge, else
    /// a new node at the edge between two full nodes, else split and merge.
    pub fn insert(&mut self, index: usize, after: bool, value: &[u8]) {
        self.insert_element(index, after, value);
        self.recompress(true);
    }

    fn insert_element(&mut self, index: usize, after: bool, value: &[u8]) {
        let (node, offset) = self.locate(index);
        let count = self.nodes[node].count;
        let at_tail = after && offset == count - 1;
        let at_head = !after && offset == 0;
        let input = LpInput::Bytes(value);
        self.len += 1;
        if self.node_allows_insert(node, value) {
            let pos = self.position(node, offset);
            let n = &mut self.nodes[node];
            if after {
                n.lp_mut().insert_after(pos, input);
            } else {
                n.lp_mut().insert_before(pos, input);
            }
            n.count += 1;
            return;
        }
        let has_next = node + 1 < self.nodes.len();
        let has_prev = node > 0;
        let next_fits = has_next && self.node_allows_insert(node + 1, value);
        let prev_fits = has_prev && self.node_allows_insert(node - 1, value);
        if at_tail && next_fits {
            let next = &mut self.nodes[node + 1];
            next.lp_mut().push_front(input);
            next.count += 1;
        } else if at_head && prev_fits {
            let prev = &mut self.nodes[node - 1];
            prev.lp_mut().push_back(input);
            prev.count += 1;
        } else if (at_tail && has_next) || (at_head && has_prev) {
            let mut fresh = Node::new();
            fresh.lp_mut().push_back(input);
            fresh.count = 1;
            self.reserve_node();
            self.nodes.insert(if at_tail { node + 1 } else { node }, fresh);
        } else if after {
            // Split the full node after the pivot; the element starts the
            // second half; then merge what fits around the original node.
            let mut tail = self.split_off(node, offset + 1);
            tail.lp_mut().push_front(input);
            tail.count += 1;
            self.reserve_node();
            self.nodes.insert(node + 1, tail);
            self.merge_around(node);
        } else {
            // Split before the pivot; the element ends the first half, and
            // the second half (holding the pivot) is the merge centre.
            let tail = self.split_off(node, offset);
            let head = &mut self.nodes[node];
            head.lp_mut().push_back(input);
            head.count += 1;
            self.reserve_node();
            self.nodes.insert(node + 1, tail);
            self.merge_around(node + 1);
        }
    }

    /// Moves the elements of node `i` from `at` on into a new node.
    fn split_off(&mut self, i: usize, at: usize) -> Node {
        let node = &mut self.nodes[i];
        let mut tail = Node::new();
        let lp = node.lp_mut();
        for v in lp.iter().skip(at) {
            push_lp(tail.lp_mut(), v);
        }
        tail.count = node.count - at;
        let lp = node.lp_mut();
        if let Some(pos) = lp.seek(at as i64) {
            lp.delete_range(pos, tail.count);
        }
        node.count = at;
        tail
    }

    /// Redis's `_quicklistMergeNodes` around node `i`: the two nodes before
    /// it, the two after it, then it with each neighbour.
    fn merge_around(&mut self, mut i: usize) {
        if i >= 2 && self.nodes_allow_merge(i - 2, i - 1) {
            self.merge_into_first(i - 2);
            i -= 1;
        }
        if i + 2 < self.nodes.len() && self.nodes_allow_merge(i + 1, i + 2) {
            self.merge_into_first(i + 1);
        }
        if i >= 1 && self.nodes_allow_merge(i - 1, i) {
            self.merge_into_first(i - 1);
            i -= 1;
        }
        if i + 1 < self.nodes.len() && self.nodes_allow_merge(i, i + 1) {
            self.merge_into_first(i);
        }
    }

    /// Appends node `i + 1` to node `i` and drops it.
    fn merge_into_first(&mut self, i: usize) {
        let second = self.nodes.remove(i + 1).expect("merge partner exists");
        let first = self.nodes[i].lp_mut();
        for v in second.lp().iter() {
            push_lp(first, v);
        }
        let first = &mut self.nodes[i];
        first.count += second.count;
    }

    /// Removes `count` elements from `start` (clamped to the list); returns
    /// how many were removed. Emptied nodes are dropped.
    pub fn delete_range(&mut self, start: usize, count: usize) -> usize {
        let removed = self.delete_elements(start, count);
        self.recompress(true);
        removed
    }

    fn delete_elements(&mut self, start: usize, count: usize) -> usize {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return 0;
        }
        let (mut node, offset) = self.locate(start);
        let mut offset = offset;
        let mut left = count;
        while left > 0 {
            let n = &mut self.nodes[node];
            let take = left.min(n.count - offset);
            if take == n.count {
                self.nodes.remove(node);
            } else {
                let lp = n.lp_mut();
                let pos = lp.seek(offset as i64).expect("offset inside the node");
                lp.delete_range(pos, take);
                n.count -= take;
                node += 1;
            }
            left -= take;
            offset = 0;
        }
        self.len -= count;
        count
    }

    /// Keeps only elements `start..=stop` (already resolved, may be empty if start > stop).
    pub fn trim(&mut self, start: usize, stop: usize) {
        if start > stop || start >= self.len {
            self.delete_range(0, self.len);
            return;
        }
        let stop = stop.min(self.len - 1);
        self.delete_elements(stop + 1, self.len);
        self.delete_elements(0, start);
        self.recompress(true);
    }

    /// Removes up to `limit` elements equal to `value` (0 = all), scanning
    /// from `from`. Returns how many were removed.
    pub fn remove(&mut self, value: &[u8], limit: usize, from: End) -> usize {
        let matches: Vec<usize> = match from {
            End::Head => self.iter().enumerate().filter(|(_, e)| lp_eq(*e, value)).map(|(i, _)| i).collect(),
            End::Tail => {
                let last = self.len.wrapping_sub(1);
                self.iter_rev().enumerate().filter(|(_, e)| lp_eq(*e, value)).map(|(i, _)| last - i).collect()
            }
        };
        let take = if limit == 0 { matches.len() } else { limit.min(matches.len()) };
        let mut chosen = matches[..take].to_vec();
        // Delete from the back so earlier indexes stay valid.
        chosen.sort_unstable_by(|a, b| b.cmp(a));
        for i in &chosen {
            self.delete_elements(*i, 1);
        }
        self.recompress(true);
        take
    }

    /// The nodes' listpacks head to tail, as RDB stores them.
    pub fn node_listpacks(&self) -> impl Iterator<Item = &Listpack> + '_ {
        self.note_read();
        self.nodes.iter().map(|n| n.lp())
    }

    /// Appends a whole node at the tail, as RDB loading rebuilds a list
    /// node by node. Empty listpacks are skipped.
    pub fn push_node(&mut self, lp: Listpack) {
        let count = lp.len();
        if count > 0 {
            self.len += count;
            self.reserve_node();
            self.nodes.push_back(Node { body: Body::Raw(lp), count, incompressible: false });
            self.recompress(false);
        }
    }

    /// Elements head to tail.
    pub fn iter(&self) -> impl Iterator<Item = LpValue<'_>> + '_ {
        self.note_read();
        self.nodes.iter().flat_map(|n| n.lp().iter())
    }

    /// Elements tail to head.
    pub fn iter_rev(&self) -> impl Iterator<Item = LpValue<'_>> + '_ {
        self.note_read();
        self.nodes.iter().rev().flat_map(|n| n.lp().iter_rev())
    }

    /// Elements `start..start+count` head to tail, with one O(nodes) seek.
    pub fn range(&self, start: usize, count: usize) -> impl Iterator<Item = LpValue<'_>> + '_ {
        let (node, offset) = if start < self.len { self.locate(start) } else { (self.nodes.len(), 0) };
        self.note_read();
        self.nodes.range(node..).flat_map(|n| n.lp().iter()).skip(offset).take(count)
    }
}

/// Listpack element equality with a byte string, as Redis compares list
/// elements (integers by their decimal form).
pub fn lp_eq(e: LpValue<'_>, value: &[u8]) -> bool {
    match e {
        LpValue::Str(s) => s == value,
        LpValue::Int(i) => {
            let mut buf = Vec::with_capacity(20);
            LpValue::Int(i).write_to(&mut buf);
            buf == value
        }
    }
}

fn push_lp(lp: &mut Listpack, v: LpValue<'_>) {
    match v {
        LpValue::Int(i) => lp.push_back(LpInput::Int(i)),
        LpValue::Str(s) => lp.push_back(LpInput::Bytes(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_vec(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn count_fill_caps_nodes() {
        let mut l = List::new(4);
        for i in 0..10 {
            l.push(End::Tail, i.to_string().as_bytes());
        }
        assert_eq!(l.node_count(), 3);
        assert_eq!(l.get(-1), Some(b"9".to_vec()));
        assert_eq!(l.get(4), Some(b"4".to_vec()));
    }

    #[test]
    fn size_fill_caps_node_bytes() {
        let mut l = List::new(-2);
        for _ in 0..1000 {
            l.push(End::Head, &[b'x'; 100]);
        }
        assert!(l.node_sizes().all(|s| s <= 8192));
        assert!(l.node_count() > 10);
    }

    /// With depth 1 every node but the two end ones is stored compressed,
    /// and reads and writes in the middle see the right elements.
    #[test]
    fn inner_nodes_are_compressed() {
        let mut l = List::with_compress_depth(-2, 1);
        for i in 0..20_000 {
            l.push(End::Tail, format!("element:{}", i % 100).as_bytes());
        }
        let sizes: Vec<NodeSize> = l.node_footprints().collect();
        assert!(sizes.len() > 10);
        assert!(sizes[0].compressed.is_none() && sizes[sizes.len() - 1].compressed.is_none());
        assert!(sizes[1..sizes.len() - 1]
            .iter()
            .all(|s| s.compressed.is_some_and(|c| c + MIN_COMPRESS_IMPROVE < s.raw)));
        assert_eq!(l.get(10_001), Some(b"element:1".to_vec()));
        assert!(l.set(10_002, b"changed"));
        l.insert(10_003, true, b"inserted");
        let middle: Vec<Vec<u8>> = l.range(10_001, 4).map(|e| e.to_vec()).collect();
        assert_eq!(middle, [&b"element:1"[..], b"changed", b"element:3", b"inserted"]);
        assert!(l.nodes.iter().all(|n| n.lp().len() == n.count));
        assert!(l.nodes.range(1..l.nodes.len() - 1).all(Node::is_compressed));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(bool, u16),
        Pop(bool),
        Insert(u16, bool, u16),
        Set(i16, u16),
        Trim(u16, u16),
        Remove(u16, u8, bool),
        DeleteRange(u16, u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), 0u16..50).prop_map(|(h, v)| Op::Push(h, v)),
            1 => any::<bool>().prop_map(Op::Pop),
            2 => (any::<u16>(), any::<bool>(), 0u16..50).prop_map(|(i, a, v)| Op::Insert(i, a, v)),
            1 => (any::<i16>(), 0u16..50).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (0u16..40, 0u16..60).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => (0u16..50, 0u8..3, any::<bool>()).prop_map(|(v, n, h)| Op::Remove(v, n, h)),
            1 => (0u16..60, 0u16..10).prop_map(|(s, c)| Op::DeleteRange(s, c)),
        ]
    }

    /// Values of different sizes, some integers, so node limits are hit often.
    fn value(v: u16) -> Vec<u8> {
        if v.is_multiple_of(3) {
            v.to_string().into_bytes()
        } else {
            vec![b'a' + (v % 26) as u8; (v as usize * 7) % 90]
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(fill in prop_oneof![Just(-1i64), Just(-2), Just(1), Just(3), Just(5)],
                                depth in prop_oneof![Just(0usize), Just(1), Just(2)],
                                ops in proptest::collection::vec(op(), 1..200)) {
            let mut l = List::with_compress_depth(fill, depth);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(head, v) => {
                        if head { l.push(End::Head, &value(v)); m.push_front(value(v)); }
                        else { l.push(End::Tail, &value(v)); m.push_back(value(v)); }
                    }
                    Op::Pop(head) => {
                        let expect = if head { m.pop_front() } else { m.pop_back() };
                        prop_assert_eq!(l.pop(if head { End::Head } else { End::Tail }), expect);
                    }
                    Op::Insert(i, after, v) => if !m.is_empty() {
                        let i = i as usize % m.len();
                        l.insert(i, after, &value(v));
                        m.insert(if after { i + 1 } else { i }, value(v));
                    }
                    Op::Set(i, v) => {
                        let ok = l.set(i as i64, &value(v));
                        let idx = if i < 0 { m.len() as i64 + i as i64 } else { i as i64 };
                        prop_assert_eq!(ok, (0..m.len() as i64).contains(&idx));
                        if ok { m[idx as usize] = value(v); }
                    }
                    Op::Trim(a, b) => {
                        l.trim(a as usize, b as usize);
                        let kept: VecDeque<_> = m.iter().enumerate()
                            .filter(|(i, _)| *i >= a as usize && *i <= b as usize).map(|(_, v)| v.clone()).collect();
                        m = kept;
                    }
                    Op::Remove(v, n, head) => {
                        let target = value(v);
                        let removed = l.remove(&target, n as usize, if head { End::Head } else { End::Tail });
                        let mut left = if n == 0 { usize::MAX } else { n as usize };
                        let mut count = 0;
                        let order: Vec<usize> = if head { (0..m.len()).collect() } else { (0..m.len()).rev().collect() };
                        let mut drop = Vec::new();
                        for i in order { if left > 0 && m[i] == target { drop.push(i); left -= 1; count += 1; } }
                        drop.sort_unstable_by(|a, b| b.cmp(a));
                        for i in drop { m.remove(i); }
                        prop_assert_eq!(removed, count);
                    }
                    Op::DeleteRange(s, c) => {
                        let removed = l.delete_range(s as usize, c as usize);
                        let mut count = 0;
                        for _ in 0..c { if (s as usize) < m.len() { m.remove(s as usize); count += 1; } }
                        prop_assert_eq!(removed, count);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(to_vec(&l), m.iter().cloned().collect::<Vec<_>>());
                prop_assert!(l.nodes.iter().all(|n| n.count > 0 && n.count == n.lp().len()));
                let nodes = l.nodes.len();
                for (i, n) in l.nodes.iter().enumerate() {
                    let inner = depth > 0 && i >= depth && i + depth < nodes;
                    prop_assert_eq!(n.is_compressed(), inner && !n.incompressible, "node {} of {}", i, nodes);
                }
            }
            let rev: Vec<Vec<u8>> = l.iter_rev().map(|e| e.to_vec()).collect();
            prop_assert_eq!(rev, m.iter().rev().cloned().collect::<Vec<_>>());
            if !m.is_empty() {
                let s = m.len() / 3;
                let got: Vec<Vec<u8>> = l.range(s, 5).map(|e| e.to_vec()).collect();
                prop_assert_eq!(got, m.iter().skip(s).take(5).cloned().collect::<Vec<_>>());

            }
        }
    }
}
