//! MONITOR: turning a connection into a monitor, and feeding every monitor
//! the commands other clients run, in Redis's line format
//! (`+<sec>.<usec> [<db> <addr>] "arg" ...`).

use crate::client::{quoted_repr, Client};
use crate::command::{flags::*, CmdResult, CommandSpec, Ctx};
use crate::server::Server;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "monitor",
    arity: 1,
    flags: ADMIN | NOSCRIPT | LOADING | STALE,
    handler: Some(monitor),
    group: "server",
    summary: "Stream every command the server runs",
    ..CommandSpec::DEFAULT
}];

/// Redis ignores MONITOR from a client that already is one (no reply at all).
fn monitor(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    // Inside EXEC the client expects one reply per command.
    if ctx.blocking_forbidden() {
        return Err("ERR MONITOR isn't allowed for DENY BLOCKING client".into());
    }
    if ctx.client.monitor {
        return Ok(());
    }
    ctx.client.monitor = true;
    ctx.srv.monitors.push(ctx.client.id);
    ctx.reply().ok();
    Ok(())
}

/// Leaves MONITOR mode (RESET).
pub fn stop_monitoring(srv: &mut Server, client: &mut Client) {
    if client.monitor {
        client.monitor = false;
        srv.monitors.retain(|&id| id != client.id);
    }
}

/// Sends one executed command to every monitor. `client` ran it (and is
/// currently borrowed, so it is served directly if it monitors too); `argv`
/// is what monitors may see, with secrets already redacted.
pub fn feed(srv: &Server, client: &mut Client, argv: &[&[u8]]) {
    if srv.monitors.is_empty() {
        return;
    }
    let line = monitor_line(client, argv);
    for id in &srv.monitors {
        if *id == client.id {
            client.reply.raw(line.as_bytes());
            continue;
        }
        let Some(monitor) = srv.clients.get(id) else { continue };
        let Ok(mut monitor) = monitor.try_borrow_mut() else { continue };
        if monitor.close_asap {
            continue;
        }
        monitor.reply.raw(line.as_bytes());
        // A monitor that does not read is cut off by the normal class's limit.
        monitor.enforce_output_limit(srv);
        monitor.wake.notify_one();
    }
}

fn monitor_line(client: &Client, argv: &[&[u8]]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut line = format!("+{}.{:06} [{} {}]", now.as_secs(), now.subsec_micros(), client.db, client.addr);
    for arg in argv {
        line.push(' ');
        line.push_str(&quoted_repr(arg));
    }
    line.push_str("\r\n");
    line
}
