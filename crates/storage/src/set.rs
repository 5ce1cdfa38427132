//! `Set`: the set type and its two Redis 7.0 encodings.
//!
//! A set whose members are all canonical 64-bit integers, and not more than
//! `set-max-intset-entries` of them, is an intset (sorted, 2/4/8 bytes per
//! member). Anything else is a hashtable: a `Dict` keyed by `SmallBytes`, so
//! members up to 22 bytes cost no allocation of their own. Redis 7.0 has no
//! listpack sets (7.2 added them), and never converts a hashtable back.
//! Sampling (SRANDMEMBER, SPOP) follows Redis's cases.

use cinnabar_protocol::numbers::parse_i64;

use crate::dict::Dict;
use crate::hash::ordered_selection;
use crate::intset::IntSet;
use crate::listpack::LpValue;
use crate::SmallBytes;

/// A set; see the module comment.
pub enum Set {
    Ints(IntSet),
    /// Boxed: most sets are small intsets, and a table is several times
    /// their size (every set value is one allocation of this enum).
    Table(Box<Dict<SmallBytes, ()>>),
}

/// A member as stored: integers of an intset, bytes of a table.
pub type Member<'a> = LpValue<'a>;

/// The integer a member string stands for, if it is canonical (Redis's
/// `string2ll`, which decides intset membership).
fn as_int(member: &[u8]) -> Option<i64> {
    if member.len() > 20 {
        return None;
    }
    parse_i64(member)
}

impl Clone for Set {
    fn clone(&self) -> Self {
        match self {
            Set::Ints(s) => Set::Ints(s.clone()),
            Set::Table(t) => {
                let mut copy = Dict::new();
                for member in t.keys() {
                    copy.insert_new(member.clone(), ());
                }
                Set::Table(Box::new(copy))
            }
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m.to_vec()))
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

fn member_of(b: &SmallBytes) -> Member<'_> {
    LpValue::Str(b)
}

impl Set {
    /// An empty set in the encoding Redis picks for its first member
    /// (`setTypeCreate`): an intset if it is an integer.
    pub fn for_member(first: &[u8]) -> Self {
        if as_int(first).is_some() {
            Set::Ints(IntSet::new())
        } else {
            Set::Table(Box::default())
        }
    }

    /// An empty intset, where Redis builds the result of SINTERSTORE and friends.
    pub fn new_ints() -> Self {
        Set::Ints(IntSet::new())
    }

    /// An empty set in the same encoding as `self`.
    pub fn empty_like(&self) -> Self {
        match self {
            Set::Ints(_) => Set::Ints(IntSet::new()),
            Set::Table(_) => Set::Table(Box::default()),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(member).is_some_and(|i| s.contains(i)),
            Set::Table(t) => t.contains_key(member),
        }
    }

    /// Adds `member`; returns true if it was new. An intset becomes a table
    /// when a non-integer arrives or it grows past `max_intset_entries`.
    pub fn add(&mut self, member: &[u8], max_intset_entries: usize) -> bool {
        if let Set::Ints(s) = self {
            match as_int(member) {
                Some(i) => {
                    if !s.insert(i) {
                        return false;
                    }
                    if s.len() > max_intset_entries {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        let Set::Table(t) = self else { unreachable!("converted above") };
        if t.contains_key(member) {
            return false;
        }
        t.insert_new(SmallBytes::new(member), ());
        true
    }

    /// Removes `member`; returns true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(member).is_some_and(|i| s.remove(i)),
            Set::Table(t) => {
                let removed = t.remove(member).is_some();
                if removed {
                    t.shrink_if_needed();
                }
                removed
            }
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Ints(s) = self {
            let mut table = Dict::new();
            for i in s.iter() {
                table.insert_new(SmallBytes::from(i.to_string().into_bytes()), ());
            }
            *self = Set::Table(Box::new(table));
        }
    }

    /// Every member: ascending for an intset, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            Set::Ints(s) => Box::new(s.iter().map(LpValue::Int)),
            Set::Table(t) => Box::new(t.keys().map(member_of)),
        }
    }

    /// One SCAN step: an intset is visited whole (cursor 0 next, as Redis),
    /// a table bucket by bucket. Returns the next cursor.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(Member)) -> u64 {
        match self {
            Set::Ints(_) => {
                self.iter().for_each(visit);
                0
            }
            Set::Table(t) => t.scan(cursor, |k, _| visit(member_of(k))),
        }
    }

    /// A uniformly chosen member.
    pub fn random(&self) -> Option<Member<'_>> {
        match self {
            Set::Ints(s) => s.random().map(LpValue::Int),
            Set::Table(t) => t.fair_random_entry().map(|(k, _)| member_of(k)),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self) -> Option<Vec<u8>> {
        let member = self.random()?.to_vec();
        self.remove(&member);
        Some(member)
    }

    /// `count` members chosen independently (repeats allowed), as
    /// SRANDMEMBER with a negative count returns them. Lazy, because `count`
    /// may be far larger than the set.
    pub fn sample_with_repeats(&self, count: usize) -> impl Iterator<Item = Member<'_>> + '_ {
        (0..count).filter_map(|_| self.random())
    }

    /// Up to `count` distinct members, following Redis's SRANDMEMBER cases:
    /// the whole set when `count` covers it; removal from a copy when most
    /// members are wanted; random picks until enough are distinct otherwise.
    pub fn sample_unique(&self, count: usize) -> Vec<Member<'_>> {
        let size = self.len();
        if count >= size {
            return self.iter().collect();
        }
        if count * 3 > size {
            let mut all: Vec<Member> = self.iter().collect();
            while all.len() > count {
                all.swap_remove(fastrand::usize(..all.len()));
            }
            return all;
        }
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let member = self.random().expect("the set is not empty");
            if seen.insert(member.to_vec()) {
                picked.push(member);
            }
        }
        picked
    }

    /// Splits off `keep` random members into a new set of the same encoding,
    /// leaving the others in `self` (SPOP's strategy when it pops most of a set).
    pub fn split_random(&mut self, keep: usize) -> Set {
        let size = self.len();
        let kept: Vec<Vec<u8>> =
            ordered_selection(self.iter(), size, keep.min(size)).iter().map(|m| m.to_vec()).collect();
        let mut rest = self.empty_like();
        for member in &kept {
            self.remove(member);
            rest.add(member, usize::MAX);
        }
        rest
    }

    /// Heap bytes owned, for MEMORY USAGE and lazy-free decisions.
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(s) => s.capacity(),
            Set::Table(t) => {
                let strings: usize = t.keys().map(SmallBytes::heap_size).sum();
                t.bucket_count() * std::mem::size_of::<usize>() + t.len() * Dict::<SmallBytes, ()>::NODE_SIZE + strings
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn encodings_follow_redis() {
        let mut s = Set::for_member(b"1");
        assert_eq!(s.encoding(), "intset");
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"9", 4);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::for_member(b"01");
        assert_eq!(s.encoding(), "hashtable");
        s = Set::new_ints();
        s.add(b"-5", 4);
        s.add(b"x", 4);
        assert_eq!((s.encoding(), members(&s)), ("hashtable", [b"-5".to_vec(), b"x".to_vec()].into()));
    }

    #[test]
    fn split_keeps_every_member_once() {
        let mut s = Set::new_ints();
        for i in 0..100 {
            s.add(i.to_string().as_bytes(), 512);
        }
        let before = members(&s);
        let kept = s.split_random(10);
        assert_eq!((kept.len(), s.len()), (10, 90));
        let mut union = members(&s);
        union.extend(members(&kept));
        assert_eq!(union, before);
    }

    proptest! {
        /// The set behaves like a BTreeSet, across the conversion.
        #[test]
        fn behaves_like_a_set(ops in prop::collection::vec((any::<bool>(), prop_oneof![
            (-20i64..20).prop_map(|i| i.to_string().into_bytes()),
            any::<i64>().prop_map(|i| i.to_string().into_bytes()),
            Just(b"01".to_vec()), Just(b"a".to_vec()), Just(b"-0".to_vec()),
            prop::collection::vec(any::<u8>(), 0..30)]), 1..150)) {
            let mut s = Set::new_ints();
            let mut model = BTreeSet::new();
            for (add, member) in ops {
                if add {
                    prop_assert_eq!(s.add(&member, 16), model.insert(member.clone()));
                } else {
                    prop_assert_eq!(s.remove(&member), model.remove(&member));
                }
                prop_assert_eq!(s.contains(&member), model.contains(&member));
                prop_assert_eq!(members(&s), model.clone());
                prop_assert_eq!(s.len(), model.len());
                let all_ints = model.iter().all(|m| as_int(m).is_some());
                if !all_ints || model.len() > 16 {
                    prop_assert_eq!(s.encoding(), "hashtable");
                }
            }
            let sample = s.sample_unique(5);
            prop_assert_eq!(sample.len(), s.len().min(5));
            prop_assert!(sample.iter().all(|m| model.contains(&m.to_vec())));
        }
    }
}
