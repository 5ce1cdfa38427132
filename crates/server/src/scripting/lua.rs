//! A Lua 5.1 interpreter set up as Redis 7.0 sets up its own: the libraries
//! it loads (base without `print`/`dofile`/`loadfile`, table, string, math,
//! and the bundled cjson/cmsgpack/bit/struct), the `redis` API table, its
//! `math.random`, the error handler that records where an error happened,
//! and the sandbox: globals and every library table are read-only, reading a
//! global that does not exist is an error, and no global can be created.
//!
//! Redis makes tables read-only with a patch to the Lua VM; stock Lua 5.1
//! cannot, so each protected table is replaced by an empty proxy whose
//! metatable reads through to the real table and refuses writes. `rawset`,
//! `rawget`, `next`, `pairs` and `setmetatable` are wrapped so they see
//! through proxies (and refuse to write through them), as Redis's are.
//!
//! The raw C API (`mlua::ffi`) is used throughout: Redis's error values are
//! Lua tables raised with `lua_error`, and the error handler must see the
//! stack as Redis's does. Functions registered here raise errors only after
//! every Rust value they own is dropped, since `lua_error` unwinds by
//! `longjmp`.

use std::ffi::{c_char, c_int, CStr};

use mlua::ffi::{self, lua_State};

use super::random::Lrand48;

/// Which API a state exposes: EVAL's has the debugger stubs and
/// `replicate_commands`; the functions engine's has `register_function`
/// while a library loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Eval,
    Functions,
}

/// Registry keys of the objects a state keeps out of the scripts' reach.
pub const REAL_GLOBALS: &CStr = c"cinnabar.globals";
pub const GLOBALS_META: &CStr = c"cinnabar.globals_meta";
pub const LIBRARY_API: &CStr = c"cinnabar.library_api";
pub const ERROR_HANDLER: &CStr = c"cinnabar.error_handler";
const REAL_OF: &CStr = c"cinnabar.real_of";
const PROXY_OF: &CStr = c"cinnabar.proxy_of";

/// The globals a script may see, as Redis 7.0 leaves them (KEYS and ARGV
/// are added by each EVAL; `__redis__err__handler` only exists for EVAL).
const ALLOWED_GLOBALS: &[&[u8]] = &[
    b"_G",
    b"_VERSION",
    b"assert",
    b"bit",
    b"cjson",
    b"cmsgpack",
    b"collectgarbage",
    b"coroutine",
    b"error",
    b"gcinfo",
    b"getmetatable",
    b"ipairs",
    b"load",
    b"loadstring",
    b"math",
    b"next",
    b"pairs",
    b"pcall",
    b"rawequal",
    b"rawget",
    b"rawset",
    b"redis",
    b"select",
    b"setmetatable",
    b"string",
    b"struct",
    b"table",
    b"tonumber",
    b"tostring",
    b"type",
    b"unpack",
    b"xpcall",
];

/// The error handler every script call runs under: it turns a plain error
/// into Redis's error table and notes the source and line of the Lua code
/// that raised it (the caller, when a C function raised it).
const ERROR_HANDLER_SOURCE: &[u8] = b"
local getinfo = debug.getinfo
return function(err)
  local at = getinfo(2, 'Sl')
  if at and at.what == 'C' then
    at = getinfo(3, 'Sl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if at then
    err['source'] = at.source
    err['line'] = at.currentline
  end
  return err
end
";

/// An interpreter. Owns the `mlua::Lua` that built the state (and keeps the
/// bundled libraries' Rust callbacks alive); everything else goes through
/// the raw state.
pub struct LuaVm {
    _lua: mlua::Lua,
    pub state: *mut lua_State,
    /// The real globals table's registry reference (KEYS and ARGV go there).
    globals_ref: c_int,
}

impl LuaVm {
    pub fn new(api: Api) -> LuaVm {
        use mlua::{LuaOptions, StdLib};
        // SAFETY: the debug library is loaded only to build the error
        // handler, and removed from the globals before any script runs.
        let lua = unsafe {
            mlua::Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, LuaOptions::new())
        };
        load_bundled_libraries(&lua).expect("registering the bundled Lua libraries");
        let mut state: *mut lua_State = std::ptr::null_mut();
        // SAFETY: only reads the main state pointer.
        unsafe { lua.exec_raw::<()>((), |l| state = l) }.expect("reading the Lua state");
        // SAFETY: the state is fresh and used by this thread only.
        let globals_ref = unsafe { build_sandbox(state, api) };
        LuaVm { _lua: lua, state, globals_ref }
    }

    /// Compiles `code` under `chunk_name` and leaves the function on the
    /// stack, or returns Lua's message.
    pub fn compile(&self, code: &[u8], chunk_name: &CStr) -> Result<(), String> {
        let l = self.state;
        // SAFETY: plain API calls on our state.
        unsafe {
            if ffi::luaL_loadbuffer(l, code.as_ptr().cast(), code.len(), chunk_name.as_ptr()) != 0 {
                let msg = String::from_utf8_lossy(to_bytes(l, -1)).into_owned();
                ffi::lua_pop(l, 1);
                return Err(msg);
            }
        }
        Ok(())
    }

    /// Sets the global `name` (KEYS, ARGV) to an array of `items`, on the
    /// real globals table, past the read-only proxy.
    pub fn set_global_array(&self, name: &CStr, items: &[&[u8]]) {
        let l = self.state;
        // SAFETY: plain API calls on our state, with room for three values.
        unsafe {
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, ffi::lua_Integer::from(self.globals_ref));
            push_string_array(l, items);
            set_field(l, -2, name);
            ffi::lua_pop(l, 1);
        }
    }

    /// Memory used by the interpreter, in bytes.
    pub fn used_memory(&self) -> usize {
        // SAFETY: a query on our state.
        unsafe { ffi::lua_gc(self.state, ffi::LUA_GCCOUNT, 0) as usize * 1024 }
    }
}

/// Where the libraries Redis bundles (cjson, cmsgpack, bit, struct) are
/// registered as globals, before the sandbox is sealed.
fn load_bundled_libraries(lua: &mlua::Lua) -> mlua::Result<()> {
    super::libs::register_all(lua)
}

/// The bytes of the string (or number) at `idx`; empty for other types.
///
/// # Safety
/// `idx` must be a valid index; the slice lives as long as the value stays
/// on the stack.
pub unsafe fn to_bytes<'a>(l: *mut lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(p.cast(), len)
    }
}

/// Pushes a byte string.
///
/// # Safety
/// Needs one free stack slot.
pub unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast::<c_char>(), b.len());
}

/// Sets `t[name] = value` where `t` is at `table` and the value on top (popped).
unsafe fn set_field(l: *mut lua_State, table: c_int, name: &CStr) {
    ffi::lua_setfield(l, table, name.as_ptr());
}

unsafe fn set_function(l: *mut lua_State, table: c_int, name: &CStr, f: ffi::lua_CFunction) {
    ffi::lua_pushcfunction(l, f);
    set_field(l, if table < 0 { table - 1 } else { table }, name);
}

unsafe fn set_number(l: *mut lua_State, table: c_int, name: &CStr, n: f64) {
    ffi::lua_pushnumber(l, n);
    set_field(l, if table < 0 { table - 1 } else { table }, name);
}

/// Pushes Redis's error table `{err = "CODE message"}` for `text`: a text
/// starting with `-` carries its own code (`-WRONGTYPE ...`), any other gets
/// `ERR`; a trailing CR/LF is trimmed.
///
/// # Safety
/// Needs three free stack slots.
pub unsafe fn push_error_table(l: *mut lua_State, text: &[u8]) {
    let full = error_text(text);
    ffi::lua_newtable(l);
    push_bytes(l, &full);
    set_field(l, -2, c"err");
}

/// The `CODE message` text of an error table, as Redis's `luaPushErrorBuff`
/// derives it.
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let start = msg.iter().position(|b| !b"\r\n".contains(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !b"\r\n".contains(b)).map_or(start, |e| e + 1);
    let mut full = code.to_vec();
    full.push(b' ');
    full.extend_from_slice(&msg[start..end.max(start)]);
    full
}

/// Raises the error table for `text` (see `push_error_table`).
///
/// # Safety
/// Must be called from a C function run by Lua, with no live Rust values
/// that need dropping.
pub unsafe fn raise_error(l: *mut lua_State, text: &[u8]) -> c_int {
    push_error_table(l, text);
    ffi::lua_error(l)
}

/// Raises a plain string error, without position (as Lua's own C functions
/// do when they fail).
unsafe fn raise_plain(l: *mut lua_State, text: &CStr) -> c_int {
    ffi::lua_pushstring(l, text.as_ptr());
    ffi::lua_error(l)
}

/// Builds the globals, the `redis` table and the sandbox of a fresh state.
/// Returns the registry reference of the real globals table.
unsafe fn build_sandbox(l: *mut lua_State, api: Api) -> c_int {
    ffi::lua_newtable(l);
    set_field(l, ffi::LUA_REGISTRYINDEX, REAL_OF);
    ffi::lua_newtable(l);
    set_field(l, ffi::LUA_REGISTRYINDEX, PROXY_OF);

    remove_disallowed_globals(l);
    wrap_builtins(l);
    install_redis_api(l, api);
    install_math_random(l);
    install_error_handler(l, api);
    // The handler keeps its own reference to debug.getinfo.
    ffi::lua_pushnil(l);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"debug".as_ptr());
    if api == Api::Functions {
        install_library_api(l);
    }
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    let globals_ref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    seal_globals(l);
    globals_ref
}

/// Drops every global Redis 7.0 does not offer (print, dofile, loadfile,
/// module, require, getfenv, setfenv, newproxy, ...).
unsafe fn remove_disallowed_globals(l: *mut lua_State) {
    let mut doomed: Vec<Vec<u8>> = Vec::new();
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, ffi::LUA_GLOBALSINDEX) != 0 {
        ffi::lua_pop(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
            let name = to_bytes(l, -1);
            if !ALLOWED_GLOBALS.contains(&name) && name != b"debug" {
                doomed.push(name.to_vec());
            }
        }
    }
    for name in doomed {
        push_bytes(l, &name);
        ffi::lua_pushnil(l);
        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
    }
}

/// Replaces `pcall`, `rawset`, `rawget`, `next`, `pairs` and `setmetatable`
/// with versions that know about read-only proxies (and Redis's `pcall`,
/// which hands back the message of an error table).
unsafe fn wrap_builtins(l: *mut lua_State) {
    let wrappers: [(&CStr, ffi::lua_CFunction); 6] = [
        (c"pcall", redis_pcall),
        (c"rawset", guarded_rawset),
        (c"rawget", unwrapping_rawget),
        (c"next", unwrapping_next),
        (c"setmetatable", guarded_setmetatable),
        (c"pairs", unwrapping_pairs),
    ];
    for (name, wrapper) in wrappers {
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        ffi::lua_pushcclosure(l, wrapper, 1);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
    }
    // pairs returns the wrapped next, so iteration sees through proxies.
    ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"pairs".as_ptr());
    ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"next".as_ptr());
    ffi::lua_setupvalue(l, -2, 1);
    ffi::lua_pop(l, 1);
}

/// True if the value at `idx` is a read-only proxy; if so its real table is
/// pushed.
unsafe fn push_real_of(l: *mut lua_State, idx: c_int) -> bool {
    if ffi::lua_type(l, idx) != ffi::LUA_TTABLE {
        return false;
    }
    let idx = ffi::lua_absindex(l, idx);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, REAL_OF.as_ptr());
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, -2);
    ffi::lua_remove(l, -2);
    if ffi::lua_isnil(l, -1) != 0 {
        ffi::lua_pop(l, 1);
        return false;
    }
    true
}

/// Calls the wrapped original (upvalue 1) with the current arguments.
unsafe fn call_original(l: *mut lua_State) -> c_int {
    let nargs = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, nargs, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

/// Replaces argument 1 by its real table when it is a proxy.
unsafe fn unwrap_first_argument(l: *mut lua_State) {
    if push_real_of(l, 1) {
        ffi::lua_replace(l, 1);
    }
}

unsafe extern "C-unwind" fn guarded_rawset(l: *mut lua_State) -> c_int {
    if push_real_of(l, 1) {
        return raise_plain(l, c"Attempt to modify a readonly table");
    }
    call_original(l)
}

unsafe extern "C-unwind" fn guarded_setmetatable(l: *mut lua_State) -> c_int {
    if push_real_of(l, 1) {
        return raise_plain(l, c"Attempt to modify a readonly table");
    }
    call_original(l)
}

unsafe extern "C-unwind" fn unwrapping_rawget(l: *mut lua_State) -> c_int {
    unwrap_first_argument(l);
    call_original(l)
}

unsafe extern "C-unwind" fn unwrapping_next(l: *mut lua_State) -> c_int {
    unwrap_first_argument(l);
    call_original(l)
}

/// `pairs(t)`: the (wrapped) `next`, `t`, nil; upvalue 1 is that `next`.
unsafe extern "C-unwind" fn unwrapping_pairs(l: *mut lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushnil(l);
    3
}

/// Redis's `pcall`: as Lua's, but an error table comes back as its message.
unsafe extern "C-unwind" fn redis_pcall(l: *mut lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    ffi::luaL_checkany(l, 1);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_istable(l, -1) != 0 {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            } else {
                ffi::lua_pop(l, 1);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

/// The `redis` table: commands, replies, logging, replication controls and
/// version constants.
unsafe fn install_redis_api(l: *mut lua_State, api: Api) {
    ffi::lua_newtable(l);
    set_function(l, -1, c"call", super::call::redis_call);
    set_function(l, -1, c"pcall", super::call::redis_pcall_command);
    set_log_api(l);
    set_version(l);
    set_function(l, -1, c"setresp", super::call::redis_setresp);
    set_function(l, -1, c"sha1hex", redis_sha1hex);
    set_function(l, -1, c"error_reply", redis_error_reply);
    set_function(l, -1, c"status_reply", redis_status_reply);
    set_function(l, -1, c"set_repl", super::call::redis_set_repl);
    set_number(l, -1, c"REPL_NONE", 0.0);
    set_number(l, -1, c"REPL_AOF", f64::from(super::REPL_AOF));
    set_number(l, -1, c"REPL_SLAVE", f64::from(super::REPL_REPLICA));
    set_number(l, -1, c"REPL_REPLICA", f64::from(super::REPL_REPLICA));
    set_number(l, -1, c"REPL_ALL", f64::from(super::REPL_AOF | super::REPL_REPLICA));
    set_function(l, -1, c"acl_check_cmd", super::call::redis_acl_check_cmd);
    if api == Api::Eval {
        // No debugger: a breakpoint never stops, debug output goes nowhere.
        set_function(l, -1, c"breakpoint", returns_false);
        set_function(l, -1, c"debug", returns_nothing);
        // Scripts always replicate their effects in 7.0.
        set_function(l, -1, c"replicate_commands", returns_true);
    }
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());
}

/// `redis.log` and its level constants.
unsafe fn set_log_api(l: *mut lua_State) {
    set_function(l, -1, c"log", redis_log);
    set_number(l, -1, c"LOG_DEBUG", 0.0);
    set_number(l, -1, c"LOG_VERBOSE", 1.0);
    set_number(l, -1, c"LOG_NOTICE", 2.0);
    set_number(l, -1, c"LOG_WARNING", 3.0);
}

/// `REDIS_VERSION` and `REDIS_VERSION_NUM` (0x00MMmmpp), as INFO reports.
unsafe fn set_version(l: *mut lua_State) {
    let version = crate::REDIS_VERSION;
    push_bytes(l, version.as_bytes());
    set_field(l, -2, c"REDIS_VERSION");
    let num = version.split('.').take(3).fold(0u32, |acc, part| (acc << 8) | part.parse::<u32>().unwrap_or(0));
    set_number(l, -1, c"REDIS_VERSION_NUM", f64::from(num));
}

unsafe extern "C-unwind" fn returns_false(l: *mut lua_State) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

unsafe extern "C-unwind" fn returns_true(l: *mut lua_State) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

unsafe extern "C-unwind" fn returns_nothing(_l: *mut lua_State) -> c_int {
    0
}

unsafe extern "C-unwind" fn redis_sha1hex(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return raise_error(l, b"wrong number of arguments");
    }
    let digest = super::sha1_hex(to_bytes(l, 1));
    push_bytes(l, digest.as_bytes());
    1
}

/// `redis.error_reply(msg)`: the error table (pushed, not raised); a wrong
/// call returns the error table describing the mistake, as Redis does.
unsafe extern "C-unwind" fn redis_error_reply(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        push_error_table(l, b"wrong number or type of arguments");
        return 1;
    }
    let text = to_bytes(l, -1);
    let mut dashed = Vec::with_capacity(text.len() + 1);
    if !text.starts_with(b"-") {
        dashed.push(b'-');
    }
    dashed.extend_from_slice(text);
    push_error_table(l, &dashed);
    1
}

/// `redis.status_reply(msg)`: `{ok = msg}`.
unsafe extern "C-unwind" fn redis_status_reply(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        push_error_table(l, b"wrong number or type of arguments");
        return 1;
    }
    ffi::lua_newtable(l);
    ffi::lua_pushvalue(l, -2);
    set_field(l, -2, c"ok");
    1
}

/// `redis.log(level, ...)`: the arguments joined by spaces, at that level.
unsafe extern "C-unwind" fn redis_log(l: *mut lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc < 2 {
        return raise_error(l, b"redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, 1) == 0 {
        return raise_error(l, b"First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, 1) as i32;
    let Some(level) = log_level(level) else {
        return raise_error(l, b"Invalid debug level.");
    };
    if crate::log::enabled(level) {
        let mut line = Vec::new();
        for i in 2..=argc {
            if ffi::lua_isstring(l, i) != 0 {
                if i != 2 {
                    line.push(b' ');
                }
                line.extend_from_slice(to_bytes(l, i));
            }
        }
        crate::log::log(level, &String::from_utf8_lossy(&line));
    }
    0
}

fn log_level(n: i32) -> Option<crate::log::Level> {
    use crate::log::Level;
    Some(match n {
        0 => Level::Debug,
        1 => Level::Verbose,
        2 => Level::Notice,
        3 => Level::Warning,
        _ => return None,
    })
}

/// Replaces `math.random` and `math.randomseed` with Redis's generator.
unsafe fn install_math_random(l: *mut lua_State) {
    ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"math".as_ptr());
    set_function(l, -1, c"random", math_random);
    set_function(l, -1, c"randomseed", math_randomseed);
    ffi::lua_pop(l, 1);
}

thread_local! {
    /// The scripts' generator: one sequence for the whole server, as Redis's.
    static RANDOM: std::cell::Cell<Lrand48> = std::cell::Cell::new(Lrand48::default());
}

fn next_random_unit() -> f64 {
    RANDOM.with(|cell| {
        let mut rng = cell.get();
        let r = rng.next_unit();
        cell.set(rng);
        r
    })
}

unsafe extern "C-unwind" fn math_random(l: *mut lua_State) -> c_int {
    if !super::call::script_running() {
        return ffi::luaL_error(l, c"math.random can only be called inside a script invocation".as_ptr());
    }
    let r = next_random_unit();
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let upper = ffi::luaL_checkinteger(l, 1) as c_int;
            if upper < 1 {
                return ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * f64::from(upper)).floor() + 1.0);
        }
        2 => {
            let lower = ffi::luaL_checkinteger(l, 1) as c_int;
            let upper = ffi::luaL_checkinteger(l, 2) as c_int;
            if lower > upper {
                return ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
            }
            let span = f64::from(upper) - f64::from(lower) + 1.0;
            ffi::lua_pushnumber(l, (r * span).floor() + f64::from(lower));
        }
        _ => return ffi::luaL_error(l, c"wrong number of arguments".as_ptr()),
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: *mut lua_State) -> c_int {
    if !super::call::script_running() {
        return ffi::luaL_error(l, c"math.randomseed can only be called inside a script invocation".as_ptr());
    }
    let seed = ffi::luaL_checkinteger(l, 1) as c_int;
    RANDOM.with(|cell| {
        let mut rng = cell.get();
        rng.seed(seed);
        cell.set(rng);
    });
    0
}

/// Compiles the error handler: a global for EVAL (as Redis names it), a
/// registry entry for functions.
unsafe fn install_error_handler(l: *mut lua_State, api: Api) {
    let loaded = ffi::luaL_loadbuffer(
        l,
        ERROR_HANDLER_SOURCE.as_ptr().cast(),
        ERROR_HANDLER_SOURCE.len(),
        c"@err_handler_def".as_ptr(),
    );
    assert_eq!(loaded, 0, "the error handler compiles");
    ffi::lua_call(l, 0, 1);
    ffi::lua_pushvalue(l, -1);
    set_field(l, ffi::LUA_REGISTRYINDEX, ERROR_HANDLER);
    if api == Api::Eval {
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"__redis__err__handler".as_ptr());
    } else {
        ffi::lua_pop(l, 1);
    }
}

/// What a library sees while it loads: only `redis.register_function`,
/// `redis.log` and the version constants; any other global is an error.
unsafe fn install_library_api(l: *mut lua_State) {
    ffi::lua_newtable(l); // library globals
    ffi::lua_newtable(l); // its redis table
    set_function(l, -1, c"register_function", super::functions::register_function);
    set_log_api(l);
    set_version(l);
    set_error_metatable(l);
    set_field(l, -2, c"redis");
    set_error_metatable(l);
    protect(l);
    set_field(l, ffi::LUA_REGISTRYINDEX, LIBRARY_API);
}

/// Makes reading a missing key of the table on top an error.
unsafe fn set_error_metatable(l: *mut lua_State) {
    ffi::lua_newtable(l);
    set_function(l, -1, c"__index", nonexistent_global);
    ffi::lua_setmetatable(l, -2);
}

unsafe extern "C-unwind" fn nonexistent_global(l: *mut lua_State) -> c_int {
    let name = String::from_utf8_lossy(to_bytes(l, 2)).into_owned();
    let msg = format!("Script attempted to access nonexistent global variable '{name}'\0");
    ffi::luaL_where(l, 1);
    ffi::lua_pushstring(l, msg.as_ptr().cast());
    drop(msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

unsafe extern "C-unwind" fn readonly_write(l: *mut lua_State) -> c_int {
    ffi::luaL_error(l, c"Attempt to modify a readonly table".as_ptr())
}

/// Replaces the table on top of the stack by its read-only proxy, protecting
/// every table reachable from it first (each table gets one proxy, so
/// cycles such as `_G._G` end).
unsafe fn protect(l: *mut lua_State) {
    ffi::luaL_checkstack(l, 8, c"protecting tables".as_ptr());
    let real = ffi::lua_gettop(l);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, PROXY_OF.as_ptr());
    let proxy_of = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, real);
    ffi::lua_rawget(l, proxy_of);
    if ffi::lua_isnil(l, -1) == 0 {
        ffi::lua_replace(l, real);
        ffi::lua_settop(l, real);
        return;
    }
    ffi::lua_pop(l, 1);
    // The proxy and its bookkeeping exist before the contents are visited.
    ffi::lua_newtable(l);
    let proxy = ffi::lua_gettop(l);
    ffi::lua_newtable(l);
    ffi::lua_pushvalue(l, real);
    set_field(l, -2, c"__index");
    set_function(l, -1, c"__newindex", readonly_write);
    ffi::lua_setmetatable(l, proxy);
    ffi::lua_pushvalue(l, real);
    ffi::lua_pushvalue(l, proxy);
    ffi::lua_rawset(l, proxy_of);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, REAL_OF.as_ptr());
    ffi::lua_pushvalue(l, proxy);
    ffi::lua_pushvalue(l, real);
    ffi::lua_rawset(l, -3);
    ffi::lua_pop(l, 1);

    ffi::lua_pushnil(l);
    while ffi::lua_next(l, real) != 0 {
        if ffi::lua_istable(l, -1) != 0 && !is_proxy(l, -1) {
            protect(l);
            ffi::lua_pushvalue(l, -2);
            ffi::lua_pushvalue(l, -2);
            ffi::lua_rawset(l, real);
        }
        ffi::lua_pop(l, 1);
    }
    ffi::lua_replace(l, real);
    ffi::lua_settop(l, real);
}

unsafe fn is_proxy(l: *mut lua_State, idx: c_int) -> bool {
    if push_real_of(l, idx) {
        ffi::lua_pop(l, 1);
        return true;
    }
    false
}

/// Seals the globals: the real table gets the missing-global error, every
/// table in it becomes read-only, and scripts see the globals' proxy, whose
/// metatable is kept so the functions engine can point it at the library
/// API while a library loads.
unsafe fn seal_globals(l: *mut lua_State) {
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_pushvalue(l, -1);
    set_field(l, ffi::LUA_REGISTRYINDEX, REAL_GLOBALS);
    set_error_metatable(l);
    protect(l);
    ffi::lua_getmetatable(l, -1);
    set_field(l, ffi::LUA_REGISTRYINDEX, GLOBALS_META);
    // Strings' methods resolve through the protected string table.
    push_bytes(l, b"");
    ffi::lua_getmetatable(l, -1);
    ffi::lua_getfield(l, -3, c"string".as_ptr());
    set_field(l, -2, c"__index");
    ffi::lua_pop(l, 2);
    ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
}

/// Pushes a new array of byte strings.
///
/// # Safety
/// Needs two free stack slots.
pub unsafe fn push_string_array(l: *mut lua_State, items: &[&[u8]]) {
    ffi::lua_createtable(l, items.len() as c_int, 0);
    for (i, item) in items.iter().enumerate() {
        push_bytes(l, item);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn error_texts_get_a_code() {
        assert_eq!(error_text(b"-WRONGTYPE bad\r\n"), b"WRONGTYPE bad");
        assert_eq!(error_text(b"plain words"), b"ERR plain words");
        assert_eq!(error_text(b"-NOCODE"), b"ERR NOCODE");
    }
}
