//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, and what dispatch
//! asks of them: queuing a command inside MULTI, dooming the transaction when
//! a command is refused while queuing, and the CLIENT PAUSE view of EXEC.
//!
//! The queue lives in the client (`Client::multi`), the watched keys in the
//! server (`watch.rs`, told of every change by `Server::signal_modified_key`).
//! EXEC runs the queued commands through dispatch's normal call path, with
//! blocking forbidden (blocking commands answer as on timeout); their effects
//! fall in EXEC's own propagation group, so replicas get one MULTI/EXEC.

use crate::client::{Client, Transaction};
use crate::command::{acl, dispatch, flags::*, Arg, CmdResult, CommandId, CommandSpec, Ctx, KeySpec};
use crate::commands::monitor;
use crate::server::Server;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "multi",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | RUNS_IN_MULTI,
        acl: acl::TRANSACTION,
        handler: Some(multi),
        group: "transactions",
        since: "1.2.0",
        summary: "Start queuing commands for a transaction",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exec",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | RUNS_IN_MULTI | RUNS_TRANSACTION,
        acl: acl::TRANSACTION,
        handler: Some(exec),
        group: "transactions",
        since: "1.2.0",
        summary: "Run the queued commands of a transaction",
        complexity: "Depends on commands in the transaction",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "discard",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | RUNS_IN_MULTI,
        acl: acl::TRANSACTION,
        handler: Some(discard),
        group: "transactions",
        since: "2.0.0",
        summary: "Drop the queued commands of a transaction",
        complexity: "O(N), when N is the number of queued commands",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | RUNS_IN_MULTI,
        acl: acl::TRANSACTION,
        key_specs: &[KeySpec::range(1, -1, 1, crate::command::key_flags::RO)],
        handler: Some(watch),
        group: "transactions",
        since: "2.2.0",
        summary: "Make the next EXEC fail if any of these keys changes first",
        complexity: "O(1) for every key.",
        args: &[Arg::key("key", 0).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unwatch",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: acl::TRANSACTION,
        handler: Some(unwatch),
        group: "transactions",
        since: "2.2.0",
        summary: "Stop watching every key",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

const EXECABORT_QUEUING: &str = "EXECABORT Transaction discarded because of previous errors.";

fn multi(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.client.multi = Some(Transaction::default());
    ctx.reply().ok();
    Ok(())
}

fn discard(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err("ERR DISCARD without MULTI".into());
    }
    end_transaction(ctx.srv, ctx.client);
    ctx.reply().ok();
    Ok(())
}

/// Leaves MULTI, dropping the queue, and forgets the watched keys (DISCARD,
/// EXEC, RESET).
pub fn end_transaction(srv: &mut Server, client: &mut Client) {
    client.multi = None;
    srv.watches.unwatch(client.id);
}

fn watch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    let (id, db, now) = (ctx.client.id, ctx.client.db, ctx.now_ms());
    // Already doomed: watching more changes nothing.
    if !ctx.srv.watches.is_touched(id) {
        for key in &argv[1..] {
            let expired = ctx.srv.dbs[db].is_expired(key, now);
            ctx.srv.watches.watch(id, db, key, expired);
        }
    }
    ctx.reply().ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.watches.unwatch(ctx.client.id);
    ctx.reply().ok();
    Ok(())
}

fn exec(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let Some(transaction) = ctx.client.multi.as_mut() else {
        return Err("ERR EXEC without MULTI".into());
    };
    let aborted = transaction.aborted;
    let queued = transaction.take_queued();
    let id = ctx.client.id;
    let watch_failed =
        ctx.srv.watches.is_touched(id) || ctx.srv.watches.expired_since_watch(id, &ctx.srv.dbs, ctx.now_ms());
    if aborted || watch_failed {
        end_transaction(ctx.srv, ctx.client);
        if aborted {
            return Err(EXECABORT_QUEUING.into());
        }
        ctx.reply().null_array();
        return Ok(());
    }
    ctx.srv.watches.unwatch(id);
    ctx.reply().array(queued.len());
    // Dispatch runs EXEC, like any command, inside one propagation group:
    // the queued commands' effects reach replicas wrapped in one MULTI/EXEC.
    for command in &queued {
        let argv: Vec<&[u8]> = command.argv.iter().map(Vec::as_slice).collect();
        dispatch::call_queued(ctx.srv, ctx.client, command.id, &argv);
    }
    end_transaction(ctx.srv, ctx.client);
    Ok(())
}

/// Queues an accepted command of a client in MULTI, answering QUEUED. A
/// doomed transaction (refused command, touched watched key) keeps nothing.
/// `request_flags` are the flags the request is judged by, which EXEC will
/// be judged by too (`command::request_flags`).
pub fn queue(srv: &Server, client: &mut Client, id: CommandId, argv: &[&[u8]], request_flags: u32) {
    let doomed_by_watch = srv.watches.is_touched(client.id);
    let transaction = client.multi.as_mut().expect("queue is for clients in MULTI");
    if !transaction.aborted && !doomed_by_watch {
        transaction.queue(id, argv, request_flags);
    }
    client.reply.simple("QUEUED");
}

/// True if `client`'s command `id` is to be queued rather than run.
pub fn queues(srv: &Server, client: &Client, id: CommandId) -> bool {
    client.multi.is_some() && srv.commands.get(id).spec.flags & RUNS_IN_MULTI == 0
}

/// The flags CLIENT PAUSE, OOM and disk errors judge a request by, given
/// its own (`command::request_flags`): EXEC counts as what it will run (a
/// WRITE pause holds an EXEC of writes, not of reads).
pub fn pause_flags(client: &Client, flags: u32) -> u32 {
    match &client.multi {
        Some(transaction) if flags & RUNS_TRANSACTION != 0 => flags | transaction.flags(),
        _ => flags,
    }
}

/// A request was refused before running with error `msg` (unknown command,
/// wrong arity, ...). Inside MULTI that dooms the transaction. A refused EXEC
/// ends it at once (even outside MULTI, forgetting watched keys, as Redis),
/// answering EXECABORT with the reason: then this returns true; otherwise
/// the caller answers `msg` itself.
pub fn answer_refusal(srv: &mut Server, client: &mut Client, id: Option<CommandId>, msg: &str, argv: &[&[u8]]) -> bool {
    if let Some(transaction) = client.multi.as_mut() {
        transaction.aborted = true;
    }
    let is_exec = id.is_some_and(|id| srv.commands.get(id).spec.flags & RUNS_TRANSACTION != 0);
    if !is_exec {
        return false;
    }
    end_transaction(srv, client);
    let reason = msg.strip_prefix("ERR ").unwrap_or(msg);
    let abort = format!("EXECABORT Transaction discarded because of: {reason}");
    srv.stats.record_error(&abort);
    client.reply.error(&abort);
    // Monitors saw MULTI; they see the EXEC that ends it too.
    monitor::feed(srv, client, argv);
    true
}
