//! Running a command from a script (`redis.call`, `redis.pcall`) and the
//! per-run settings scripts change (`redis.setresp`, `redis.set_repl`).
//!
//! The command runs through the same table and handlers as a client's, as
//! the script client (`addr` "lua", always authenticated, blocking
//! forbidden), after the checks Redis makes for scripts: known command and
//! arity, `noscript`, writes from read-only scripts. Its reply, encoded in
//! the script client's protocol, is parsed back into Lua values.
//!
//! The run context reaches these C functions through a thread-local pointer
//! set for the duration of one script run (`CurrentRun`).

use std::cell::Cell;
use std::ffi::c_int;

use mlua::ffi::{self, lua_State};

use super::lua::{push_error_table, raise_error, to_bytes};
use super::{convert, REPL_AOF, REPL_REPLICA};
use crate::client::Client;
use crate::command::{dispatch, flags, CommandId};
use crate::server::Server;

/// What a script's flags and its command allow the commands it calls.
#[derive(Clone, Copy)]
pub struct Limits {
    /// EVAL_RO/FCALL_RO or a no-writes script: write commands are refused.
    pub read_only: bool,
    /// An allow-oom script: commands that grow memory run even over
    /// `maxmemory`.
    pub allow_oom: bool,
}

/// What a script's C functions need while it runs.
pub struct RunCtx {
    srv: *mut Server,
    /// The client whose command runs the script: its user's permissions
    /// apply to the script's commands, and ACL LOG names it.
    caller: *const Client,
    client: Box<Client>,
    limits: Limits,
    /// `redis.set_repl` targets (REPL_AOF | REPL_REPLICA).
    repl: u8,
    /// Reused argument buffers.
    args: Vec<Vec<u8>>,
}

impl RunCtx {
    pub fn new(srv: &mut Server, caller: &Client, client: Box<Client>, limits: Limits) -> RunCtx {
        RunCtx { srv, caller, client, limits, repl: REPL_AOF | REPL_REPLICA, args: Vec::new() }
    }

    pub fn into_client(self) -> Box<Client> {
        self.client
    }
}

thread_local! {
    static CURRENT: Cell<*mut RunCtx> = const { Cell::new(std::ptr::null_mut()) };
}

/// Makes a run context current until dropped.
pub struct CurrentRun(());

impl CurrentRun {
    pub fn enter(run: &mut RunCtx) -> CurrentRun {
        CURRENT.with(|c| c.set(run));
        CurrentRun(())
    }
}

impl Drop for CurrentRun {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null_mut()));
    }
}

/// True while a script runs.
pub fn script_running() -> bool {
    CURRENT.with(|c| !c.get().is_null())
}

/// The server of the running script.
///
/// # Safety
/// Only while a script runs, from its C functions or hook, with no other
/// live reference to the server in use.
pub unsafe fn current_server<'a>() -> Option<&'a mut Server> {
    let run = CURRENT.with(Cell::get);
    run.as_mut().map(|r| &mut *r.srv)
}

/// The client scripts run commands as.
pub fn new_script_client() -> Client {
    let mut client = Client::new(0, "lua".into(), String::new(), -1, 0);
    client.authenticated = true;
    client
}

/// Reads the arguments of `redis.call`/`pcall`: strings, and numbers as
/// `%.17g`. Errors as Redis words them.
unsafe fn read_arguments(l: *mut lua_State, out: &mut Vec<Vec<u8>>) -> Result<(), &'static [u8]> {
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        return Err(b"Please specify at least one argument for this redis lib call");
    }
    out.truncate(argc as usize);
    out.resize_with(argc as usize, Vec::new);
    for i in 1..=argc {
        let arg = &mut out[i as usize - 1];
        arg.clear();
        match ffi::lua_type(l, i) {
            ffi::LUA_TNUMBER => {
                arg.extend_from_slice(cinnabar_protocol::numbers::format_g17(ffi::lua_tonumber(l, i)).as_bytes())
            }
            ffi::LUA_TSTRING => arg.extend_from_slice(to_bytes(l, i)),
            _ => return Err(b"Lua redis lib command arguments must be strings or integers"),
        }
    }
    ffi::lua_settop(l, 0);
    Ok(())
}

/// Runs the command in `run.args` for the script; its reply is left in the
/// script client's buffer. Returns why it was refused, if it was (an error
/// reply's text: `CODE message`).
fn execute(run: &mut RunCtx) -> Result<(), String> {
    // SAFETY: the server outlives the run; nothing else uses it meanwhile.
    let srv = unsafe { &mut *run.srv };
    // SAFETY: the caller is borrowed by the command running the script, and
    // nothing changes it until the script ends.
    let caller = unsafe { &*run.caller };
    let argv: Vec<&[u8]> = run.args.iter().map(Vec::as_slice).collect();
    let id = srv.commands.resolve(&argv);
    let refusal = match id {
        None => Some("ERR Unknown Redis command called from script".to_string()),
        Some(id) => check(srv, caller, run.limits, id, &argv),
    };
    if let Some(msg) = refusal {
        srv.stats.record_error(&msg);
        if let Some(id) = id {
            srv.commands.get_mut(id).stats.rejected_calls += 1;
        }
        return Err(msg);
    }
    let id = id.expect("checked above");
    if srv.commands.get(id).spec.flags & flags::WRITE != 0 {
        if let Some(info) = srv.scripting.running.as_mut() {
            info.write_dirty = true;
        }
    }
    let muted = run.repl == 0;
    if muted {
        srv.propagation.mute(true);
    }
    dispatch::call_from_script(srv, &mut run.client, id, &argv);
    if muted {
        srv.propagation.mute(false);
    }
    Ok(())
}

/// Redis's checks before a script's command, in its order: arity,
/// `noscript`, the caller's ACL permissions, writes from a read-only run,
/// and, until the script's first write, disk errors and memory over
/// `maxmemory`.
fn check(srv: &Server, caller: &Client, limits: Limits, id: CommandId, argv: &[&[u8]]) -> Option<String> {
    let spec = &srv.commands.get(id).spec;
    let argc = argv.len() as i32;
    if spec.handler.is_none() || (spec.arity > 0 && spec.arity != argc) || argc < -spec.arity {
        return Some("ERR Wrong number of args calling Redis command from script".into());
    }
    if spec.flags & flags::NOSCRIPT != 0 {
        return Some("ERR This Redis command is not allowed from script".into());
    }
    if let Err(denial) = acl_check(srv, caller, id, argv) {
        return Some(format!("ERR The user executing the script {}", denial.reason()));
    }
    if limits.read_only && spec.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 {
        return Some("ERR Write commands are not allowed from read-only scripts.".into());
    }
    // Once the script wrote, it must be allowed to finish.
    if srv.scripting.running.as_ref().is_some_and(|r| r.write_dirty) {
        return None;
    }
    if spec.flags & flags::WRITE != 0 {
        if srv.repl.is_replica() && srv.config.replica_read_only && !caller.is_master {
            return Some("READONLY You can't write against a read only replica.".into());
        }
        if let Some(refusal) = dispatch::disk_write_refusal(srv) {
            return Some(refusal);
        }
    }
    if !limits.allow_oom && spec.flags & flags::DENYOOM != 0 && crate::evict::oom_at_command_start(srv) {
        return Some(crate::evict::OOM_ERROR.into());
    }
    None
}

/// The caller's user must allow the command; a refusal is logged in ACL
/// LOG with context `lua`, naming the caller and its script command.
fn acl_check(srv: &Server, caller: &Client, id: CommandId, argv: &[&[u8]]) -> Result<(), crate::acl::Denial> {
    crate::acl::permission(srv, caller, id, argv).inspect_err(|&denial| {
        let caller_argv = srv.scripting.running.as_ref().map(|r| &r.caller_argv[..]).unwrap_or_default();
        let caller_argv: Vec<&[u8]> = caller_argv.iter().map(Vec::as_slice).collect();
        crate::acl::log_script_denial(srv, caller, denial, id, argv, &caller_argv);
    })
}

/// `redis.call` and `redis.pcall`: run the command, push its reply as Lua
/// values; an error reply is raised by `call` and returned by `pcall`.
unsafe fn call_command(l: *mut lua_State, raise: bool) -> c_int {
    let run = CURRENT.with(Cell::get);
    let Some(run) = run.as_mut() else {
        return raise_error(l, b"redis.call/pcall can only be called inside a script invocation");
    };
    if let Err(msg) = read_arguments(l, &mut run.args) {
        ffi::lua_settop(l, 0);
        push_error_table(l, msg);
        return if raise { ffi::lua_error(l) } else { 1 };
    }
    let failed = match execute(run) {
        Err(msg) => {
            push_error_table(l, format!("-{msg}").as_bytes());
            mark_stats_counted(l);
            true
        }
        Ok(()) => {
            let reply = run.client.reply.take();
            let is_error = reply.first() == Some(&b'-');
            convert::push_reply(l, &reply);
            run.client.reply.restore_capacity(reply);
            is_error
        }
    };
    if raise && failed {
        ffi::lua_error(l)
    }
    1
}

/// Marks the error table on top as already counted in the error stats (the
/// command's own error was), so the script's final error is not counted
/// again.
///
/// # Safety
/// The error table is on top; needs two free slots.
pub unsafe fn mark_stats_counted(l: *mut lua_State) {
    ffi::lua_pushboolean(l, 1);
    ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
}

pub(crate) unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    call_command(l, true)
}

pub(crate) unsafe extern "C-unwind" fn redis_pcall_command(l: *mut lua_State) -> c_int {
    call_command(l, false)
}

/// `redis.setresp(2|3)`: the protocol the script's commands reply in.
pub(crate) unsafe extern "C-unwind" fn redis_setresp(l: *mut lua_State) -> c_int {
    let run = CURRENT.with(Cell::get);
    let Some(run) = run.as_mut() else {
        return raise_error(l, b"redis.setresp can only be called inside a script invocation");
    };
    if ffi::lua_gettop(l) != 1 {
        return raise_error(l, b"redis.setresp() requires one argument.");
    }
    let resp = match ffi::lua_tonumber(l, 1) as c_int {
        2 => cinnabar_protocol::RespVersion::Resp2,
        3 => cinnabar_protocol::RespVersion::Resp3,
        _ => return raise_error(l, b"RESP version must be 2 or 3."),
    };
    run.client.reply.resp = resp;
    0
}

/// `redis.set_repl(flags)`: where the script's following writes propagate.
/// The stream has one set of consumers, so any target but none emits.
pub(crate) unsafe extern "C-unwind" fn redis_set_repl(l: *mut lua_State) -> c_int {
    let run = CURRENT.with(Cell::get);
    let Some(run) = run.as_mut() else {
        return raise_error(l, b"redis.set_repl can only be called inside a script invocation");
    };
    if ffi::lua_gettop(l) != 1 {
        return raise_error(l, b"redis.set_repl() requires two arguments.");
    }
    let repl = ffi::lua_tonumber(l, -1) as c_int;
    if repl & !c_int::from(REPL_AOF | REPL_REPLICA) != 0 {
        return raise_error(l, b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    }
    run.repl = repl as u8;
    0
}

/// `redis.acl_check_cmd(...)`: whether the script's user (its caller's)
/// may run the command with these arguments; nothing is logged.
pub(crate) unsafe extern "C-unwind" fn redis_acl_check_cmd(l: *mut lua_State) -> c_int {
    let run = CURRENT.with(Cell::get);
    let Some(run) = run.as_mut() else {
        return raise_error(l, b"redis.acl_check_cmd can only be called inside a script invocation");
    };
    if let Err(msg) = read_arguments(l, &mut run.args) {
        return raise_error(l, msg);
    }
    let srv = &*run.srv;
    let argv: Vec<&[u8]> = run.args.iter().map(Vec::as_slice).collect();
    let id = srv.commands.resolve(&argv).filter(|&id| srv.commands.get(id).spec.handler.is_some());
    let allowed = id.map(|id| crate::acl::permission(srv, &*run.caller, id, &argv).is_ok());
    drop(argv);
    let Some(allowed) = allowed else {
        return raise_error(l, b"Invalid command passed to redis.acl_check_cmd()");
    };
    ffi::lua_pushboolean(l, c_int::from(allowed));
    1
}
