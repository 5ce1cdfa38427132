//! Functions (Redis 7.0): libraries of Lua functions loaded with FUNCTION
//! LOAD and called by name with FCALL. Every library lives in one
//! interpreter of its own (separate from EVAL's); while a library's code
//! runs, its globals are only `redis.register_function`, `redis.log` and the
//! version constants, and the functions it registers are kept as registry
//! references.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::c_int;

use mlua::ffi::{self, lua_State};

use super::lua::{self, push_error_table, to_bytes, Api, LuaVm};
use super::script_flags;

pub struct Function {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: u32,
    /// The callback's reference in the interpreter's registry.
    pub lua_ref: c_int,
}

pub struct Library {
    pub name: String,
    /// The code as loaded, shebang included (FUNCTION LIST WITHCODE, DUMP).
    pub code: Vec<u8>,
    pub functions: BTreeMap<String, Function>,
}

#[derive(Default)]
pub struct Functions {
    vm: Option<LuaVm>,
    pub libraries: BTreeMap<String, Library>,
    /// Function name -> its library.
    index: HashMap<String, String>,
}

const BAD_NAME: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

impl Functions {
    /// The interpreter, for a run (given back with `put_vm`).
    pub fn take_vm(&mut self) -> Option<LuaVm> {
        self.vm();
        self.vm.take()
    }

    pub fn put_vm(&mut self, vm: LuaVm) {
        self.vm = Some(vm);
    }

    fn vm(&mut self) -> &mut LuaVm {
        self.vm.get_or_insert_with(|| LuaVm::new(Api::Functions))
    }

    pub fn function(&self, name: &str) -> Option<&Function> {
        let library = self.index.get(name)?;
        self.libraries.get(library)?.functions.get(name)
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Memory used by the functions' interpreter.
    pub fn memory(&self) -> usize {
        self.vm.as_ref().map_or(super::EMPTY_VM_MEMORY, LuaVm::used_memory)
    }

    /// Memory the libraries hold besides the interpreter (an estimate).
    pub fn cache_memory(&self) -> usize {
        let functions: usize = self
            .libraries
            .values()
            .flat_map(|l| l.functions.values())
            .map(|f| f.name.len() + f.description.as_ref().map_or(0, Vec::len) + std::mem::size_of::<Function>())
            .sum();
        let libraries: usize = self.libraries.values().map(|l| l.name.len() + std::mem::size_of::<Library>()).sum();
        functions + libraries
    }

    /// FUNCTION FLUSH: every library goes, with the interpreter.
    pub fn flush(&mut self) {
        self.libraries.clear();
        self.index.clear();
        self.vm = None;
    }

    /// FUNCTION DELETE. False if there is no such library.
    pub fn delete(&mut self, name: &str) -> bool {
        match self.libraries.remove(name) {
            Some(library) => {
                self.release(library);
                true
            }
            None => false,
        }
    }

    /// Forgets a library's functions and frees their callbacks.
    fn release(&mut self, library: Library) {
        for function in library.functions.values() {
            self.index.remove(&function.name);
        }
        let refs: Vec<c_int> = library.functions.values().map(|f| f.lua_ref).collect();
        self.unref(&refs);
    }

    fn unref(&mut self, refs: &[c_int]) {
        if let Some(vm) = &self.vm {
            // SAFETY: references made in this interpreter.
            refs.iter().for_each(|&r| unsafe { ffi::luaL_unref(vm.state, ffi::LUA_REGISTRYINDEX, r) });
        }
    }

    /// FUNCTION LOAD: runs the library's code and installs what it
    /// registered. Returns the library's name.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        let exists = |name: &str| self.libraries.contains_key(name);
        let name = library_name(code, |n| exists(n) && !replace)?;
        let library = self.stage(code, name)?;
        let clash = library.functions.keys().find(|f| self.index.get(*f).is_some_and(|lib| *lib != library.name));
        if let Some(clash) = clash {
            let msg = format!("Function {clash} already exists");
            self.discard(library);
            return Err(msg);
        }
        if let Some(old) = self.libraries.remove(&library.name) {
            self.release(old);
        }
        let name = library.name.clone();
        self.install(library);
        Ok(name)
    }

    /// Runs a library's code and returns the library it registered (not
    /// yet installed).
    fn stage(&mut self, code: &[u8], (name, body_at): (String, usize)) -> Result<Library, String> {
        let functions = self.run_library_code(&code[body_at..])?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions: functions.into_iter().map(|f| (f.name.clone(), f)).collect(),
        })
    }

    /// Frees a staged library that will not be installed.
    fn discard(&mut self, library: Library) {
        let refs: Vec<c_int> = library.functions.values().map(|f| f.lua_ref).collect();
        self.unref(&refs);
    }

    /// FUNCTION RESTORE: installs the libraries of a FUNCTION DUMP payload.
    pub fn restore(&mut self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let codes = parse_dump_payload(payload)?;
        let mut staged: Vec<Library> = Vec::new();
        for code in &codes {
            let staged_names: Vec<&str> = staged.iter().map(|l| l.name.as_str()).collect();
            let outcome = library_name(code, |n| staged_names.contains(&n)).and_then(|name| self.stage(code, name));
            match outcome {
                Ok(library) => staged.push(library),
                Err(e) => {
                    staged.into_iter().for_each(|l| self.discard(l));
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.check_restore(&staged, policy) {
            staged.into_iter().for_each(|l| self.discard(l));
            return Err(e);
        }
        let doomed: Vec<String> = match policy {
            RestorePolicy::Flush => self.libraries.keys().cloned().collect(),
            _ => staged.iter().map(|l| l.name.clone()).collect(),
        };
        for name in doomed {
            if let Some(old) = self.libraries.remove(&name) {
                self.release(old);
            }
        }
        staged.into_iter().for_each(|l| self.install(l));
        Ok(())
    }

    /// The collisions Redis refuses when joining restored libraries to the
    /// existing ones.
    fn check_restore(&self, staged: &[Library], policy: RestorePolicy) -> Result<(), String> {
        if policy == RestorePolicy::Flush {
            return Ok(());
        }
        if policy == RestorePolicy::Append {
            if let Some(lib) = staged.iter().find(|l| self.libraries.contains_key(&l.name)) {
                return Err(format!("Library {} already exists", lib.name));
            }
        }
        let replaced = |lib: &str| policy == RestorePolicy::Replace && staged.iter().any(|l| l.name == lib);
        for lib in staged {
            let clash = lib.functions.keys().find(|f| self.index.get(*f).is_some_and(|owner| !replaced(owner)));
            if let Some(clash) = clash {
                return Err(format!("Function {clash} already exists"));
            }
        }
        Ok(())
    }

    /// FUNCTION DUMP: every library's code, in Redis's payload format.
    pub fn dump(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        for library in self.libraries.values() {
            payload.push(RDB_OPCODE_FUNCTION2);
            push_rdb_string(&mut payload, &library.code);
        }
        payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = cinnabar_persistence::CRC64.checksum(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        payload
    }

    fn install(&mut self, library: Library) {
        for function in library.functions.keys() {
            self.index.insert(function.clone(), library.name.clone());
        }
        self.libraries.insert(library.name.clone(), library);
    }

    /// Compiles and runs a library's code with the library API as globals;
    /// returns the functions it registered.
    fn run_library_code(&mut self, body: &[u8]) -> Result<Vec<Function>, String> {
        let vm = self.vm();
        vm.compile(body, c"@user_function").map_err(|e| format!("Error compiling function: {e}"))?;
        let l = vm.state;
        LOADING.with(|p| *p.borrow_mut() = Some(Vec::new()));
        LOAD_STARTED.with(|t| t.set(Some(std::time::Instant::now())));
        // SAFETY: our state; the compiled code is on top.
        let failure = unsafe {
            point_globals_at(l, lua::LIBRARY_API);
            ffi::lua_sethook(l, Some(load_timeout_hook), ffi::LUA_MASKCOUNT, super::busy::HOOK_INSTRUCTIONS);
            let failed = ffi::lua_pcall(l, 0, 0, 0) != 0;
            ffi::lua_sethook(l, None, 0, 0);
            let failure = failed.then(|| load_error_message(l));
            point_globals_at(l, lua::REAL_GLOBALS);
            ffi::lua_settop(l, 0);
            failure
        };
        let registered = LOADING.with(|p| p.borrow_mut().take()).unwrap_or_default();
        if let Some(msg) = failure {
            let refs: Vec<c_int> = registered.iter().map(|f| f.lua_ref).collect();
            self.unref(&refs);
            return Err(format!("Error registering functions: {msg}"));
        }
        Ok(registered)
    }
}

thread_local! {
    /// The functions registered so far by the library being loaded (None
    /// outside FUNCTION LOAD).
    static LOADING: RefCell<Option<Vec<Function>>> = const { RefCell::new(None) };
    /// When the library being loaded started running.
    static LOAD_STARTED: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// How long a library's code may run while it loads (Redis's
/// LOAD_TIMEOUT_MS): the server serves no one meanwhile.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Stops a library whose code runs past `LOAD_TIMEOUT`.
unsafe extern "C-unwind" fn load_timeout_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let overdue = LOAD_STARTED.with(|t| t.get()).is_some_and(|started| started.elapsed() > LOAD_TIMEOUT);
    if overdue {
        // Every line raises from now on, so the code cannot catch it and go on.
        ffi::lua_sethook(l, Some(load_timeout_hook), ffi::LUA_MASKLINE, 0);
        lua::raise_error(l, b"FUNCTION LOAD timeout");
    }
}

/// Makes globals read through to the table at registry key `key`.
unsafe fn point_globals_at(l: *mut lua_State, key: &std::ffi::CStr) {
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, lua::GLOBALS_META.as_ptr());
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_setfield(l, -2, c"__index".as_ptr());
    ffi::lua_pop(l, 1);
}

/// The message of an error raised while a library loaded: a string gets
/// `ERR `, an error table gives its `err`.
unsafe fn load_error_message(l: *mut lua_State) -> String {
    if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
        return format!("ERR {}", String::from_utf8_lossy(to_bytes(l, -1)));
    }
    if ffi::lua_istable(l, -1) != 0 {
        ffi::lua_getfield(l, -1, c"err".as_ptr());
        let msg = String::from_utf8_lossy(to_bytes(l, -1)).into_owned();
        ffi::lua_pop(l, 1);
        return msg;
    }
    String::new()
}

/// How FUNCTION RESTORE treats libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Refuse any library or function that already exists.
    Append,
    /// Replace libraries of the same name.
    Replace,
    /// Drop every existing library first.
    Flush,
}

/// RDB opcode of a function library (Redis 7.0 GA format) and the RDB
/// version written after a DUMP payload.
const RDB_OPCODE_FUNCTION2: u8 = 245;
const RDB_VERSION: u16 = 10;

/// Reads a library's name from its metadata, refusing a bad name, another
/// engine than Lua, or a name `taken` says is taken. Returns the name and
/// where the code after the shebang starts.
fn library_name(code: &[u8], taken: impl Fn(&str) -> bool) -> Result<(String, usize), String> {
    let (engine, name, body_at) = parse_metadata(code)?;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    if taken(&name) {
        return Err(format!("Library '{name}' already exists"));
    }
    Ok((name, body_at))
}

/// Appends an RDB string: its length (RDB length encoding), then its bytes.
fn push_rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Reads an RDB length at `*at`: Ok(len) or, for a special encoding,
/// Err(encoding type).
fn read_rdb_length(data: &[u8], at: &mut usize) -> Option<Result<usize, u8>> {
    let first = *data.get(*at)?;
    *at += 1;
    Some(match first >> 6 {
        0 => Ok(usize::from(first & 0x3f)),
        1 => {
            let next = *data.get(*at)?;
            *at += 1;
            Ok((usize::from(first & 0x3f) << 8) | usize::from(next))
        }
        2 => {
            let width = match first {
                0x80 => 4,
                0x81 => 8,
                _ => return None,
            };
            let bytes = data.get(*at..*at + width)?;
            *at += width;
            Ok(bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)))
        }
        _ => Err(first & 0x3f),
    })
}

/// Reads an RDB string (plain, integer-encoded or LZF-compressed).
fn read_rdb_string(data: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    match read_rdb_length(data, at)? {
        Ok(len) => {
            let s = data.get(*at..*at + len)?.to_vec();
            *at += len;
            Some(s)
        }
        Err(width @ 0..=2) => {
            let n = 1usize << width;
            let bytes = data.get(*at..*at + n)?;
            *at += n;
            let value = match n {
                1 => i64::from(bytes[0] as i8),
                2 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
                _ => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            };
            Some(value.to_string().into_bytes())
        }
        Err(3) => {
            let compressed_len = read_rdb_length(data, at)?.ok()?;
            let len = read_rdb_length(data, at)?.ok()?;
            let compressed = data.get(*at..*at + compressed_len)?;
            *at += compressed_len;
            cinnabar_storage::lzf::decompress(compressed, len)
        }
        Err(_) => None,
    }
}

/// Checks a FUNCTION DUMP payload's footer (RDB version, CRC64) and returns
/// the library codes it holds.
fn parse_dump_payload(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad_footer = || "DUMP payload version or checksum are wrong".to_string();
    if payload.len() < 10 {
        return Err(bad_footer());
    }
    let body_len = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let crc = u64::from_le_bytes(payload[body_len + 2..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || cinnabar_persistence::CRC64.checksum(&payload[..body_len + 2]) != crc {
        return Err(bad_footer());
    }
    let body = &payload[..body_len];
    let mut codes = Vec::new();
    let mut at = 0;
    while at < body.len() {
        if body[at] != RDB_OPCODE_FUNCTION2 {
            return Err("given type is not a function".into());
        }
        at += 1;
        let code = read_rdb_string(body, &mut at).ok_or("Failed loading library payload")?;
        codes.push(code);
    }
    Ok(codes)
}

/// Function and library names: letters, digits and underscores.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Reads `#!<engine> name=<library>`; returns the engine, the name and
/// where the code after the shebang starts (its newline included).
fn parse_metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = cinnabar_protocol::request::split_args(&code[..end]).unwrap_or_default();
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(&first[2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!("Invalid metadata value given: {}", String::from_utf8_lossy(part)));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok((engine, name, end))
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=, callback=, flags=, description=}`.
pub(crate) unsafe extern "C-unwind" fn register_function(l: *mut lua_State) -> c_int {
    let loading = LOADING.with(|p| p.borrow().is_some());
    if !loading {
        return lua::raise_error(l, b"redis.register_function can only be called on FUNCTION LOAD command");
    }
    let parsed = match ffi::lua_gettop(l) {
        1 => read_named_arguments(l),
        2 => read_positional_arguments(l),
        _ => Err("wrong number of arguments to redis.register_function"),
    };
    let outcome = parsed.and_then(|function| {
        LOADING
            .with(|p| {
                let mut pending = p.borrow_mut();
                let pending = pending.as_mut().expect("checked above");
                if !valid_name(&function.name) {
                    Err((function, BAD_NAME))
                } else if pending.iter().any(|f| f.name == function.name) {
                    Err((function, "Function already exists in the library"))
                } else {
                    pending.push(function);
                    Ok(())
                }
            })
            .map_err(|(function, msg)| {
                ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, function.lua_ref);
                msg
            })
    });
    match outcome {
        Ok(()) => 0,
        Err(msg) => {
            push_error_table(l, msg.as_bytes());
            ffi::lua_error(l)
        }
    }
}

unsafe fn string_at(l: *mut lua_State, idx: c_int) -> Option<Vec<u8>> {
    (ffi::lua_isstring(l, idx) != 0).then(|| to_bytes(l, idx).to_vec())
}

unsafe fn read_positional_arguments(l: *mut lua_State) -> Result<Function, &'static str> {
    let name = string_at(l, 1).ok_or("first argument to redis.register_function must be a string")?;
    if ffi::lua_isfunction(l, 2) == 0 {
        return Err("second argument to redis.register_function must be a function");
    }
    let lua_ref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    Ok(Function { name: String::from_utf8_lossy(&name).into_owned(), description: None, flags: 0, lua_ref })
}

unsafe fn read_named_arguments(l: *mut lua_State) -> Result<Function, &'static str> {
    if ffi::lua_istable(l, 1) == 0 {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    }
    let mut name = None;
    let mut description = None;
    let mut lua_ref = None;
    let mut flags = 0;
    let release = |l: *mut lua_State, r: Option<c_int>| {
        if let Some(r) = r {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
        }
    };
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, 1) != 0 {
        let problem = if ffi::lua_isstring(l, -2) == 0 {
            Some("named argument key given to redis.register_function is not a string")
        } else {
            let key = String::from_utf8_lossy(to_bytes(l, -2)).to_ascii_lowercase();
            match key.as_str() {
                "function_name" => match string_at(l, -1) {
                    Some(n) => {
                        name = Some(n);
                        None
                    }
                    None => Some("function_name argument given to redis.register_function must be a string"),
                },
                "description" => match string_at(l, -1) {
                    Some(d) => {
                        description = Some(d);
                        None
                    }
                    None => Some("description argument given to redis.register_function must be a string"),
                },
                "callback" if ffi::lua_isfunction(l, -1) == 0 => {
                    Some("callback argument given to redis.register_function must be a function")
                }
                "callback" => {
                    release(l, lua_ref.take());
                    ffi::lua_pushvalue(l, -1);
                    lua_ref = Some(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
                    None
                }
                "flags" if ffi::lua_istable(l, -1) == 0 => {
                    Some("flags argument to redis.register_function must be a table representing function flags")
                }
                "flags" => match read_flags(l) {
                    Some(f) => {
                        flags = f;
                        None
                    }
                    None => Some("unknown flag given"),
                },
                _ => Some("unknown argument given to redis.register_function"),
            }
        };
        if let Some(problem) = problem {
            release(l, lua_ref);
            return Err(problem);
        }
        ffi::lua_pop(l, 1);
    }
    let Some(name) = name else {
        release(l, lua_ref);
        return Err("redis.register_function must get a function name argument");
    };
    let Some(lua_ref) = lua_ref else {
        return Err("redis.register_function must get a callback argument");
    };
    Ok(Function { name: String::from_utf8_lossy(&name).into_owned(), description, flags, lua_ref })
}

/// Reads the flags array on top of the stack (names compared ignoring case).
unsafe fn read_flags(l: *mut lua_State) -> Option<u32> {
    let mut flags = 0;
    for i in 1.. {
        ffi::lua_rawgeti(l, -1, i);
        if ffi::lua_isnil(l, -1) != 0 {
            ffi::lua_pop(l, 1);
            break;
        }
        let name = string_at(l, -1);
        ffi::lua_pop(l, 1);
        let name = name?;
        let (bit, _) = script_flags::NAMES.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(&name))?;
        flags |= bit;
    }
    Some(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_like_redis() {
        assert_eq!(parse_metadata(b"#!lua name=lib\ncode"), Ok(("lua".into(), "lib".into(), 14)));
        assert_eq!(parse_metadata(b"code"), Err("Missing library metadata".into()));
        assert_eq!(parse_metadata(b"#!lua name=a"), Err("Invalid library metadata".into()));
        assert_eq!(parse_metadata(b"#!lua\n"), Err("Library name was not given".into()));
        assert_eq!(parse_metadata(b"#!lua x=1\n"), Err("Invalid metadata value given: x=1".into()));
        assert_eq!(
            parse_metadata(b"#!lua name=a name=b\n"),
            Err("Invalid metadata value, name argument was given multiple times".into())
        );
    }
}
