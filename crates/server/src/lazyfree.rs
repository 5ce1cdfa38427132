//! Lazy freeing: one background thread that drops values and whole databases
//! the main thread no longer references (UNLINK, FLUSHALL/FLUSHDB ASYNC, and
//! the lazyfree-lazy-* options), so freeing millions of allocations never
//! stalls command execution.
//!
//! The thread only ever receives owned data through a channel; it never sees
//! the keyspace. Its progress is visible in INFO through
//! `Stats::lazyfree` (`lazyfree_pending_objects`, `lazyfreed_objects`).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use cinnabar_storage::{Db, Hash, Set, Value};

use crate::stats::LazyfreeCounters;

/// Above this free effort a value is freed in the background (Redis's
/// `LAZYFREE_THRESHOLD`): below it, the channel round trip costs more than
/// the free itself.
const LAZYFREE_THRESHOLD: usize = 64;

/// Something to drop in the background; the thread only drops it.
type Garbage = Box<dyn Send>;

/// The handle the main thread keeps; dropping it ends the thread once the
/// queue is drained.
pub struct LazyFree {
    jobs: Sender<(Garbage, u64)>,
    counters: Arc<LazyfreeCounters>,
}

/// Roughly how many allocations freeing `value` takes. Strings are one
/// allocation whatever their length, so they are always freed inline;
/// collection encodings report their element count here as they are added.
pub fn free_effort(value: &Value) -> usize {
    match value {
        Value::Str(_) => 1,
        Value::Stream(s) => s.free_effort(),
        Value::Hash(h) => match h {
            Hash::Table(t) => t.len(),
            Hash::Listpack(_) => 1,
        },
        Value::Set(s) => match s {
            Set::Table(t) => t.len(),
            Set::Ints(_) => 1,
        },
        // A quicklist frees one allocation per node.
        Value::List(l) => l.node_count(),
        // A listpack is one allocation; the large encoding frees per element.
        Value::Zset(z) => z.listpack().map_or(z.len(), |_| 1),
    }
}

impl LazyFree {
    /// Starts the background thread, reporting into `counters`.
    pub fn start(counters: Arc<LazyfreeCounters>) -> LazyFree {
        let (jobs, queue) = mpsc::channel::<(Garbage, u64)>();
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for (garbage, objects) in queue {
                    drop(garbage);
                    thread_counters.pending.fetch_sub(objects, Ordering::Relaxed);
                    thread_counters.freed.fetch_add(objects, Ordering::Relaxed);
                }
            })
            .expect("spawning the lazyfree thread");
        LazyFree { jobs, counters }
    }

    /// Frees a value removed from the keyspace: in the background when
    /// `lazy` and the value is expensive to free, inline otherwise.
    pub fn free_value(&self, value: Value, lazy: bool) {
        if lazy && free_effort(&value) > LAZYFREE_THRESHOLD {
            self.submit(Box::new(value), 1);
        }
    }

    /// Frees a whole database taken out of the keyspace (FLUSHALL/FLUSHDB ASYNC).
    pub fn free_db(&self, db: Db) {
        let keys = db.len() as u64;
        self.submit(Box::new(db), keys);
    }

    fn submit(&self, garbage: Garbage, objects: u64) {
        self.counters.pending.fetch_add(objects, Ordering::Relaxed);
        if let Err(mpsc::SendError((garbage, objects))) = self.jobs.send((garbage, objects)) {
            // The thread is gone (it only stops when this handle drops, so
            // this is unreachable in practice): free here rather than leak.
            drop(garbage);
            self.counters.pending.fetch_sub(objects, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinnabar_storage::{Entry, StrValue};
    use std::time::{Duration, Instant};

    fn counts(counters: &LazyfreeCounters) -> (u64, u64) {
        (counters.pending.load(Ordering::Relaxed), counters.freed.load(Ordering::Relaxed))
    }

    #[test]
    fn a_freed_database_counts_its_keys() {
        let counters = Arc::new(LazyfreeCounters::default());
        let lazyfree = LazyFree::start(counters.clone());
        let mut db = Db::new();
        for i in 0..1000 {
            let key = format!("k{i}");
            db.set(key.as_bytes(), Entry::new(Value::Str(StrValue::from_bytes(b"v")), 0), false);
        }
        lazyfree.free_db(db);
        let deadline = Instant::now() + Duration::from_secs(30);
        while counts(&counters) != (0, 1000) {
            assert!(Instant::now() < deadline, "lazyfree thread stuck at {:?}", counts(&counters));
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn strings_are_freed_inline() {
        let counters = Arc::new(LazyfreeCounters::default());
        let lazyfree = LazyFree::start(counters.clone());
        lazyfree.free_value(Value::Str(StrValue::raw(vec![b'x'; 1 << 20])), true);
        assert_eq!(counts(&counters), (0, 0));
    }
}
