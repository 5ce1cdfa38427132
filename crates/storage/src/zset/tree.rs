//! `ScoreTree`: the ordered half of a large sorted set — a counted B+tree of
//! (score, member) entries.
//!
//! Every query a sorted set answers reduces to three primitives: "how many
//! entries come before this point" (`count_while`, with a monotone predicate:
//! a rank, the start or end of a score or lex range), "the entry at rank r",
//! and "visit ranks a..b". Each inner node keeps, per child, the child's
//! entry count and its largest key, so all three are O(log N) descents
//! (plus O(k) to visit k entries).
//!
//! Why not a skiplist like Redis: leaves are fixed arrays of 24-byte entries
//! (8-byte score + `CompactBytes` member, inline up to 14 bytes), 64 to a
//! leaf in one 1536-byte allocation (an exact jemalloc size class), so the
//! ordered index costs 24–48 bytes per element, where a skiplist node costs
//! a separate allocation with a backward pointer and 1.33 levels of
//! (pointer, span) on average (~56–72 bytes with malloc overhead). A full
//! leaf splits in half, except when the new entry goes at either end (scores
//! added in order): then the full leaf stays full, so ordered loads pack
//! leaves completely.

use std::cmp::Ordering;

use crate::CompactBytes;

const LEAF_MAX: usize = 64;
const INNER_MAX: usize = 64;
/// A node narrower than this tries to merge with a neighbour after a removal.
const MERGE_BELOW: usize = 16;

/// One element of the tree.
#[derive(Clone, Debug)]
pub struct Entry {
    pub score: f64,
    pub member: CompactBytes,
}

/// Redis's order: by score (`-0 == +0`), then by member bytes.
pub fn cmp_key(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score.partial_cmp(&b_score).unwrap_or(Ordering::Equal).then_with(|| a_member.cmp(b_member))
}

fn less(a: &Entry, score: f64, member: &[u8]) -> bool {
    cmp_key(a.score, &a.member, score, member) == Ordering::Less
}

#[derive(Clone, Debug)]
struct Child {
    len: usize,
    max: Entry,
    node: Box<Node>,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Entry>),
    Inner(Vec<Child>),
}

impl Node {
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(c) => c.len(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(c) => c.iter().map(|c| c.len).sum(),
        }
    }

    fn max(&self) -> &Entry {
        match self {
            Node::Leaf(v) => v.last().expect("non-empty leaf"),
            Node::Inner(c) => &c.last().expect("non-empty inner node").max,
        }
    }

    fn child_of(node: Box<Node>) -> Child {
        Child { len: node.len(), max: node.max().clone(), node }
    }

    /// Inserts `e` (not present); returns the right half if this node split.
    fn insert(&mut self, e: Entry) -> Option<Box<Node>> {
        match self {
            Node::Leaf(v) => {
                let at = v.partition_point(|x| less(x, e.score, &e.member));
                insert_or_split(v, at, e, LEAF_MAX).map(|right| Box::new(Node::Leaf(right)))
            }
            Node::Inner(children) => {
                let i = children.iter().position(|c| !less(&c.max, e.score, &e.member)).unwrap_or(children.len() - 1);
                let c = &mut children[i];
                c.len += 1;
                if less(&c.max, e.score, &e.member) {
                    c.max = e.clone();
                }
                let right = c.node.insert(e)?;
                c.len = c.node.len();
                c.max = c.node.max().clone();
                insert_or_split(children, i + 1, Node::child_of(right), INNER_MAX)
                    .map(|right| Box::new(Node::Inner(right)))
            }
        }
    }

    /// Removes the entry with this key; false if absent.
    fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        match self {
            Node::Leaf(v) => {
                let at = v.partition_point(|x| less(x, score, member));
                let found = v.get(at).is_some_and(|x| cmp_key(x.score, &x.member, score, member) == Ordering::Equal);
                if found {
                    v.remove(at);
                }
                found
            }
            Node::Inner(children) => {
                let Some(i) = children.iter().position(|c| !less(&c.max, score, member)) else {
                    return false;
                };
                if !children[i].node.remove(score, member) {
                    return false;
                }
                let c = &mut children[i];
                c.len -= 1;
                if c.len == 0 {
                    children.remove(i);
                    return true;
                }
                if cmp_key(c.max.score, &c.max.member, score, member) == Ordering::Equal {
                    c.max = c.node.max().clone();
                }
                merge_if_narrow(children, i);
                true
            }
        }
    }
}

/// Inserts `item` at `at` in a node array of capacity `cap`. A full array
/// splits first and the right part is returned: in half, or, when `item` goes
/// at either end, leaving the full part whole (ordered loads pack nodes).
fn insert_or_split<T>(v: &mut Vec<T>, at: usize, item: T, cap: usize) -> Option<Vec<T>> {
    if v.len() < cap {
        v.insert(at, item);
        return None;
    }
    let appending = at == v.len();
    let mid = if at == 0 || appending { at } else { v.len() / 2 };
    let mut right = Vec::with_capacity(cap);
    right.extend(v.drain(mid..));
    if at <= mid && !appending {
        v.insert(at, item);
    } else {
        right.insert(at - mid, item);
    }
    Some(right)
}

/// Merges child `i` into a neighbour when both fit in one node.
fn merge_if_narrow(children: &mut Vec<Child>, i: usize) {
    if children[i].node.width() >= MERGE_BELOW || children.len() < 2 {
        return;
    }
    let left = if i + 1 < children.len() { i } else { i - 1 };
    let cap = if matches!(*children[left].node, Node::Leaf(_)) { LEAF_MAX } else { INNER_MAX };
    if children[left].node.width() + children[left + 1].node.width() > cap {
        return;
    }
    let right = children.remove(left + 1);
    let l = &mut children[left];
    l.len += right.len;
    l.max = right.max;
    match (&mut *l.node, *right.node) {
        (Node::Leaf(a), Node::Leaf(b)) => a.extend(b),
        (Node::Inner(a), Node::Inner(b)) => a.extend(b),
        _ => unreachable!("siblings are at the same depth"),
    }
}

/// The counted B+tree; see the module comment.
#[derive(Clone, Debug)]
pub struct ScoreTree {
    root: Box<Node>,
    len: usize,
}

impl Default for ScoreTree {
    fn default() -> Self {
        ScoreTree { root: Box::new(Node::Leaf(Vec::new())), len: 0 }
    }
}

impl ScoreTree {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Inserts an entry whose key is not present.
    pub fn insert(&mut self, score: f64, member: CompactBytes) {
        self.len += 1;
        if let Some(right) = self.root.insert(Entry { score, member }) {
            let left = std::mem::replace(&mut self.root, Box::new(Node::Leaf(Vec::new())));
            let mut children = Vec::with_capacity(INNER_MAX);
            children.extend([Node::child_of(left), Node::child_of(right)]);
            *self.root = Node::Inner(children);
        }
    }

    /// Removes the entry with this key; false if absent.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        if !self.root.remove(score, member) {
            return false;
        }
        self.len -= 1;
        loop {
            match &mut *self.root {
                Node::Inner(c) if c.len() == 1 => self.root = c.pop().expect("one child").node,
                Node::Inner(c) if c.is_empty() => *self.root = Node::Leaf(Vec::new()),
                _ => return true,
            }
        }
    }

    /// Bytes of the tree's nodes and arrays (members' own allocations not
    /// included), for MEMORY USAGE.
    pub fn node_bytes(&self) -> usize {
        fn of(node: &Node) -> usize {
            std::mem::size_of::<Node>()
                + match node {
                    Node::Leaf(v) => v.capacity() * std::mem::size_of::<Entry>(),
                    Node::Inner(c) => {
                        c.capacity() * std::mem::size_of::<Child>() + c.iter().map(|c| of(&c.node)).sum::<usize>()
                    }
                }
        }
        of(&self.root)
    }

    /// The number of leading entries for which `before(score, member)` holds;
    /// `before` must be true for a prefix of the order and false after it.
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut node = &*self.root;
        let mut acc = 0;
        loop {
            match node {
                Node::Leaf(v) => return acc + v.partition_point(|e| before(e.score, &e.member)),
                Node::Inner(children) => match children.iter().find(|c| !before(c.max.score, &c.max.member)) {
                    None => return acc + children.iter().map(|c| c.len).sum::<usize>(),
                    Some(c) => {
                        acc += children.iter().take_while(|x| !std::ptr::eq(*x, c)).map(|x| x.len).sum::<usize>();
                        node = &c.node;
                    }
                },
            }
        }
    }

    /// The entry at `rank` (0-based, ascending).
    pub fn get(&self, mut rank: usize) -> Option<&Entry> {
        if rank >= self.len {
            return None;
        }
        let mut node = &*self.root;
        loop {
            match node {
                Node::Leaf(v) => return v.get(rank),
                Node::Inner(children) => {
                    let mut next = None;
                    for c in children {
                        if rank < c.len {
                            next = Some(c);
                            break;
                        }
                        rank -= c.len;
                    }
                    node = &next?.node;
                }
            }
        }
    }

    /// Calls `f` for ranks `start..end` (ascending, or descending from
    /// `end - 1` when `rev`).
    pub fn visit(&self, start: usize, end: usize, rev: bool, f: &mut dyn FnMut(&Entry)) {
        let end = end.min(self.len);
        if start < end {
            visit_node(&self.root, start, end, rev, f);
        }
    }
}

fn visit_node(node: &Node, start: usize, end: usize, rev: bool, f: &mut dyn FnMut(&Entry)) {
    match node {
        Node::Leaf(v) if rev => v[start..end].iter().rev().for_each(f),
        Node::Leaf(v) => v[start..end].iter().for_each(f),
        Node::Inner(children) => {
            let mut spans = Vec::new();
            let mut base = 0;
            for c in children {
                let (lo, hi) = (start.max(base), end.min(base + c.len));
                if lo < hi {
                    spans.push((c, lo - base, hi - base));
                }
                base += c.len;
                if base >= end {
                    break;
                }
            }
            if rev {
                spans.reverse();
            }
            for (c, lo, hi) in spans {
                visit_node(&c.node, lo, hi, rev, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores added in ascending or descending order leave every leaf full.
    #[test]
    fn ordered_loads_fill_leaves() {
        for descending in [false, true] {
            let mut t = ScoreTree::default();
            let n = LEAF_MAX * 100;
            for i in 0..n {
                let k = if descending { n - 1 - i } else { i };
                t.insert(k as f64, CompactBytes::new(b"m"));
            }
            let mut seen = Vec::new();
            t.visit(0, n, false, &mut |e| seen.push(e.score as usize));
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
            let per_entry = t.node_bytes() as f64 / n as f64;
            // 24 bytes an entry plus node overhead; half-full leaves would take 48+.
            assert!(per_entry < 28.0, "{per_entry} bytes per entry");
        }
    }

    #[test]
    fn keeps_order_and_counts_through_splits_and_merges() {
        let mut t = ScoreTree::default();
        let n = 20_000;
        for i in 0..n {
            let k = (i * 7919) % n;
            t.insert(k as f64, CompactBytes::new(format!("m{k}").as_bytes()));
        }
        assert_eq!(t.len(), n);
        for r in [0, 1, 63, 64, 4095, n - 1] {
            assert_eq!(t.get(r).unwrap().score, r as f64);
            assert_eq!(t.count_while(|s, _| s < r as f64), r);
        }
        for i in (0..n).step_by(2) {
            assert!(t.remove(i as f64, format!("m{i}").as_bytes()));
        }
        assert!(!t.remove(0.0, b"m0"));
        assert_eq!(t.len(), n / 2);
        let mut seen = Vec::new();
        t.visit(0, n, false, &mut |e| seen.push(e.score as usize));
        assert_eq!(seen, (1..n).step_by(2).collect::<Vec<_>>());
        let mut back = Vec::new();
        t.visit(10, 13, true, &mut |e| back.push(e.score as usize));
        assert_eq!(back, vec![25, 23, 21]);
    }
}
