//! The allocator of the `canopy` binary: the system allocator, counting the bytes allocated
//! and freed while a measurement is on, so that scenario 10 reports the heap a tree keeps
//! (allocated bytes, as the target asks) rather than the process's resident set.
//!
//! Off (always, except inside [`measure`]), each allocation pays one relaxed load of a flag
//! and a well-predicted branch; the latency scenarios run with it off.
//!
//! This module is the only `unsafe` code of the workspace: `GlobalAlloc` is an unsafe trait.
//! Every method forwards to [`System`] with the caller's own arguments, unchanged.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed},
};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Whether a measurement is on.
static ON: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed while on (frees of older blocks count too: this is the
/// growth of the live heap).
static NET: AtomicI64 = AtomicI64::new(0);
/// Bytes allocated while on, freed or not (the churn).
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// Allocations made while on.
static COUNT: AtomicU64 = AtomicU64::new(0);

/// The system allocator with counters.
struct Counting;

fn allocated(size: usize) {
    if ON.load(Relaxed) {
        NET.fetch_add(size as i64, Relaxed);
        ALLOCATED.fetch_add(size as u64, Relaxed);
        COUNT.fetch_add(1, Relaxed);
    }
}

fn freed(size: usize) {
    if ON.load(Relaxed) {
        NET.fetch_sub(size as i64, Relaxed);
    }
}

// SAFETY: every method calls the same method of `System` with the arguments it was given,
// so `System`'s guarantees are ours; the counting touches only atomics (it never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            allocated(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            allocated(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            freed(layout.size());
            allocated(new_size);
        }
        new
    }
}

/// What the heap did during a [`measure`]d future.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heap {
    /// Growth of the live heap: bytes allocated minus bytes freed.
    pub(crate) net: i64,
    /// Bytes allocated, freed or not.
    pub(crate) allocated: u64,
    /// Number of allocations.
    pub(crate) count: u64,
}

/// Runs `work` with the counters on. Everything the process allocates meanwhile counts,
/// on any thread: run nothing else alongside, and one measurement at a time.
pub(crate) async fn measure<T>(work: impl Future<Output = T>) -> (T, Heap) {
    NET.store(0, Relaxed);
    ALLOCATED.store(0, Relaxed);
    COUNT.store(0, Relaxed);
    ON.store(true, Relaxed);
    let out = work.await;
    ON.store(false, Relaxed);
    let heap = Heap {
        net: NET.load(Relaxed),
        allocated: ALLOCATED.load(Relaxed),
        count: COUNT.load(Relaxed),
    };
    (out, heap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_what_stays_allocated() {
        // The counters are process-wide and other tests run on other threads meanwhile:
        // what they allocate or free inside the window moves `net` either way. A correct
        // counter lands within the bounds on (nearly) every attempt; a broken one never does.
        let mut attempts = Vec::new();
        for _ in 0..5 {
            let (kept, heap) = measure(async {
                let kept = vec![1u8; 1 << 20];
                let garbage = vec![1u8; 1 << 16];
                drop(garbage);
                kept
            })
            .await;
            assert_eq!(kept.len(), 1 << 20);
            // Only ever grows, whatever other threads do.
            assert!(heap.allocated >= (1 << 20) + (1 << 16), "{heap:?}");
            assert!(heap.count >= 2, "{heap:?}");
            if (1 << 20..(1 << 20) + (1 << 16)).contains(&heap.net) {
                return;
            }
            attempts.push(heap);
        }
        panic!("the kept megabyte was never counted as kept: {attempts:?}");
    }
}
