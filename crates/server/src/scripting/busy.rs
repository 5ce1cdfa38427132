//! A script running past `busy-reply-threshold`: the server is single
//! threaded and the script runs inside a command, so nothing else runs
//! meanwhile. The interpreter's instruction hook notices the threshold, logs
//! the slow script, and from then on serves the other connections itself
//! every few instructions: it reads what their sockets hold (they are
//! non-blocking), answers BUSY to every command but the few allowed while
//! busy (SCRIPT KILL, FUNCTION KILL, FUNCTION STATS, SHUTDOWN NOSAVE), and
//! writes the replies. Bytes read stay in the client's query buffer, after
//! what its connection task had not parsed yet, so the task carries on with
//! them once the script ends.

use std::ffi::c_int;

use mlua::ffi::{self, lua_State};

use cinnabar_protocol::{Limits, RequestParser};

use super::call;
use crate::client::Client;
use crate::command::{dispatch, flags};
use crate::log::log_at;
use crate::server::Server;

/// The hook runs every this many Lua instructions.
pub const HOOK_INSTRUCTIONS: c_int = 100_000;

/// The BUSY replies while a script (EVAL) or a function (FCALL) runs.
pub const SLOW_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const SLOW_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The instruction hook of a running script.
pub(crate) unsafe extern "C-unwind" fn count_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    if !check(l) {
        return;
    }
    log_at!(Warning, "Lua script killed by user with SCRIPT KILL.");
    // From now on every line raises, so a pcall in the script cannot
    // swallow the kill and go on.
    ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKLINE, 0);
    super::lua::raise_error(l, b"Script killed by user with SCRIPT KILL...");
}

/// Checks the running script's time and serves other clients once it is
/// slow. True if it was killed.
fn check(_l: *mut lua_State) -> bool {
    // SAFETY: called from the hook of the running script only.
    let Some(srv) = (unsafe { call::current_server() }) else { return false };
    let threshold = srv.config.busy_reply_threshold;
    let Some(run) = srv.scripting.running.as_mut() else { return false };
    if !run.timed_out {
        let elapsed = run.started.elapsed().as_millis() as i64;
        if elapsed < threshold {
            return false;
        }
        run.timed_out = true;
        log_at!(
            Warning,
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
            elapsed,
            if run.eval_mode { "SCRIPT KILL" } else { "FUNCTION KILL" },
            run.name
        );
    }
    serve_others(srv);
    srv.scripting.running.as_ref().is_some_and(|r| r.killed)
}

/// Answers what the other connections sent while the script runs.
fn serve_others(srv: &mut Server) {
    accept_new_connections(srv);
    let clients: Vec<_> = srv.clients.values().cloned().collect();
    for client in clients {
        // The script's caller is borrowed by its own task: skipped.
        let Ok(mut client) = client.try_borrow_mut() else { continue };
        if client.fd < 0 || client.tls || client.close_asap {
            continue;
        }
        read_socket(&mut client);
        serve_requests(srv, &mut client);
        flush_replies(&mut client);
    }
}

/// Accepts waiting connections, as the event loop would: they are served
/// BUSY like the others, and their tasks start once the script ends.
fn accept_new_connections(srv: &mut Server) {
    use std::os::fd::{AsRawFd, FromRawFd};
    for fd in srv.listener_fds.clone() {
        // SAFETY: the listener stays owned by its accept task; ManuallyDrop
        // keeps this borrowed handle from closing it.
        let listener = std::mem::ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(fd) });
        while let Ok((stream, peer)) = listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().map(|a| crate::net::format_addr(&a)).unwrap_or_default();
            match crate::net::register(srv, stream.as_raw_fd(), &peer, local) {
                Ok(client) => {
                    log_at!(Verbose, "Accepted {}", crate::net::format_addr(&peer));
                    srv.scripting.accepted_while_busy.push((stream, client));
                }
                Err(refusal) => {
                    use std::io::Write;
                    let _ = (&stream).write(refusal);
                }
            }
        }
    }
}

/// Appends what the client's socket holds to its pending input.
fn read_socket(client: &mut Client) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // SAFETY: a read into a local buffer from the client's own socket.
        let n = unsafe { libc::read(client.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            break;
        }
        client.pending_input.extend_from_slice(&chunk[..n as usize]);
    }
}

/// Answers every complete request in the pending input: BUSY, or runs it
/// if it may run while busy (SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN).
/// Requests after unparsed bytes of the connection's own buffer are left
/// for its task, which runs them in order once the script ends.
fn serve_requests(srv: &mut Server, client: &mut Client) {
    if client.query_buffer_len > 0 {
        return;
    }
    let input = std::mem::take(&mut client.pending_input);
    let mut parser = RequestParser::new();
    let mut offset = 0;
    let limits = Limits { max_bulk_len: srv.config.proto_max_bulk_len, auth_required: false };
    while let Ok(Some(consumed)) = parser.parse(&input[offset..], limits) {
        let mut argv = Vec::new();
        parser.argv(&input[offset..], &mut argv);
        if !argv.is_empty() {
            answer(srv, client, &argv);
        }
        parser.reset();
        offset += consumed;
    }
    client.pending_input = input[offset..].to_vec();
}

fn answer(srv: &mut Server, client: &mut Client, argv: &[&[u8]]) {
    let allowed = srv.commands.resolve(argv).is_some_and(|id| srv.commands.get(id).spec.flags & flags::ALLOW_BUSY != 0);
    if !allowed {
        let eval_mode = srv.scripting.running.as_ref().is_some_and(|r| r.eval_mode);
        let msg = if eval_mode { SLOW_EVAL } else { SLOW_FUNCTION };
        srv.stats.record_error(msg);
        client.reply.error(msg);
        return;
    }
    dispatch::execute(srv, client, argv);
    if client.close_asap && argv[0].eq_ignore_ascii_case(b"shutdown") {
        // The event loop cannot run until the script ends: exit from here.
        log_at!(Warning, "User requested shutdown...");
        log_at!(Warning, "Redis is now ready to exit, bye bye...");
        std::process::exit(0);
    }
}

/// Writes what it can of the client's replies; the rest waits for its task.
fn flush_replies(client: &mut Client) {
    let out = client.reply.take();
    if out.is_empty() {
        return;
    }
    // SAFETY: a write of an owned buffer to the client's own socket.
    let written = unsafe { libc::write(client.fd, out.as_ptr().cast(), out.len()) }.max(0) as usize;
    client.reply.raw(&out[written..]);
}

/// The script ended after timing out: connections resume their own work.
pub fn leave(srv: &mut Server) {
    for client in srv.clients.values() {
        if let Ok(client) = client.try_borrow() {
            client.wake.notify_one();
        }
    }
}
