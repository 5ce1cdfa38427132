//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, FAILOVER, and what a
//! replica says to its master (REPLCONF, PSYNC, SYNC). The machinery is in
//! `crate::replication`.

use cinnabar_protocol::numbers::parse_i64;

use crate::command::context::errors;
use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::log::log_at;
use crate::replication::{failover, master, replica};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "replicaof",
        arity: 3,
        flags: ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(replicaof),
        group: "server",
        since: "5.0.0",
        summary: "Make the server a replica of another instance, or promote it as master.",
        complexity: "O(1)",
        args: MASTER_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "slaveof",
        arity: 3,
        flags: ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(replicaof),
        group: "server",
        since: "1.0.0",
        summary: "Make the server a replica of another instance, or promote it as master.",
        complexity: "O(1)",
        doc_flags: crate::command::doc_flags::DEPRECATED,
        deprecated_since: "5.0.0",
        replaced_by: "`REPLICAOF`",
        args: MASTER_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "role",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(role),
        group: "server",
        since: "2.8.12",
        summary: "Return the role of the instance in the context of replication",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "wait",
        arity: 3,
        flags: NOSCRIPT,
        acl: acl::CONNECTION,
        tips: &["request_policy:all_shards", "response_policy:agg_min"],
        handler: Some(wait),
        group: "generic",
        since: "3.0.0",
        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        complexity: "O(1)",
        args: &[Arg::integer("numreplicas"), Arg::integer("timeout")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "failover",
        arity: -1,
        flags: ADMIN | NOSCRIPT | STALE,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(failover_command),
        group: "server",
        since: "6.2.0",
        summary: "Start a coordinated failover between this server and one of its replicas.",
        complexity: "O(1)",
        args: &[
            Arg::block("target", &[Arg::string("host"), Arg::integer("port"), Arg::pure_token("force", "FORCE").optional()])
                .token("TO")
                .optional(),
            Arg::pure_token("abort", "ABORT").optional(),
            Arg::integer("milliseconds").token("TIMEOUT").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "replconf",
        arity: -1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(replconf),
        group: "server",
        since: "3.0.0",
        summary: "An internal command for configuring the replication stream",
        complexity: "O(1)",
        doc_flags: crate::command::doc_flags::SYSCMD,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psync",
        arity: -3,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(sync),
        group: "server",
        since: "2.8.0",
        summary: "Internal command used for replication",
        args: &[Arg::string("replicationid"), Arg::integer("offset")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sync",
        arity: 1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(sync),
        group: "server",
        since: "1.0.0",
        summary: "Internal command used for replication",
        ..CommandSpec::DEFAULT
    },
];

static MASTER_ARGS: &[Arg] = &[Arg::one_of(
    "args",
    &[
        Arg::block("host-port", &[Arg::string("host"), Arg::integer("port")]),
        Arg::block("no-one", &[Arg::pure_token("no", "NO"), Arg::pure_token("one", "ONE")]),
    ],
)];

/// REPLICAOF host port | NO ONE (and its old name SLAVEOF).
fn replicaof(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if ctx.srv.repl.failover.state != failover::State::None {
        return Err("ERR REPLICAOF not allowed while failing over.".into());
    }
    if argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one") {
        if ctx.srv.repl.is_replica() {
            replica::promote(ctx.srv);
            log_at!(Notice, "MASTER MODE enabled (user request from '{}')", ctx.client.info_line(ctx.srv, 0));
        }
        ctx.reply().ok();
        return Ok(());
    }
    if ctx.client.is_replica {
        return Err("ERR Command is not valid when client is a replica.".into());
    }
    let port = std::str::from_utf8(argv[2])
        .ok()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (0..=65535).contains(p))
        .ok_or("ERR Invalid master port")? as u16;
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    let same = ctx.srv.repl.link.as_ref().is_some_and(|l| l.host.eq_ignore_ascii_case(&host) && l.port == port);
    if same {
        log_at!(
            Notice,
            "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
        );
        ctx.reply().simple("OK Already connected to specified master");
        return Ok(());
    }
    replica::follow(ctx.srv, host.clone(), port);
    log_at!(Notice, "REPLICAOF {host}:{port} enabled (user request from '{}')", ctx.client.info_line(ctx.srv, 0));
    ctx.reply().ok();
    Ok(())
}

/// ROLE: ["master", offset, [[ip, port, offset]...]] or
/// ["slave", host, port, state, offset].
fn role(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let offset = ctx.srv.propagation.repl_offset() as i64;
    match &ctx.srv.repl.link {
        None => {
            let replicas = master::role_replicas(ctx.srv);
            let reply = ctx.reply();
            reply.array(3);
            reply.bulk(b"master");
            reply.int(offset);
            reply.array(replicas.len());
            for (ip, port, acked) in replicas {
                reply.array(3);
                reply.bulk(ip.as_bytes());
                reply.bulk(port.to_string().as_bytes());
                reply.bulk(acked.to_string().as_bytes());
            }
        }
        Some(link) => {
            let (host, port, state) = (link.host.clone(), link.port, link.state.role_name());
            let shown = if link.is_connected() { offset } else { -1 };
            let reply = ctx.reply();
            reply.array(5);
            reply.bulk(b"slave");
            reply.bulk(host.as_bytes());
            reply.int(i64::from(port));
            reply.bulk(state.as_bytes());
            reply.int(shown);
        }
    }
    Ok(())
}

/// WAIT numreplicas timeout: blocks until that many replicas acknowledged
/// this client's writes, or the timeout (ms, 0 = forever) passes.
fn wait(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if ctx.srv.repl.is_replica() {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a \
                    replica is configured to be writable (which is not the default) writes to replicas are just \
                    local and are not propagated."
            .into());
    }
    let wanted = parse_i64(argv[1]).ok_or(errors::NOT_INTEGER)?;
    let timeout = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    let offset = ctx.client.woff;
    let acked = master::replicas_at(ctx.srv, offset);
    if acked >= wanted || ctx.blocking_forbidden() {
        ctx.reply().int(acked);
        return Ok(());
    }
    let deadline = if timeout > 0 { ctx.now_ms() + timeout } else { 0 };
    ctx.srv.repl.master_side.waiters.push(master::Waiter { client: ctx.client.id, offset, replicas: wanted });
    ctx.srv.propagation.feed_replicas(&[b"REPLCONF", b"GETACK", b"*"]);
    ctx.block(&[], deadline);
    Ok(())
}

fn failover_command(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    failover::command(ctx.srv, argv)?;
    ctx.reply().ok();
    Ok(())
}

fn replconf(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if master::replconf(ctx.srv, ctx.client, argv)? {
        ctx.reply().ok();
    }
    Ok(())
}

/// PSYNC and SYNC: the connection becomes a replica (see `net`'s hand-off).
fn sync(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    master::psync(ctx.srv, ctx.client, argv)?;
    Ok(())
}
