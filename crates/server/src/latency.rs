//! Latency observation: the latency monitor (named events such as `command`
//! or `fast-command`, each a ring of per-second maxima, as LATENCY LATEST /
//! HISTORY / GRAPH / DOCTOR report them) and the per-command latency
//! histograms behind INFO latencystats and LATENCY HISTOGRAM.
//!
//! This module only records and reports; the dispatcher decides what to
//! record, and the LATENCY command (commands/server.rs) formats replies.

use std::collections::BTreeMap;

/// Samples kept per event, one per second at most (Redis's LATENCY_TS_LEN).
pub const HISTORY_LEN: usize = 160;

/// One second's worst latency of an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Unix time in seconds; 0 marks an unused slot.
    pub time: i64,
    /// Milliseconds.
    pub latency: u64,
}

/// The recent history of one event.
#[derive(Clone, Debug)]
pub struct EventSeries {
    samples: [Sample; HISTORY_LEN],
    /// Where the next new second is written.
    next: usize,
    /// Worst latency ever seen for this event.
    pub all_time_max: u64,
}

impl EventSeries {
    fn new() -> Self {
        EventSeries { samples: [Sample::default(); HISTORY_LEN], next: 0, all_time_max: 0 }
    }

    fn add(&mut self, now_secs: i64, latency_ms: u64) {
        self.all_time_max = self.all_time_max.max(latency_ms);
        let prev = (self.next + HISTORY_LEN - 1) % HISTORY_LEN;
        if self.samples[prev].time == now_secs {
            self.samples[prev].latency = self.samples[prev].latency.max(latency_ms);
            return;
        }
        self.samples[self.next] = Sample { time: now_secs, latency: latency_ms };
        self.next = (self.next + 1) % HISTORY_LEN;
    }

    /// The most recent sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.next + HISTORY_LEN - 1) % HISTORY_LEN]
    }

    /// Recorded samples, oldest first.
    pub fn history(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..HISTORY_LEN).map(move |j| self.samples[(self.next + j) % HISTORY_LEN]).filter(|s| s.time != 0)
    }
}

/// Summary of an event's history, for LATENCY DOCTOR.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventSummary {
    pub samples: u64,
    pub avg: u64,
    pub min: u64,
    pub max: u64,
    /// Mean absolute deviation from `avg`.
    pub mad: u64,
    /// Seconds covered by the samples (at least 1).
    pub period: i64,
}

impl EventSeries {
    pub fn summarize(&self, now_secs: i64) -> EventSummary {
        let samples: Vec<Sample> = self.history().collect();
        if samples.is_empty() {
            return EventSummary::default();
        }
        let n = samples.len() as u64;
        let avg = samples.iter().map(|s| s.latency).sum::<u64>() / n;
        let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now_secs);
        EventSummary {
            samples: n,
            avg,
            min: samples.iter().map(|s| s.latency).min().unwrap_or(0),
            max: samples.iter().map(|s| s.latency).max().unwrap_or(0),
            mad: samples.iter().map(|s| s.latency.abs_diff(avg)).sum::<u64>() / n,
            period: (now_secs - oldest).max(1),
        }
    }
}

/// The latency monitor: every event that crossed `latency-monitor-threshold`.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: BTreeMap<String, EventSeries>,
}

impl LatencyMonitor {
    /// Records `latency_ms` for `event` if monitoring is on (`threshold_ms` > 0)
    /// and the latency reaches the threshold.
    pub fn add_if_needed(&mut self, threshold_ms: i64, event: &str, latency_ms: u64, now_secs: i64) {
        if threshold_ms > 0 && latency_ms >= threshold_ms as u64 {
            self.add(event, latency_ms, now_secs);
        }
    }

    pub fn add(&mut self, event: &str, latency_ms: u64, now_secs: i64) {
        if !self.events.contains_key(event) {
            self.events.insert(event.to_string(), EventSeries::new());
        }
        if let Some(series) = self.events.get_mut(event) {
            series.add(now_secs, latency_ms);
        }
    }

    pub fn get(&self, event: &[u8]) -> Option<(&str, &EventSeries)> {
        self.events.iter().find(|(name, _)| name.as_bytes() == event).map(|(n, s)| (n.as_str(), s))
    }

    pub fn events(&self) -> impl Iterator<Item = (&str, &EventSeries)> {
        self.events.iter().map(|(n, s)| (n.as_str(), s))
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Forgets one event (matched ignoring case) or, with None, all of them.
    /// Returns how many were forgotten.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(e) => self.events.retain(|name, _| !name.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - self.events.len()
    }
}

/// Width of LATENCY GRAPH in columns, and its height in rows.
const GRAPH_COLUMNS: usize = 80;
const GRAPH_ROWS: usize = 4;

/// LATENCY GRAPH: a header line, a rule, then the samples as vertical bars
/// (oldest on the left) with each bar's age written vertically below it.
pub fn render_graph(event: &str, series: &EventSeries, now_secs: i64) -> String {
    let samples: Vec<Sample> = series.history().collect();
    let low = samples.iter().map(|s| s.latency).min().unwrap_or(0);
    let high = samples.iter().map(|s| s.latency).max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        series.all_time_max,
        "-".repeat(80)
    );
    for (n, chunk) in samples.chunks(GRAPH_COLUMNS).enumerate() {
        if n > 0 {
            out.push('\n');
        }
        render_graph_rows(&mut out, chunk, low, high, now_secs);
    }
    out
}

/// Bar characters from the lowest third of a row to a full row.
const BAR_LEVELS: [char; 3] = ['_', 'o', '#'];

fn render_graph_rows(out: &mut String, samples: &[Sample], low: u64, high: u64, now_secs: i64) {
    let steps = BAR_LEVELS.len() * GRAPH_ROWS;
    let range = if high == low { 1.0 } else { (high - low) as f64 };
    let heights: Vec<usize> =
        samples.iter().map(|s| (((s.latency - low) as f64 * steps as f64 / range) as usize).min(steps - 1)).collect();
    for row in 0..GRAPH_ROWS {
        let floor = (GRAPH_ROWS - row - 1) * BAR_LEVELS.len();
        let line: String = heights
            .iter()
            .map(|&h| match h.checked_sub(floor) {
                Some(level) if level < BAR_LEVELS.len() => BAR_LEVELS[level],
                Some(_) => '|',
                None => ' ',
            })
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    let labels: Vec<Vec<char>> = samples.iter().map(|s| age_label(now_secs - s.time).chars().collect()).collect();
    out.push_str(&" ".repeat(samples.len()));
    out.push('\n');
    let tallest = labels.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..tallest {
        let line: String = labels.iter().map(|l| l.get(i).copied().unwrap_or(' ')).collect();
        out.push_str(&line);
        out.push('\n');
    }
}

/// `12s`, `5m`, `3h`, `2d`: how long ago a sample was taken.
fn age_label(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// A latency histogram in nanoseconds from 1 ns to 1 s with two significant
/// digits of precision: the layout of an HdrHistogram(1, 1e9, 2), which is
/// what Redis keeps per command, so percentiles and LATENCY HISTOGRAM buckets
/// come out the same.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

/// Sub-buckets per bucket (2 significant digits need 200; rounded up to 2^8).
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 8;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1;
/// Recorded values are clamped to this range (1 ns .. 1 s).
pub const HISTOGRAM_MIN_NS: u64 = 1;
pub const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;

/// Buckets needed so that the last one covers `HISTOGRAM_MAX_NS`.
const fn bucket_count() -> usize {
    let mut smallest_untrackable = 1u64 << SUB_BUCKET_COUNT_MAGNITUDE;
    let mut buckets = 1;
    while smallest_untrackable <= HISTOGRAM_MAX_NS {
        smallest_untrackable <<= 1;
        buckets += 1;
    }
    buckets
}

const COUNTS_LEN: usize = (bucket_count() + 1) * SUB_BUCKET_HALF_COUNT;

fn bucket_index(value: u64) -> u32 {
    (63 - (value | SUB_BUCKET_MASK).leading_zeros()) - SUB_BUCKET_HALF_COUNT_MAGNITUDE
}

fn counts_index(value: u64) -> usize {
    let bucket = bucket_index(value);
    let sub_bucket = (value >> bucket) as usize;
    (((bucket + 1) as usize) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT
}

/// The lowest value recorded at `index`.
fn value_at_index(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub_bucket as u64) << bucket
}

fn lowest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    (value >> bucket) << bucket
}

/// The highest value that falls in the same slot as `value`.
fn highest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let width_shift = if sub_bucket >= 1 << SUB_BUCKET_COUNT_MAGNITUDE { bucket + 1 } else { bucket };
    lowest_equivalent(value) + (1u64 << width_shift) - 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; COUNTS_LEN].into_boxed_slice(), total: 0 }
    }
}

impl Histogram {
    /// Records one duration, clamped to the tracked range.
    pub fn record_ns(&mut self, ns: u64) {
        let ns = ns.clamp(HISTOGRAM_MIN_NS, HISTOGRAM_MAX_NS);
        self.counts[counts_index(ns)] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value (ns) at `percentile` (0..=100): the highest value of the
    /// slot where the cumulative count reaches that share of all samples.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let wanted = ((percentile.min(100.0) / 100.0 * self.total as f64 + 0.5) as u64).max(1);
        let mut cumulative = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            cumulative += count;
            if cumulative >= wanted {
                let value = value_at_index(index);
                return if percentile == 0.0 { lowest_equivalent(value) } else { highest_equivalent(value) };
            }
        }
        0
    }

    /// LATENCY HISTOGRAM buckets: (upper bound in µs, cumulative calls),
    /// reported at power-of-two boundaries from 1024 ns, skipping steps that
    /// add no calls. Follows HdrHistogram's logarithmic iterator, including
    /// reporting each step at the slot that crossed the boundary.
    pub fn cumulative_buckets(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut level = 1024u64;
        let mut level_lowest = lowest_equivalent(level);
        let mut index: Option<usize> = None;
        let (mut cumulative, mut value, mut highest) = (0u64, 0u64, 0u64);
        let mut reported = 0u64;
        loop {
            let next_index = index.map_or(0, |i| i + 1);
            let more_values = next_index < COUNTS_LEN && value_at_index(next_index) > level_lowest;
            if cumulative >= self.total && !more_values {
                break;
            }
            loop {
                if value >= level_lowest {
                    level *= 2;
                    level_lowest = lowest_equivalent(level);
                    break;
                }
                let i = index.map_or(0, |i| i + 1);
                index = Some(i);
                if i >= COUNTS_LEN {
                    break;
                }
                cumulative += self.counts[i];
                value = value_at_index(i);
                highest = highest_equivalent(value);
            }
            if cumulative > reported {
                out.push((highest / 1000, cumulative));
            }
            reported = cumulative;
            if index.is_some_and(|i| i >= COUNTS_LEN) {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_use_slot_upper_bounds() {
        let mut h = Histogram::default();
        h.record_ns(3000);
        assert_eq!(h.value_at_percentile(50.0), 3007);
        let mut h = Histogram::default();
        h.record_ns(1000);
        assert_eq!(h.value_at_percentile(99.9), 1003);
        h.record_ns(8000);
        assert_eq!(h.value_at_percentile(99.0), 8031);
    }

    fn histogram_of(values: &[u64]) -> Histogram {
        let mut h = Histogram::default();
        values.iter().for_each(|&v| h.record_ns(v));
        h
    }

    /// Expected figures computed with HdrHistogram's C implementation (the
    /// one Redis embeds) on the same values.
    #[test]
    fn histogram_agrees_with_hdr_histogram() {
        // (recorded values, [p50, p99, p99.9, p0], LATENCY HISTOGRAM buckets)
        type Case = (&'static [u64], [u64; 4], &'static [(u64, u64)]);
        let cases: [Case; 3] = [
            (&[1000, 1000, 2000, 3000, 7000], [2007, 7007, 7007, 1000], &[(1, 2), (2, 3), (4, 4), (8, 5)]),
            (
                &[500, 1500, 1500, 70_000, 2_000_000, 999_000_000, 5_000_000_000],
                [70143, 1002438655, 1002438655, 500],
                &[(1, 1), (2, 3), (132, 4), (2113, 5), (1073741, 7)],
            ),
            (&[1, 2, 3, 250_000, 250_000, 260_000, 1000], [1003, 260095, 260095, 1], &[(1, 4), (264, 7)]),
        ];
        for (values, [p50, p99, p999, p0], buckets) in cases {
            let h = histogram_of(values);
            assert_eq!(
                [h.value_at_percentile(50.0), h.value_at_percentile(99.0), h.value_at_percentile(99.9)],
                [p50, p99, p999],
                "{values:?}"
            );
            assert_eq!(h.value_at_percentile(0.0), p0, "{values:?}");
            assert_eq!(h.cumulative_buckets(), buckets.to_vec(), "{values:?}");
        }
    }

    #[test]
    fn histogram_clamps_to_range() {
        let mut h = Histogram::default();
        h.record_ns(0);
        h.record_ns(5_000_000_000);
        assert_eq!(h.total(), 2);
        assert_eq!(h.value_at_percentile(100.0), highest_equivalent(HISTOGRAM_MAX_NS));
    }

    #[test]
    fn monitor_keeps_the_max_per_second() {
        let mut m = LatencyMonitor::default();
        m.add_if_needed(0, "command", 500, 100);
        assert!(m.is_empty());
        m.add_if_needed(10, "command", 15, 100);
        m.add_if_needed(10, "command", 30, 100);
        m.add_if_needed(10, "command", 20, 101);
        m.add_if_needed(10, "command", 5, 101);
        let (_, s) = m.get(b"command").expect("event recorded");
        let history: Vec<Sample> = s.history().collect();
        assert_eq!(history, vec![Sample { time: 100, latency: 30 }, Sample { time: 101, latency: 20 }]);
        assert_eq!(s.all_time_max, 30);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert!(m.is_empty());
    }

    #[test]
    fn history_wraps_after_the_ring_fills() {
        let mut m = LatencyMonitor::default();
        for t in 1..=(HISTORY_LEN as i64 + 5) {
            m.add("e", t as u64, t);
        }
        let (_, s) = m.get(b"e").expect("event");
        let times: Vec<i64> = s.history().map(|x| x.time).collect();
        assert_eq!(times.len(), HISTORY_LEN);
        assert_eq!(times[0], 6);
        assert_eq!(s.latest().time, HISTORY_LEN as i64 + 5);
    }
}
