//! The access stamp each key carries (`Entry.access`), with Redis's meaning of
//! `robj.lru`: under an LFU maxmemory policy, 16 bits of minutes (when the
//! counter last decayed) above an 8-bit logarithmic access counter; under any
//! other policy, the LRU clock (seconds, 24 bits) of the last access.
//!
//! This module owns stamping (new keys, touches on lookup) and reading stamps
//! back (idle time, decayed counter); it does not decide when a key is touched.

use crate::config::Config;

/// The counter a new key starts with, so it is not evicted at once.
const LFU_INIT_VAL: u32 = 5;
/// The LRU clock wraps at 24 bits.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// How stamps are made and read right now (policy, settings, time).
#[derive(Clone, Copy, Debug)]
pub struct AccessPolicy {
    lfu: bool,
    now_ms: i64,
    log_factor: i64,
    decay_minutes: i64,
}

impl AccessPolicy {
    pub fn new(config: &Config, now_ms: i64) -> AccessPolicy {
        AccessPolicy {
            lfu: config.maxmemory_policy.ends_with("-lfu"),
            now_ms,
            log_factor: config.lfu_log_factor,
            decay_minutes: config.lfu_decay_time,
        }
    }

    /// True when stamps hold LFU counters rather than LRU times.
    pub fn is_lfu(&self) -> bool {
        self.lfu
    }

    /// The stamp of a key created now.
    pub fn fresh(&self) -> u32 {
        if self.lfu {
            (self.minutes() << 8) | LFU_INIT_VAL
        } else {
            self.lru_clock()
        }
    }

    /// The stamp after an access (Redis's `updateLFU`, or the LRU clock).
    pub fn touch(&self, stamp: u32) -> u32 {
        if !self.lfu {
            return self.lru_clock();
        }
        let counter = self.log_increment(self.lfu_counter(stamp));
        (self.minutes() << 8) | counter
    }

    /// An LFU stamp holding `counter`, as of now (a key loaded with a FREQ).
    pub fn with_counter(&self, counter: u8) -> u32 {
        (self.minutes() << 8) | u32::from(counter)
    }

    /// An LRU stamp `idle_secs` in the past (a key loaded with an IDLE).
    pub fn idle_for(&self, idle_secs: u64) -> u32 {
        let idle = (idle_secs % u64::from(LRU_CLOCK_MAX + 1)) as u32;
        let now = self.lru_clock();
        if idle <= now {
            now - idle
        } else {
            LRU_CLOCK_MAX - (idle - now)
        }
    }

    /// The LFU counter in `stamp` after the decay due since it was written
    /// (Redis's `LFUDecrAndReturn`).
    pub fn lfu_counter(&self, stamp: u32) -> u32 {
        let counter = stamp & 0xff;
        if self.decay_minutes <= 0 {
            return counter;
        }
        let periods = i64::from(minutes_since(self.minutes(), stamp >> 8)) / self.decay_minutes;
        counter.saturating_sub(periods.min(i64::from(u32::MAX)) as u32)
    }

    /// Seconds since the access that wrote an LRU `stamp` (Redis's
    /// `estimateObjectIdleTime`, which the clock's wrap-around makes approximate).
    pub fn idle_seconds(&self, stamp: u32) -> u32 {
        let now = self.lru_clock();
        if now >= stamp {
            now - stamp
        } else {
            now + (LRU_CLOCK_MAX - stamp)
        }
    }

    fn lru_clock(&self) -> u32 {
        crate::server::lru_clock(self.now_ms)
    }

    /// Minutes on the LFU clock, which wraps at 16 bits.
    fn minutes(&self) -> u32 {
        ((self.now_ms / 60_000) & 0xffff) as u32
    }

    /// Adds one to `counter` with a probability that falls as it grows, so
    /// 255 stands for a very large number of accesses (Redis's `LFULogIncr`).
    fn log_increment(&self, counter: u32) -> u32 {
        if counter >= 255 {
            return 255;
        }
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * self.log_factor as f64 + 1.0);
        if fastrand::f64() < p {
            counter + 1
        } else {
            counter
        }
    }
}

/// Minutes from `then` to `now` on the 16-bit wrapping LFU clock.
fn minutes_since(now: u32, then: u32) -> u32 {
    if now >= then {
        now - then
    } else {
        0xffff - then + now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, now_ms: i64) -> AccessPolicy {
        let mut config = Config::new();
        config.maxmemory_policy = name.into();
        AccessPolicy::new(&config, now_ms)
    }

    #[test]
    fn lru_stamps_measure_idle_seconds() {
        let at = policy("noeviction", 1_000_000);
        let stamp = at.fresh();
        assert_eq!(policy("noeviction", 1_061_000).idle_seconds(stamp), 61);
        assert_eq!(policy("noeviction", 1_000_000).idle_seconds(LRU_CLOCK_MAX - 5), at.lru_clock() + 5);
    }

    #[test]
    fn lfu_counters_start_at_five_grow_once_for_sure_and_decay() {
        let now = 60_000 * 1000;
        let lfu = policy("allkeys-lfu", now);
        let stamp = lfu.fresh();
        assert_eq!(lfu.lfu_counter(stamp), 5);
        assert_eq!(lfu.lfu_counter(lfu.touch(stamp)), 6);
        assert_eq!(policy("allkeys-lfu", now + 3 * 60_000).lfu_counter(stamp), 2);
        assert_eq!(policy("allkeys-lfu", now + 300 * 60_000).lfu_counter(stamp), 0);
    }
}
