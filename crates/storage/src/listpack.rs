//! `Listpack`: Redis's listpack, byte for byte — the compact encoding of small
//! hashes, sorted sets and list nodes.
//!
//! Keeping Redis's exact layout costs nothing in speed and gives two things:
//! memory per element equal to Redis's (a few bytes of overhead instead of a
//! pointer-rich structure), and RDB files that can store and load a listpack
//! blob as it is (RDB types `*_LISTPACK`).
//!
//! Layout: a 4-byte total length and a 2-byte element count (65535 = "count
//! it"), both little-endian, then the entries, then 0xFF. Each entry is an
//! encoding byte (with inline length or small integer), its data, and a
//! "backlen" — the entry's size written so it can be read backwards — which
//! makes reverse iteration O(1) per step. Strings that are canonical integers
//! are stored as integers in the smallest of seven encodings.
//!
//! Positions are byte offsets of entries (`Pos`); they stay valid until the
//! listpack is modified.

use cinnabar_protocol::numbers::{parse_i64, push_i64};

use crate::classbuf::ClassBuf;

const HEADER: usize = 6;
const EOF: u8 = 0xFF;
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Byte offset of an entry.
pub type Pos = usize;

/// One element, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpValue<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl LpValue<'_> {
    /// Appends the element's string form (integers in decimal) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            LpValue::Int(i) => push_i64(out, *i),
            LpValue::Str(s) => out.extend_from_slice(s),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    /// The element as an integer, if it is one or is a string that parses as one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            LpValue::Int(i) => Some(*i),
            LpValue::Str(s) => parse_i64(s),
        }
    }
}

/// An element to store: a string (stored as an integer when canonical) or an integer.
#[derive(Clone, Copy, Debug)]
pub enum LpInput<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl<'a> LpInput<'a> {
    /// What Redis stores for these bytes: an integer when they are one in canonical form.
    fn normalized(self) -> LpInput<'a> {
        match self {
            LpInput::Bytes(b) if b.len() <= 20 => parse_i64(b).map_or(self, LpInput::Int),
            other => other,
        }
    }
}

/// A listpack; see the module comment.
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: ClassBuf<u32>,
}

impl Default for Listpack {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Listpack {
    pub fn new() -> Self {
        let mut buf = ClassBuf::new();
        buf.extend_from_slice(&((HEADER + 1) as u32).to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.extend_from_slice(&[EOF]);
        Listpack { buf }
    }

    /// Wraps bytes this crate produced with `as_bytes` (a compressed list
    /// node restored); not for bytes from outside, which are not validated.
    pub(crate) fn from_trusted_bytes(buf: Vec<u8>) -> Self {
        Listpack { buf: ClassBuf::from_vec(buf) }
    }

    /// Adopts listpack bytes read from a file or a DUMP payload, after
    /// checking every entry (encoding, bounds, backlen), the element count and
    /// the terminator, so that nothing built on it can read out of bounds.
    pub fn from_bytes(buf: Vec<u8>) -> Option<Listpack> {
        validate(&buf)?;
        Some(Listpack { buf: ClassBuf::from_vec(buf) })
    }

    /// The listpack bytes, exactly as Redis lays them out.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Total size in bytes (the header's total-bytes field).
    pub fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        let stored = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if stored != COUNT_UNKNOWN {
            return stored as usize;
        }
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.buf[HEADER] == EOF
    }

    /// Position of the first element.
    pub fn first(&self) -> Option<Pos> {
        (self.buf[HEADER] != EOF).then_some(HEADER)
    }

    /// Position of the last element.
    pub fn last(&self) -> Option<Pos> {
        let eof = self.buf.len() - 1;
        (eof > HEADER).then(|| self.prev_of(eof))
    }

    /// Position of the element after `pos`.
    pub fn next(&self, pos: Pos) -> Option<Pos> {
        let next = pos + self.entry_size(pos);
        (self.buf[next] != EOF).then_some(next)
    }

    /// Position of the element before `pos`.
    pub fn prev(&self, pos: Pos) -> Option<Pos> {
        (pos > HEADER).then(|| self.prev_of(pos))
    }

    /// The entry that ends just before `end` (an entry position or the EOF byte).
    fn prev_of(&self, end: Pos) -> Pos {
        let (encoded_len, _) = decode_backlen(&self.buf, end - 1);
        end - backlen_size(encoded_len) - encoded_len
    }

    /// Position of element `index` (negative counts from the end: -1 is the last).
    pub fn seek(&self, index: i64) -> Option<Pos> {
        if index >= 0 {
            let mut pos = self.first()?;
            for _ in 0..index {
                pos = self.next(pos)?;
            }
            Some(pos)
        } else {
            let mut pos = self.last()?;
            for _ in 0..(-index - 1) {
                pos = self.prev(pos)?;
            }
            Some(pos)
        }
    }

    /// The element at `pos`.
    pub fn get(&self, pos: Pos) -> LpValue<'_> {
        decode_entry(&self.buf, pos).0
    }

    /// Elements front to back.
    pub fn iter(&self) -> Iter<'_> {
        Iter { lp: self, pos: self.first() }
    }

    /// Elements back to front.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter { lp: self, pos: self.last() }
    }

    /// Size of the entry at `pos` including its backlen.
    fn entry_size(&self, pos: Pos) -> usize {
        let encoded = decode_entry(&self.buf, pos).1;
        encoded + backlen_size(encoded)
    }

    /// Appends an element at the end.
    pub fn push_back(&mut self, v: LpInput) {
        let eof = self.buf.len() - 1;
        self.insert_at(eof, v);
    }

    /// Inserts an element at the front.
    pub fn push_front(&mut self, v: LpInput) {
        self.insert_at(HEADER, v);
    }

    /// Inserts an element before the one at `pos`; returns the new element's position.
    pub fn insert_before(&mut self, pos: Pos, v: LpInput) -> Pos {
        self.insert_at(pos, v);
        pos
    }

    /// Inserts an element after the one at `pos`; returns the new element's position.
    pub fn insert_after(&mut self, pos: Pos, v: LpInput) -> Pos {
        let at = pos + self.entry_size(pos);
        self.insert_at(at, v);
        at
    }

    fn insert_at(&mut self, at: Pos, v: LpInput) {
        let mut entry = Vec::new();
        encode_entry(&mut entry, v.normalized());
        self.replace_bytes(at..at, &entry);
        self.set_count_delta(1);
        self.write_total();
    }

    /// Replaces the element at `pos`; the position stays valid for the new element.
    pub fn replace(&mut self, pos: Pos, v: LpInput) {
        let mut entry = Vec::new();
        encode_entry(&mut entry, v.normalized());
        let old = self.entry_size(pos);
        self.replace_bytes(pos..pos + old, &entry);
        self.write_total();
    }

    /// Replaces the bytes in `range` with `with`, moving the tail once
    /// (`Vec::splice` does the same through an iterator, several times slower
    /// on this hot path of every push).
    fn replace_bytes(&mut self, range: std::ops::Range<usize>, with: &[u8]) {
        let old_len = self.buf.len();
        let removed = range.end - range.start;
        if with.len() > removed {
            let grow = with.len() - removed;
            self.buf.resize(old_len + grow, 0);
            self.buf.copy_within(range.end..old_len, range.end + grow);
        } else {
            let shrink = removed - with.len();
            self.buf.copy_within(range.end..old_len, range.end - shrink);
            self.buf.truncate(old_len - shrink);
        }
        self.buf[range.start..range.start + with.len()].copy_from_slice(with);
    }

    /// Removes the element at `pos`; returns the position of the element that
    /// followed it, if any.
    pub fn delete(&mut self, pos: Pos) -> Option<Pos> {
        self.delete_range(pos, 1);
        (self.buf[pos] != EOF).then_some(pos)
    }

    /// Removes up to `count` elements starting at `pos`; returns how many were removed.
    pub fn delete_range(&mut self, pos: Pos, count: usize) -> usize {
        let mut end = pos;
        let mut removed = 0;
        while removed < count && self.buf[end] != EOF {
            end += self.entry_size(end);
            removed += 1;
        }
        self.buf.remove(pos..end);
        self.set_count_delta(-(removed as i64));
        self.write_total();
        removed
    }

    /// The first element equal to `v` at or after `pos`, checking every
    /// `skip + 1`-th element (skip 1 searches the keys of a key/value listpack).
    pub fn find(&self, mut pos: Pos, v: &[u8], skip: usize) -> Option<Pos> {
        let as_int = if v.len() <= 20 { parse_i64(v) } else { None };
        loop {
            let matched = match (self.get(pos), as_int) {
                (LpValue::Int(i), Some(want)) => i == want,
                (LpValue::Str(s), None) => s == v,
                _ => false,
            };
            if matched {
                return Some(pos);
            }
            for _ in 0..=skip {
                pos = self.next(pos)?;
            }
        }
    }

    fn set_count_delta(&mut self, delta: i64) {
        let stored = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        let count = if stored == COUNT_UNKNOWN { self.iter().count() as i64 } else { stored as i64 + delta };
        let field = if count < COUNT_UNKNOWN as i64 { count as u16 } else { COUNT_UNKNOWN };
        self.buf[4..6].copy_from_slice(&field.to_le_bytes());
    }

    fn write_total(&mut self) {
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
    }
}

/// Forward iterator.
pub struct Iter<'a> {
    lp: &'a Listpack,
    pos: Option<Pos>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = LpValue<'a>;
    fn next(&mut self) -> Option<LpValue<'a>> {
        let pos = self.pos?;
        self.pos = self.lp.next(pos);
        Some(self.lp.get(pos))
    }
}

/// Backward iterator.
pub struct RevIter<'a> {
    lp: &'a Listpack,
    pos: Option<Pos>,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = LpValue<'a>;
    fn next(&mut self) -> Option<LpValue<'a>> {
        let pos = self.pos?;
        self.pos = self.lp.prev(pos);
        Some(self.lp.get(pos))
    }
}

/// Appends the encoding and data of `v`, then its backlen.
fn encode_entry(out: &mut Vec<u8>, v: LpInput) {
    let start = out.len();
    match v {
        LpInput::Int(i) => encode_int(out, i),
        LpInput::Bytes(s) => {
            let len = s.len();
            if len < 64 {
                out.push(0x80 | len as u8);
            } else if len < 4096 {
                out.push(0xE0 | (len >> 8) as u8);
                out.push(len as u8);
            } else {
                out.push(0xF0);
                out.extend_from_slice(&(len as u32).to_le_bytes());
            }
            out.extend_from_slice(s);
        }
    }
    let encoded = out.len() - start;
    encode_backlen(out, encoded);
}

fn encode_int(out: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1i64 << 13) + v } else { v } as u16;
        out.push(0xC0 | (u >> 8) as u8);
        out.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        out.push(0xF1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        out.push(0xF3);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Decodes the entry at `pos`: its value and the size of encoding + data
/// (without the backlen).
fn decode_entry(buf: &[u8], pos: Pos) -> (LpValue<'_>, usize) {
    let b = buf[pos];
    let le = |n: usize| -> u64 {
        let mut v = 0u64;
        for i in 0..n {
            v |= u64::from(buf[pos + 1 + i]) << (8 * i);
        }
        v
    };
    let sign_extend = |v: u64, bits: u32| -> i64 { ((v << (64 - bits)) as i64) >> (64 - bits) };
    match b {
        0x00..=0x7F => (LpValue::Int(i64::from(b)), 1),
        0x80..=0xBF => {
            let len = usize::from(b & 0x3F);
            (LpValue::Str(&buf[pos + 1..pos + 1 + len]), 1 + len)
        }
        0xC0..=0xDF => {
            let u = (u64::from(b & 0x1F) << 8) | u64::from(buf[pos + 1]);
            (LpValue::Int(sign_extend(u, 13)), 2)
        }
        0xE0..=0xEF => {
            let len = (usize::from(b & 0x0F) << 8) | usize::from(buf[pos + 1]);
            (LpValue::Str(&buf[pos + 2..pos + 2 + len]), 2 + len)
        }
        0xF0 => {
            let len = le(4) as usize;
            (LpValue::Str(&buf[pos + 5..pos + 5 + len]), 5 + len)
        }
        0xF1 => (LpValue::Int(sign_extend(le(2), 16)), 3),
        0xF2 => (LpValue::Int(sign_extend(le(3), 24)), 4),
        0xF3 => (LpValue::Int(sign_extend(le(4), 32)), 5),
        0xF4 => (LpValue::Int(le(8) as i64), 9),
        _ => panic!("corrupt listpack: encoding byte {b:#x} at {pos}"),
    }
}

/// Size of the encoding and data of the entry at `pos`, if it lies within
/// `buf` and has a known encoding.
fn checked_entry_len(buf: &[u8], pos: Pos) -> Option<usize> {
    let b = *buf.get(pos)?;
    let at = |i: usize| buf.get(pos + i).copied().map(usize::from);
    let len = match b {
        0x00..=0x7F => 1,
        0x80..=0xBF => 1 + usize::from(b & 0x3F),
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 2 + ((usize::from(b & 0x0F) << 8) | at(1)?),
        0xF0 => 5 + (at(1)? | at(2)? << 8 | at(3)? << 16 | at(4)? << 24),
        0xF1 => 3,
        0xF2 => 4,
        0xF3 => 5,
        0xF4 => 9,
        _ => return None,
    };
    (pos.checked_add(len)? <= buf.len()).then_some(len)
}

/// Checks a whole listpack; see `Listpack::from_bytes`.
fn validate(buf: &[u8]) -> Option<()> {
    if buf.len() < HEADER + 1 || u32::from_le_bytes(buf[..4].try_into().ok()?) as usize != buf.len() {
        return None;
    }
    let stored = u16::from_le_bytes([buf[4], buf[5]]);
    let (mut pos, mut count) = (HEADER, 0usize);
    while buf[pos] != EOF {
        let len = checked_entry_len(buf, pos)?;
        let back = backlen_size(len);
        let end = pos + len + back;
        if end >= buf.len() || decode_backlen(buf, end - 1) != (len, back) {
            return None;
        }
        pos = end;
        count += 1;
    }
    (pos == buf.len() - 1 && (stored == COUNT_UNKNOWN || usize::from(stored) == count)).then_some(())
}

/// Bytes an element takes in a listpack: encoding, data and backlen. Lets
/// structures that mirror Redis's listpack sizes (stream nodes) compute them
/// without encoding.
pub fn entry_size(v: LpInput) -> usize {
    let encoded = match v.normalized() {
        LpInput::Int(i) => match i {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        },
        LpInput::Bytes(b) => match b.len() {
            n if n < 64 => 1 + n,
            n if n < 4096 => 2 + n,
            n => 5 + n,
        },
    };
    encoded + backlen_size(encoded)
}

/// Bytes the backlen of an entry of `len` encoded bytes takes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Writes `len` most-significant group first, every byte but the first with
/// the continuation bit, so it decodes from its last byte backwards.
fn encode_backlen(out: &mut Vec<u8>, len: usize) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let group = ((len >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Reads a backlen whose last byte is at `end`; returns (value, bytes read).
fn decode_backlen(buf: &[u8], end: usize) -> (usize, usize) {
    let mut value = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        value |= usize::from(buf[p] & 127) << shift;
        if buf[p] & 128 == 0 {
            return (value, end - p + 1);
        }
        shift += 7;
        p -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn from_bytes_accepts_only_well_formed_listpacks() {
        let mut lp = Listpack::new();
        for v in [&b"a"[..], b"12", &[b'x'; 100], &[b'y'; 5000]] {
            lp.push_back(LpInput::Bytes(v));
        }
        let bytes = lp.as_bytes().to_vec();
        assert_eq!(Listpack::from_bytes(bytes.clone()).as_ref(), Some(&lp));
        for cut in 0..bytes.len() {
            assert!(Listpack::from_bytes(bytes[..cut].to_vec()).is_none(), "cut at {cut}");
        }
        let mut wrong_count = bytes.clone();
        wrong_count[4] = 3;
        assert!(Listpack::from_bytes(wrong_count).is_none());
        let mut bad_encoding = bytes;
        bad_encoding[HEADER] = 0xF5;
        assert!(Listpack::from_bytes(bad_encoding).is_none());
    }

    fn model_bytes(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|v| v.to_vec()).collect()
    }

    #[test]
    fn empty_listpack_matches_redis_bytes() {
        assert_eq!(Listpack::new().as_bytes(), &[7, 0, 0, 0, 0, 0, 0xFF]);
    }

    #[test]
    fn encodings_match_redis() {
        // Bytes as redis-server 7.0 writes them for these elements (one each).
        let cases: &[(&[u8], &[u8])] = &[
            (b"5", &[0x05, 0x01]),
            (b"-1", &[0xDF, 0xFF, 0x02]),
            (b"1000", &[0xC3, 0xE8, 0x02]),
            (b"70000", &[0xF2, 0x70, 0x11, 0x01, 0x04]),
            (b"abc", &[0x83, b'a', b'b', b'c', 0x04]),
            (b"007", &[0x83, b'0', b'0', b'7', 0x04]),
        ];
        for (input, entry) in cases {
            let mut lp = Listpack::new();
            lp.push_back(LpInput::Bytes(input));
            assert_eq!(&lp.as_bytes()[HEADER..lp.bytes_len() - 1], *entry, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(lp.get(HEADER).to_vec(), input.to_vec());
            assert_eq!(entry_size(LpInput::Bytes(input)), entry.len());
        }
    }

    /// The listpack redis-server 7.0 holds for `HSET h 5 -1 abc 007 1000 70000`
    /// (read from its DUMP payload).
    #[test]
    fn whole_listpack_matches_redis_dump() {
        let mut lp = Listpack::new();
        for e in ["5", "-1", "abc", "007", "1000", "70000"] {
            lp.push_back(LpInput::Bytes(e.as_bytes()));
        }
        let expected: &[u8] =
            b"\x1e\x00\x00\x00\x06\x00\x05\x01\xdf\xff\x02\x83abc\x04\x83007\x04\xc3\xe8\x02\xf2p\x11\x01\x04\xff";
        assert_eq!(lp.as_bytes(), expected);
    }

    /// A listpack holds no growth slack beyond the allocator's own rounding
    /// (memory per element of a 1M-element list depends on it).
    #[test]
    fn grows_only_to_its_size_class() {
        let mut lp = Listpack::new();
        for i in 0..2000 {
            lp.push_back(LpInput::Bytes(format!("m:{i}").as_bytes()));
            assert_eq!(lp.capacity(), crate::classbuf::size_class(lp.bytes_len()));
        }
    }

    #[test]
    fn long_strings_and_backlens() {
        for len in [63, 64, 127, 128, 4095, 4096, 16382, 16383, 20_000] {
            let s = vec![b'x'; len];
            let mut lp = Listpack::new();
            lp.push_back(LpInput::Bytes(b"a"));
            lp.push_back(LpInput::Bytes(&s));
            assert_eq!(entry_size(LpInput::Bytes(&s)), lp.bytes_len() - HEADER - 1 - 3);
            lp.push_back(LpInput::Bytes(b"z"));
            let back: Vec<Vec<u8>> = lp.iter_rev().map(|v| v.to_vec()).collect();
            assert_eq!(back, vec![b"z".to_vec(), s.clone(), b"a".to_vec()], "len {len}");
            assert_eq!(lp.len(), 3);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        Insert(usize, Vec<u8>, bool),
        Replace(usize, Vec<u8>),
        Delete(usize),
        DeleteRange(usize, usize),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|i| i.to_string().into_bytes()),
            (-5000i64..5000).prop_map(|i| i.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..80),
            (60usize..5000).prop_map(|n| vec![b'q'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            element().prop_map(Op::PushBack),
            element().prop_map(Op::PushFront),
            (any::<usize>(), element(), any::<bool>()).prop_map(|(i, e, b)| Op::Insert(i, e, b)),
            (any::<usize>(), element()).prop_map(|(i, e)| Op::Replace(i, e)),
            any::<usize>().prop_map(Op::Delete),
            (any::<usize>(), 0usize..4).prop_map(|(i, n)| Op::DeleteRange(i, n)),
        ]
    }

    proptest! {
        /// The listpack behaves like a Vec of byte strings, both directions.
        #[test]
        fn behaves_like_a_vec(ops in prop::collection::vec(op(), 1..40)) {
            let mut lp = Listpack::new();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    Op::PushBack(e) => { lp.push_back(LpInput::Bytes(&e)); model.push(e); }
                    Op::PushFront(e) => { lp.push_front(LpInput::Bytes(&e)); model.insert(0, e); }
                    Op::Insert(i, e, after) if !model.is_empty() => {
                        let i = i % model.len();
                        let pos = lp.seek(i as i64).unwrap();
                        if after { lp.insert_after(pos, LpInput::Bytes(&e)); model.insert(i + 1, e); }
                        else { lp.insert_before(pos, LpInput::Bytes(&e)); model.insert(i, e); }
                    }
                    Op::Replace(i, e) if !model.is_empty() => {
                        let i = i % model.len();
                        lp.replace(lp.seek(i as i64).unwrap(), LpInput::Bytes(&e));
                        model[i] = e;
                    }
                    Op::Delete(i) if !model.is_empty() => {
                        let i = i % model.len();
                        lp.delete(lp.seek(-(i as i64) - 1).unwrap());
                        model.remove(model.len() - 1 - i);
                    }
                    Op::DeleteRange(i, n) if !model.is_empty() => {
                        let i = i % model.len();
                        let removed = lp.delete_range(lp.seek(i as i64).unwrap(), n);
                        let end = (i + n).min(model.len());
                        prop_assert_eq!(removed, end - i);
                        model.drain(i..end);
                    }
                    _ => {}
                }
                prop_assert_eq!(model_bytes(&lp), model.clone());
                let mut rev: Vec<Vec<u8>> = lp.iter_rev().map(|v| v.to_vec()).collect();
                rev.reverse();
                prop_assert_eq!(&rev, &model);
                prop_assert_eq!(lp.len(), model.len());
                prop_assert_eq!(u32::from_le_bytes(lp.as_bytes()[..4].try_into().unwrap()) as usize, lp.bytes_len());
                if let Some(target) = model.first() {
                    let found = lp.find(lp.first().unwrap(), target, 0).map(|p| lp.get(p).to_vec());
                    prop_assert_eq!(found.as_ref(), Some(target));
                }
            }
        }
    }
}
