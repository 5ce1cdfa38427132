//! `IntSet`: Redis's intset, byte for byte — the encoding of small sets whose
//! members are all integers.
//!
//! A sorted array of integers, all stored at the width of the widest one (2, 4
//! or 8 bytes, little-endian) after an 8-byte header (width, count). Lookup is
//! a binary search; inserting a wider value upgrades the whole array. Keeping
//! Redis's layout gives Redis's memory use and lets RDB store the blob as is.

use crate::classbuf::ClassBuf;

const HEADER: usize = 8;

/// An intset; see the module comment.
#[derive(Clone, PartialEq, Eq)]
pub struct IntSet {
    buf: ClassBuf<u32>,
}

impl Default for IntSet {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The narrowest width (in bytes) that holds `v`.
fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn new() -> Self {
        let mut buf = ClassBuf::new();
        buf.extend_from_slice(&2u32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        IntSet { buf }
    }

    /// Adopts intset bytes read from a file or a DUMP payload, after checking
    /// the width, the length and that members are sorted and distinct.
    pub fn from_bytes(buf: Vec<u8>) -> Option<IntSet> {
        if buf.len() < HEADER || buf.len() > u32::MAX as usize {
            return None;
        }
        let set = IntSet { buf: ClassBuf::from_vec(buf) };
        let width = set.width();
        if ![2, 4, 8].contains(&width) || set.len().checked_mul(width)?.checked_add(HEADER)? != set.buf.len() {
            return None;
        }
        let sorted = (1..set.len()).all(|i| set.get(i - 1) < set.get(i));
        sorted.then_some(set)
    }

    /// The intset bytes, exactly as Redis lays them out.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Heap bytes held (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn width(&self) -> usize {
        u32::from_le_bytes(self.buf[0..4].try_into().expect("4 bytes")) as usize
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes(self.buf[4..8].try_into().expect("4 bytes")) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at sorted position `i`.
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let at = HEADER + i * w;
        let bytes = &self.buf[at..at + w];
        match w {
            2 => i64::from(i16::from_le_bytes(bytes.try_into().expect("2 bytes"))),
            4 => i64::from(i32::from_le_bytes(bytes.try_into().expect("4 bytes"))),
            _ => i64::from_le_bytes(bytes.try_into().expect("8 bytes")),
        }
    }

    fn put(&mut self, i: usize, v: i64) {
        let w = self.width();
        let at = HEADER + i * w;
        self.buf[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
    }

    fn set_len(&mut self, n: usize) {
        self.buf[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// Sorted position of `v`: Ok if present, Err with the insertion point if not.
    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        width_for(v) <= self.width() && self.search(v).is_ok()
    }

    /// Adds `v`; returns false if it was already a member.
    pub fn insert(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            self.upgrade(width_for(v));
        }
        let Err(at) = self.search(v) else {
            return false;
        };
        let w = self.width();
        let n = self.len();
        let offset = HEADER + at * w;
        self.buf.insert_zeros(offset, w);
        self.set_len(n + 1);
        self.put(at, v);
        true
    }

    /// Re-encodes every member at `width` bytes.
    fn upgrade(&mut self, width: usize) {
        let members: Vec<i64> = self.iter().collect();
        self.buf.truncate(HEADER);
        self.buf[0..4].copy_from_slice(&(width as u32).to_le_bytes());
        self.buf.resize(HEADER + members.len() * width, 0);
        for (i, v) in members.into_iter().enumerate() {
            self.put(i, v);
        }
    }

    /// Removes `v`; returns false if it was not a member.
    pub fn remove(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            return false;
        }
        let Ok(at) = self.search(v) else {
            return false;
        };
        let w = self.width();
        let offset = HEADER + at * w;
        self.buf.remove(offset..offset + w);
        let n = self.len();
        self.set_len(n - 1);
        true
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// A member chosen uniformly at random.
    pub fn random(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.get(fastrand::usize(..self.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The intset redis-server 7.0 holds for `SADD s 5 -3 70000` (its DUMP payload).
    #[test]
    fn from_bytes_checks_width_length_and_order() {
        let mut s = IntSet::new();
        for v in [5, -3, 70000] {
            s.insert(v);
        }
        let bytes = s.as_bytes().to_vec();
        assert_eq!(IntSet::from_bytes(bytes.clone()), Some(s));
        assert!(IntSet::from_bytes(bytes[..bytes.len() - 1].to_vec()).is_none());
        let mut unsorted = bytes.clone();
        unsorted[8..12].copy_from_slice(&bytes[12..16]);
        unsorted[12..16].copy_from_slice(&bytes[8..12]);
        assert!(IntSet::from_bytes(unsorted).is_none());
        let mut bad_width = bytes;
        bad_width[0] = 3;
        assert!(IntSet::from_bytes(bad_width).is_none());
    }

    #[test]
    fn matches_redis_dump() {
        let mut s = IntSet::new();
        for v in [5, -3, 70000] {
            s.insert(v);
        }
        let expected: &[u8] = b"\x04\x00\x00\x00\x03\x00\x00\x00\xfd\xff\xff\xff\x05\x00\x00\x00\x70\x11\x01\x00";
        assert_eq!(s.as_bytes(), expected);
    }

    proptest! {
        /// The intset behaves like a BTreeSet.
        #[test]
        fn behaves_like_a_set(ops in prop::collection::vec((any::<bool>(), prop_oneof![
            -300i64..300, any::<i16>().prop_map(i64::from), any::<i32>().prop_map(i64::from), any::<i64>()]), 1..80)) {
            let mut s = IntSet::new();
            let mut model = BTreeSet::new();
            for (add, v) in ops {
                if add {
                    prop_assert_eq!(s.insert(v), model.insert(v));
                } else {
                    prop_assert_eq!(s.remove(v), model.remove(&v));
                }
                prop_assert_eq!(s.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(s.contains(v), model.contains(&v));
            }
        }
    }
}
