//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP, and the
//! memory accounting INFO memory shares with them: what the allocator holds,
//! what the server spends on itself (start-up, clients, keyspace tables) and
//! what is left for the data set.
//!
//! Sizes are our real ones (our nodes and buffers, rounded up to jemalloc's
//! size classes), not a model of Redis's structures; for strings they land
//! close to Redis's figures.

use std::ffi::{c_char, c_void, CStr};

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_storage::list::{self, List};
use cinnabar_storage::{Db, Entry, SmallBytes, Value};

use crate::client::Client;
use crate::command::context::errors;
use crate::command::{flags::*, key_flags::*, Arg, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::commands::server::reply_help;
use crate::server::Server;
use crate::stats::{used_memory, MemorySample};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "memory",
    arity: -2,
    subcommands: &[
        CommandSpec {
            name: "doctor",
            arity: 2,
            tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
            handler: Some(doctor),
            summary: "Diagnose memory problems in plain language",
            ..sub()
        },
        CommandSpec {
            name: "malloc-stats",
            arity: 2,
            tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
            handler: Some(malloc_stats),
            summary: "Return the allocator's internal statistics",
            complexity: "Depends on how much memory is allocated, could be slow",
            ..sub()
        },
        CommandSpec {
            name: "purge",
            arity: 2,
            tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
            handler: Some(purge),
            summary: "Ask the allocator to release unused memory to the system",
            complexity: "Depends on how much memory is allocated, could be slow",
            ..sub()
        },
        CommandSpec {
            name: "stats",
            arity: 2,
            tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
            handler: Some(stats),
            summary: "Return a breakdown of the server's memory use",
            ..sub()
        },
        CommandSpec {
            name: "usage",
            arity: -3,
            flags: READONLY,
            key_specs: &[KeySpec::single(2, RO)],
            handler: Some(usage),
            summary: "Estimate the memory used by a key and its value",
            complexity: "O(N) where N is the number of samples.",
            args: &[Arg::key("key", 0), Arg::integer("count").token("SAMPLES").optional()],
            ..sub()
        },
        CommandSpec {
            name: "help",
            arity: 2,
            flags: LOADING | STALE,
            handler: Some(help),
            summary: "Describe the MEMORY subcommands",
            ..sub()
        },
    ],
    group: "server",
    since: "4.0.0",
    summary: "Memory introspection: usage, statistics, diagnosis",
    complexity: "Depends on subcommand.",
    ..CommandSpec::DEFAULT
}];

/// Defaults shared by the MEMORY subcommands.
const fn sub() -> CommandSpec {
    CommandSpec { group: "server", since: "4.0.0", complexity: "O(1)", ..CommandSpec::DEFAULT }
}

/// The size jemalloc really hands out for a request of `size` bytes.
pub fn alloc_size(size: usize) -> usize {
    if size == 0 {
        return 0;
    }
    // SAFETY: nallocx only computes a size class; flags 0 means no options.
    match unsafe { tikv_jemalloc_sys::nallocx(size, 0) } {
        0 => size,
        n => n,
    }
}

/// Bytes a key costs: its dictionary node, the key's own allocation and the
/// value's allocations. Values in compact encodings (listpack, intset,
/// quicklist) hold Redis's very bytes and are counted with Redis's formula;
/// hashtable and skiplist encodings are counted as they are here.
pub fn key_usage(key: &[u8], entry: &Entry) -> usize {
    let key_heap = SmallBytes::new(key).heap_size();
    let value = match &entry.value {
        Value::List(l) => list_usage(l),
        other => match other.compact_bytes() {
            Some(bytes) => ROBJ_SIZE + alloc_size(bytes),
            None => alloc_size(other.heap_size()),
        },
    };
    alloc_size(Db::KEY_NODE_SIZE) + alloc_size(key_heap) + value
}

/// Redis's object header, counted for the values whose figure is Redis's.
const ROBJ_SIZE: usize = 16;

/// Nodes Redis samples when sizing a quicklist (MEMORY USAGE's default).
const LIST_SAMPLES: usize = 5;

/// Redis's `objectComputeSize` for a quicklist: the object and quicklist
/// headers plus the average of the first sampled nodes times the node count.
/// A compressed node's allocation is its LZF data behind a length header.
fn list_usage(list: &List) -> usize {
    let node_alloc = |n: list::NodeSize| alloc_size(n.compressed.map_or(n.raw, |lzf| list::LZF_HEADER_SIZE + lzf));
    let sampled: Vec<usize> =
        list.node_footprints().take(LIST_SAMPLES).map(|n| list::NODE_STRUCT_SIZE + node_alloc(n)).collect();
    let nodes = if sampled.is_empty() {
        0
    } else {
        (sampled.iter().sum::<usize>() as f64 / sampled.len() as f64 * list.node_count() as f64) as usize
    };
    ROBJ_SIZE + list::LIST_STRUCT_SIZE + nodes
}

/// Where the memory goes (INFO memory, MEMORY STATS, MEMORY DOCTOR).
#[derive(Debug, Default)]
pub struct MemoryOverhead {
    pub used: usize,
    pub peak: usize,
    pub startup: usize,
    pub clients_normal: usize,
    /// Per non-empty database: (index, key table bytes, expiry table bytes).
    pub dbs: Vec<(usize, usize, usize)>,
    pub total_keys: usize,
    pub overhead_total: usize,
    pub dataset: usize,
    pub dataset_perc: f32,
    pub peak_perc: f32,
    pub bytes_per_key: usize,
    pub sample: MemorySample,
}

impl MemoryOverhead {
    pub fn allocator_frag(&self) -> f32 {
        ratio(self.sample.active, self.sample.allocated)
    }
    pub fn allocator_frag_bytes(&self) -> i64 {
        self.sample.active as i64 - self.sample.allocated as i64
    }
    pub fn allocator_rss(&self) -> f32 {
        ratio(self.sample.resident, self.sample.active)
    }
    pub fn allocator_rss_bytes(&self) -> i64 {
        self.sample.resident as i64 - self.sample.active as i64
    }
    pub fn rss_extra(&self) -> f32 {
        ratio(self.sample.process_rss, self.sample.resident)
    }
    pub fn rss_extra_bytes(&self) -> i64 {
        self.sample.process_rss as i64 - self.sample.resident as i64
    }
    /// Process RSS over used memory (mem_fragmentation_ratio).
    pub fn total_frag(&self) -> f32 {
        ratio(self.sample.process_rss, self.used)
    }
    pub fn total_frag_bytes(&self) -> i64 {
        self.sample.process_rss as i64 - self.used as i64
    }
}

fn ratio(a: usize, b: usize) -> f32 {
    if b == 0 {
        0.0
    } else {
        a as f32 / b as f32
    }
}

/// Measures memory now. `caller` is the client running the command (its
/// state is borrowed by the caller, so it is passed in).
pub fn overhead(srv: &mut Server, caller: &Client) -> MemoryOverhead {
    let sample = MemorySample::read();
    let used = used_memory();
    srv.stats.note_memory_use(used);
    let mut mh =
        MemoryOverhead { used, peak: srv.stats.peak_memory, startup: srv.startup_memory, sample, ..Default::default() };
    mh.clients_normal = clients_memory(srv, caller);
    let mut total = mh.startup + mh.clients_normal;
    for (index, db) in srv.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let (key_buckets, expire_buckets) = db.bucket_count();
        let pointer = std::mem::size_of::<usize>();
        let keys = db.len() * alloc_size(Db::KEY_NODE_SIZE) + key_buckets * pointer;
        let expires = db.expires_len() * alloc_size(Db::EXPIRE_NODE_SIZE) + expire_buckets * pointer;
        mh.dbs.push((index, keys, expires));
        mh.total_keys += db.len();
        total += keys + expires;
    }
    mh.overhead_total = total;
    mh.dataset = used.saturating_sub(total);
    mh.peak_perc = used as f32 * 100.0 / mh.peak.max(1) as f32;
    let net_usage = if used > mh.startup { used - mh.startup } else { 1 };
    mh.dataset_perc = mh.dataset as f32 * 100.0 / net_usage as f32;
    mh.bytes_per_key = net_usage.checked_div(mh.total_keys).unwrap_or(0);
    mh
}

/// The memory of normal and pub/sub connections (Redis's
/// `mem_clients_normal`): each one's `tot-mem`, the figure client eviction
/// weighs.
fn clients_memory(srv: &Server, caller: &Client) -> usize {
    use crate::client::ClientType;
    let counted = |c: &Client| matches!(c.client_type(), ClientType::Normal | ClientType::PubSub);
    let others: usize = srv
        .clients
        .values()
        .filter_map(|c| c.try_borrow().ok())
        .filter(|c| c.id != caller.id && counted(c))
        .map(|c| c.memory())
        .sum();
    others + if counted(caller) { caller.memory() } else { 0 }
}

/// `967.45K`: Redis's human-readable byte counts.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [(1 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    if !(1024..1024 << 50).contains(&n) {
        return format!("{n}B");
    }
    let (size, unit) = UNITS.iter().find(|(size, _)| n >= *size).copied().unwrap_or((1, "B"));
    format!("{:.2}{unit}", n as f64 / size as f64)
}

fn usage(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut options = argv[3..].iter();
    while let Some(option) = options.next() {
        match options.next() {
            Some(count) if option.eq_ignore_ascii_case(b"samples") => {
                // Values are measured exactly, so the sample count only needs validating.
                let samples = parse_i64(count).ok_or(errors::NOT_INTEGER)?;
                if samples < 0 {
                    return Err(errors::SYNTAX.into());
                }
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    // Like Redis, a key whose TTL passed but that is not deleted yet still counts.
    let size = ctx.db().get(argv[2]).map(|entry| key_usage(argv[2], entry));
    match size {
        Some(n) => ctx.reply().int(n as i64),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn stats(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let mh = overhead(ctx.srv, ctx.client);
    let r = ctx.reply();
    r.map(27 + mh.dbs.len());
    let int_fields: [(&str, usize); 10] = [
        ("peak.allocated", mh.peak),
        ("total.allocated", mh.used),
        ("startup.allocated", mh.startup),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", mh.clients_normal),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    for (name, value) in int_fields {
        r.bulk_str(name);
        r.int(value as i64);
    }
    for &(index, keys, expires) in &mh.dbs {
        r.bulk_str(&format!("db.{index}"));
        r.map(3);
        r.bulk_str("overhead.hashtable.main");
        r.int(keys as i64);
        r.bulk_str("overhead.hashtable.expires");
        r.int(expires as i64);
        r.bulk_str("overhead.hashtable.slot-to-keys");
        r.int(0);
    }
    let fields: [(&str, Stat); 17] = [
        ("overhead.total", Stat::Int(mh.overhead_total as i64)),
        ("keys.count", Stat::Int(mh.total_keys as i64)),
        ("keys.bytes-per-key", Stat::Int(mh.bytes_per_key as i64)),
        ("dataset.bytes", Stat::Int(mh.dataset as i64)),
        ("dataset.percentage", Stat::Ratio(mh.dataset_perc)),
        ("peak.percentage", Stat::Ratio(mh.peak_perc)),
        ("allocator.allocated", Stat::Int(mh.sample.allocated as i64)),
        ("allocator.active", Stat::Int(mh.sample.active as i64)),
        ("allocator.resident", Stat::Int(mh.sample.resident as i64)),
        ("allocator-fragmentation.ratio", Stat::Ratio(mh.allocator_frag())),
        ("allocator-fragmentation.bytes", Stat::Int(mh.allocator_frag_bytes())),
        ("allocator-rss.ratio", Stat::Ratio(mh.allocator_rss())),
        ("allocator-rss.bytes", Stat::Int(mh.allocator_rss_bytes())),
        ("rss-overhead.ratio", Stat::Ratio(mh.rss_extra())),
        ("rss-overhead.bytes", Stat::Int(mh.rss_extra_bytes())),
        ("fragmentation", Stat::Ratio(mh.total_frag())),
        ("fragmentation.bytes", Stat::Int(mh.total_frag_bytes())),
    ];
    for (name, value) in fields {
        r.bulk_str(name);
        match value {
            Stat::Int(i) => r.int(i),
            // Redis computes these in single precision and prints the double.
            Stat::Ratio(f) => r.double(f as f64),
        }
    }
    Ok(())
}

enum Stat {
    Int(i64),
    Ratio(f32),
}

fn doctor(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let mh = overhead(ctx.srv, ctx.client);
    let clients = ctx.srv.clients.len().max(1);
    let report = doctor_report(&mh, clients);
    ctx.reply().verbatim(report.as_bytes());
    Ok(())
}

/// Below this much allocated memory there is nothing to diagnose.
const DOCTOR_MIN_USED: usize = 5 << 20;
/// Overheads smaller than this are not worth reporting.
const DOCTOR_MIN_WASTE: i64 = 10 << 20;

/// MEMORY DOCTOR's findings, in our own words, on the conditions Redis checks.
fn doctor_report(mh: &MemoryOverhead, clients: usize) -> String {
    if mh.used < DOCTOR_MIN_USED {
        return "This instance holds very little data, too little for a meaningful memory diagnosis. \
                Come back once it holds some data.\n"
            .to_string();
    }
    let mut findings = Vec::new();
    if mh.peak as f32 / mh.used as f32 > 1.5 {
        findings.push(
            "Peak memory: the instance once used more than 1.5 times the memory it uses now. The allocator keeps \
             much of that memory for reuse, so RSS stays high; it is reused as data grows. MEMORY PURGE may give \
             some of it back to the system.",
        );
    }
    if mh.total_frag() > 1.4 && mh.total_frag_bytes() > DOCTOR_MIN_WASTE {
        findings.push(
            "High total RSS: the process's resident memory is more than 1.4 times what the server has allocated, \
             because of a past peak or of fragmentation caused by the workload.",
        );
    }
    if mh.allocator_frag() > 1.1 && mh.allocator_frag_bytes() > DOCTOR_MIN_WASTE {
        findings.push(
            "High allocator fragmentation: the allocator's active pages exceed the allocated bytes by more than 10%.",
        );
    }
    if mh.allocator_rss() > 1.1 && mh.allocator_rss_bytes() > DOCTOR_MIN_WASTE {
        findings.push(
            "High allocator RSS overhead: the allocator keeps more than 10% more resident memory than it uses, \
             usually after a peak; MEMORY PURGE may reclaim it.",
        );
    }
    if mh.rss_extra() > 1.1 && mh.rss_extra_bytes() > DOCTOR_MIN_WASTE {
        findings.push(
            "High process RSS overhead: the process holds more than 10% more resident memory than the allocator.",
        );
    }
    if mh.clients_normal / clients > 200 * 1024 {
        findings.push(
            "Big client buffers: clients hold more than 200KB each on average in query or output buffers; \
             CLIENT LIST shows which ones.",
        );
    }
    if findings.is_empty() {
        return "No memory problem found in this instance.\n".to_string();
    }
    let mut report = String::from("Memory issues found in this instance:\n\n");
    for finding in findings {
        report.push_str(" * ");
        report.push_str(finding);
        report.push_str("\n\n");
    }
    report
}

fn malloc_stats(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let mut text = String::new();
    // SAFETY: the callback only appends the NUL-terminated strings jemalloc
    // passes to the String behind `opaque`, which outlives the call.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append_stats),
            &mut text as *mut String as *mut c_void,
            std::ptr::null(),
        );
    }
    ctx.reply().verbatim(text.as_bytes());
    Ok(())
}

extern "C" fn append_stats(opaque: *mut c_void, text: *const c_char) {
    // SAFETY: see `malloc_stats`.
    unsafe {
        let out = &mut *(opaque as *mut String);
        out.push_str(&CStr::from_ptr(text).to_string_lossy());
    }
}

fn purge(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    // SAFETY: both controls take no input and produce no output.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if status != 0 {
        return Err("ERR Error purging dirty pages".into());
    }
    ctx.reply().ok();
    Ok(())
}

fn help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx,
        argv[0],
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(990664), "967.45K");
        assert_eq!(bytes_to_human(12382208), "11.81M");
        assert_eq!(bytes_to_human(25276063744), "23.54G");
    }

    #[test]
    fn allocation_sizes_follow_jemalloc_classes() {
        assert_eq!(alloc_size(0), 0);
        assert_eq!(alloc_size(23), 32);
        assert_eq!(alloc_size(104), 112);
    }
}
