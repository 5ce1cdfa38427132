//! `Zset`: sorted sets in Redis 7.0's two encodings.
//!
//! Small sets are a listpack of member, score pairs in (score, member) order,
//! byte-identical to Redis's (scores written as Redis's `d2string` writes
//! them: integers as integers, others as `%.17g`). Large sets ("skiplist" to
//! OBJECT ENCODING) are a `Dict` member -> score for O(1) lookups plus a
//! counted B+tree (`tree::ScoreTree`, see there for the memory argument) for
//! everything ordered. A set converts from listpack when an insert would
//! pass `zset-max-listpack-entries` or brings a member longer than
//! `zset-max-listpack-value`; it never converts back on removal. Stores
//! of computed results (ZUNIONSTORE and friends) are built small-first, which
//! ends in the encoding Redis's build-large-then-shrink gives.
//!
//! All ordered queries are expressed as ranks: `count_while` gives where a
//! score or lex bound falls, `visit` walks a rank range.

mod tree;

use std::cmp::Ordering;

use cinnabar_protocol::numbers::{format_g17, parse_f64};

use crate::listpack::{Listpack, LpInput, LpValue, Pos};
use crate::{CompactBytes, Dict};

pub use tree::cmp_key;
use tree::ScoreTree;

/// The listpack thresholds (from config).
#[derive(Clone, Copy, Debug)]
pub struct ZsetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// A large sorted set: member -> score, plus the ordered index.
#[derive(Default)]
pub struct SkipList {
    dict: Dict<CompactBytes, f64>,
    tree: ScoreTree,
}

impl Clone for SkipList {
    /// The tree clones as it is; the dict is rebuilt from it.
    fn clone(&self) -> Self {
        let mut dict = Dict::new();
        self.tree.visit(0, usize::MAX, false, &mut |e| dict.insert_new(e.member.clone(), e.score));
        SkipList { dict, tree: self.tree.clone() }
    }
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tree.fmt(f)
    }
}

/// A sorted set; see the module comment.
#[derive(Clone, Debug)]
pub enum Zset {
    Listpack(Listpack),
    SkipList(Box<SkipList>),
}

impl PartialEq for Zset {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.to_vec(false) == other.to_vec(false)
    }
}

/// What happened to a member on `add`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    New,
    Updated,
    Unchanged,
}

/// Writes a score the way Redis 7.0's `d2string` does for listpack scores:
/// integral values (`-0` included, which becomes `0`) as integers.
pub fn score_to_string(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if score > -4503599627370495.0 && score < 4503599627370496.0 && score == (score as i64) as f64 {
        return (score as i64).to_string();
    }
    format_g17(score)
}

fn score_from_lp(v: LpValue) -> f64 {
    match v {
        LpValue::Int(i) => i as f64,
        LpValue::Str(s) => parse_f64(s).unwrap_or(0.0),
    }
}

fn member_bytes<'a>(v: LpValue<'a>, buf: &'a mut Vec<u8>) -> &'a [u8] {
    match v {
        LpValue::Str(s) => s,
        LpValue::Int(_) => {
            buf.clear();
            v.write_to(buf);
            buf
        }
    }
}

impl Default for Zset {
    fn default() -> Self {
        Zset::Listpack(Listpack::new())
    }
}

impl Zset {
    /// An empty set in the encoding ZADD picks for its first member (Redis 7.0
    /// looks only at that member's length).
    pub fn for_first_member(limits: ZsetLimits, member_len: usize) -> Zset {
        if limits.max_entries == 0 || member_len > limits.max_value {
            Zset::SkipList(Box::default())
        } else {
            Zset::default()
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Zset::Listpack(_) => "listpack",
            Zset::SkipList(_) => "skiplist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Zset::Listpack(lp) => lp.len() / 2,
            Zset::SkipList(s) => s.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Zset::Listpack(lp) => lp.capacity(),
            Zset::SkipList(s) => {
                let members: usize = s.dict.keys().map(|m| m.heap_size()).sum();
                let dict = s.dict.bucket_count() * std::mem::size_of::<usize>()
                    + s.dict.len() * Dict::<CompactBytes, f64>::NODE_SIZE;
                // Each member is stored in the dict and in the tree.
                dict + s.tree.node_bytes() + 2 * members
            }
        }
    }

    /// The listpack bytes, when listpack-encoded.
    pub fn listpack(&self) -> Option<&Listpack> {
        match self {
            Zset::Listpack(lp) => Some(lp),
            Zset::SkipList(_) => None,
        }
    }

    fn lp_find(lp: &Listpack, member: &[u8]) -> Option<Pos> {
        lp.find(lp.first()?, member, 1)
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Listpack(lp) => {
                let pos = Self::lp_find(lp, member)?;
                Some(score_from_lp(lp.get(lp.next(pos)?)))
            }
            Zset::SkipList(s) => s.dict.get(member).copied(),
        }
    }

    /// Sets `member`'s score (converting to the large encoding first if the
    /// insert would pass the limits). Returns what changed.
    pub fn add(&mut self, member: &[u8], score: f64, limits: ZsetLimits) -> Added {
        let old = self.score(member);
        if old == Some(score) {
            // Redis compares with `!=`, so -0 and +0 count as the same score.
            return Added::Unchanged;
        }
        let passes_limits = self.len() + 1 > limits.max_entries || member.len() > limits.max_value;
        if old.is_none() && matches!(self, Zset::Listpack(_)) && passes_limits {
            self.convert_to_skiplist();
        }
        if old.is_some() {
            self.remove(member);
        }
        match self {
            Zset::Listpack(lp) => lp_insert(lp, member, score),
            Zset::SkipList(s) => {
                s.dict.insert(CompactBytes::new(member), score);
                s.tree.insert(score, CompactBytes::new(member));
            }
        }
        if old.is_some() {
            Added::Updated
        } else {
            Added::New
        }
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Listpack(lp) => {
                let pos = Self::lp_find(lp, member)?;
                let score = score_from_lp(lp.get(lp.next(pos)?));
                lp.delete_range(pos, 2);
                Some(score)
            }
            Zset::SkipList(s) => {
                let score = s.dict.remove(member)?;
                s.tree.remove(score, member);
                s.dict.shrink_if_needed();
                Some(score)
            }
        }
    }

    /// Converts to the large encoding.
    pub fn convert_to_skiplist(&mut self) {
        if let Zset::Listpack(_) = self {
            let mut big = SkipList::default();
            for (m, s) in self.to_vec(false) {
                big.dict.insert(CompactBytes::new(&m), s);
                big.tree.insert(s, CompactBytes::new(&m));
            }
            *self = Zset::SkipList(Box::new(big));
        }
    }

    /// The rank of `member` (ascending) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        Some((self.count_while(|s, m| cmp_key(s, m, score, member) == Ordering::Less), score))
    }

    /// How many leading elements satisfy `before` (true for a prefix of the order).
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            Zset::Listpack(_) => {
                // Stop at the first element past the point, as Redis's scans do.
                let (mut n, mut done) = (0, false);
                self.visit(0, usize::MAX, false, &mut |m, s| {
                    done |= !before(s, m);
                    n += usize::from(!done);
                });
                n
            }
            Zset::SkipList(s) => s.tree.count_while(before),
        }
    }

    /// Calls `f(member, score)` for ranks `start..end` (ascending, or from
    /// `end - 1` down to `start` when `rev`).
    pub fn visit(&self, start: usize, end: usize, rev: bool, f: &mut dyn FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            Zset::Listpack(lp) => {
                let mut buf = Vec::new();
                let mut pos = lp.seek(2 * start as i64);
                let mut picked = Vec::with_capacity(if rev { end - start } else { 0 });
                for _ in start..end {
                    let Some(p) = pos else { break };
                    let sp = lp.next(p).expect("score follows member");
                    let score = score_from_lp(lp.get(sp));
                    if rev {
                        picked.push((lp.get(p).to_vec(), score));
                    } else {
                        f(member_bytes(lp.get(p), &mut buf), score);
                    }
                    pos = lp.next(sp);
                }
                for (m, s) in picked.iter().rev() {
                    f(m, *s);
                }
            }
            Zset::SkipList(s) => s.tree.visit(start, end, rev, &mut |e| f(&e.member, e.score)),
        }
    }

    /// The element at rank `r`.
    pub fn get(&self, r: usize) -> Option<(Vec<u8>, f64)> {
        if let Zset::SkipList(s) = self {
            return s.tree.get(r).map(|e| (e.member.to_vec(), e.score));
        }
        let mut out = None;
        self.visit(r, r + 1, false, &mut |m, s| out = Some((m.to_vec(), s)));
        out
    }

    /// All elements in order (or reverse order).
    pub fn to_vec(&self, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(self.len());
        self.visit(0, usize::MAX, rev, &mut |m, s| out.push((m.to_vec(), s)));
        out
    }

    /// Removes ranks `start..end`; returns how many went.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let doomed: Vec<Vec<u8>> = {
            let mut v = Vec::new();
            self.visit(start, end, false, &mut |m, _| v.push(m.to_vec()));
            v
        };
        match self {
            Zset::Listpack(lp) => {
                if let Some(pos) = lp.seek(2 * start as i64) {
                    lp.delete_range(pos, 2 * doomed.len());
                }
            }
            Zset::SkipList(_) => {
                for m in &doomed {
                    self.remove(m);
                }
            }
        }
        doomed.len()
    }

    /// One step of a SCAN over a large set (`None` for listpacks, which are
    /// returned whole).
    pub fn scan(&self, cursor: u64, visit: &mut dyn FnMut(&[u8], f64)) -> Option<u64> {
        match self {
            Zset::Listpack(_) => None,
            Zset::SkipList(s) => Some(s.dict.scan(cursor, |k, v| visit(k, *v))),
        }
    }
}

fn score_input(text: &str) -> LpInput<'_> {
    LpInput::Bytes(text.as_bytes())
}

/// Inserts a new member at its place in the order.
fn lp_insert(lp: &mut Listpack, member: &[u8], score: f64) {
    let text = score_to_string(score);
    let mut buf = Vec::new();
    let mut pos = lp.first();
    while let Some(p) = pos {
        let sp = lp.next(p).expect("score follows member");
        let s = score_from_lp(lp.get(sp));
        if cmp_key(s, member_bytes(lp.get(p), &mut buf), score, member) == Ordering::Greater {
            let at = lp.insert_before(p, LpInput::Bytes(member));
            lp.insert_after(at, score_input(&text));
            return;
        }
        pos = lp.next(sp);
    }
    lp.push_back(LpInput::Bytes(member));
    lp.push_back(score_input(&text));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    const LIMITS: ZsetLimits = ZsetLimits { max_entries: 16, max_value: 8 };

    #[test]
    fn scores_are_written_like_d2string() {
        assert_eq!(score_to_string(1.0), "1");
        assert_eq!(score_to_string(-0.0), "0");
        assert_eq!(score_to_string(1.5), "1.5");
        assert_eq!(score_to_string(0.1), "0.10000000000000001");
        assert_eq!(score_to_string(f64::NEG_INFINITY), "-inf");
        assert_eq!(score_to_string(1e20), "1e+20");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>, i8),
        Remove(Vec<u8>),
        RemoveRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let member = prop::collection::vec(prop::sample::select(b"ab12".to_vec()), 0..10);
        prop_oneof![
            4 => (member.clone(), any::<i8>()).prop_map(|(m, s)| Op::Add(m, s % 8)),
            2 => member.prop_map(Op::Remove),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::RemoveRange(a % 24, b % 6)),
        ]
    }

    /// The model: ordered (score, member) keys; scores are small integers so
    /// `i64` ordering is Redis's.
    fn model_vec(m: &BTreeMap<(i64, Vec<u8>), ()>) -> Vec<(Vec<u8>, f64)> {
        m.keys().map(|(s, k)| (k.clone(), *s as f64)).collect()
    }

    proptest! {
        #[test]
        fn behaves_like_an_ordered_map(ops in prop::collection::vec(op(), 1..120)) {
            let mut z = Zset::default();
            let mut model: BTreeMap<(i64, Vec<u8>), ()> = BTreeMap::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Add(m, s) => {
                        let old = model.keys().find(|(_, k)| *k == m).cloned();
                        let expect = match &old { None => Added::New, Some((o, _)) if *o == s as i64 => Added::Unchanged, _ => Added::Updated };
                        if let Some(k) = old { model.remove(&k); }
                        let must_convert = expect == Added::New && (model.len() + 1 > LIMITS.max_entries || m.len() > LIMITS.max_value);
                        model.insert((s as i64, m.clone()), ());
                        prop_assert_eq!(z.add(&m, s as f64, LIMITS), expect);
                        converted |= must_convert;
                    }
                    Op::Remove(m) => {
                        let old = model.keys().find(|(_, k)| *k == m).cloned();
                        if let Some(k) = &old { model.remove(k); }
                        prop_assert_eq!(z.remove(&m), old.map(|(s, _)| s as f64));
                    }
                    Op::RemoveRange(a, n) => {
                        let (a, n) = (a as usize, n as usize);
                        let doomed: Vec<_> = model.keys().skip(a).take(n).cloned().collect();
                        for k in &doomed { model.remove(k); }
                        prop_assert_eq!(z.remove_range(a, a + n), doomed.len());
                    }
                }
                prop_assert_eq!(z.encoding(), if converted { "skiplist" } else { "listpack" });
                let all = model_vec(&model);
                prop_assert_eq!(z.len(), all.len());
                prop_assert_eq!(z.to_vec(false), all.clone());
                let mut rev = all.clone();
                rev.reverse();
                prop_assert_eq!(z.to_vec(true), rev);
                for (i, (m, s)) in all.iter().enumerate() {
                    prop_assert_eq!(z.rank(m), Some((i, *s)));
                    prop_assert_eq!(z.get(i), Some((m.clone(), *s)));
                }
                for bound in -9i64..9 {
                    let by_score = all.iter().filter(|(_, s)| (*s as i64) < bound).count();
                    prop_assert_eq!(z.count_while(|s, _| s < bound as f64), by_score);
                }
                for probe in [&b""[..], b"1", b"a", b"ab", b"b2"] {
                    for bound in -2i64..2 {
                        let before = all.iter().filter(|(m, s)| ((*s as i64), m.as_slice()) < (bound, probe)).count();
                        prop_assert_eq!(z.count_while(|s, m| cmp_key(s, m, bound as f64, probe) == Ordering::Less), before);
                    }
                }
            }
        }
    }
}
