//! `ClassBuf`: a growable byte buffer as small as a pointer and a length.
//!
//! A `Vec<u8>` is 24 bytes: pointer, length, capacity. Every listpack,
//! intset and raw string sits inside a key's value, and every byte of a
//! value is paid once per key. `ClassBuf` drops the capacity field: its
//! allocation is always exactly the allocator size class of its length
//! (`size_class`), so the capacity follows from the length. Growing within
//! a class costs nothing, crossing one reallocates; size classes are
//! geometric, so appends stay amortized O(1), and no byte beyond what the
//! allocator would round up to anyway is held (Redis's exact-size reallocs
//! cost the same memory).
//!
//! The length type is a parameter: `u32` for listpacks and intsets (whose
//! formats cap them at 4 GiB), which leaves room beside it for the tag of
//! the enum holding it; `usize` for strings.
//!
//! Editing code written against `Vec<u8>` (HyperLogLog, bitmaps) borrows the
//! buffer as one through `edit`; the allocation moves between the two
//! without a copy when its size is already the class of the new length.

use std::alloc::Layout;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// How a `ClassBuf` stores its length.
pub trait BufLen: Copy {
    const MAX: usize;
    fn get(self) -> usize;
    /// `n`, which the caller checked is at most `MAX`.
    fn from_usize(n: usize) -> Self;
}

impl BufLen for u32 {
    const MAX: usize = u32::MAX as usize;
    fn get(self) -> usize {
        self as usize
    }
    fn from_usize(n: usize) -> Self {
        n as u32
    }
}

impl BufLen for usize {
    const MAX: usize = isize::MAX as usize;
    fn get(self) -> usize {
        self
    }
    fn from_usize(n: usize) -> Self {
        n
    }
}

/// A byte buffer whose allocation is the size class of its length; see the
/// module comment.
pub struct ClassBuf<L: BufLen> {
    ptr: NonNull<u8>,
    len: L,
}

// SAFETY: a ClassBuf owns its bytes exclusively, like a Vec<u8>.
unsafe impl<L: BufLen + Send> Send for ClassBuf<L> {}
// SAFETY: shared references only read the bytes.
unsafe impl<L: BufLen + Sync> Sync for ClassBuf<L> {}

/// The allocation holding `n` bytes: 0 for none, else the smallest size
/// class of jemalloc (Cinnabar's allocator) that holds them: multiples of 16
/// up to 128, then four classes between consecutive powers of two.
pub fn size_class(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let spacing = n.next_power_of_two() / 8;
    n.div_ceil(spacing) * spacing
}

fn layout(capacity: usize) -> Layout {
    Layout::from_size_align(capacity, 1).expect("buffer sizes fit a layout")
}

impl<L: BufLen> ClassBuf<L> {
    pub fn new() -> Self {
        ClassBuf { ptr: NonNull::dangling(), len: L::from_usize(0) }
    }

    /// A buffer holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut buf = Self::new();
        buf.extend_from_slice(bytes);
        buf
    }

    /// Adopts `vec`'s allocation when it already has the size class of its
    /// length, else copies it.
    pub fn from_vec(vec: Vec<u8>) -> Self {
        assert!(vec.len() <= L::MAX, "buffer longer than its length type allows");
        if vec.capacity() != size_class(vec.len()) {
            return Self::from_slice(&vec);
        }
        let mut vec = std::mem::ManuallyDrop::new(vec);
        let len = L::from_usize(vec.len());
        match NonNull::new(vec.as_mut_ptr()) {
            Some(ptr) if vec.capacity() > 0 => ClassBuf { ptr, len },
            _ => Self::new(),
        }
    }

    /// The bytes as a `Vec` (no copy: the capacity is the allocation's).
    pub fn into_vec(self) -> Vec<u8> {
        let this = std::mem::ManuallyDrop::new(self);
        let (len, capacity) = (this.len(), this.capacity());
        if capacity == 0 {
            return Vec::new();
        }
        // SAFETY: the pointer came from the global allocator with
        // `layout(capacity)`, which is Vec<u8>'s layout for that capacity,
        // and holds `len` initialised bytes; `this` never frees it.
        unsafe { Vec::from_raw_parts(this.ptr.as_ptr(), len, capacity) }
    }

    pub fn len(&self) -> usize {
        self.len.get()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes allocated (for memory accounting).
    pub fn capacity(&self) -> usize {
        size_class(self.len())
    }

    /// Sets the length to `new_len`, reallocating when the size class
    /// changes; new bytes are `fill`.
    pub fn resize(&mut self, new_len: usize, fill: u8) {
        assert!(new_len <= L::MAX, "buffer longer than its length type allows");
        let (old_len, old_cap, new_cap) = (self.len(), self.capacity(), size_class(new_len));
        if new_cap != old_cap {
            self.ptr = reallocate(self.ptr, old_cap, new_cap);
        }
        if new_len > old_len {
            // SAFETY: the allocation holds new_cap >= new_len bytes.
            unsafe { self.ptr.as_ptr().add(old_len).write_bytes(fill, new_len - old_len) };
        }
        self.len = L::from_usize(new_len);
    }

    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.resize(len, 0);
        }
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let old_len = self.len();
        self.resize(old_len + bytes.len(), 0);
        self[old_len..].copy_from_slice(bytes);
    }

    /// Inserts `n` zero bytes at `at`.
    pub fn insert_zeros(&mut self, at: usize, n: usize) {
        let old_len = self.len();
        assert!(at <= old_len);
        self.resize(old_len + n, 0);
        self.copy_within(at..old_len, at + n);
        self[at..at + n].fill(0);
    }

    /// Removes the bytes in `range`, moving the tail down.
    pub fn remove(&mut self, range: std::ops::Range<usize>) {
        let old_len = self.len();
        assert!(range.start <= range.end && range.end <= old_len);
        self.copy_within(range.end..old_len, range.start);
        self.resize(old_len - (range.end - range.start), 0);
    }

    /// Edits the bytes as a `Vec<u8>` (for code written against one); the
    /// buffer takes the result back when the guard is dropped.
    pub fn edit(&mut self) -> VecEdit<'_, L> {
        let vec = std::mem::take(self).into_vec();
        VecEdit { slot: self, vec }
    }
}

/// Moves an allocation of `old_cap` bytes to one of `new_cap` (either may
/// be 0: no allocation).
fn reallocate(ptr: NonNull<u8>, old_cap: usize, new_cap: usize) -> NonNull<u8> {
    // SAFETY: `ptr` was allocated with `layout(old_cap)` when old_cap > 0,
    // and every size passed is non-zero where the allocator requires it.
    let raw = unsafe {
        match (old_cap, new_cap) {
            (0, 0) => return ptr,
            (0, _) => std::alloc::alloc(layout(new_cap)),
            (_, 0) => {
                std::alloc::dealloc(ptr.as_ptr(), layout(old_cap));
                return NonNull::dangling();
            }
            _ => std::alloc::realloc(ptr.as_ptr(), layout(old_cap), new_cap),
        }
    };
    NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout(new_cap)))
}

impl<L: BufLen> Drop for ClassBuf<L> {
    fn drop(&mut self) {
        reallocate(self.ptr, self.capacity(), 0);
    }
}

impl<L: BufLen> Default for ClassBuf<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: BufLen> Clone for ClassBuf<L> {
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}

impl<L: BufLen> Deref for ClassBuf<L> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes are initialised (dangling is fine for 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len()) }
    }
}

impl<L: BufLen> DerefMut for ClassBuf<L> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len()) }
    }
}

impl<L: BufLen> PartialEq for ClassBuf<L> {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl<L: BufLen> Eq for ClassBuf<L> {}

impl<L: BufLen> std::fmt::Debug for ClassBuf<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A `ClassBuf` being edited as a `Vec<u8>`; see `ClassBuf::edit`.
pub struct VecEdit<'a, L: BufLen> {
    slot: &'a mut ClassBuf<L>,
    vec: Vec<u8>,
}

impl<L: BufLen> Deref for VecEdit<'_, L> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.vec
    }
}

impl<L: BufLen> DerefMut for VecEdit<'_, L> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.vec
    }
}

impl<L: BufLen> Drop for VecEdit<'_, L> {
    fn drop(&mut self) {
        *self.slot = ClassBuf::from_vec(std::mem::take(&mut self.vec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn size_classes_follow_jemalloc() {
        let classes: Vec<usize> = [0, 1, 16, 17, 128, 129, 160, 161, 4096, 4097, 5121, 8192].map(size_class).to_vec();
        assert_eq!(classes, [0, 16, 16, 32, 128, 160, 160, 192, 4096, 5120, 6144, 8192]);
    }

    #[test]
    fn is_a_pointer_and_a_length() {
        assert_eq!(std::mem::size_of::<ClassBuf<u32>>(), 16);
        assert_eq!(std::mem::size_of::<ClassBuf<usize>>(), 16);
        assert_eq!(std::mem::size_of::<Option<ClassBuf<u32>>>(), 16);
    }

    #[test]
    fn edits_as_a_vec_keep_the_bytes_and_the_class() {
        let mut buf = ClassBuf::<usize>::from_slice(b"hello");
        buf.edit().extend_from_slice(b" world");
        assert_eq!(&buf[..], b"hello world");
        {
            let mut v = buf.edit();
            v.clear();
            v.resize(300, 7);
        }
        assert_eq!(buf.len(), 300);
        assert!(buf.iter().all(|&b| b == 7));
        let vec = buf.clone().into_vec();
        assert_eq!(vec.capacity(), size_class(300));
        assert_eq!(ClassBuf::<u32>::from_vec(vec), ClassBuf::from_slice(&[7; 300]));
    }

    proptest! {
        /// Any sequence of edits gives what the same edits give on a Vec.
        #[test]
        fn behaves_as_a_vec(ops in prop::collection::vec((0u8..5, 0usize..600, any::<u8>()), 0..60)) {
            let mut buf = ClassBuf::<u32>::new();
            let mut model: Vec<u8> = Vec::new();
            for (op, n, byte) in ops {
                match op {
                    0 => {
                        buf.extend_from_slice(&vec![byte; n]);
                        model.extend(std::iter::repeat_n(byte, n));
                    }
                    1 => {
                        buf.resize(n, byte);
                        model.resize(n, byte);
                    }
                    2 => {
                        let at = n.min(model.len());
                        buf.insert_zeros(at, n % 37);
                        model.splice(at..at, std::iter::repeat_n(0, n % 37));
                    }
                    3 => {
                        let start = n.min(model.len());
                        let end = (start + n % 50).min(model.len());
                        buf.remove(start..end);
                        model.drain(start..end);
                    }
                    _ => {
                        buf.truncate(n);
                        model.truncate(n);
                    }
                }
                prop_assert_eq!(&buf[..], &model[..]);
            }
        }
    }
}
