//! INFO: the server's state as `field:value` lines in Redis 7.0's sections,
//! fields and order. Values are real where the thing exists; for subsystems
//! Cinnabar does not have yet (replicas, AOF, scripting, modules) the fields
//! show what an idle Redis shows, so tools that parse INFO keep working.

use std::fmt::Write;

use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::commands::memory::{bytes_to_human, overhead};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "info",
    arity: -1,
    flags: LOADING | STALE,
    acl: acl::DANGEROUS,
    tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
    handler: Some(info),
    group: "server",
    summary: "Report information and statistics about the server",
    complexity: "O(1)",
    history: &[("7.0.0", "Several sections may be asked for.")],
    args: &[Arg::string("section").optional().multiple()],
    ..CommandSpec::DEFAULT
}];

/// Sections printed by `INFO` and `INFO default`.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Percentiles reported per command in latencystats.
const LATENCY_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

/// Which sections a request asked for.
struct Selection {
    all: bool,
    names: Vec<String>,
}

impl Selection {
    fn parse(args: &[&[u8]]) -> Selection {
        if args.is_empty() {
            return Selection { all: false, names: DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect() };
        }
        let mut selection = Selection { all: false, names: Vec::new() };
        for arg in args {
            let name = String::from_utf8_lossy(arg).to_lowercase();
            match name.as_str() {
                "default" => selection.names.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
                // There are no module sections, so `everything` is `all`.
                "all" | "everything" => selection.all = true,
                _ => selection.names.push(name),
            }
        }
        selection
    }

    fn wants(&self, section: &str) -> bool {
        self.all || self.names.iter().any(|n| n == section)
    }
}

/// A section's text: a `# Title` line and its fields.
type SectionWriter = fn(&mut String, &mut Ctx);

/// Every section in output order: its name(s) for selection, and its writer.
const SECTIONS: &[(&[&str], SectionWriter)] = &[
    (&["server"], server_section),
    (&["clients"], clients_section),
    (&["memory"], memory_section),
    (&["persistence"], persistence_section),
    (&["stats"], stats_section),
    (&["replication"], replication_section),
    (&["cpu"], cpu_section),
    (&["module_list", "modules"], modules_section),
    (&["commandstats"], commandstats_section),
    (&["errorstats"], errorstats_section),
    (&["latencystats"], latencystats_section),
    (&["cluster"], cluster_section),
    (&["keyspace"], keyspace_section),
];

fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let selection = Selection::parse(&argv[1..]);
    let mut text = String::new();
    for (names, write) in SECTIONS {
        if names.iter().any(|n| selection.wants(n)) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            write(&mut text, ctx);
        }
    }
    ctx.reply().verbatim(text.as_bytes());
    Ok(())
}

/// Appends `name:value\r\n` lines.
macro_rules! fields {
    ($out:expr, $($name:literal => $value:expr),* $(,)?) => {
        $( let _ = write!($out, concat!($name, ":{}\r\n"), $value); )*
    };
}

/// Replaces the characters that would break INFO's line format.
fn info_safe(name: &str) -> String {
    name.chars().map(|c| if matches!(c, '#' | ':' | '\n' | '\r') { '_' } else { c }).collect()
}

fn server_section(out: &mut String, ctx: &mut Ctx) {
    let srv = &*ctx.srv;
    let uptime = srv.uptime_secs();
    out.push_str("# Server\r\n");
    fields!(out,
        "redis_version" => crate::REDIS_VERSION,
        "redis_git_sha1" => "00000000",
        "redis_git_dirty" => 0,
        "redis_build_id" => build_id(),
        "redis_mode" => "standalone",
        "os" => os_name(),
        "arch_bits" => usize::BITS,
        "monotonic_clock" => "POSIX clock_gettime",
        "multiplexing_api" => "epoll",
        "atomicvar_api" => "c11-builtin",
        "gcc_version" => "0.0.0",
        "process_id" => std::process::id(),
        "process_supervised" => "no",
        "run_id" => srv.run_id,
        "tcp_port" => srv.listening_port,
        "server_time_usec" => unix_us(),
        "uptime_in_seconds" => uptime,
        "uptime_in_days" => uptime / 86400,
        "hz" => srv.config.hz,
        "configured_hz" => srv.config.hz,
        "lru_clock" => srv.lru_clock(),
        "executable" => executable(),
        "config_file" => absolute_path(&srv.config.config_file),
        "io_threads_active" => 0,
    );
}

/// A stable id for this build (Redis hashes its build environment).
fn build_id() -> String {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(format!("cinnabar-{}", crate::CINNABAR_VERSION));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()[..15].to_string()
}

/// `Linux 6.1.0 x86_64`, from uname(2).
fn os_name() -> String {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    let name = unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return String::new();
        }
        name
    };
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its array.
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }.to_string_lossy().into_owned()
    };
    format!("{} {} {}", field(&name.sysname), field(&name.release), field(&name.machine))
}

fn unix_us() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

fn executable() -> String {
    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default()
}

/// Redis reports the config file by absolute path.
fn absolute_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    std::path::absolute(path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.to_string())
}

fn clients_section(out: &mut String, ctx: &mut Ctx) {
    let (max_input, max_output) = largest_client_buffers(ctx);
    let srv = &*ctx.srv;
    out.push_str("# Clients\r\n");
    fields!(out,
        "connected_clients" => srv.clients.len(),
        "cluster_connections" => 0,
        "maxclients" => srv.config.maxclients,
        "client_recent_max_input_buffer" => max_input,
        "client_recent_max_output_buffer" => max_output,
        "blocked_clients" => blocked_clients(srv),
        "tracking_clients" => srv.tracking.client_count(),
        "clients_in_timeout_table" => srv.blocking.with_deadline(),
    );
}

/// Clients waiting on keys plus those held by CLIENT PAUSE (Redis counts both).
fn blocked_clients(srv: &crate::server::Server) -> usize {
    let postponed = srv.clients.values().filter(|c| c.try_borrow().is_ok_and(|c| c.postponed)).count();
    srv.blocking.count() + postponed
}

/// The largest query buffer and pending output among connected clients.
fn largest_client_buffers(ctx: &Ctx) -> (usize, usize) {
    let mut max = (ctx.client.query_buffer_len, ctx.client.pending_output());
    for client in ctx.srv.clients.values() {
        // The caller is borrowed already and counted above.
        if let Ok(c) = client.try_borrow() {
            max = (max.0.max(c.query_buffer_len), max.1.max(c.pending_output()));
        }
    }
    max
}

fn memory_section(out: &mut String, ctx: &mut Ctx) {
    let mh = overhead(ctx.srv, ctx.client);
    let config = &ctx.srv.config;
    let total_system = total_system_memory();
    let human = |n: usize| bytes_to_human(n as u64);
    let scripting = &ctx.srv.scripting;
    let (vm_eval, vm_functions) = (scripting.eval_memory(), scripting.functions.memory());
    let (scripts_eval, functions_mem) = (scripting.scripts_memory(), scripting.functions.cache_memory());
    out.push_str("# Memory\r\n");
    fields!(out,
        "used_memory" => mh.used,
        "used_memory_human" => human(mh.used),
        "used_memory_rss" => mh.sample.process_rss,
        "used_memory_rss_human" => human(mh.sample.process_rss),
        "used_memory_peak" => mh.peak,
        "used_memory_peak_human" => human(mh.peak),
        "used_memory_peak_perc" => format!("{:.2}%", mh.peak_perc),
        "used_memory_overhead" => mh.overhead_total,
        "used_memory_startup" => mh.startup,
        "used_memory_dataset" => mh.dataset,
        "used_memory_dataset_perc" => format!("{:.2}%", mh.dataset_perc),
        "allocator_allocated" => mh.sample.allocated,
        "allocator_active" => mh.sample.active,
        "allocator_resident" => mh.sample.resident,
        "total_system_memory" => total_system,
        "total_system_memory_human" => human(total_system),
        "used_memory_lua" => vm_eval,
        "used_memory_vm_eval" => vm_eval,
        "used_memory_lua_human" => human(vm_eval),
        "used_memory_scripts_eval" => scripts_eval,
        "number_of_cached_scripts" => scripting.script_count(),
        "number_of_functions" => scripting.functions.function_count(),
        "number_of_libraries" => scripting.functions.libraries.len(),
        "used_memory_vm_functions" => vm_functions,
        "used_memory_vm_total" => vm_eval + vm_functions,
        "used_memory_vm_total_human" => human(vm_eval + vm_functions),
        "used_memory_functions" => functions_mem,
        "used_memory_scripts" => scripts_eval + functions_mem,
        "used_memory_scripts_human" => human(scripts_eval + functions_mem),
        "maxmemory" => config.maxmemory,
        "maxmemory_human" => bytes_to_human(config.maxmemory.max(0) as u64),
        "maxmemory_policy" => config.maxmemory_policy,
        "allocator_frag_ratio" => format!("{:.2}", mh.allocator_frag()),
        "allocator_frag_bytes" => mh.allocator_frag_bytes(),
        "allocator_rss_ratio" => format!("{:.2}", mh.allocator_rss()),
        "allocator_rss_bytes" => mh.allocator_rss_bytes(),
        "rss_overhead_ratio" => format!("{:.2}", mh.rss_extra()),
        "rss_overhead_bytes" => mh.rss_extra_bytes(),
        "mem_fragmentation_ratio" => format!("{:.2}", mh.total_frag()),
        "mem_fragmentation_bytes" => mh.total_frag_bytes(),
        "mem_not_counted_for_evict" => crate::evict::not_counted_for_evict(ctx.srv),
        "mem_replication_backlog" => ctx.srv.propagation.backlog.as_ref().map_or(0, |b| b.memory()),
        "mem_total_replication_buffers" => ctx.srv.propagation.backlog.as_ref().map_or(0, |b| b.memory()),
        "mem_clients_slaves" => 0,
        "mem_clients_normal" => mh.clients_normal,
        "mem_cluster_links" => 0,
        "mem_aof_buffer" => 0,
        "mem_allocator" => allocator_name(),
        "active_defrag_running" => 0,
        "lazyfree_pending_objects" => ctx.srv.stats.lazyfree_pending_objects(),
        "lazyfreed_objects" => ctx.srv.stats.lazyfreed_objects(),
    );
}

fn total_system_memory() -> usize {
    // SAFETY: sysconf has no preconditions.
    let (pages, page_size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages.max(0) as usize) * (page_size.max(0) as usize)
}

/// `jemalloc-5.3.0`.
fn allocator_name() -> String {
    let version = tikv_jemalloc_ctl::version::read().unwrap_or("unknown");
    format!("jemalloc-{}", version.split('-').next().unwrap_or(version))
}

fn persistence_section(out: &mut String, ctx: &mut Ctx) {
    let srv = &*ctx.srv;
    let rdb = &srv.rdb;
    let now = crate::server::unix_ms() / 1000;
    let child = crate::persistence::current_child(srv);
    let info = child.map(|c| c.info).unwrap_or_default();
    let keys_total = child.map_or(0, |c| c.keys_total);
    let fork_perc = if keys_total > 0 { info.keys_processed as f64 * 100.0 / keys_total as f64 } else { 0.0 };
    out.push_str("# Persistence\r\n");
    fields!(out,
        "loading" => i32::from(rdb.loading.is_some() || srv.loading),
        "async_loading" => 0,
        "current_cow_peak" => child.map_or(0, |c| c.cow_peak),
        "current_cow_size" => info.cow_bytes,
        "current_cow_size_age" => info.cow_updated.map_or(0, |t| t.elapsed().as_secs()),
        "current_fork_perc" => format!("{fork_perc:.2}"),
        "current_save_keys_processed" => info.keys_processed,
        "current_save_keys_total" => keys_total,
        "rdb_changes_since_last_save" => srv.dirty,
        "rdb_bgsave_in_progress" => i32::from(crate::persistence::rdb_child_running(srv)),
        "rdb_last_save_time" => srv.last_save,
        "rdb_last_bgsave_status" => if rdb.last_bgsave_ok { "ok" } else { "err" },
        "rdb_last_bgsave_time_sec" => rdb.last_bgsave_time_sec,
        "rdb_current_bgsave_time_sec" => rdb.child.as_ref().map_or(-1, |c| now - c.started_unix),
        "rdb_saves" => rdb.saves,
        "rdb_last_cow_size" => rdb.last_cow_size,
        "rdb_last_load_keys_expired" => rdb.last_load_keys_expired,
        "rdb_last_load_keys_loaded" => rdb.last_load_keys_loaded,
    );
    let (aof_fields, aof_enabled_fields) = crate::persistence::aof::info_fields(srv);
    for (name, value) in aof_fields {
        out.push_str(&format!("{name}:{value}\r\n"));
    }
    fields!(out,
        "aof_last_cow_size" => srv.aof.rewrite.last_cow_size,
        "module_fork_in_progress" => 0,
        "module_fork_last_cow_size" => 0,
    );
    for (name, value) in aof_enabled_fields {
        out.push_str(&format!("{name}:{value}\r\n"));
    }
    if let Some(loading) = &rdb.loading {
        let loaded = loading.loaded_bytes.load(std::sync::atomic::Ordering::Relaxed);
        let total = loading.total_bytes;
        let perc = if total > 0 { loaded as f64 * 100.0 / total as f64 } else { 0.0 };
        let elapsed = now - loading.start_unix;
        let eta = if elapsed == 0 { 1 } else { elapsed * total.saturating_sub(loaded) as i64 / (loaded as i64 + 1) };
        fields!(out,
            "loading_start_time" => loading.start_unix,
            "loading_total_bytes" => total,
            "loading_rdb_used_mem" => 0,
            "loading_loaded_bytes" => loaded,
            "loading_loaded_perc" => format!("{perc:.2}"),
            "loading_eta_seconds" => eta,
        );
    }
}

fn stats_section(out: &mut String, ctx: &mut Ctx) {
    let s = &ctx.srv.stats;
    let (eviction_current_ms, eviction_total_ms) = s.eviction_exceeded_ms();
    let kbps = |bytes_per_sec: u64| format!("{:.2}", bytes_per_sec as f32 / 1024.0);
    out.push_str("# Stats\r\n");
    fields!(out,
        "total_connections_received" => s.total_connections_received,
        "total_commands_processed" => s.total_commands_processed,
        "instantaneous_ops_per_sec" => s.ops_per_sec.per_sec(),
        "total_net_input_bytes" => s.net_input_bytes,
        "total_net_output_bytes" => s.net_output_bytes,
        "total_net_repl_input_bytes" => s.net_repl_input_bytes,
        "total_net_repl_output_bytes" => ctx.srv.repl.master_side.net_output_bytes,
        "instantaneous_input_kbps" => kbps(s.net_input_per_sec.per_sec()),
        "instantaneous_output_kbps" => kbps(s.net_output_per_sec.per_sec()),
        "instantaneous_input_repl_kbps" => "0.00",
        "instantaneous_output_repl_kbps" => "0.00",
        "rejected_connections" => s.rejected_connections,
        "sync_full" => ctx.srv.repl.master_side.sync_full,
        "sync_partial_ok" => ctx.srv.repl.master_side.sync_partial_ok,
        "sync_partial_err" => ctx.srv.repl.master_side.sync_partial_err,
        "expired_keys" => s.expired_keys,
        "expired_stale_perc" => format!("{:.2}", s.expired_stale_perc * 100.0),
        "expired_time_cap_reached_count" => s.expired_time_cap_reached_count,
        "expire_cycle_cpu_milliseconds" => s.expire_cycle_cpu_milliseconds,
        "evicted_keys" => s.evicted_keys,
        "evicted_clients" => ctx.srv.stats.evicted_clients,
        "total_eviction_exceeded_time" => eviction_total_ms,
        "current_eviction_exceeded_time" => eviction_current_ms,
        "keyspace_hits" => s.keyspace_hits,
        "keyspace_misses" => s.keyspace_misses,
        "pubsub_channels" => ctx.srv.pubsub.active(crate::pubsub::Kind::Channel),
        "pubsub_patterns" => ctx.srv.pubsub.active(crate::pubsub::Kind::Pattern),
        "pubsubshard_channels" => ctx.srv.pubsub.active(crate::pubsub::Kind::Shard),
        "latest_fork_usec" => ctx.srv.rdb.latest_fork_usec,
        "total_forks" => ctx.srv.rdb.total_forks,
        "migrate_cached_sockets" => 0,
        "slave_expires_tracked_keys" => 0,
        "active_defrag_hits" => 0,
        "active_defrag_misses" => 0,
        "active_defrag_key_hits" => 0,
        "active_defrag_key_misses" => 0,
        "total_active_defrag_time" => 0,
        "current_active_defrag_time" => 0,
        "tracking_total_keys" => ctx.srv.tracking.key_count(),
        "tracking_total_items" => ctx.srv.tracking.item_count(),
        "tracking_total_prefixes" => ctx.srv.tracking.prefix_count(),
        "unexpected_error_replies" => s.unexpected_error_replies,
        "total_error_replies" => s.total_error_replies,
        "dump_payload_sanitizations" => 0,
        "total_reads_processed" => s.total_reads_processed,
        "total_writes_processed" => s.total_writes_processed,
        "io_threaded_reads_processed" => 0,
        "io_threaded_writes_processed" => 0,
        "reply_buffer_shrinks" => 0,
        "reply_buffer_expands" => 0,
    );
}

fn replication_section(out: &mut String, ctx: &mut Ctx) {
    let srv = &*ctx.srv;
    out.push_str("# Replication\r\n");
    match &srv.repl.link {
        None => out.push_str("role:master\r\n"),
        Some(link) => {
            out.push_str("role:slave\r\n");
            crate::replication::replica::info_lines(srv, link, out);
        }
    }
    crate::replication::master::info_lines(srv, out);
    fields!(out,
        "master_failover_state" => srv.repl.failover.state.info_name(),
        "master_replid" => srv.repl.replid,
        "master_replid2" => srv.repl.replid2,
        "master_repl_offset" => srv.propagation.repl_offset(),
        "second_repl_offset" => srv.repl.second_replid_offset,
    );
    let backlog = srv.propagation.backlog.as_ref();
    fields!(out,
        "repl_backlog_active" => u8::from(backlog.is_some()),
        "repl_backlog_size" => srv.config.repl_backlog_size,
        "repl_backlog_first_byte_offset" => backlog.map_or(0, |b| b.first_byte()),
        "repl_backlog_histlen" => backlog.map_or(0, |b| b.histlen()),
    );
}

fn cpu_section(out: &mut String, _ctx: &mut Ctx) {
    let own = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    let main_thread = rusage(libc::RUSAGE_THREAD);
    out.push_str("# CPU\r\n");
    fields!(out,
        "used_cpu_sys" => seconds(own.ru_stime),
        "used_cpu_user" => seconds(own.ru_utime),
        "used_cpu_sys_children" => seconds(children.ru_stime),
        "used_cpu_user_children" => seconds(children.ru_utime),
        "used_cpu_sys_main_thread" => seconds(main_thread.ru_stime),
        "used_cpu_user_main_thread" => seconds(main_thread.ru_utime),
    );
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: rusage is plain data and getrusage only writes into it.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    }
}

fn seconds(t: libc::timeval) -> String {
    format!("{}.{:06}", t.tv_sec, t.tv_usec)
}

fn modules_section(out: &mut String, _ctx: &mut Ctx) {
    out.push_str("# Modules\r\n");
}

fn commandstats_section(out: &mut String, ctx: &mut Ctx) {
    out.push_str("# Commandstats\r\n");
    for (_, c) in ctx.srv.commands.all() {
        let s = &c.stats;
        if s.calls == 0 && s.failed_calls == 0 && s.rejected_calls == 0 {
            continue;
        }
        let per_call = if s.calls == 0 { 0.0 } else { s.usec as f32 / s.calls as f32 };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            info_safe(&c.fullname),
            s.calls,
            s.usec,
            per_call,
            s.rejected_calls,
            s.failed_calls
        );
    }
}

fn errorstats_section(out: &mut String, ctx: &mut Ctx) {
    out.push_str("# Errorstats\r\n");
    for (code, count) in &ctx.srv.stats.errors_by_code {
        let _ = write!(out, "errorstat_{}:count={}\r\n", info_safe(code), count);
    }
}

fn latencystats_section(out: &mut String, ctx: &mut Ctx) {
    out.push_str("# Latencystats\r\n");
    if !ctx.srv.config.latency_tracking {
        return;
    }
    for (_, c) in ctx.srv.commands.all() {
        let Some(h) = &c.stats.latency_histogram else { continue };
        let percentiles: Vec<String> = LATENCY_PERCENTILES
            .iter()
            .map(|&p| format!("p{}={:.3}", p, h.value_at_percentile(p) as f64 / 1000.0))
            .collect();
        let _ = write!(out, "latency_percentiles_usec_{}:{}\r\n", info_safe(&c.fullname), percentiles.join(","));
    }
}

fn cluster_section(out: &mut String, _ctx: &mut Ctx) {
    out.push_str("# Cluster\r\ncluster_enabled:0\r\n");
}

fn keyspace_section(out: &mut String, ctx: &mut Ctx) {
    out.push_str("# Keyspace\r\n");
    for (index, db) in ctx.srv.dbs.iter().enumerate() {
        if !db.is_empty() || db.expires_len() > 0 {
            let _ = write!(out, "db{index}:keys={},expires={},avg_ttl={}\r\n", db.len(), db.expires_len(), db.avg_ttl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_redis() {
        let default = Selection::parse(&[]);
        assert!(default.wants("server") && default.wants("module_list") && !default.wants("commandstats"));
        let some = Selection::parse(&[b"CPU", b"keyspace"]);
        assert!(some.wants("cpu") && some.wants("keyspace") && !some.wants("server"));
        assert!(Selection::parse(&[b"everything"]).wants("latencystats"));
        assert!(Selection::parse(&[b"all"]).wants("commandstats"));
        let unknown = Selection::parse(&[b"nosuchsection"]);
        assert!(SECTIONS.iter().all(|(names, _)| names.iter().all(|n| !unknown.wants(n))));
    }

    /// Runs one INFO request as a RESP3 client of a fresh server.
    fn info_resp3(argv: &[&[u8]]) -> Vec<u8> {
        let Ok(crate::config::Invocation::Run(config)) = crate::config::from_args(&[]) else {
            panic!("default configuration")
        };
        let mut srv = crate::server::Server::new(*config);
        let mut client = crate::client::Client::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), -1, 0);
        client.reply = cinnabar_protocol::Reply::new(cinnabar_protocol::RespVersion::Resp3);
        client.authenticated = true;
        crate::command::dispatch::execute(&mut srv, &mut client, argv);
        client.reply.take()
    }

    #[test]
    fn resp3_clients_get_verbatim_text_like_redis() {
        assert_eq!(info_resp3(&[b"INFO", b"cluster"]), b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
        assert_eq!(info_resp3(&[b"INFO", b"nosuch"]), b"=4\r\ntxt:\r\n");
    }

    #[test]
    fn unsafe_characters_are_replaced() {
        assert_eq!(info_safe("a:b#c\r\nd"), "a_b_c__d");
    }
}
