//! Connection commands: PING, ECHO, QUIT, SELECT.

use crate::command::context::errors;
use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use cinnabar_protocol::numbers::parse_i64;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: FAST | SENTINEL,
        acl: acl::CONNECTION,
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        args: &[Arg::string("message").optional()],
        handler: Some(ping),
        group: "connection",
        summary: "Ping the server",
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
        flags: ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
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
];

fn ping(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        1 => ctx.reply().simple("PONG"),
        2 => ctx.reply().bulk(argv[1]),
        _ => return Err("ERR wrong number of arguments for 'ping' command".into()),
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
