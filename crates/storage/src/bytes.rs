//! Immutable byte strings that keep short contents inline.
//!
//! `SmallBytes` (24 bytes, up to 22 inline) is the keyspace's key: every key
//! costs one inside a dictionary node, so keeping short ones inline saves an
//! allocation and 16+ bytes per key (Redis pays for a separate sds per key).
//! `CompactBytes` (16 bytes, up to 14 inline, otherwise a thin pointer to a
//! length-prefixed allocation) is for collection elements stored beside
//! other data, where millions sit in one value and every byte counts: a
//! sorted set's dict node (member, score, link) is 32 bytes with it, 40 with
//! `SmallBytes`, and its tree entry (score, member) 24 instead of 32.

use std::alloc::Layout;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;

const INLINE_CAP: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

/// A byte string, inline when short; see the module comment.
#[derive(Clone)]
pub struct SmallBytes(Repr);

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> Self {
        Self::concat(&[bytes])
    }

    /// The concatenation of `parts`, built without an intermediate buffer.
    pub fn concat(parts: &[&[u8]]) -> Self {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            fill(&mut data[..len], parts);
            SmallBytes(Repr::Inline { len: len as u8, data })
        } else {
            SmallBytes(Repr::Heap(parts.concat().into_boxed_slice()))
        }
    }

    /// Bytes this value allocates on the heap (0 when inline).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..*len as usize],
            Repr::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> Self {
        SmallBytes::new(b)
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_CAP {
            SmallBytes::new(&v)
        } else {
            SmallBytes(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SmallBytes {}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

const COMPACT_INLINE: usize = 14;

enum CompactRepr {
    Inline {
        len: u8,
        data: [u8; COMPACT_INLINE],
    },
    /// Points at a LEB128 length followed by that many bytes.
    Heap(NonNull<u8>),
}

/// A byte string in 16 bytes; see the module comment.
pub struct CompactBytes(CompactRepr);

// SAFETY: the heap allocation is owned uniquely (like a `Box<[u8]>`) and never
// mutated after construction.
unsafe impl Send for CompactBytes {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for CompactBytes {}

/// Bytes of `n` as a LEB128 varint.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn write_varint(mut n: usize, out: &mut [u8]) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    i + 1
}

/// Decodes a LEB128 varint at the start of `bytes`: (value, bytes used).
pub(crate) fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = bytes[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b < 0x80 {
            return (n, i);
        }
        shift += 7;
    }
}

/// A length prefix for packing several strings into one `CompactBytes`.
pub(crate) fn varint(n: usize) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let len = write_varint(n, &mut buf);
    (buf, len)
}

impl CompactBytes {
    pub fn new(bytes: &[u8]) -> Self {
        Self::concat(&[bytes])
    }

    /// The concatenation of `parts`, built without an intermediate buffer.
    pub fn concat(parts: &[&[u8]]) -> Self {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len <= COMPACT_INLINE {
            let mut data = [0u8; COMPACT_INLINE];
            fill(&mut data[..len], parts);
            return CompactBytes(CompactRepr::Inline { len: len as u8, data });
        }
        let layout = Self::heap_layout(len);
        // SAFETY: the layout has a non-zero size; every byte is written below
        // before the allocation is read.
        let ptr = unsafe { std::alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(ptr) else { std::alloc::handle_alloc_error(layout) };
        // SAFETY: `ptr` is valid for `layout.size()` bytes, exclusively ours.
        let buf = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), layout.size()) };
        let prefix = write_varint(len, buf);
        fill(&mut buf[prefix..], parts);
        CompactBytes(CompactRepr::Heap(ptr))
    }

    fn heap_layout(len: usize) -> Layout {
        Layout::from_size_align(varint_len(len) + len, 1).expect("string fits in memory")
    }

    /// Bytes this value allocates on the heap (0 when inline).
    pub fn heap_size(&self) -> usize {
        match self.0 {
            CompactRepr::Inline { .. } => 0,
            CompactRepr::Heap(_) => Self::heap_layout(self.len()).size(),
        }
    }
}

fn fill(out: &mut [u8], parts: &[&[u8]]) {
    let mut at = 0;
    for p in parts {
        out[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
}

impl Drop for CompactBytes {
    fn drop(&mut self) {
        if let CompactRepr::Heap(ptr) = self.0 {
            let layout = Self::heap_layout(self.len());
            // SAFETY: allocated in `concat` with this same layout.
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        }
    }
}

impl Clone for CompactBytes {
    fn clone(&self) -> Self {
        CompactBytes::new(self)
    }
}

impl Deref for CompactBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            CompactRepr::Inline { len, data } => &data[..*len as usize],
            CompactRepr::Heap(ptr) => {
                // SAFETY: a heap string is longer than COMPACT_INLINE, so the
                // allocation has at least 16 bytes, enough for any varint; it
                // starts with the varint length, then exactly that many bytes.
                unsafe {
                    let (len, prefix) = read_varint(std::slice::from_raw_parts(ptr.as_ptr(), 10));
                    std::slice::from_raw_parts(ptr.as_ptr().add(prefix), len)
                }
            }
        }
    }
}

impl Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for CompactBytes {}

impl Hash for CompactBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_small() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::size_of::<CompactBytes>(), 16);
    }

    #[test]
    fn compact_round_trips_inline_and_heap() {
        for len in [0, 1, 14, 15, 127, 128, 300, 20_000] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let c = CompactBytes::new(&v);
            assert_eq!(&*c, &v[..]);
            assert_eq!(&*c.clone(), &v[..]);
            assert_eq!(c.heap_size() > 0, len > COMPACT_INLINE);
            let (a, b) = v.split_at(len / 3);
            assert_eq!(&*CompactBytes::concat(&[a, b]), &v[..]);
        }
    }

    #[test]
    fn round_trips_both_forms() {
        for len in [0, 1, 22, 23, 100] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(&*SmallBytes::new(&v), &v[..]);
            assert_eq!(&*SmallBytes::from(v.clone()), &v[..]);
        }
    }
}
