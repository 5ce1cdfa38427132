//! Conversions between RESP and Lua values, both ways, as Redis 7.0 makes
//! them.
//!
//! A command's reply (RESP2 or RESP3) becomes: integer -> number, bulk ->
//! string, null bulk/array -> false (RESP3 null -> nil), status -> `{ok=}`,
//! error -> `{err=}`, array -> table, map -> `{map={}}`, set -> `{set={}}`,
//! double -> `{double=}`, big number -> `{big_number=}`, verbatim ->
//! `{verbatim_string={format=,string=}}`, boolean -> boolean; attributes are
//! skipped.
//!
//! A script's result becomes: string -> bulk, number -> integer (truncated),
//! boolean -> 1/null in RESP2 scripts or a RESP3 boolean, tables by their
//! `err`/`ok`/`double`/`big_number`/`verbatim_string`/`map`/`set` field or
//! else as an array up to the first nil, anything else -> null.

use std::ffi::c_int;

use cinnabar_protocol::Reply;
use mlua::ffi::{self, lua_State};

use super::lua::{push_bytes, push_error_table, to_bytes};

/// A script's error reply, with whether it still counts in the error stats
/// (an error a command already replied with was counted then).
pub struct ScriptError {
    pub message: String,
    pub count_in_stats: bool,
}

/// Pushes the Lua value of the reply frame at the start of `bytes`.
///
/// # Safety
/// `bytes` is one well-formed frame, as the server's own encoder writes.
pub unsafe fn push_reply(l: *mut lua_State, bytes: &[u8]) {
    let mut at = 0;
    push_frame(l, bytes, &mut at);
}

/// Reads the line at `*at` (without CRLF) and moves past it.
fn line<'a>(bytes: &'a [u8], at: &mut usize) -> &'a [u8] {
    let start = *at;
    let end = bytes[start..].windows(2).position(|w| w == b"\r\n").map_or(bytes.len(), |p| start + p);
    *at = (end + 2).min(bytes.len());
    &bytes[start..end]
}

fn number(text: &[u8]) -> i64 {
    std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Reads a length-prefixed payload whose header line is `header`.
fn payload<'a>(bytes: &'a [u8], at: &mut usize, header: &[u8]) -> &'a [u8] {
    let len = number(header).max(0) as usize;
    let start = *at;
    let end = (start + len).min(bytes.len());
    *at = (end + 2).min(bytes.len());
    &bytes[start..end]
}

unsafe fn push_frame(l: *mut lua_State, bytes: &[u8], at: &mut usize) {
    if *at >= bytes.len() {
        ffi::lua_pushnil(l);
        return;
    }
    ffi::luaL_checkstack(l, 4, c"reply conversion".as_ptr());
    let kind = bytes[*at];
    *at += 1;
    let head = line(bytes, at);
    match kind {
        b':' => ffi::lua_pushnumber(l, number(head) as f64),
        b'$' if head == b"-1" => ffi::lua_pushboolean(l, 0),
        b'$' => push_bytes(l, payload(bytes, at, head)),
        b'*' if head == b"-1" => ffi::lua_pushboolean(l, 0),
        b'+' => push_tagged(l, c"ok", |l| push_bytes(l, head)),
        b'-' => {
            let mut text = Vec::with_capacity(head.len() + 1);
            text.push(b'-');
            text.extend_from_slice(head);
            push_error_table(l, &text);
            super::call::mark_stats_counted(l);
        }
        b'*' | b'>' => {
            let n = number(head);
            ffi::lua_createtable(l, n as c_int, 0);
            for i in 1..=n {
                push_frame(l, bytes, at);
                ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
            }
        }
        b'%' => push_tagged(l, c"map", |l| {
            ffi::lua_newtable(l);
            for _ in 0..number(head) {
                push_frame(l, bytes, at);
                push_frame(l, bytes, at);
                ffi::lua_settable(l, -3);
            }
        }),
        b'~' => push_tagged(l, c"set", |l| {
            ffi::lua_newtable(l);
            for _ in 0..number(head) {
                push_frame(l, bytes, at);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_settable(l, -3);
            }
        }),
        b'_' => ffi::lua_pushnil(l),
        b'#' => ffi::lua_pushboolean(l, c_int::from(head == b"t")),
        b',' => push_tagged(l, c"double", |l| ffi::lua_pushnumber(l, parse_double(head))),
        b'(' => push_tagged(l, c"big_number", |l| push_bytes(l, head)),
        b'=' => {
            let body = payload(bytes, at, head);
            let (format, text) = if body.len() >= 4 { (&body[..3], &body[4..]) } else { (&b""[..], body) };
            push_tagged(l, c"verbatim_string", |l| {
                ffi::lua_newtable(l);
                push_bytes(l, text);
                ffi::lua_setfield(l, -2, c"string".as_ptr());
                push_bytes(l, format);
                ffi::lua_setfield(l, -2, c"format".as_ptr());
            })
        }
        b'|' => {
            // Attributes are not shown to scripts: skip them, read the reply.
            for _ in 0..2 * number(head) {
                push_frame(l, bytes, at);
                ffi::lua_pop(l, 1);
            }
            push_frame(l, bytes, at);
        }
        _ => ffi::lua_pushnil(l),
    }
}

fn parse_double(text: &[u8]) -> f64 {
    match text {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        _ => std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN),
    }
}

/// Pushes `{field = <value pushed by push_value>}`.
unsafe fn push_tagged(l: *mut lua_State, field: &std::ffi::CStr, push_value: impl FnOnce(*mut lua_State)) {
    ffi::lua_newtable(l);
    push_value(l);
    ffi::lua_setfield(l, -2, field.as_ptr());
}

/// The state of one result's conversion.
struct Conversion {
    /// The script client's protocol (`redis.setresp`).
    script_resp3: bool,
    /// Errors written inside aggregates.
    nested_errors: Vec<ScriptError>,
}

/// The errors a script's result holds, for the caller to account for (a
/// call whose reply holds an error failed, as in Redis).
pub enum ResultErrors {
    /// The result is an error: it is not written.
    TopLevel(ScriptError),
    /// The result was written; these errors are inside it.
    Nested(Vec<ScriptError>),
}

/// Writes the script's result (popped from the stack) as the reply, unless
/// it is an error.
///
/// # Safety
/// The result is on top of the stack.
pub unsafe fn reply_from_lua(l: *mut lua_State, reply: &mut Reply, script_resp3: bool) -> ResultErrors {
    if ffi::lua_istable(l, -1) != 0 {
        if let Some(err) = error_of_table(l) {
            ffi::lua_pop(l, 1);
            return ResultErrors::TopLevel(err);
        }
    }
    let mut out = Conversion { script_resp3, nested_errors: Vec::new() };
    write_value(l, reply, &mut out);
    ResultErrors::Nested(out.nested_errors)
}

/// The error an `{err=...}` table on top stands for, if it is one.
unsafe fn error_of_table(l: *mut lua_State) -> Option<ScriptError> {
    ffi::lua_pushstring(l, c"err".as_ptr());
    ffi::lua_rawget(l, -2);
    let is_error = ffi::lua_type(l, -1) == ffi::LUA_TSTRING;
    ffi::lua_pop(l, 1);
    if !is_error {
        return None;
    }
    let info = error_info(l);
    Some(ScriptError { message: info.message, count_in_stats: !info.stats_counted })
}

/// The fields of an error table: message, where it was raised, and whether
/// its command's error was already counted.
struct ErrorInfo {
    message: String,
    source: Option<String>,
    line: Option<String>,
    stats_counted: bool,
}

unsafe fn error_info(l: *mut lua_State) -> ErrorInfo {
    let field = |name: &std::ffi::CStr| -> Option<String> {
        ffi::lua_getfield(l, -1, name.as_ptr());
        let value = (ffi::lua_isstring(l, -1) != 0).then(|| String::from_utf8_lossy(to_bytes(l, -1)).into_owned());
        ffi::lua_pop(l, 1);
        value
    };
    let message = field(c"err").unwrap_or_default();
    let source = field(c"source");
    let line = field(c"line");
    ffi::lua_getfield(l, -1, c"ignore_error_stats_update".as_ptr());
    let stats_counted = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_pop(l, 1);
    ErrorInfo { message, source, line, stats_counted }
}

/// The reply for a script that raised an error (the error object on top):
/// `<message> script: <name>, on <source>:<line>.` when the handler found
/// where it happened.
///
/// # Safety
/// The error object is on top of the stack; it is popped.
pub unsafe fn script_error(l: *mut lua_State, name: &str) -> ScriptError {
    if ffi::lua_istable(l, -1) == 0 {
        let msg = if ffi::lua_isstring(l, -1) != 0 {
            String::from_utf8_lossy(to_bytes(l, -1)).chars().take(100).collect()
        } else {
            "execution failure".to_string()
        };
        ffi::lua_pop(l, 1);
        return ScriptError { message: format!("ERR Error running script {name}, {msg}"), count_in_stats: true };
    }
    let info = error_info(l);
    ffi::lua_pop(l, 1);
    let mut message = info.message;
    if let (Some(source), Some(line)) = (info.source, info.line) {
        message.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    ScriptError { message, count_in_stats: !info.stats_counted }
}

/// Converts the value on top (popped) into `reply`.
unsafe fn write_value(l: *mut lua_State, reply: &mut Reply, out: &mut Conversion) {
    ffi::luaL_checkstack(l, 4, c"reply conversion".as_ptr());
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => reply.bulk(to_bytes(l, -1)),
        ffi::LUA_TBOOLEAN => {
            let truthy = ffi::lua_toboolean(l, -1) != 0;
            if out.script_resp3 {
                reply.bool(truthy);
            } else if truthy {
                reply.int(1);
            } else {
                reply.null();
            }
        }
        ffi::LUA_TNUMBER => reply.int(lua_number_to_integer(ffi::lua_tonumber(l, -1))),
        ffi::LUA_TTABLE => write_table(l, reply, out),
        _ => reply.null(),
    }
    ffi::lua_pop(l, 1);
}

/// 2^63, the first double past `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// C's `(long long)` of a double as x86-64 computes it: truncation, and
/// the minimum for NaN and values out of range.
fn lua_number_to_integer(n: f64) -> i64 {
    if n.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Pushes `t[field]` (raw) for the table on top and returns its type.
unsafe fn raw_field(l: *mut lua_State, field: &std::ffi::CStr) -> c_int {
    ffi::lua_pushstring(l, field.as_ptr());
    ffi::lua_rawget(l, -2);
    ffi::lua_type(l, -1)
}

/// A table result (left on the stack for the caller to pop).
unsafe fn write_table(l: *mut lua_State, reply: &mut Reply, out: &mut Conversion) {
    if let Some(err) = error_of_table(l) {
        reply.error(&err.message);
        out.nested_errors.push(err);
        return;
    }
    if raw_field(l, c"ok") == ffi::LUA_TSTRING {
        let status = String::from_utf8_lossy(to_bytes(l, -1)).replace(['\r', '\n'], " ");
        reply.simple(&status);
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field(l, c"double") == ffi::LUA_TNUMBER {
        reply.double(ffi::lua_tonumber(l, -1));
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field(l, c"big_number") == ffi::LUA_TSTRING {
        let digits: Vec<u8> =
            to_bytes(l, -1).iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        reply.big_number(&digits);
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field(l, c"verbatim_string") == ffi::LUA_TTABLE && write_verbatim(l, reply) {
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field(l, c"map") == ffi::LUA_TTABLE {
        let deferred = reply.defer_map();
        let mut pairs = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pushvalue(l, -2);
            write_value(l, reply, out); // the key
            write_value(l, reply, out); // the value
            pairs += 1;
        }
        reply.finish(deferred, pairs);
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field(l, c"set") == ffi::LUA_TTABLE {
        let deferred = reply.defer_set();
        let mut members = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            ffi::lua_pushvalue(l, -1);
            write_value(l, reply, out);
            members += 1;
        }
        reply.finish(deferred, members);
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    let deferred = reply.defer_array();
    let mut len = 0;
    loop {
        ffi::lua_rawgeti(l, -1, len as ffi::lua_Integer + 1);
        if ffi::lua_isnil(l, -1) != 0 {
            ffi::lua_pop(l, 1);
            break;
        }
        write_value(l, reply, out);
        len += 1;
    }
    reply.finish(deferred, len);
}

/// `{verbatim_string = {format=, string=}}` (the inner table on top): a
/// verbatim string in RESP3, a bulk string in RESP2. False if the inner
/// table lacks its fields.
unsafe fn write_verbatim(l: *mut lua_State, reply: &mut Reply) -> bool {
    if raw_field(l, c"format") != ffi::LUA_TSTRING {
        ffi::lua_pop(l, 1);
        return false;
    }
    ffi::lua_pushstring(l, c"string".as_ptr());
    ffi::lua_rawget(l, -3);
    if ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        ffi::lua_pop(l, 2);
        return false;
    }
    let text = to_bytes(l, -1);
    let format = to_bytes(l, -2);
    if reply.is_resp3() {
        let mut frame = format!("={}\r\n", text.len() + 4).into_bytes();
        let mut tag = format.to_vec();
        tag.resize(3, b' ');
        frame.extend_from_slice(&tag[..3]);
        frame.push(b':');
        frame.extend_from_slice(text);
        frame.extend_from_slice(b"\r\n");
        reply.raw(&frame);
    } else {
        reply.bulk(text);
    }
    ffi::lua_pop(l, 2);
    true
}

#[cfg(test)]
mod tests {
    use super::lua_number_to_integer;

    #[test]
    fn numbers_truncate_like_c() {
        assert_eq!(lua_number_to_integer(3.99), 3);
        assert_eq!(lua_number_to_integer(-3.99), -3);
        assert_eq!(lua_number_to_integer(f64::NAN), i64::MIN);
        assert_eq!(lua_number_to_integer(f64::INFINITY), i64::MIN);
    }
}
