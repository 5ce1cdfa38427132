//! Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET.
//!
//! AUTH and HELLO AUTH authenticate against the ACL users (`crate::acl`);
//! `requirepass` is the `default` user's password.

use crate::acl::{self as users, user_flags};
use crate::client::ReplyMode;
use crate::command::context::errors;
use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::commands::{client, monitor, transactions};
use cinnabar_protocol::numbers::parse_i64;
use cinnabar_protocol::RespVersion;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: FAST | SENTINEL | SUBSCRIBED_CONTEXT,
        acl: acl::CONNECTION,
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        args: &[Arg::string("message").optional()],
        handler: Some(ping),
        group: "connection",
        summary: "Check that the server is answering",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: LOADING | STALE | FAST,
        acl: acl::CONNECTION,
        args: &[Arg::string("message")],
        handler: Some(echo),
        group: "connection",
        summary: "Echo the given string",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_CONTEXT | RUNS_IN_MULTI,
        acl: acl::CONNECTION,
        handler: Some(quit),
        group: "connection",
        summary: "Close the connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: LOADING | STALE | FAST,
        acl: acl::CONNECTION,
        args: &[Arg::integer("index")],
        handler: Some(select),
        group: "connection",
        summary: "Change the selected database for the current connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        acl: acl::CONNECTION,
        handler: Some(auth),
        group: "connection",
        summary: "Authenticate the connection",
        complexity: "O(N) where N is the number of passwords defined for the user",
        history: &[("6.0.0", "A user name may be given (ACL).")],
        args: &[Arg::string("username").since("6.0.0").optional(), Arg::string("password")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        acl: acl::CONNECTION,
        handler: Some(hello),
        group: "connection",
        since: "6.0.0",
        summary: "Handshake: pick the protocol, optionally authenticate and name the connection",
        complexity: "O(1)",
        history: &[("6.2.0", "The protocol version is optional; without arguments HELLO reports the connection.")],
        args: &[Arg::block(
            "arguments",
            &[
                Arg::integer("protover"),
                Arg::block("username_password", &[Arg::string("username"), Arg::string("password")])
                    .token("AUTH")
                    .optional(),
                Arg::string("clientname").token("SETNAME").optional(),
            ],
        )
        .optional()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY | SUBSCRIBED_CONTEXT | RUNS_IN_MULTI,
        acl: acl::CONNECTION,
        handler: Some(reset),
        group: "connection",
        since: "6.2.0",
        summary: "Return the connection to the state of a new one",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

/// PING [message]. A RESP2 client in subscribed mode gets `["pong", message]`
/// instead, since it may only read pushes there.
fn ping(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 2 {
        return Err("ERR wrong number of arguments for 'ping' command".into());
    }
    let message = argv.get(1).copied();
    if ctx.client.subscriptions.is_subscribed() && !ctx.reply().is_resp3() {
        let reply = ctx.reply();
        reply.array(2);
        reply.bulk(b"pong");
        reply.bulk(message.unwrap_or_default());
        return Ok(());
    }
    match message {
        None => ctx.reply().simple("PONG"),
        Some(message) => ctx.reply().bulk(message),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.reply().bulk(argv[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply().ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn select(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let index = parse_i64(argv[1]).ok_or("ERR value is not an integer or out of range")?;
    if index < 0 || index >= ctx.srv.dbs.len() as i64 {
        return Err(errors::DB_INDEX.into());
    }
    ctx.client.db = index as usize;
    ctx.reply().ok();
    Ok(())
}

/// Authenticates the client as `user`, or fails with WRONGPASS (logged in
/// ACL LOG, attributed to the command as sent: AUTH or HELLO).
fn authenticate(ctx: &mut Ctx, argv: &[&[u8]], user: &[u8], password: &[u8]) -> CmdResult {
    let Some(found) = ctx.srv.acl.authenticate(user, password) else {
        users::log_failed_auth(ctx.srv, ctx.client, ctx.cmd, argv, user);
        return Err(WRONGPASS.into());
    };
    ctx.client.authenticated = true;
    ctx.client.user = Some(found);
    Ok(())
}

fn auth(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    ctx.redacted.extend(1..argv.len());
    let (user, password) = match argv {
        [_, password] => {
            if ctx.srv.acl.default_user.borrow().has(user_flags::NOPASS) {
                return Err("ERR AUTH <password> called without any password configured for the default user. \
                            Are you sure your configuration is correct?"
                    .into());
            }
            (&b"default"[..], *password)
        }
        [_, user, password] => (*user, *password),
        _ => unreachable!("arity allows two or three arguments"),
    };
    authenticate(ctx, argv, user, password)?;
    ctx.reply().ok();
    Ok(())
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]. Options apply in order,
/// so a valid AUTH stays in effect even when a later option fails.
fn hello(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut version = None;
    if let Some(arg) = argv.get(1) {
        let v = parse_i64(arg).ok_or("ERR Protocol version is not an integer or out of range")?;
        version = match v {
            2 => Some(RespVersion::Resp2),
            3 => Some(RespVersion::Resp3),
            _ => return Err("NOPROTO unsupported protocol version".into()),
        };
    }
    let mut j = 2;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let option = argv[j];
        if option.eq_ignore_ascii_case(b"auth") && more >= 2 {
            ctx.redacted.extend([j + 1, j + 2]);
            authenticate(ctx, argv, argv[j + 1], argv[j + 2])?;
            j += 3;
        } else if option.eq_ignore_ascii_case(b"setname") && more >= 1 {
            client::set_name(ctx, argv[j + 1])?;
            j += 2;
        } else {
            return Err(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(option)).into());
        }
    }
    if !ctx.client.authenticated && ctx.srv.auth_required_by_default() {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH \
                    <user> <pass> option can be used to authenticate the client and select the RESP protocol \
                    version at the same time"
            .into());
    }
    if let Some(v) = version {
        ctx.reply().resp = v;
    }
    let id = ctx.client.id as i64;
    let proto = if ctx.reply().is_resp3() { 3 } else { 2 };
    let reply = ctx.reply();
    reply.map(7);
    for (field, value) in [("server", "redis"), ("version", crate::REDIS_VERSION)] {
        reply.bulk_str(field);
        reply.bulk_str(value);
    }
    reply.bulk_str("proto");
    reply.int(proto);
    reply.bulk_str("id");
    reply.int(id);
    for (field, value) in [("mode", "standalone"), ("role", "master")] {
        reply.bulk_str(field);
        reply.bulk_str(value);
    }
    reply.bulk_str("modules");
    reply.array(0);
    Ok(())
}

/// Clears the connection's state as if it had just connected.
fn reset(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    monitor::stop_monitoring(ctx.srv, ctx.client);
    ctx.srv.pubsub.forget(ctx.client);
    ctx.srv.tracking.disable(ctx.client.id);
    transactions::end_transaction(ctx.srv, ctx.client);
    ctx.client.db = 0;
    ctx.client.reply.resp = RespVersion::Resp2;
    ctx.client.user = Some(ctx.srv.acl.default_user.clone());
    ctx.client.authenticated = !ctx.srv.auth_required_by_default();
    ctx.client.name = None;
    // A RESET whose own reply is being skipped (CLIENT REPLY SKIP) stays silent.
    if ctx.client.reply_mode != ReplyMode::Skipping {
        ctx.client.reply_mode = ReplyMode::On;
    }
    ctx.reply().simple("RESET");
    Ok(())
}
