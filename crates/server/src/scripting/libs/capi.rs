//! The thin layer between the libraries and Lua 5.1's C API: argument checks
//! that report problems as `lauxlib` words them, and the one place where a
//! library function's failure becomes a Lua error.
//!
//! The libraries are plain `lua_CFunction`s rather than mlua callbacks because
//! what scripts observe must be what Redis's C libraries produce: errors are
//! Lua strings (not mlua error objects), prefixed with the caller's position
//! (`user_script:1: `) exactly when `luaL_error` would prefix them, and
//! argument errors name the function as `luaL_argerror` does. Raising a Lua
//! error longjmps, so no Rust frame holding a value with a destructor may be
//! on the way: library code returns a [`Failure`] instead, and [`finish`]
//! raises it once everything the function allocated has been dropped.
//! Library code only calls API functions that cannot raise except on memory
//! exhaustion (raw table access, `lua_next`), as the C libraries do.

use std::ffi::{c_int, CStr};

pub(super) use mlua::ffi::{self, lua_State};

/// Why a library function failed, in the shape of the `lauxlib` call the C
/// library would have made.
pub(super) enum Failure {
    /// `luaL_error`: the message, prefixed by the calling script's position.
    Error(Vec<u8>),
    /// `luaL_argerror(narg, message)`: "bad argument #n to 'name' (message)".
    Arg(c_int, Vec<u8>),
    /// An error raised by the Lua core inside a C function: the bare message.
    Raw(Vec<u8>),
}

impl Failure {
    pub(super) fn error(message: impl Into<Vec<u8>>) -> Failure {
        Failure::Error(message.into())
    }

    pub(super) fn arg(narg: c_int, message: impl Into<Vec<u8>>) -> Failure {
        Failure::Arg(narg, message.into())
    }
}

/// What a library function returns: the number of results it pushed.
pub(super) type Returns = Result<c_int, Failure>;

/// Turns `fn(*mut lua_State) -> Returns` into a `lua_CFunction`.
macro_rules! c_function {
    ($implementation:path) => {{
        unsafe extern "C-unwind" fn entry(state: *mut $crate::scripting::libs::capi::lua_State) -> std::ffi::c_int {
            $crate::scripting::libs::capi::finish(state, $implementation(state))
        }
        entry as mlua::ffi::lua_CFunction
    }};
}
pub(super) use c_function;

/// Returns the result count, or raises the failure as a Lua error.
///
/// # Safety
/// `l` is the state the C function was called with; nothing that needs
/// dropping may be alive in the caller.
pub(crate) unsafe fn finish(l: *mut lua_State, returns: Returns) -> c_int {
    match returns {
        Ok(results) => results,
        Err(failure) => raise(l, failure),
    }
}

unsafe fn raise(l: *mut lua_State, failure: Failure) -> ! {
    // The function's values are discarded by the error anyway; dropping them
    // now guarantees room for the message.
    ffi::lua_settop(l, 0);
    match failure {
        Failure::Error(message) => {
            ffi::luaL_where(l, 1);
            push_bytes(l, &message);
            drop(message);
            ffi::lua_concat(l, 2);
            ffi::lua_error(l)
        }
        Failure::Raw(message) => {
            push_bytes(l, &message);
            drop(message);
            ffi::lua_error(l)
        }
        Failure::Arg(narg, message) => {
            push_bytes(l, &message);
            drop(message);
            ffi::luaL_argerror(l, narg, ffi::lua_tolstring(l, -1, std::ptr::null_mut()));
            unreachable!("luaL_argerror returned")
        }
    }
}

pub(super) unsafe fn push_bytes(l: *mut lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring_(l, bytes.as_ptr().cast(), bytes.len());
}

/// Registers `functions` in the table at the top of the stack; each gets the
/// `upvalues` values found just above the table as its upvalues, which are
/// then popped (as Lua 5.2's `luaL_setfuncs`).
pub(super) unsafe fn set_functions(l: *mut lua_State, functions: &[(&CStr, ffi::lua_CFunction)], upvalues: c_int) {
    for (name, function) in functions {
        for _ in 0..upvalues {
            ffi::lua_pushvalue(l, -upvalues);
        }
        ffi::lua_pushcclosure(l, *function, upvalues);
        ffi::lua_setfield(l, -(upvalues + 2), name.as_ptr());
    }
    ffi::lua_settop(l, -upvalues - 1);
}

/// Lua's name for the type of the value at `idx` ("no value" when absent).
pub(super) unsafe fn type_name(l: *mut lua_State, idx: c_int) -> &'static str {
    let name = CStr::from_ptr(ffi::lua_typename(l, ffi::lua_type(l, idx)));
    name.to_str().unwrap_or("?")
}

/// `luaL_typerror`: "<expected> expected, got <type>".
pub(super) unsafe fn type_error(l: *mut lua_State, narg: c_int, expected: &str) -> Failure {
    Failure::arg(narg, format!("{expected} expected, got {}", type_name(l, narg)))
}

/// `luaL_checknumber`: numbers and numeric strings.
pub(super) unsafe fn check_number(l: *mut lua_State, narg: c_int) -> Result<f64, Failure> {
    let n = ffi::lua_tonumber(l, narg);
    if n == 0.0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(type_error(l, narg, "number"));
    }
    Ok(n)
}

/// `luaL_checkinteger`: a number truncated toward zero.
pub(super) unsafe fn check_integer(l: *mut lua_State, narg: c_int) -> Result<i64, Failure> {
    let n = ffi::lua_tointeger_(l, narg);
    if n == 0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(type_error(l, narg, "number"));
    }
    Ok(n)
}

/// `luaL_optinteger`: `default` when the argument is absent or nil.
pub(super) unsafe fn opt_integer(l: *mut lua_State, narg: c_int, default: i64) -> Result<i64, Failure> {
    if ffi::lua_type(l, narg) <= ffi::LUA_TNIL {
        return Ok(default);
    }
    check_integer(l, narg)
}

/// `luaL_checklstring`: the bytes of a string (numbers are converted in
/// place, as Lua does). The slice lives as long as the value stays on the
/// stack, which the caller guarantees.
pub(super) unsafe fn check_bytes<'a>(l: *mut lua_State, narg: c_int) -> Result<&'a [u8], Failure> {
    let mut len = 0;
    let data = ffi::lua_tolstring(l, narg, &mut len);
    if data.is_null() {
        return Err(type_error(l, narg, "string"));
    }
    Ok(std::slice::from_raw_parts(data.cast(), len))
}

/// `luaL_checkstring`: the string up to its first NUL, as C code sees it.
pub(super) unsafe fn check_c_string<'a>(l: *mut lua_State, narg: c_int) -> Result<&'a [u8], Failure> {
    let bytes = check_bytes(l, narg)?;
    Ok(bytes.iter().position(|&b| b == 0).map_or(bytes, |end| &bytes[..end]))
}

/// `luaL_checkoption` without a default: the index of the string in `options`.
pub(super) unsafe fn check_option(l: *mut lua_State, narg: c_int, options: &[&str]) -> Result<usize, Failure> {
    let name = check_c_string(l, narg)?;
    if let Some(index) = options.iter().position(|option| option.as_bytes() == name) {
        return Ok(index);
    }
    let mut message = b"invalid option '".to_vec();
    message.extend_from_slice(name);
    message.push(b'\'');
    Err(Failure::Arg(narg, message))
}

/// `luaL_checkstack`: room for `extra` more values, or the "stack overflow"
/// error naming `what`.
pub(super) unsafe fn check_stack(l: *mut lua_State, extra: c_int, what: &str) -> Result<(), Failure> {
    if ffi::lua_checkstack(l, extra) == 0 {
        return Err(Failure::error(format!("stack overflow ({what})")));
    }
    Ok(())
}

// The C libraries convert doubles to integers with plain casts; for values
// out of range the result is what x86-64's `cvttsd2si` gives (the minimum of
// the type), which these functions reproduce.

/// A double cast to a C `int`.
pub(super) fn double_to_c_int(n: f64) -> c_int {
    if n > -2147483649.0 && n < 2147483648.0 {
        n as c_int
    } else {
        c_int::MIN
    }
}

/// A double cast to a C `long`.
pub(super) fn double_to_c_long(n: f64) -> i64 {
    if (-9223372036854775808.0..9223372036854775808.0).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// A double cast to a C `unsigned long` / `size_t`: below 2^63 via `long`
/// (so negative values wrap around), above by offsetting by 2^63.
pub(super) fn double_to_c_ulong(n: f64) -> u64 {
    const TWO_POW_63: f64 = 9223372036854775808.0;
    if n < TWO_POW_63 {
        double_to_c_long(n) as u64
    } else {
        double_to_c_long(n - TWO_POW_63) as u64 ^ (1 << 63)
    }
}
