//! The process's allocator: jemalloc, wrapped so that every allocation and
//! free adjusts one counter of the bytes in use (Redis's zmalloc
//! `used_memory`). INFO's `used_memory` and the maxmemory check read it.
//!
//! jemalloc's own `stats.allocated` is only as fresh as its last epoch
//! refresh, which costs too much to do before every command; the counter is
//! always exact and costs one relaxed atomic add per allocation. It counts
//! what jemalloc really hands out (the request rounded up to its size class),
//! as Redis counts `malloc_usable_size`. Memory C code allocates through
//! `malloc` directly (the Lua interpreter) is not counted, as in Redis.
//!
//! This module must not allocate.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

use tikv_jemallocator::Jemalloc;

#[global_allocator]
static ALLOCATOR: CountingJemalloc = CountingJemalloc;

/// Bytes currently allocated through the global allocator.
static USED: AtomicUsize = AtomicUsize::new(0);

/// jemalloc plus the `USED` counter.
pub struct CountingJemalloc;

/// Bytes in use right now (`used_memory`).
pub fn used_memory() -> usize {
    USED.load(Ordering::Relaxed)
}

/// jemalloc's smallest alignment on 64-bit Linux (16 bytes, its quantum).
const LG_QUANTUM: u32 = 4;
/// Size classes per doubling of size: 2^2.
const LG_CLASSES_PER_DOUBLING: u32 = 2;

/// The size jemalloc hands out for a request of `size` bytes with the
/// default alignment: tiny classes up to 8 bytes, multiples of 16 up to 64,
/// then four evenly spaced classes per doubling (jemalloc's `sz_s2u`).
#[inline]
pub fn size_class(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    // The doubling `size` falls in: 2^lg < size <= 2^(lg+1).
    let lg = usize::BITS - 1 - ((size << 1) - 1).leading_zeros();
    let lg_delta =
        if lg < LG_CLASSES_PER_DOUBLING + LG_QUANTUM + 1 { LG_QUANTUM } else { lg - LG_CLASSES_PER_DOUBLING - 1 };
    let mask = (1usize << lg_delta) - 1;
    (size + mask) & !mask
}

/// What an allocation of `layout` really takes. Over-aligned layouts are
/// rare (cache-padded structures); jemalloc answers for those itself.
#[inline]
fn usable_size(layout: Layout) -> usize {
    if layout.align() <= 1 << LG_QUANTUM && layout.align() <= layout.size() {
        size_class(layout.size())
    } else {
        let flags = layout.align().trailing_zeros() as i32;
        // SAFETY: nallocx only computes a size; MALLOCX_LG_ALIGN(n) is n.
        unsafe { tikv_jemalloc_sys::nallocx(layout.size(), flags) }
    }
}

// SAFETY: every method forwards to jemalloc unchanged; the counter is only
// bookkeeping and is adjusted only for allocations that succeeded.
unsafe impl GlobalAlloc for CountingJemalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc(layout);
        if !ptr.is_null() {
            USED.fetch_add(usable_size(layout), Ordering::Relaxed);
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc_zeroed(layout);
        if !ptr.is_null() {
            USED.fetch_add(usable_size(layout), Ordering::Relaxed);
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        USED.fetch_sub(usable_size(layout), Ordering::Relaxed);
        Jemalloc.dealloc(ptr, layout);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = Jemalloc.realloc(ptr, layout, new_size);
        if !moved.is_null() {
            // SAFETY: the caller guarantees `new_size` fits `layout.align()`.
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let (old, new) = (usable_size(layout), usable_size(new_layout));
            if new >= old {
                USED.fetch_add(new - old, Ordering::Relaxed);
            } else {
                USED.fetch_sub(old - new, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jemalloc_class(size: usize) -> usize {
        // SAFETY: nallocx only computes a size.
        unsafe { tikv_jemalloc_sys::nallocx(size, 0) }
    }

    #[test]
    fn size_classes_match_jemalloc() {
        for size in (1..=70_000).chain((1..4000).map(|i| i * 4099)).chain([1 << 24, (1 << 24) + 1, 3 << 28]) {
            assert_eq!(size_class(size), jemalloc_class(size), "size {size}");
        }
    }

    #[test]
    fn over_aligned_layouts_are_sized_by_jemalloc() {
        let layout = Layout::from_size_align(24, 128).unwrap();
        assert_eq!(usable_size(layout), 128);
        let layout = Layout::from_size_align(8, 16).unwrap();
        assert_eq!(usable_size(layout), 16);
    }

    #[test]
    fn the_counter_follows_allocations() {
        // Other test threads allocate too: compare with a margin around a
        // large allocation only this test makes.
        let before = used_memory();
        let block = vec![0u8; 64 << 20];
        let during = used_memory();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
        drop(block);
        assert!(used_memory() < during - (60 << 20));
    }
}
