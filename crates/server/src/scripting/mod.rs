//! Lua scripting as Redis 7.0 embeds Lua 5.1: the EVAL script cache (by
//! SHA1), the functions registry, script flags, and running a script or a
//! function on behalf of a client: the script's commands run through the
//! command table as a separate script client (`call.rs`), its effects are
//! propagated wrapped once in MULTI/EXEC, and its return value becomes the
//! caller's reply (`convert.rs`).
//!
//! A script runs to completion inside the command that started it; past
//! `busy-reply-threshold` other clients are answered BUSY by `busy.rs` from
//! the interpreter's instruction hook.
//!
//! This module owns no keyspace logic and no command declarations (those are
//! in `commands/scripting.rs` and `commands/functions.rs`).

pub mod busy;
pub mod call;
pub mod convert;
pub mod functions;
pub mod libs;
pub mod lua;
mod random;

use std::collections::HashMap;
use std::ffi::c_int;
use std::time::Instant;

use mlua::ffi;

use crate::client::{Client, ClientId};
use crate::command::{CmdError, CmdResult, Ctx};
use crate::server::Server;
use lua::{Api, LuaVm};

/// Replication targets of `redis.set_repl` (Redis's PROPAGATE_* values).
pub const REPL_AOF: u8 = 1;
pub const REPL_REPLICA: u8 = 2;

/// Script flags (shebang `flags=`, or a function's `flags`).
pub mod script_flags {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// An EVAL script without a shebang: 6.x semantics, flags come from the
    /// commands it calls.
    pub const EVAL_COMPAT: u32 = 1 << 5;

    /// Whether a script with these flags may run on a replica whose link
    /// with its master is down while `replica-serve-stale-data` is `no`:
    /// only one that declares `allow-stale` (a script without shebang never
    /// may). For the replica's checks before a script runs.
    pub fn allow_stale_replica(flags: u32) -> bool {
        flags & EVAL_COMPAT == 0 && flags & ALLOW_STALE != 0
    }

    /// Flag names in the order Redis lists them.
    pub const NAMES: [(u32, &str); 5] = [
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];
}

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// A cached EVAL script.
pub struct EvalScript {
    pub body: Vec<u8>,
    pub flags: u32,
    /// The compiled function's reference in the interpreter's registry.
    pub lua_ref: c_int,
}

/// What the server knows about the script running now (SCRIPT KILL,
/// FUNCTION STATS, BUSY replies).
pub struct RunInfo {
    /// The script's SHA1, or the function's name.
    pub name: String,
    /// EVAL/EVALSHA (as opposed to FCALL).
    pub eval_mode: bool,
    pub started: Instant,
    /// A write command ran: the script can no longer be killed.
    pub write_dirty: bool,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    pub killed: bool,
    /// Past busy-reply-threshold: other clients are being answered BUSY.
    pub timed_out: bool,
    pub caller_id: ClientId,
    pub caller_argv: Vec<Vec<u8>>,
}

/// All scripting state of the server.
#[derive(Default)]
pub struct Scripting {
    /// The EVAL interpreter (taken out while a script runs).
    eval_vm: Option<LuaVm>,
    /// By SHA; foldhash, as EVALSHA looks a script up twice per call.
    scripts: HashMap<String, EvalScript, foldhash::fast::RandomState>,
    pub functions: functions::Functions,
    /// The client scripts run commands as (taken out while a script runs).
    script_client: Option<Box<Client>>,
    pub running: Option<RunInfo>,
    /// Runs since the last incremental garbage collection step.
    runs_since_gc: u32,
    /// Connections accepted while a busy script ran, whose tasks start once
    /// it ends (see `busy.rs` and `net.rs`).
    pub accepted_while_busy: Vec<(std::net::TcpStream, std::rc::Rc<std::cell::RefCell<Client>>)>,
}

/// Every this many script runs, Lua's collector takes a step of this size
/// (a full cycle at once would add latency).
const GC_PERIOD: u32 = 50;

impl Scripting {
    pub fn script_count(&self) -> usize {
        self.scripts.len()
    }

    pub fn has_script(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha).is_ok_and(|s| self.scripts.contains_key(s))
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh interpreter.
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        self.eval_vm = None;
    }

    /// Memory used by the EVAL interpreter (INFO used_memory_lua).
    pub fn eval_memory(&self) -> usize {
        self.eval_vm.as_ref().map_or(EMPTY_VM_MEMORY, LuaVm::used_memory)
    }

    /// Memory the script cache holds besides the interpreter: bodies, names
    /// and entries (an estimate, as Redis's).
    pub fn scripts_memory(&self) -> usize {
        self.scripts.values().map(|s| s.body.len() + 40 + std::mem::size_of::<EvalScript>()).sum()
    }

    fn eval_vm(&mut self) -> &mut LuaVm {
        self.eval_vm.get_or_insert_with(|| LuaVm::new(Api::Eval))
    }

    /// Compiles and caches `body` unless cached; returns its SHA1.
    pub fn load_script(&mut self, body: &[u8]) -> Result<String, CmdError> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = parse_shebang(body).map_err(|e| CmdError::from(format!("ERR {e}")))?;
        let vm = self.eval_vm();
        // The shebang line is skipped but its newline kept, so line numbers
        // stay the user's.
        vm.compile(&body[shebang_len..], c"@user_script")
            .map_err(|e| CmdError::from(format!("ERR Error compiling script (new function): {e}")))?;
        // SAFETY: the compiled function is on top of our state's stack.
        let lua_ref = unsafe { ffi::luaL_ref(vm.state, ffi::LUA_REGISTRYINDEX) };
        self.scripts.insert(sha.clone(), EvalScript { body: body.to_vec(), flags, lua_ref });
        Ok(sha)
    }

    pub fn script(&self, sha: &str) -> Option<&EvalScript> {
        self.scripts.get(sha)
    }
}

/// What an empty interpreter uses, reported before the first script (the
/// figure Redis 7.0 reports for its fresh one).
pub const EMPTY_VM_MEMORY: usize = 31 * 1024;

/// Lower-case hex SHA1 of `data`, as scripts are named.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a `#!lua flags=...` first line. Returns the flags and the length
/// of the shebang line (without its newline); no shebang means
/// `EVAL_COMPAT`.
pub fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((script_flags::EVAL_COMPAT, 0));
    }
    let Some(len) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts = cinnabar_protocol::request::split_args(&body[..len]).unwrap_or_default();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine.as_slice() != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!("Unknown lua shebang option: {}", String::from_utf8_lossy(part)));
        };
        for name in list.split(|&b| b == b',').filter(|n| !list.is_empty() || !n.is_empty()) {
            let flag = script_flags::NAMES.iter().find(|(_, n)| n.as_bytes() == name);
            match flag {
                Some((bit, _)) => flags |= bit,
                None => return Err(format!("Unexpected flag in script shebang: {}", String::from_utf8_lossy(name))),
            }
        }
    }
    Ok((flags, len))
}

/// The command flags EVAL or FCALL (`table_flags`) runs under for a script
/// with `flags`: a script without shebang keeps the command's, one that
/// declares its flags replaces what they speak of (may write, may grow
/// memory when over `maxmemory`, may run on a stale replica), and is no
/// longer a may-replicate command since it says whether it writes.
pub fn command_flags(table_flags: u32, flags: u32) -> u32 {
    use crate::command::flags::{DENYOOM, MAY_REPLICATE, STALE, WRITE};
    if flags & script_flags::EVAL_COMPAT != 0 {
        return table_flags;
    }
    let mut derived = table_flags & !(STALE | DENYOOM | WRITE | MAY_REPLICATE);
    // no-writes implies allow-oom.
    if flags & (script_flags::ALLOW_OOM | script_flags::NO_WRITES) == 0 {
        derived |= DENYOOM;
    }
    if flags & script_flags::NO_WRITES == 0 {
        derived |= WRITE;
    }
    if flags & script_flags::ALLOW_STALE != 0 {
        derived |= STALE;
    }
    derived
}

/// Why a script with declared flags may not start now, if so (checked once
/// the request passed the command checks, which `command_flags` shaped):
/// a write script from a read-only command, or, over `maxmemory`, a script
/// that does not allow it. A script without shebang is never refused here.
fn start_refusal(srv: &Server, flags: u32, read_only_command: bool) -> Option<&'static str> {
    if flags & script_flags::EVAL_COMPAT != 0 {
        return None;
    }
    if flags & script_flags::NO_WRITES == 0 && read_only_command {
        return Some("ERR Can not execute a script with write flag using *_ro command.");
    }
    if flags & (script_flags::ALLOW_OOM | script_flags::NO_WRITES) == 0 && crate::evict::oom_at_command_start(srv) {
        return Some("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'");
    }
    None
}

/// A script's keys and arguments.
pub type KeysAndArgs<'a, 'b> = (&'a [&'b [u8]], &'a [&'b [u8]]);

/// Parses EVAL/FCALL's numkeys and splits the rest into keys and arguments.
pub fn split_keys<'a, 'b>(
    rest: &'a [&'b [u8]],
    numkeys: &[u8],
    not_a_number: &'static str,
) -> Result<KeysAndArgs<'a, 'b>, CmdError> {
    let n: i64 = std::str::from_utf8(numkeys).ok().and_then(|s| s.parse().ok()).ok_or(CmdError::from(not_a_number))?;
    if n > rest.len() as i64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    Ok(rest.split_at(n as usize))
}

/// One script or function invocation.
pub struct Invocation<'a> {
    /// An EVAL script (as opposed to a library function): which interpreter
    /// runs it, and whether KEYS and ARGV are globals or arguments.
    pub eval_mode: bool,
    /// The function's reference in that interpreter's registry.
    pub lua_ref: c_int,
    /// The SHA1 or function name, as errors and FUNCTION STATS name it.
    pub name: String,
    pub flags: u32,
    /// Called as EVAL_RO / EVALSHA_RO / FCALL_RO.
    pub read_only_command: bool,
    pub keys: &'a [&'a [u8]],
    pub args: &'a [&'a [u8]],
}

/// Runs a script or function for the client of `ctx` and replies with its
/// result.
pub fn run(ctx: &mut Ctx, argv: &[&[u8]], inv: Invocation) -> CmdResult {
    if let Some(refusal) = start_refusal(ctx.srv, inv.flags, inv.read_only_command) {
        return Err(refusal.into());
    }
    let compat = inv.flags & script_flags::EVAL_COMPAT != 0;
    let limits = call::Limits {
        read_only: inv.read_only_command || (!compat && inv.flags & script_flags::NO_WRITES != 0),
        allow_oom: !compat && inv.flags & script_flags::ALLOW_OOM != 0,
    };
    let eval_mode = inv.eval_mode;
    let scripting = &mut ctx.srv.scripting;
    let vm = if eval_mode {
        scripting.eval_vm();
        scripting.eval_vm.take()
    } else {
        scripting.functions.take_vm()
    }
    .expect("the interpreter exists");
    let mut script_client = scripting.script_client.take().unwrap_or_else(|| Box::new(call::new_script_client()));
    script_client.db = ctx.client.db;
    script_client.reply = cinnabar_protocol::Reply::new(cinnabar_protocol::RespVersion::Resp2);
    scripting.running = Some(RunInfo {
        name: inv.name.clone(),
        eval_mode,
        started: Instant::now(),
        write_dirty: false,
        killed: false,
        timed_out: false,
        caller_id: ctx.client.id,
        caller_argv: argv.iter().map(|a| a.to_vec()).collect(),
    });

    ctx.srv.propagation.open_group();
    let l = vm.state;
    let outcome = {
        let mut run_ctx = call::RunCtx::new(ctx.srv, ctx.client, script_client, limits);
        let _current = call::CurrentRun::enter(&mut run_ctx);
        // SAFETY: our state, on this thread; the run context outlives the call.
        let failed = unsafe { call_lua(&vm, &inv, ctx.srv.config.busy_reply_threshold > 0) };
        drop(_current);
        (failed, run_ctx.into_client())
    };
    let (failed, script_client) = outcome;
    ctx.srv.propagation.close_group();

    let script_resp3 = script_client.reply.is_resp3();
    // SAFETY: the result (or error) is on top of our state's stack.
    let errors = unsafe {
        if failed {
            convert::ResultErrors::TopLevel(convert::script_error(l, &inv.name))
        } else {
            convert::reply_from_lua(l, &mut ctx.client.reply, script_resp3)
        }
    };
    // SAFETY: clears what the call left.
    unsafe { ffi::lua_settop(l, 0) };
    let scripting = &mut ctx.srv.scripting;
    scripting.script_client = Some(script_client);
    scripting.runs_since_gc += 1;
    if scripting.runs_since_gc == GC_PERIOD {
        scripting.runs_since_gc = 0;
        // SAFETY: a collector step on our state.
        unsafe { ffi::lua_gc(l, ffi::LUA_GCSTEP, GC_PERIOD as c_int) };
    }
    if eval_mode {
        scripting.eval_vm = Some(vm);
    } else {
        scripting.functions.put_vm(vm);
    }
    let run = scripting.running.take();
    if run.is_some_and(|r| r.timed_out) {
        busy::leave(ctx.srv);
    }
    match errors {
        convert::ResultErrors::TopLevel(err) if err.count_in_stats => ctx.error(&err.message),
        convert::ResultErrors::TopLevel(err) => {
            // The error was counted when its command failed; the script
            // still counts as a failed call.
            ctx.failed = true;
            ctx.client.reply.error(&err.message);
        }
        convert::ResultErrors::Nested(nested) => {
            // Errors inside the reply count as replied errors (unless
            // their command's were counted), and fail the call.
            for err in &nested {
                if err.count_in_stats {
                    ctx.srv.stats.record_error(&err.message);
                }
            }
            ctx.failed |= !nested.is_empty();
        }
    }
    Ok(())
}

/// Pushes the error handler and the callee with its arguments, and calls
/// it. Returns true if it failed (the error object is then on top).
unsafe fn call_lua(vm: &LuaVm, inv: &Invocation, hooked: bool) -> bool {
    let l = vm.state;
    ffi::lua_settop(l, 0);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, lua::ERROR_HANDLER.as_ptr());
    if hooked {
        ffi::lua_sethook(l, Some(busy::count_hook), ffi::LUA_MASKCOUNT, busy::HOOK_INSTRUCTIONS);
    }
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, ffi::lua_Integer::from(inv.lua_ref));
    let nargs = if inv.eval_mode {
        vm.set_global_array(c"KEYS", inv.keys);
        vm.set_global_array(c"ARGV", inv.args);
        0
    } else {
        lua::push_string_array(l, inv.keys);
        lua::push_string_array(l, inv.args);
        2
    };
    let failed = ffi::lua_pcall(l, nargs, 1, 1) != 0;
    if hooked {
        ffi::lua_sethook(l, None, 0, 0);
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_parse_like_redis() {
        assert_eq!(parse_shebang(b"return 1"), Ok((script_flags::EVAL_COMPAT, 0)));
        assert_eq!(parse_shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok((script_flags::NO_WRITES | script_flags::ALLOW_OOM, 31))
        );
        assert_eq!(parse_shebang(b"#!lua flags=\nreturn 1"), Ok((0, 12)));
        assert_eq!(parse_shebang(b"#!lua"), Err("Invalid script shebang".into()));
        assert_eq!(parse_shebang(b"#!py\n"), Err("Unexpected engine in script shebang: #!py".into()));
        assert_eq!(parse_shebang(b"#!lua x=1\n"), Err("Unknown lua shebang option: x=1".into()));
        assert_eq!(parse_shebang(b"#!lua flags=bad\n"), Err("Unexpected flag in script shebang: bad".into()));
    }

    #[test]
    fn declared_flags_replace_what_they_speak_of() {
        use crate::command::flags::{DENYOOM, MAY_REPLICATE, NOSCRIPT, STALE, WRITE};
        let eval = NOSCRIPT | MAY_REPLICATE | STALE;
        assert_eq!(command_flags(eval, script_flags::EVAL_COMPAT), eval);
        assert_eq!(command_flags(eval, 0), NOSCRIPT | WRITE | DENYOOM);
        assert_eq!(command_flags(eval, script_flags::ALLOW_OOM), NOSCRIPT | WRITE);
        assert_eq!(command_flags(eval, script_flags::NO_WRITES), NOSCRIPT);
        assert_eq!(command_flags(eval, script_flags::NO_WRITES | script_flags::ALLOW_STALE), NOSCRIPT | STALE);
    }

    #[test]
    fn only_declared_allow_stale_runs_on_a_stale_replica() {
        assert!(script_flags::allow_stale_replica(script_flags::ALLOW_STALE | script_flags::NO_WRITES));
        assert!(!script_flags::allow_stale_replica(script_flags::NO_WRITES));
        assert!(!script_flags::allow_stale_replica(script_flags::EVAL_COMPAT));
    }

    #[test]
    fn sha1_is_lower_hex() {
        assert_eq!(sha1_hex(b"return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }
}
