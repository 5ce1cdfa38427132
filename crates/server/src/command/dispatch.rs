//! Running one request: resolve the command, apply the generic checks every
//! command gets from its table entry (existence, arity, authentication), call
//! the handler, then account for it (commandstats, errorstats, dirty counter,
//! propagation) and honour CLIENT REPLY.

use std::time::Instant;

use super::context::errors;
use super::{flags, CommandId, Ctx};
use crate::client::{Client, ReplyMode};
use crate::server::Server;

/// Executes one parsed request for `client`.
pub fn execute(srv: &mut Server, client: &mut Client, argv: &[&[u8]]) {
    srv.refresh_time();
    client.last_interaction_ms = srv.now_ms;
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skipping;
    }
    let reply_mark = client.reply.len();

    match check(srv, client, argv) {
        Ok(id) => call(srv, client, id, argv),
        Err((id, msg)) => {
            if let Some(id) = id {
                srv.commands.get_mut(id).stats.rejected_calls += 1;
            }
            srv.stats.record_error(&msg);
            client.reply.error(&msg);
        }
    }

    if client.replies_suppressed() {
        client.reply.truncate(reply_mark);
    }
    if client.reply_mode == ReplyMode::Skipping {
        client.reply_mode = ReplyMode::On;
    }
}

/// The checks Redis's `processCommand` makes before calling a command.
fn check(srv: &Server, client: &Client, argv: &[&[u8]]) -> Result<CommandId, (Option<CommandId>, String)> {
    let Some(id) = srv.commands.resolve(argv) else {
        return Err((None, unknown_command_error(srv, argv)));
    };
    let command = srv.commands.get(id);
    let arity = command.spec.arity;
    let argc = argv.len() as i32;
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err((Some(id), format!("ERR wrong number of arguments for '{}' command", command.fullname)));
    }
    if command.spec.flags & flags::PROTECTED != 0 && !protected_command_allowed(srv, client, &command.fullname) {
        return Err((Some(id), protected_command_error(&command.fullname)));
    }
    if !client.authenticated && command.spec.flags & flags::NO_AUTH == 0 {
        return Err((Some(id), errors::NOAUTH.to_string()));
    }
    Ok(id)
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

fn call(srv: &mut Server, client: &mut Client, id: CommandId, argv: &[&[u8]]) {
    let handler =
        srv.commands.get(id).spec.handler.expect("only containers lack handlers, and they resolve to subcommands");
    let started = Instant::now();
    let mut ctx = Ctx::new(srv, client, id);
    if let Err(e) = handler(&mut ctx, argv) {
        ctx.error(&e.0);
    }
    ctx.finish_propagation(argv);
    let failed = ctx.failed;
    let elapsed = started.elapsed();

    client.last_command_id = Some(id);
    srv.stats.total_commands_processed += 1;
    let stats = &mut srv.commands.get_mut(id).stats;
    stats.calls += 1;
    stats.usec += elapsed.as_micros() as u64;
    if failed {
        stats.failed_calls += 1;
    }
}
