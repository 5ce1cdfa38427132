//! maxmemory: evicting keys to stay under the limit, and the OOM refusal.
//!
//! Before every command (while `maxmemory` is set) `perform` compares the
//! allocator's count of used bytes with the limit and, when over it, evicts
//! keys chosen by `maxmemory-policy` until enough memory was freed, as Redis
//! 7.0's `performEvictions`:
//! - LRU, LFU and volatile-ttl keep a pool of the 16 best candidates seen so
//!   far, refilled each round with `maxmemory-samples` random keys from each
//!   database (all keys, or only those with a TTL for volatile-*), ranked by
//!   idle time, by inverted LFU counter, or by nearness of expiry. The best
//!   candidate that still exists is evicted.
//! - allkeys-random and volatile-random evict a random key, visiting the
//!   databases in turn.
//! - noeviction evicts nothing.
//!
//! One call spends at most the time `maxmemory-eviction-tenacity` allows;
//! the rest is done by a background task on the main thread
//! (`run_background`) that evicts in such slices, yielding to clients in
//! between, until memory is back under the limit. A command flagged
//! DENYOOM (or any command queued inside MULTI) is refused with `-OOM` when
//! memory is still over the limit and nothing could be evicted (`refusal`).
//!
//! An evicted key is deleted like any other (WATCH sees it change, lazily
//! freed under `lazyfree-lazy-eviction`), counted in `evicted_keys`,
//! notified as `evicted` and propagated as DEL (UNLINK when lazy).
//!
//! This module decides what to evict and when; it does not measure memory
//! (`allocator.rs` does) nor stamp keys' access times (`access.rs`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::allocator::used_memory;
use crate::client::{Client, PauseMode};
use crate::command::{flags, CommandId};
use crate::log::log_at;
use crate::server::{deletion_verb, Server};

/// The refusal of a command that would grow memory past the limit.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Candidates the eviction pool holds (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;
/// How often, in evicted keys, one call checks its time budget.
const KEYS_PER_TIME_CHECK: usize = 16;

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// The policy a `maxmemory-policy` value names (the config table only
    /// accepts these names).
    pub fn from_name(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// True if any key may go; false if only keys with a TTL may.
    fn all_keys(self) -> bool {
        matches!(self, Policy::AllKeysLru | Policy::AllKeysLfu | Policy::AllKeysRandom)
    }

    fn is_random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

/// What an eviction attempt achieved (Redis's EVICT_OK/RUNNING/FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is under the limit, or evicting is not allowed right now.
    Ok,
    /// Still over the limit; the background task goes on evicting.
    Running,
    /// Over the limit and nothing (more) can be evicted.
    Fail,
}

/// One candidate in the pool: a key of database `db` and its score (the
/// higher, the better to evict).
#[derive(Default)]
struct Candidate {
    key: Vec<u8>,
    db: usize,
    score: u64,
    filled: bool,
}

/// The eviction state the server keeps between calls.
pub struct Eviction {
    /// Best candidates, worst first; empty slots are always at the end.
    pool: Vec<Candidate>,
    /// The database the random policies try next.
    next_db: usize,
    /// True while the background task has work (Redis's
    /// isEvictionProcRunning).
    background_running: bool,
    /// Wakes the background task.
    wake: Rc<tokio::sync::Notify>,
    /// The victim's key, copied out of the keyspace (reused allocation).
    victim: Vec<u8>,
    /// See `oom_at_command_start`.
    oom_at_command_start: bool,
}

impl Default for Eviction {
    fn default() -> Self {
        Eviction {
            pool: (0..POOL_SIZE).map(|_| Candidate::default()).collect(),
            next_db: 0,
            background_running: false,
            wake: Rc::new(tokio::sync::Notify::new()),
            victim: Vec::new(),
            oom_at_command_start: false,
        }
    }
}

/// Memory Redis leaves out of the comparison with `maxmemory`: what the
/// replication buffer holds for replicas beyond the backlog's history,
/// since evicting to make room for the DELs it carries would feed itself
/// (INFO `mem_not_counted_for_evict`). The AOF's pending bytes are written
/// before every reply, so they never build up.
pub fn not_counted_for_evict(srv: &Server) -> usize {
    match &srv.propagation.backlog {
        Some(backlog) if !srv.repl.master_side.replicas.is_empty() => {
            backlog.memory().saturating_sub(backlog.histlen()) as usize
        }
        _ => 0,
    }
}

/// Bytes to free to get back under `maxmemory`, if over it.
fn memory_to_free(srv: &Server) -> Option<usize> {
    let limit = srv.config.maxmemory as usize;
    let used = used_memory();
    if limit == 0 || used <= limit {
        return None;
    }
    let counted = used.saturating_sub(not_counted_for_evict(srv));
    (counted > limit).then(|| counted - limit)
}

/// Evicting is off while clients are paused (the dataset must stay still)
/// and on replicas that ignore maxmemory (they mirror their master).
fn eviction_allowed(srv: &Server) -> bool {
    let ignoring_replica = srv.repl.is_replica() && srv.config.replica_ignore_maxmemory;
    !ignoring_replica && srv.client_pause.mode_at(srv.now_ms) == PauseMode::Off
}

/// How long one call may evict for `maxmemory-eviction-tenacity`: 50 µs per
/// step up to 10, then 15% more per step, unlimited at 100.
fn time_limit(tenacity: i64) -> Duration {
    match tenacity {
        ..=10 => Duration::from_micros(50 * tenacity.max(0) as u64),
        11..=99 => Duration::from_micros((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64),
        _ => Duration::MAX,
    }
}

/// The check a command gets before it runs while `maxmemory` is set:
/// evicts what is needed, then refuses with `-OOM` a command that may grow
/// memory (DENYOOM in its `request_flags`, an EXEC whose queue holds one, or
/// any command queued inside MULTI) if memory is still over the limit. The
/// verdict is kept for the scripts the command runs (`oom_at_command_start`).
pub fn refusal(srv: &mut Server, client: &mut Client, id: CommandId, request_flags: u32) -> Option<&'static str> {
    if srv.config.maxmemory == 0 {
        return None;
    }
    let oom = out_of_memory(srv, Some(client));
    srv.eviction.oom_at_command_start = oom;
    if !oom {
        return None;
    }
    // An EXEC is judged by what it will run, as CLIENT PAUSE judges it.
    let command_flags = crate::commands::transactions::pause_flags(client, request_flags);
    let queued = crate::commands::transactions::queues(srv, client, id);
    (command_flags & flags::DENYOOM != 0 || queued).then_some(OOM_ERROR)
}

/// Whether memory was over `maxmemory` (with nothing left to evict) when
/// the client command running now was checked. Scripts judge their
/// commands by it rather than by memory now, which their own interpreter
/// and arguments grow (Redis's `pre_command_oom_state`).
pub fn oom_at_command_start(srv: &Server) -> bool {
    srv.config.maxmemory != 0 && srv.eviction.oom_at_command_start
}

/// Evicts as needed and tells whether memory is still over the limit with
/// nothing left to evict. `current` is the client running a command, if
/// any, which receives its own keyspace notifications.
pub fn out_of_memory(srv: &mut Server, current: Option<&mut Client>) -> bool {
    perform(srv, current) == Outcome::Fail
}

/// Redis's `performEvictions`: frees memory down to the limit, within the
/// time tenacity allows, and keeps INFO's eviction-exceeded time.
pub fn perform(srv: &mut Server, current: Option<&mut Client>) -> Outcome {
    if !eviction_allowed(srv) {
        return Outcome::Ok;
    }
    let outcome = evict_to_limit(srv, current);
    srv.stats.note_eviction_outcome(outcome != Outcome::Ok);
    outcome
}

fn evict_to_limit(srv: &mut Server, mut current: Option<&mut Client>) -> Outcome {
    let Some(to_free) = memory_to_free(srv) else { return Outcome::Ok };
    let policy = Policy::from_name(&srv.config.maxmemory_policy);
    if policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let limit = time_limit(srv.config.maxmemory_eviction_tenacity);
    let started = Instant::now();
    let mut freed: i64 = 0;
    let mut evicted = 0usize;
    let mut outcome = None;
    while freed < to_free as i64 {
        let Some(db) = pick_victim(srv, policy) else {
            outcome = Some(wait_for_lazy_frees(srv, started, limit));
            break;
        };
        let before = used_memory() as i64;
        let victim = std::mem::take(&mut srv.eviction.victim);
        evict_key(srv, current.as_deref_mut(), db, &victim);
        srv.eviction.victim = victim;
        // Only what the deletion itself released counts: the DEL it
        // propagates is written out soon and must not make us evict more.
        freed += before - used_memory() as i64;
        evicted += 1;
        if evicted.is_multiple_of(KEYS_PER_TIME_CHECK) {
            // A lazily freed value leaves memory later, on another thread.
            if srv.config.lazyfree_lazy_eviction && memory_to_free(srv).is_none() {
                break;
            }
            if started.elapsed() > limit {
                start_background(srv);
                break;
            }
        }
    }
    let cycle_ms = started.elapsed().as_millis() as u64;
    add_latency_sample(srv, "eviction-cycle", cycle_ms);
    outcome.unwrap_or(if srv.eviction.background_running { Outcome::Running } else { Outcome::Ok })
}

/// Out of keys: values being freed in the background may still bring memory
/// under the limit, so wait a little for them, within the time limit.
fn wait_for_lazy_frees(srv: &mut Server, started: Instant, limit: Duration) -> Outcome {
    let waited = Instant::now();
    let mut outcome = Outcome::Fail;
    while srv.stats.lazyfree_pending_objects() > 0 && started.elapsed() < limit {
        if memory_to_free(srv).is_none() {
            outcome = Outcome::Ok;
            break;
        }
        std::thread::sleep(limit.min(Duration::from_millis(1)));
    }
    add_latency_sample(srv, "eviction-lazyfree", waited.elapsed().as_millis() as u64);
    outcome
}

fn add_latency_sample(srv: &mut Server, event: &str, ms: u64) {
    let threshold = srv.config.latency_monitor_threshold;
    let now_secs = srv.now_ms / 1000;
    srv.latency.add_if_needed(threshold, event, ms, now_secs);
}

/// Deletes the chosen key and reports it everywhere a deletion is seen.
fn evict_key(srv: &mut Server, current: Option<&mut Client>, db: usize, key: &[u8]) {
    let lazy = srv.config.lazyfree_lazy_eviction;
    let started = Instant::now();
    srv.remove_key(db, key, lazy);
    add_latency_sample(srv, "eviction-del", started.elapsed().as_millis() as u64);
    srv.stats.evicted_keys += 1;
    crate::notify::notify(srv, current, db, crate::notify::EVICTED, "evicted", key);
    srv.propagation.emit(db, &[deletion_verb(lazy), key]);
}

/// Chooses the next key to evict, copied into `srv.eviction.victim`, and
/// returns its database; None when no key may be evicted.
fn pick_victim(srv: &mut Server, policy: Policy) -> Option<usize> {
    if policy.is_random() {
        pick_random(srv, policy)
    } else {
        pick_from_pool(srv, policy)
    }
}

/// A random key (with a TTL for volatile-random), taking the databases in
/// turn so that each gives up keys.
fn pick_random(srv: &mut Server, policy: Policy) -> Option<usize> {
    let dbs = srv.dbs.len();
    for _ in 0..dbs {
        srv.eviction.next_db = (srv.eviction.next_db + 1) % dbs;
        let index = srv.eviction.next_db;
        let db = &srv.dbs[index];
        let key = if policy.all_keys() { db.random_key() } else { db.random_volatile().map(|(k, _)| k) };
        if let Some(key) = key {
            srv.eviction.victim.clear();
            srv.eviction.victim.extend_from_slice(key);
            return Some(index);
        }
    }
    None
}

/// The best candidate of the pool that still exists, after refilling the
/// pool from every database.
fn pick_from_pool(srv: &mut Server, policy: Policy) -> Option<usize> {
    loop {
        let mut candidates = 0;
        for index in 0..srv.dbs.len() {
            let db = &srv.dbs[index];
            let size = if policy.all_keys() { db.len() } else { db.expires_len() };
            if size > 0 {
                populate_pool(srv, index, policy);
                candidates += size;
            }
        }
        if candidates == 0 {
            return None;
        }
        // From the best down; keys deleted since they were pooled are dropped.
        let Eviction { pool, victim, .. } = &mut srv.eviction;
        for slot in pool.iter_mut().rev().filter(|c| c.filled) {
            slot.filled = false;
            let db = &srv.dbs[slot.db];
            let evictable = if policy.all_keys() { db.contains(&slot.key) } else { db.expire_at(&slot.key).is_some() };
            if evictable {
                std::mem::swap(victim, &mut slot.key);
                return Some(slot.db);
            }
        }
    }
}

/// Samples `maxmemory-samples` keys of database `index` and files those
/// better than the pool's worst into it.
fn populate_pool(srv: &mut Server, index: usize, policy: Policy) {
    let access = srv.access_policy();
    let db = &srv.dbs[index];
    for _ in 0..srv.config.maxmemory_samples.max(1) {
        let sampled = if policy.all_keys() {
            db.random_entry().map(|(key, entry)| (key, entry.access, 0))
        } else {
            db.random_volatile().and_then(|(key, when)| db.get(key).map(|entry| (key, entry.access, when)))
        };
        let Some((key, stamp, expires_at)) = sampled else { return };
        let score = match policy {
            Policy::AllKeysLfu | Policy::VolatileLfu => 255 - u64::from(access.lfu_counter(stamp)),
            Policy::VolatileTtl => u64::MAX - expires_at as u64,
            _ => u64::from(access.idle_seconds(stamp)),
        };
        insert_candidate(&mut srv.eviction.pool, key, index, score);
    }
}

/// Files a candidate into the pool, kept sorted worst to best with empty
/// slots at the end. A full pool drops its worst candidate for a better one
/// and ignores one that is worse than all it holds.
fn insert_candidate(pool: &mut [Candidate], key: &[u8], db: usize, score: u64) {
    let mut at = pool.iter().position(|c| !c.filled || c.score >= score).unwrap_or(POOL_SIZE);
    let full = pool[POOL_SIZE - 1].filled;
    if at == 0 && full {
        return;
    }
    if at < POOL_SIZE && !pool[at].filled {
        // An empty slot: the candidate goes there.
    } else if !full {
        // Room on the right: shift the better ones up.
        pool[at..].rotate_right(1);
    } else {
        // Full: drop the worst, shifting the worse ones down.
        at -= 1;
        pool[..=at].rotate_left(1);
    }
    let slot = &mut pool[at];
    slot.key.clear();
    slot.key.extend_from_slice(key);
    slot.db = db;
    slot.score = score;
    slot.filled = true;
}

/// Has the background task go on evicting after this call.
fn start_background(srv: &mut Server) {
    if !srv.eviction.background_running {
        srv.eviction.background_running = true;
        srv.eviction.wake.notify_one();
    }
}

/// CONFIG SET changed `maxmemory`: warn if already over it, and start
/// evicting at once rather than at the next command.
pub fn maxmemory_changed(srv: &mut Server) {
    let limit = srv.config.maxmemory as usize;
    if limit == 0 {
        return;
    }
    let used = used_memory().saturating_sub(not_counted_for_evict(srv));
    if limit < used {
        log_at!(
            Warning,
            "WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({}). \
             This will result in key eviction and/or the inability to accept new write commands depending on the \
             maxmemory-policy.",
            limit,
            used
        );
    }
    start_background(srv);
}

/// The background eviction task (Redis's eviction time proc): whenever
/// woken, evicts in time-limited slices, letting clients run in between,
/// until memory is under the limit or nothing is left to evict.
pub async fn run_background(server: Rc<RefCell<Server>>) {
    let wake = server.borrow().eviction.wake.clone();
    loop {
        wake.notified().await;
        loop {
            let outcome = {
                let mut srv = server.borrow_mut();
                srv.refresh_time();
                let outcome = perform(&mut srv, None);
                if outcome != Outcome::Running {
                    srv.eviction.background_running = false;
                }
                outcome
            };
            if outcome != Outcome::Running {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(pool: &[Candidate]) -> Vec<u64> {
        pool.iter().filter(|c| c.filled).map(|c| c.score).collect()
    }

    #[test]
    fn the_pool_keeps_the_sixteen_best_sorted() {
        let mut pool: Vec<Candidate> = (0..POOL_SIZE).map(|_| Candidate::default()).collect();
        for score in [5, 1, 9, 3] {
            insert_candidate(&mut pool, b"k", 0, score);
        }
        assert_eq!(scores(&pool), [1, 3, 5, 9]);
        for score in 10..30 {
            insert_candidate(&mut pool, b"k", 0, score);
        }
        assert_eq!(scores(&pool), (14..30).collect::<Vec<_>>());
        // Worse than everything in a full pool: ignored.
        insert_candidate(&mut pool, b"low", 0, 2);
        assert_eq!(scores(&pool)[0], 14);
        // In the middle of a full pool: the worst goes.
        insert_candidate(&mut pool, b"mid", 0, 20);
        assert_eq!(scores(&pool), [15, 16, 17, 18, 19, 20, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    }

    #[test]
    fn tenacity_bounds_time_as_redis() {
        assert_eq!(time_limit(0), Duration::ZERO);
        assert_eq!(time_limit(10), Duration::from_micros(500));
        assert_eq!(time_limit(11), Duration::from_micros(575));
        assert_eq!(time_limit(100), Duration::MAX);
    }

    #[test]
    fn policies_are_named_as_in_redis() {
        assert_eq!(Policy::from_name("volatile-ttl"), Policy::VolatileTtl);
        assert!(Policy::from_name("allkeys-random").all_keys());
        assert!(!Policy::from_name("volatile-lfu").all_keys());
        assert_eq!(Policy::from_name("noeviction"), Policy::NoEviction);
    }
}
