//! Running one request: resolve the command, apply the generic checks every
//! command gets from its table entry (existence, arity, authentication, ACL
//! permissions, what MULTI refuses, disk errors, loading), queue it inside
//! MULTI or call the handler, then account for it (commandstats, errorstats,
//! dirty counter, propagation, modified keys for WATCH, latency histogram,
//! latency monitor,
//! slow log, MONITOR) and honour CLIENT REPLY and CLIENT PAUSE.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use super::context::{errors, BlockMode, BlockRequest};
use super::{flags, key_flags, keys, CommandId, Ctx, ModifiedKeys};
use crate::blocking::{self, BlockedOn};
use crate::client::{Client, ReplyMode};
use crate::commands::{monitor, transactions};
use crate::log::log_at;
use crate::server::Server;
use crate::slowlog::FinishedCommand;

/// Whether a request ran or must wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// CLIENT PAUSE holds this command: nothing happened; offer the same
    /// request again once the pause ends.
    Postponed,
    /// The command blocked its client on keys (BLPOP...): the request is
    /// consumed, and further input waits until the client is released.
    Blocked,
}

/// Executes one parsed request for `client`.
pub fn execute(srv: &mut Server, client: &mut Client, argv: &[&[u8]]) -> Outcome {
    srv.refresh_time();
    srv.tracking.current = Some(client.id);
    // Keys dropped to respect tracking-table-max-keys are invalidated before
    // the command runs, its client's included.
    crate::tracking::limit_table(srv);
    crate::tracking::flush_pending(srv, client);
    let outcome = execute_tracked(srv, client, argv);
    srv.tracking.current = None;
    outcome
}

/// `execute` while the tracking registry knows `client` runs the command.
fn execute_tracked(srv: &mut Server, client: &mut Client, argv: &[&[u8]]) -> Outcome {
    if is_cross_protocol_attack(argv[0]) {
        warn_cross_protocol_attack(srv.now_ms);
        client.close_asap = true;
        return Outcome::Done;
    }
    // After the last command's output and before this one runs (Redis's
    // processCommand): a caller evicted here does not get its command run.
    if crate::client_eviction::evict_clients(srv, Some(client)) {
        return Outcome::Done;
    }
    let checked = check(srv, client, argv);
    if let Ok((_, request_flags)) = checked {
        // Monitors are never paused (Redis marks them as replicas).
        if !client.monitor && srv.client_pause.holds(transactions::pause_flags(client, request_flags), srv.now_ms) {
            client.postponed = true;
            return Outcome::Postponed;
        }
    }
    client.postponed = false;
    client.last_interaction_ms = srv.now_ms;
    client.last_command_id = match &checked {
        Ok((id, _)) | Err((Some(id), _)) => Some(*id),
        Err((None, _)) => None,
    };
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skipping;
    }
    let reply_mark = client.reply.len();
    let mut outcome = Outcome::Done;
    let checked_id = checked.as_ref().ok().map(|&(id, _)| id);

    match checked {
        Ok((id, request_flags)) if transactions::queues(srv, client, id) => {
            transactions::queue(srv, client, id, argv, request_flags)
        }
        Ok((id, _)) => {
            if call(srv, client, id, argv, BlockMode::Allowed, 0) == Called::Blocked {
                outcome = Outcome::Blocked;
            }
        }
        Err((id, msg)) => {
            if let Some(id) = id {
                srv.commands.get_mut(id).stats.rejected_calls += 1;
            }
            if !transactions::answer_refusal(srv, client, id, &msg, argv) {
                srv.stats.record_error(&msg);
                client.reply.error(&msg);
            }
        }
    }

    // Invalidations owed to the client follow its reply, and survive its
    // CLIENT REPLY OFF/SKIP.
    crate::tracking::flush_pending(srv, client);
    let keeps_caching =
        client.multi.is_some() || checked_id.is_some_and(|id| crate::commands::client::keeps_tracking_caching(srv, id));
    srv.tracking.end_command(client.id, keeps_caching);
    // A blocked command replies when served or released, and its CLIENT
    // REPLY OFF/SKIP applies then (Redis resets a blocked client on unblock).
    if outcome != Outcome::Blocked {
        settle_reply_mode(client, reply_mark);
    }
    if srv.blocking.has_ready() {
        blocking::serve_ready_keys(srv);
    }
    outcome
}

/// Re-runs a blocked client's command because `key` is ready. True if it
/// completed (the client is then unblocked), false if it stays blocked.
/// `blocked_run_us` is how long the run that blocked took: Redis counts the
/// command's duration (commandstats, slow log) as both runs together.
pub fn serve_blocked(srv: &mut Server, client: &mut Client, argv: &[&[u8]], key: &[u8], blocked_run_us: u64) -> bool {
    let Some(id) = client.last_command_id else { return false };
    srv.refresh_time();
    let reply_mark = client.reply.len();
    srv.tracking.current = Some(client.id);
    let done = call(srv, client, id, argv, BlockMode::Serving(key.to_vec()), blocked_run_us) == Called::Done;
    crate::tracking::flush_pending(srv, client);
    srv.tracking.current = None;
    if done {
        settle_reply_mode(client, reply_mark);
    }
    done
}

/// Runs a command EXEC took from the transaction's queue: like any call, but
/// a blocking command answers at once as on timeout.
pub fn call_queued(srv: &mut Server, client: &mut Client, id: CommandId, argv: &[&[u8]]) {
    let called = call(srv, client, id, argv, BlockMode::Forbidden, 0);
    debug_assert_eq!(called, Called::Done, "blocking is forbidden inside EXEC");
}

/// Runs a command for a script (`redis.call`): blocking is forbidden, and
/// the checks scripts need were made by `scripting::call`.
pub fn call_from_script(srv: &mut Server, client: &mut Client, id: CommandId, argv: &[&[u8]]) {
    call(srv, client, id, argv, BlockMode::Forbidden, 0);
}

/// Ends a command's reply: drops what it wrote since `reply_mark` if CLIENT
/// REPLY OFF or SKIP silences it, and ends a SKIP.
pub fn settle_reply_mode(client: &mut Client, reply_mark: usize) {
    if client.replies_suppressed() {
        client.reply.truncate(reply_mark);
        let pushes = std::mem::take(&mut client.silenced_pushes);
        client.reply.raw(&pushes);
    }
    if client.reply_mode == ReplyMode::Skipping {
        client.reply_mode = ReplyMode::On;
    }
}

/// `POST` and `Host:` are HTTP, sent by a browser tricked into talking to the
/// server (cross-protocol scripting); Redis drops such connections silently.
fn is_cross_protocol_attack(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// Logs the attack at most once a minute, so the log cannot be flooded.
fn warn_cross_protocol_attack(now_ms: i64) {
    static LAST_LOGGED_S: AtomicI64 = AtomicI64::new(0);
    let now_s = now_ms / 1000;
    if (now_s - LAST_LOGGED_S.load(Ordering::Relaxed)).abs() > 60 {
        LAST_LOGGED_S.store(now_s, Ordering::Relaxed);
        log_at!(
            Warning,
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. \
             This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis \
             instance. Connection aborted."
        );
    }
}

/// The checks Redis's `processCommand` makes before calling a command, in
/// its order; the maxmemory check may evict keys first. Returns the command
/// and the flags its request is judged by (`super::request_flags`).
fn check(
    srv: &mut Server,
    client: &mut Client,
    argv: &[&[u8]],
) -> Result<(CommandId, u32), (Option<CommandId>, String)> {
    let Some(id) = srv.commands.resolve(argv) else {
        return Err((None, unknown_command_error(srv, argv)));
    };
    let command = srv.commands.get(id);
    let arity = command.spec.arity;
    let argc = argv.len() as i32;
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err((Some(id), format!("ERR wrong number of arguments for '{}' command", command.fullname)));
    }
    // Our master's stream and the AOF are applied whatever the local state
    // (Redis's "obey client", whose user is the superuser).
    if client.is_master || client.replays_aof {
        return Ok((id, super::request_flags(srv, id, argv)));
    }
    if command.spec.flags & flags::PROTECTED != 0 && !protected_command_allowed(srv, client, &command.fullname) {
        return Err((Some(id), protected_command_error(&command.fullname)));
    }
    if !client.authenticated && srv.auth_required_by_default() && command.spec.flags & flags::NO_AUTH == 0 {
        return Err((Some(id), errors::NOAUTH.to_string()));
    }
    let acl_context = if client.multi.is_some() { crate::acl::Context::Multi } else { crate::acl::Context::Toplevel };
    crate::acl::check_command(srv, client, id, argv, acl_context).map_err(|e| (Some(id), e))?;
    if client.multi.is_some() && command.spec.flags & flags::NO_MULTI != 0 {
        return Err((Some(id), "ERR Command not allowed inside a transaction".to_string()));
    }
    let request_flags = super::request_flags(srv, id, argv);
    if let Some(refusal) = crate::evict::refusal(srv, client, id, request_flags) {
        return Err((Some(id), refusal.to_string()));
    }
    let command = srv.commands.get(id);
    if transactions::pause_flags(client, request_flags) & flags::WRITE != 0 {
        if let Some(refusal) = disk_write_refusal(srv) {
            return Err((Some(id), refusal));
        }
        if let Some(refusal) = crate::replication::master::write_refusal(srv) {
            return Err((Some(id), refusal.to_string()));
        }
        if srv.repl.is_replica() && srv.config.replica_read_only {
            return Err((Some(id), "READONLY You can't write against a read only replica.".to_string()));
        }
    }
    if let Some(refusal) = crate::commands::pubsub::subscribed_mode_refusal(client, command) {
        return Err((Some(id), refusal));
    }
    if request_flags & flags::STALE == 0 && stale_data_refused(srv) {
        return Err((
            Some(id),
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.".to_string(),
        ));
    }
    if srv.rdb.loading.is_some() && command.spec.flags & flags::LOADING == 0 {
        return Err((Some(id), errors::LOADING.to_string()));
    }
    Ok((id, request_flags))
}

/// Why writes are refused now that persisting failed, if they are. As
/// Redis: a failed snapshot is reported before a failed AOF write.
pub fn disk_write_refusal(srv: &Server) -> Option<String> {
    if crate::persistence::rdb::writes_denied(srv) {
        return Some(errors::MISCONF.to_string());
    }
    crate::persistence::aof::write_refusal(srv)
}

/// A replica whose link is down refuses data commands when
/// `replica-serve-stale-data` is no.
fn stale_data_refused(srv: &Server) -> bool {
    !srv.config.replica_serve_stale_data && srv.repl.link.as_ref().is_some_and(|l| !l.is_connected())
}

/// A PROTECTED command (DEBUG, MODULE) runs only if its `enable-<name>-command`
/// setting is `yes`, or `local` and the client connects from this host.
fn protected_command_allowed(srv: &Server, client: &Client, name: &str) -> bool {
    let setting = crate::config::lookup(&format!("enable-{name}-command")).map(|d| d.get(&srv.config));
    match setting.as_deref() {
        Some("yes") => true,
        Some("local") => {
            let ip = client.addr.rsplit_once(':').map_or(client.addr.as_str(), |(ip, _)| ip);
            ip == "127.0.0.1" || ip == "::1"
        }
        _ => false,
    }
}

fn protected_command_error(name: &str) -> String {
    format!(
        "ERR {} command not allowed. If the enable-{name}-command option is set to \"local\", you can run it from a \
         local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        name.to_uppercase()
    )
}

/// `unknown command 'x', with args beginning with: 'a' 'b' ` or, for a known
/// container, `unknown subcommand 'x'. Try CONFIG HELP.` — with Redis's
/// 128-byte truncations.
fn unknown_command_error(srv: &Server, argv: &[&[u8]]) -> String {
    let text = |b: &[u8], max: usize| String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned();
    if srv.commands.find(argv[0]).is_some() {
        return format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            text(argv[1], 128),
            String::from_utf8_lossy(argv[0]).to_uppercase()
        );
    }
    let mut args = String::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&text(arg, room));
        args.push_str("' ");
    }
    format!("ERR unknown command '{}', with args beginning with: {}", text(argv[0], 128), args)
}

/// Whether a call ran to completion or left its client blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Called {
    Done,
    Blocked,
}

/// Runs the handler and accounts for it; `earlier_us` is the duration of an
/// earlier run of the same command that blocked (0 for a fresh call).
fn call(
    srv: &mut Server,
    client: &mut Client,
    id: CommandId,
    argv: &[&[u8]],
    mode: BlockMode,
    earlier_us: u64,
) -> Called {
    let spec = srv.commands.get(id).spec;
    let handler = spec.handler.expect("only containers lack handlers, and they resolve to subcommands");
    let started = Instant::now();
    let serving = matches!(mode, BlockMode::Serving(_));
    // Everything a command emits (a lazily expired key's DEL, then its own
    // effects) reaches replicas as one atomic unit, as Redis 7.0 propagates
    // it; a command that may expire any number of keys emits them one by one.
    let grouped = spec.flags & flags::TOUCHES_ARBITRARY_KEYS == 0;
    if grouped {
        srv.propagation.open_group();
    }
    let mut ctx = Ctx::new(srv, client, id);
    ctx.block_mode = mode;
    let result = handler(&mut ctx, argv);
    if let Some(request) = ctx.block_request.take() {
        if grouped {
            srv.propagation.close_group();
        }
        if !serving {
            // Processed now (total_commands_processed), counted in
            // commandstats when it completes, as Redis does.
            srv.stats.total_commands_processed += 1;
            // The latency monitor sees the run that blocked; the slow log
            // waits for the command to complete.
            let run_us = started.elapsed().as_micros() as u64;
            sample_command_latency(srv, id, run_us);
            park(srv, client, argv, request, run_us);
            if srv.commands.get(id).spec.flags & (flags::SKIP_MONITOR | flags::ADMIN) == 0 {
                feed_monitors(srv, client, argv, &[]);
            }
        }
        return Called::Blocked;
    }
    if let Err(e) = result {
        ctx.error(&e.0);
    }
    ctx.finish_propagation(argv);
    let dirty = ctx.dirty();
    let failed = ctx.failed;
    let redacted = std::mem::take(&mut ctx.redacted);
    if grouped {
        srv.propagation.close_group();
    }
    if dirty > 0 {
        signal_written_keys(srv, id, client.db, argv);
    }
    client.woff = srv.propagation.repl_offset();
    remember_tracked_reads(srv, id, client.id, argv);
    let elapsed = started.elapsed();

    // A served blocked command was shown to monitors when it first ran.
    if !serving && srv.commands.get(id).spec.flags & (flags::SKIP_MONITOR | flags::ADMIN) == 0 {
        feed_monitors(srv, client, argv, &redacted);
    }
    if !serving {
        srv.stats.total_commands_processed += 1;
    }
    let run_us = elapsed.as_micros() as u64;
    if serving {
        let now_secs = srv.now_ms / 1000;
        let threshold = srv.config.latency_monitor_threshold;
        srv.latency.add_if_needed(threshold, "command-unblocking", run_us / 1000, now_secs);
    } else {
        sample_command_latency(srv, id, run_us);
    }
    let duration_us = earlier_us + run_us;
    push_slowlog(srv, client, id, argv, duration_us);
    let track_latency = srv.config.latency_tracking;
    let stats = &mut srv.commands.get_mut(id).stats;
    stats.calls += 1;
    stats.usec += duration_us;
    if failed {
        stats.failed_calls += 1;
    }
    if track_latency {
        // Whole microseconds, as Redis measures, so percentiles match its output.
        stats.latency_histogram.get_or_insert_with(Default::default).record_ns(duration_us * 1000);
    }
    Called::Done
}

/// Reports to WATCH and tracking the keys a run that changed the dataset wrote, as its
/// key specs tell, unless its handler reports them itself.
fn signal_written_keys(srv: &mut Server, id: CommandId, db: usize, argv: &[&[u8]]) {
    let spec = srv.commands.get(id).spec;
    if (srv.watches.is_empty() && srv.tracking.is_empty()) || spec.modified_keys != ModifiedKeys::WrittenKeySpecs {
        return;
    }
    let mut found = Vec::new();
    keys::command_keys(spec, argv, &mut found);
    if found.is_empty() {
        // Specs that do not fit this request (PFMERGE with no source key)
        // still locate the keys of those that do.
        let partial = keys::SearchOptions { partial: true, ..Default::default() };
        let _ = keys::keys_from_specs(spec, argv, partial, &mut found);
    }
    for key in found {
        if key.flags & (key_flags::RW | key_flags::OW | key_flags::RM) != 0 {
            srv.signal_modified_key(db, argv[key.pos]);
        }
    }
}

/// Remembers, for a client with tracking on, the keys a read-only command
/// read (Redis records them after the command ran, even if it failed).
/// Pub/Sub commands name shard channels, not keys.
fn remember_tracked_reads(srv: &mut Server, id: CommandId, client: crate::client::ClientId, argv: &[&[u8]]) {
    let spec = srv.commands.get(id).spec;
    if srv.tracking.mode(client).is_none() || spec.flags & flags::READONLY == 0 || spec.flags & flags::PUBSUB != 0 {
        return;
    }
    let mut found = Vec::new();
    keys::command_keys(spec, argv, &mut found);
    srv.tracking.remember_reads(client, found.iter().map(|k| argv[k.pos]));
}

/// Registers `client` as blocked on the keys its command asked for.
fn park(srv: &mut Server, client: &mut Client, argv: &[&[u8]], request: BlockRequest, run_us: u64) {
    let on = BlockedOn {
        db: client.db,
        keys: request.keys,
        deadline_ms: request.deadline_ms,
        argv: request.argv.unwrap_or_else(|| argv.iter().map(|a| a.to_vec()).collect()),
        blocked_run_us: run_us,
    };
    srv.blocking.block(client.id, on);
    client.blocked = true;
}

/// Feeds one run of a command to the latency monitor.
fn sample_command_latency(srv: &mut Server, id: CommandId, run_us: u64) {
    let event = if srv.commands.get(id).spec.flags & flags::FAST != 0 { "fast-command" } else { "command" };
    let now_secs = srv.now_ms / 1000;
    srv.latency.add_if_needed(srv.config.latency_monitor_threshold, event, run_us / 1000, now_secs);
}

/// Feeds a completed command to the slow log.
fn push_slowlog(srv: &mut Server, client: &Client, id: CommandId, argv: &[&[u8]], duration_us: u64) {
    let now_secs = srv.now_ms / 1000;
    if srv.commands.get(id).spec.flags & flags::SKIP_SLOWLOG == 0 {
        let finished =
            FinishedCommand { argv, duration_us, time: now_secs, peer: &client.addr, name: client.name.as_deref() };
        srv.slowlog.push_if_needed(srv.config.slowlog_log_slower_than, srv.config.slowlog_max_len, finished);
    }
}

/// Shows the command to MONITOR clients, secrets replaced by `(redacted)`.
fn feed_monitors(srv: &Server, client: &mut Client, argv: &[&[u8]], redacted: &[usize]) {
    if redacted.is_empty() {
        return monitor::feed(srv, client, argv);
    }
    let shown: Vec<&[u8]> =
        argv.iter().enumerate().map(|(i, a)| if redacted.contains(&i) { &b"(redacted)"[..] } else { *a }).collect();
    monitor::feed(srv, client, &shown);
}
