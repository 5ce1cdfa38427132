//! The `cjson` library (lua-cjson 2.1.0 as Redis configures it): JSON
//! encoding and decoding with lua-cjson's output format (numbers as `%.14g`,
//! `/` escaped, sparse-array rules), its error texts, its configuration
//! functions, `cjson.null` and `cjson.new()` for an independently configured
//! instance.
//!
//! Each instance's functions share one [`Config`], kept in a userdata that is
//! their first upvalue.

use std::ffi::{c_char, c_int, CStr};

use super::capi::{self, c_function, ffi, lua_State, Failure, Returns};

/// One instance's settings (lua-cjson's defaults as built into Redis).
#[derive(Clone, Copy)]
struct Config {
    /// Encode excessively sparse arrays as objects instead of failing.
    sparse_convert: bool,
    /// A table whose largest index exceeds `items * ratio` is excessively sparse (0: never).
    sparse_ratio: c_int,
    /// Tables whose largest index is at most this are never excessively sparse.
    sparse_safe: c_int,
    encode_max_depth: c_int,
    decode_max_depth: c_int,
    /// 0: NaN and infinities are errors, 1: written as `nan`/`inf`, 2: written as `null`.
    encode_invalid_numbers: usize,
    /// Accept `+`, hex, leading zeros, `inf` and `nan` when decoding.
    decode_invalid_numbers: bool,
    /// Only reported: buffer reuse has no observable effect here.
    encode_keep_buffer: bool,
    /// Significant digits of encoded numbers (1..=14).
    number_precision: c_int,
}

const DEFAULT_CONFIG: Config = Config {
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    encode_invalid_numbers: 0,
    decode_invalid_numbers: true,
    encode_keep_buffer: true,
    number_precision: 14,
};

/// Creates a `cjson` table with its own configuration and leaves it on the
/// stack.
pub(super) unsafe fn open(l: *mut lua_State) {
    let functions: [(&CStr, ffi::lua_CFunction); 10] = [
        (c"encode", c_function!(encode)),
        (c"decode", c_function!(decode)),
        (c"encode_sparse_array", c_function!(encode_sparse_array)),
        (c"encode_max_depth", c_function!(encode_max_depth)),
        (c"decode_max_depth", c_function!(decode_max_depth)),
        (c"encode_number_precision", c_function!(encode_number_precision)),
        (c"encode_keep_buffer", c_function!(encode_keep_buffer)),
        (c"encode_invalid_numbers", c_function!(encode_invalid_numbers)),
        (c"decode_invalid_numbers", c_function!(decode_invalid_numbers)),
        (c"new", c_function!(new)),
    ];
    ffi::lua_createtable(l, 0, 13);
    let config = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()).cast::<Config>();
    config.write(DEFAULT_CONFIG);
    capi::set_functions(l, &functions, 1);
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    capi::push_bytes(l, b"cjson");
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    capi::push_bytes(l, b"2.1.0");
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
}

/// `cjson.new()`: a fresh instance with default settings.
unsafe fn new(l: *mut lua_State) -> Returns {
    open(l);
    Ok(1)
}

/// The configuration of the instance the running function belongs to.
///
/// # Safety
/// Only for functions registered by [`open`], whose first upvalue is it; the
/// reference must not outlive the call.
unsafe fn config<'a>(l: *mut lua_State) -> &'a mut Config {
    &mut *ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)).cast::<Config>()
}

// ===== Configuration functions =====
//
// Each takes optional new values and returns the current ones; arguments
// are applied in order, so a bad later argument leaves earlier ones set.

const OFF_ON: &[&str] = &["off", "on"];

/// Rejects more than `max` arguments and pads missing ones with nil.
unsafe fn config_args<'a>(l: *mut lua_State, max: c_int) -> Result<&'a mut Config, Failure> {
    if ffi::lua_gettop(l) > max {
        return Err(Failure::arg(max + 1, "found too many arguments"));
    }
    ffi::lua_settop(l, max);
    Ok(config(l))
}

/// An integer setting in `min..=max`; pushes the (new) value.
unsafe fn integer_option(
    l: *mut lua_State,
    narg: c_int,
    setting: &mut c_int,
    min: c_int,
    max: c_int,
) -> Result<(), Failure> {
    if ffi::lua_type(l, narg) != ffi::LUA_TNIL {
        let value = capi::check_integer(l, narg)? as c_int;
        if !(min..=max).contains(&value) {
            // lua-cjson reports the range error against argument 1 whatever the position.
            return Err(Failure::arg(1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, i64::from(*setting));
    Ok(())
}

/// A setting chosen by a boolean (false = 0, true = 1) or by name among
/// `options`; pushes it back as a boolean for 0 and 1, else as its name.
unsafe fn enum_option(l: *mut lua_State, narg: c_int, setting: &mut usize, options: &[&str]) -> Result<(), Failure> {
    match ffi::lua_type(l, narg) {
        ffi::LUA_TNIL => {}
        ffi::LUA_TBOOLEAN => *setting = usize::from(ffi::lua_toboolean(l, narg) != 0),
        _ => *setting = capi::check_option(l, narg, options)?,
    }
    if *setting <= 1 {
        ffi::lua_pushboolean(l, *setting as c_int);
    } else {
        capi::push_bytes(l, options[*setting].as_bytes());
    }
    Ok(())
}

/// [`enum_option`] for an on/off flag.
unsafe fn flag_option(l: *mut lua_State, narg: c_int, flag: &mut bool) -> Result<(), Failure> {
    let mut setting = usize::from(*flag);
    enum_option(l, narg, &mut setting, OFF_ON)?;
    *flag = setting == 1;
    Ok(())
}

/// `encode_sparse_array([convert [, ratio [, safe]]])`.
unsafe fn encode_sparse_array(l: *mut lua_State) -> Returns {
    let config = config_args(l, 3)?;
    flag_option(l, 1, &mut config.sparse_convert)?;
    integer_option(l, 2, &mut config.sparse_ratio, 0, c_int::MAX)?;
    integer_option(l, 3, &mut config.sparse_safe, 0, c_int::MAX)?;
    Ok(3)
}

unsafe fn encode_max_depth(l: *mut lua_State) -> Returns {
    let config = config_args(l, 1)?;
    integer_option(l, 1, &mut config.encode_max_depth, 1, c_int::MAX)?;
    Ok(1)
}

unsafe fn decode_max_depth(l: *mut lua_State) -> Returns {
    let config = config_args(l, 1)?;
    integer_option(l, 1, &mut config.decode_max_depth, 1, c_int::MAX)?;
    Ok(1)
}

unsafe fn encode_number_precision(l: *mut lua_State) -> Returns {
    let config = config_args(l, 1)?;
    integer_option(l, 1, &mut config.number_precision, 1, 14)?;
    Ok(1)
}

unsafe fn encode_keep_buffer(l: *mut lua_State) -> Returns {
    let config = config_args(l, 1)?;
    flag_option(l, 1, &mut config.encode_keep_buffer)?;
    Ok(1)
}

unsafe fn encode_invalid_numbers(l: *mut lua_State) -> Returns {
    let config = config_args(l, 1)?;
    enum_option(l, 1, &mut config.encode_invalid_numbers, &["off", "on", "null"])?;
    Ok(1)
}

unsafe fn decode_invalid_numbers(l: *mut lua_State) -> Returns {
    let config = config_args(l, 1)?;
    flag_option(l, 1, &mut config.decode_invalid_numbers)?;
    Ok(1)
}

// ===== Encoding =====

/// `cjson.encode(value)`.
unsafe fn encode(l: *mut lua_State) -> Returns {
    let config = *config(l);
    if ffi::lua_gettop(l) != 1 {
        return Err(Failure::arg(1, "expected 1 argument"));
    }
    let mut out = Vec::new();
    encode_document(l, &config, &mut out)?;
    capi::push_bytes(l, &out);
    Ok(1)
}

unsafe fn cannot_serialise(l: *mut lua_State, idx: c_int, reason: &str) -> Failure {
    Failure::error(format!("Cannot serialise {}: {reason}", capi::type_name(l, idx)))
}

/// A table being encoded. Its value is on the Lua stack, with the current
/// element above it (for objects, the key under the value).
enum OpenTable {
    Array { next: c_int, len: c_int },
    Object { first: bool },
}

/// Appends the JSON for the value on top of the stack. Nested tables are
/// walked with an explicit stack, not recursion: nesting is bounded only by
/// the Lua stack (thousands of levels when the depth limit is raised).
unsafe fn encode_document(l: *mut lua_State, config: &Config, out: &mut Vec<u8>) -> Result<(), Failure> {
    let mut open: Vec<OpenTable> = Vec::new();
    loop {
        // The value on top of the stack is next: a scalar, or a table to open.
        let mut completed = true;
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            open.push(open_table(l, config, open.len() as c_int + 1, out)?);
            completed = false;
        } else {
            encode_scalar(l, config, out)?;
        }
        // Finish the tables that are complete, until one has a next value.
        loop {
            let Some(table) = open.last_mut() else {
                return Ok(());
            };
            if completed {
                ffi::lua_settop(l, -2);
            }
            if next_element(l, config, table, out)? {
                break;
            }
            open.pop();
            completed = true;
        }
    }
}

/// Starts a table at nesting `depth`: as an array when its keys are
/// positive integers (and not too sparse), else as an object.
unsafe fn open_table(
    l: *mut lua_State,
    config: &Config,
    depth: c_int,
    out: &mut Vec<u8>,
) -> Result<OpenTable, Failure> {
    // Room for a key, a value and an error message at this depth.
    if depth > config.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
        return Err(Failure::error(format!("Cannot serialise, excessive nesting ({depth})")));
    }
    Ok(match array_length(l, config)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            OpenTable::Array { next: 1, len }
        }
        _ => {
            out.push(b'{');
            ffi::lua_pushnil(l);
            OpenTable::Object { first: true }
        }
    })
}

/// Pushes the table's next value (after writing its separator and, for
/// objects, its key) and returns true; or closes the table and returns false.
unsafe fn next_element(
    l: *mut lua_State,
    config: &Config,
    table: &mut OpenTable,
    out: &mut Vec<u8>,
) -> Result<bool, Failure> {
    match table {
        OpenTable::Array { next, len } => {
            if *next > *len {
                out.push(b']');
                return Ok(false);
            }
            if *next > 1 {
                out.push(b',');
            }
            ffi::lua_rawgeti_(l, -1, *next);
            *next += 1;
        }
        OpenTable::Object { first } => {
            if ffi::lua_next(l, -2) == 0 {
                out.push(b'}');
                return Ok(false);
            }
            if !*first {
                out.push(b',');
            }
            *first = false;
            encode_key(l, config, out)?;
        }
    }
    Ok(true)
}

/// Writes the key under the value on top of the stack, with its colon.
unsafe fn encode_key(l: *mut lua_State, config: &Config, out: &mut Vec<u8>) -> Result<(), Failure> {
    match ffi::lua_type(l, -2) {
        ffi::LUA_TNUMBER => {
            out.push(b'"');
            encode_number(l, config, -2, out)?;
            out.extend_from_slice(b"\":");
        }
        ffi::LUA_TSTRING => {
            encode_string(l, -2, out);
            out.push(b':');
        }
        _ => return Err(cannot_serialise(l, -2, "table key must be a number or string")),
    }
    Ok(())
}

/// Appends the JSON for the non-table value on top of the stack.
unsafe fn encode_scalar(l: *mut lua_State, config: &Config, out: &mut Vec<u8>) -> Result<(), Failure> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => encode_string(l, -1, out),
        ffi::LUA_TNUMBER => encode_number(l, config, -1, out)?,
        ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 { b"true" } else { b"false" }),
        ffi::LUA_TNIL => out.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => out.extend_from_slice(b"null"),
        _ => return Err(cannot_serialise(l, -1, "type not supported")),
    }
    Ok(())
}

/// How lua-cjson escapes a byte inside a JSON string, if it does.
fn escape(byte: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006", b"\\u0007", b"\\b", b"\\t",
        b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f", b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013",
        b"\\u0014", b"\\u0015", b"\\u0016", b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c",
        b"\\u001d", b"\\u001e", b"\\u001f",
    ];
    match byte {
        0..=31 => Some(CONTROL[usize::from(byte)]),
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        b'/' => Some(b"\\/"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

unsafe fn encode_string(l: *mut lua_State, idx: c_int, out: &mut Vec<u8>) {
    let mut len = 0;
    let data = ffi::lua_tolstring(l, idx, &mut len);
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
    out.push(b'"');
    for &byte in bytes {
        match escape(byte) {
            Some(escaped) => out.extend_from_slice(escaped),
            None => out.push(byte),
        }
    }
    out.push(b'"');
}

unsafe fn encode_number(l: *mut lua_State, config: &Config, idx: c_int, out: &mut Vec<u8>) -> Result<(), Failure> {
    let n = ffi::lua_tonumber(l, idx);
    match config.encode_invalid_numbers {
        0 if !n.is_finite() => return Err(cannot_serialise(l, idx, "must not be NaN or Inf")),
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    format_g(n, config.number_precision, out);
    Ok(())
}

/// Appends `n` as C's `printf("%.<precision>g")` writes it.
fn format_g(n: f64, precision: c_int, out: &mut Vec<u8>) {
    let mut buf = [0u8; 32];
    // SAFETY: the format takes exactly an int and a double; snprintf writes
    // at most buf.len() bytes (a %.14g number needs fewer than 32).
    let written =
        unsafe { libc::snprintf(buf.as_mut_ptr().cast::<c_char>(), buf.len(), c"%.*g".as_ptr(), precision, n) };
    out.extend_from_slice(&buf[..(written.max(0) as usize).min(buf.len() - 1)]);
}

/// `Some(n)` when the table on top of the stack has only positive integer
/// keys (n being the largest; 0 for an empty table), `None` when it must be
/// encoded as an object. Fails on an excessively sparse array unless
/// conversion to an object is enabled.
unsafe fn array_length(l: *mut lua_State, config: &Config) -> Result<Option<c_int>, Failure> {
    let (mut max, mut items): (c_int, c_int) = (0, 0);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        let key = ffi::lua_tonumber(l, -2);
        let is_index = ffi::lua_type(l, -2) == ffi::LUA_TNUMBER && key != 0.0 && key.floor() == key && key >= 1.0;
        if !is_index {
            ffi::lua_settop(l, -3);
            return Ok(None);
        }
        if key > f64::from(max) {
            max = capi::double_to_c_int(key);
        }
        items += 1;
        ffi::lua_settop(l, -2);
    }
    let ratio = config.sparse_ratio;
    if ratio > 0 && max > items.wrapping_mul(ratio) && max > config.sparse_safe {
        if !config.sparse_convert {
            return Err(cannot_serialise(l, -1, "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

// ===== Decoding =====

/// A lexical token of the JSON text.
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// Not a token: what went wrong.
    Error(&'static str),
}

impl Token {
    /// How lua-cjson names the token in "Expected ... but found ..." errors.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

/// The decoder's position in the input. The input is a Lua string, so a NUL
/// byte always follows it; like the C parser, reading stops at the first NUL.
struct Parser<'a> {
    data: &'a [u8],
    /// `data` as a NUL-terminated C string, for `strtod`.
    c_data: *const c_char,
    pos: usize,
    depth: c_int,
    config: Config,
}

impl Parser<'_> {
    fn byte(&self, at: usize) -> u8 {
        self.data.get(at).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data.get(self.pos..).is_some_and(|rest| rest.starts_with(word))
    }

    /// The next token and the 0-based position it (or its error) is at.
    fn next_token(&mut self) -> (Token, usize) {
        while matches!(self.byte(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let single = match self.byte(start) {
            b'{' => Token::ObjBegin,
            b'}' => Token::ObjEnd,
            b'[' => Token::ArrBegin,
            b']' => Token::ArrEnd,
            b',' => Token::Comma,
            b':' => Token::Colon,
            0 => return (Token::End, start),
            b'"' => return self.string_token(start),
            b'-' | b'0'..=b'9' => {
                if !self.config.decode_invalid_numbers && self.is_invalid_number() {
                    return (Token::Error("invalid number"), start);
                }
                return (self.number_token(), start);
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => return (self.word_token(), start),
            _ => return (Token::Error("invalid token"), start),
        };
        self.pos += 1;
        (single, start)
    }

    /// `true`, `false`, `null`, or (when allowed) `inf`, `nan`, `+1`.
    fn word_token(&mut self) -> Token {
        let words: [(&[u8], Token); 3] =
            [(b"true", Token::Boolean(true)), (b"false", Token::Boolean(false)), (b"null", Token::Null)];
        for (word, token) in words {
            if self.starts_with(word) {
                self.pos += word.len();
                return token;
            }
        }
        if self.config.decode_invalid_numbers && self.is_invalid_number() {
            return self.number_token();
        }
        Token::Error("invalid token")
    }

    /// Whether the number here is one strict JSON forbids (leading `+`, hex,
    /// leading zeros, infinity, NaN) though `strtod` would accept it.
    fn is_invalid_number(&self) -> bool {
        let mut at = self.pos;
        match self.byte(at) {
            b'+' => return true,
            b'-' => at += 1,
            _ => {}
        }
        if self.byte(at) == b'0' {
            let next = self.byte(at + 1);
            return next | 0x20 == b'x' || next.is_ascii_digit();
        }
        if self.byte(at) <= b'9' {
            return false;
        }
        let rest = self.data.get(at..).unwrap_or_default();
        rest.get(..3).is_some_and(|word| word.eq_ignore_ascii_case(b"inf") || word.eq_ignore_ascii_case(b"nan"))
    }

    fn number_token(&mut self) -> Token {
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: c_data is NUL-terminated and pos is within it.
        let (value, consumed) = unsafe {
            let start = self.c_data.add(self.pos);
            let value = libc::strtod(start, &mut end);
            (value, end.offset_from(start) as usize)
        };
        if consumed == 0 {
            return Token::Error("invalid number");
        }
        self.pos += consumed;
        Token::Number(value)
    }

    /// The string token starting at `start`; errors are reported at the
    /// offending byte.
    fn string_token(&mut self, start: usize) -> (Token, usize) {
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.byte(self.pos) {
                b'"' => break,
                0 => return (Token::Error("unexpected end of string"), self.pos),
                b'\\' => {
                    let unescaped = match self.byte(self.pos + 1) {
                        b'u' => {
                            if !self.unicode_escape(&mut value) {
                                return (Token::Error("invalid unicode escape code"), self.pos);
                            }
                            continue;
                        }
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        _ => return (Token::Error("invalid escape code"), self.pos),
                    };
                    value.push(unescaped);
                    self.pos += 2;
                }
                byte => {
                    value.push(byte);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        (Token::String(value), start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (at..at + 4).try_fold(0, |acc, i| Some(acc << 4 | char::from(self.byte(i)).to_digit(16)?))
    }

    /// Decodes `\uXXXX` (or a surrogate pair of them) at `pos` into UTF-8.
    fn unicode_escape(&mut self, value: &mut Vec<u8>) -> bool {
        let Some(mut codepoint) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut escape_len = 6;
        if codepoint & 0xf800 == 0xd800 {
            // Must be a high surrogate followed by an escaped low one.
            if codepoint & 0x400 != 0 || self.byte(self.pos + 6) != b'\\' || self.byte(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8).filter(|low| low & 0xfc00 == 0xdc00) else {
                return false;
            };
            codepoint = (((codepoint & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            escape_len = 12;
        }
        let c = char::from_u32(codepoint).expect("surrogates were excluded");
        value.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        self.pos += escape_len;
        true
    }
}

fn parse_error(expected: &str, (token, at): &(Token, usize)) -> Failure {
    Failure::error(format!("Expected {expected} but found {} at character {}", token.name(), at + 1))
}

/// `cjson.decode(text)`.
unsafe fn decode(l: *mut lua_State) -> Returns {
    if ffi::lua_gettop(l) != 1 {
        return Err(Failure::arg(1, "expected 1 argument"));
    }
    let config = *config(l);
    let data = capi::check_bytes(l, 1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Failure::error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut parser = Parser { data, c_data: data.as_ptr().cast(), pos: 0, depth: 0, config };
    push_document(l, &mut parser)?;
    let token = parser.next_token();
    if !matches!(token.0, Token::End) {
        return Err(parse_error("the end", &token));
    }
    Ok(1)
}

/// An object or array being filled, its table on the Lua stack.
enum OpenContainer {
    /// The key of the member being read is above the table.
    Object,
    Array {
        next_index: c_int,
    },
}

/// Pushes the value the input starts with. Nested containers are tracked
/// with an explicit stack, not recursion: nesting is bounded only by the Lua
/// stack (thousands of levels when the depth limit is raised).
unsafe fn push_document(l: *mut lua_State, parser: &mut Parser) -> Result<(), Failure> {
    let mut open: Vec<OpenContainer> = Vec::new();
    let mut token = parser.next_token();
    loop {
        // `token` starts a value: push it, or open a container and move on to
        // its first value.
        let container = match token.0 {
            Token::String(bytes) => {
                capi::push_bytes(l, &bytes);
                None
            }
            Token::Number(n) => {
                ffi::lua_pushnumber(l, n);
                None
            }
            Token::Boolean(b) => {
                ffi::lua_pushboolean(l, c_int::from(b));
                None
            }
            Token::Null => {
                ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
                None
            }
            Token::ObjBegin => {
                open_container(l, parser, 3, Token::is_obj_end)?.map(|first| (OpenContainer::Object, first))
            }
            Token::ArrBegin => open_container(l, parser, 2, Token::is_arr_end)?
                .map(|first| (OpenContainer::Array { next_index: 1 }, first)),
            _ => return Err(parse_error("value", &token)),
        };
        if let Some((container, first)) = container {
            token = match container {
                OpenContainer::Object => member_value(l, parser, first)?,
                OpenContainer::Array { .. } => first,
            };
            open.push(container);
            continue;
        }
        // A value is complete on top of the stack: store it, closing every
        // container it completes, until one has a next value.
        loop {
            let Some(container) = open.last_mut() else {
                return Ok(());
            };
            if let Some(next) = store_value(l, parser, container)? {
                token = next;
                break;
            }
            open.pop();
            parser.depth -= 1;
        }
    }
}

impl Token {
    fn is_obj_end(&self) -> bool {
        matches!(self, Token::ObjEnd)
    }

    fn is_arr_end(&self) -> bool {
        matches!(self, Token::ArrEnd)
    }
}

/// Enters a container that needs `slots` stack slots and pushes its table.
/// Returns its first token, or None when it is empty (already closed).
unsafe fn open_container(
    l: *mut lua_State,
    parser: &mut Parser,
    slots: c_int,
    is_end: fn(&Token) -> bool,
) -> Result<Option<(Token, usize)>, Failure> {
    parser.depth += 1;
    if parser.depth > parser.config.decode_max_depth || ffi::lua_checkstack(l, slots) == 0 {
        return Err(Failure::error(format!(
            "Found too many nested data structures ({}) at character {}",
            parser.depth, parser.pos
        )));
    }
    ffi::lua_createtable(l, 0, 0);
    let first = parser.next_token();
    if is_end(&first.0) {
        parser.depth -= 1;
        return Ok(None);
    }
    Ok(Some(first))
}

/// Given the token of a member's key, pushes the key, reads the colon and
/// returns the token starting the member's value.
unsafe fn member_value(l: *mut lua_State, parser: &mut Parser, key: (Token, usize)) -> Result<(Token, usize), Failure> {
    let Token::String(name) = &key.0 else {
        return Err(parse_error("object key string", &key));
    };
    capi::push_bytes(l, name);
    let colon = parser.next_token();
    if !matches!(colon.0, Token::Colon) {
        return Err(parse_error("colon", &colon));
    }
    Ok(parser.next_token())
}

/// Stores the value on top of the stack into the container under it, then
/// reads the separator: returns the token of the container's next value, or
/// None when the container is closed.
unsafe fn store_value(
    l: *mut lua_State,
    parser: &mut Parser,
    container: &mut OpenContainer,
) -> Result<Option<(Token, usize)>, Failure> {
    let separator = parser.next_token();
    match container {
        OpenContainer::Object => {
            ffi::lua_rawset(l, -3);
            match separator.0 {
                Token::ObjEnd => Ok(None),
                Token::Comma => {
                    let key = parser.next_token();
                    Ok(Some(member_value(l, parser, key)?))
                }
                _ => Err(parse_error("comma or object end", &separator)),
            }
        }
        OpenContainer::Array { next_index } => {
            ffi::lua_rawseti_(l, -2, *next_index);
            *next_index += 1;
            match separator.0 {
                Token::ArrEnd => Ok(None),
                Token::Comma => Ok(Some(parser.next_token())),
                _ => Err(parse_error("comma or array end", &separator)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_matches_redis, RedisCase};

    /// The `cjson` scripts of tests/corpus/lua_libs.redis with the replies
    /// redis-server 7.0.15 gave them (a bulk string, or an error reply's message).
    const REDIS_CASES: &[RedisCase] = &[
        (r#"return cjson._NAME .. ' ' .. cjson._VERSION"#, Ok(b"cjson 2.1.0")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(type(cjson.null), tostring(cjson.null), cjson.null == cjson.decode('null'), cjson.new().null == cjson.null)"#, Ok(b"userdata userdata: (nil) true true")),
        (r#"local t = {} for k, v in pairs(cjson) do t[#t + 1] = k .. ':' .. type(v) end table.sort(t) return table.concat(t, ',')"#, Ok(b"_NAME:string,_VERSION:string,decode:function,decode_invalid_numbers:function,decode_max_depth:function,encode:function,encode_invalid_numbers:function,encode_keep_buffer:function,encode_max_depth:function,encode_number_precision:function,encode_sparse_array:function,new:function,null:userdata")),
        (r#"return cjson.encode({1, 2, 3})"#, Ok(b"[1,2,3]")),
        (r#"return cjson.encode({})"#, Ok(b"{}")),
        (r#"return cjson.encode({a = 1})"#, Ok(b"{\"a\":1}")),
        (r#"return cjson.encode({a = {b = {c = 'd'}}, e = {}})"#, Ok(b"{\"a\":{\"b\":{\"c\":\"d\"}},\"e\":{}}")),
        (r#"return cjson.encode({1, 'two', true, false, cjson.null, {x = {}}})"#, Ok(b"[1,\"two\",true,false,null,{\"x\":{}}]")),
        (r#"return cjson.encode(nil) .. cjson.encode(true) .. cjson.encode(false) .. cjson.encode('s')"#, Ok(b"nulltruefalse\"s\"")),
        (r#"return cjson.encode({0.1, 1/3, 1e20, 1e21, 123456789012345678, -0, 3.0, 1e-5, 2^53, 100, 1e300, 5e-324, -2.5, 12345678901234})"#, Ok(b"[0.1,0.33333333333333,1e+20,1e+21,1.2345678901235e+17,-0,3,1e-05,9.007199254741e+15,100,1e+300,4.9406564584125e-324,-2.5,12345678901234]")),
        (r#"return cjson.encode('a/b"c\\d\n\t\r\b\f' .. string.char(0, 1, 11, 31, 127, 128, 255) .. 'h\195\169')"#, Ok(b"\"a\\/b\\\"c\\\\d\\n\\t\\r\\b\\f\\u0000\\u0001\\u000b\\u001f\\u007f\x80\xffh\xc3\xa9\"")),
        (r#"return cjson.encode({[1] = 1, [2] = 2, [4] = 4})"#, Ok(b"[1,2,null,4]")),
        (r#"return cjson.encode({[10] = 1})"#, Ok(b"[null,null,null,null,null,null,null,null,null,1]")),
        (r#"return cjson.encode({[1] = 1, [100] = 2})"#, Err(r#"user_script:1: Cannot serialise table: excessively sparse array"#)),
        (r#"return cjson.encode({[11] = 1})"#, Err(r#"user_script:1: Cannot serialise table: excessively sparse array"#)),
        (r#"return cjson.encode({[1] = 1, x = 2})"#, Ok(b"{\"1\":1,\"x\":2}")),
        (r#"return cjson.encode({[0.5] = 1})"#, Ok(b"{\"0.5\":1}")),
        (r#"return cjson.encode({[-1] = 'a', [0] = 'b'})"#, Ok(b"{\"-1\":\"a\",\"0\":\"b\"}")),
        (r#"return cjson.encode({[2^40] = 1})"#, Ok(b"{\"1099511627776\":1}")),
        (r#"return cjson.encode({[1/0] = 1})"#, Err(r#"user_script:1: Cannot serialise number: must not be NaN or Inf"#)),
        (r#"return cjson.encode({[true] = 1})"#, Err(r#"user_script:1: Cannot serialise boolean: table key must be a number or string"#)),
        (r#"return cjson.encode({f = tostring})"#, Err(r#"user_script:1: Cannot serialise function: type not supported"#)),
        (r#"return cjson.encode(coroutine.create(function() end))"#, Err(r#"user_script:1: Cannot serialise thread: type not supported"#)),
        (r#"return cjson.encode(1/0)"#, Err(r#"user_script:1: Cannot serialise number: must not be NaN or Inf"#)),
        (r#"return cjson.encode(0/0)"#, Err(r#"user_script:1: Cannot serialise number: must not be NaN or Inf"#)),
        (r#"local t = {} t[1] = t return cjson.encode(t)"#, Err(r#"user_script:1: Cannot serialise, excessive nesting (1001)"#)),
        (r#"local t = {} t.a = t return cjson.encode(t)"#, Err(r#"user_script:1: Cannot serialise, excessive nesting (1001)"#)),
        (r#"return cjson.encode()"#, Err(r#"user_script:1: bad argument #1 to 'encode' (expected 1 argument)"#)),
        (r#"return cjson.encode(1, 2)"#, Err(r#"user_script:1: bad argument #1 to 'encode' (expected 1 argument)"#)),
        (r#"return cjson.encode({b = 1, a = 2, c = 3, d = {e = 4, f = 5}, [7] = 'x', [3.5] = 'y'})"#, Ok(b"{\"a\":2,\"7\":\"x\",\"c\":3,\"b\":1,\"3.5\":\"y\",\"d\":{\"e\":4,\"f\":5}}")),
        (r#"local t = {} for i = 1, 30 do t['k' .. i] = i end return cjson.encode(t)"#, Ok(b"{\"k16\":16,\"k26\":26,\"k19\":19,\"k30\":30,\"k9\":9,\"k15\":15,\"k21\":21,\"k29\":29,\"k25\":25,\"k11\":11,\"k24\":24,\"k23\":23,\"k22\":22,\"k17\":17,\"k28\":28,\"k20\":20,\"k10\":10,\"k8\":8,\"k1\":1,\"k12\":12,\"k3\":3,\"k2\":2,\"k27\":27,\"k13\":13,\"k18\":18,\"k14\":14,\"k6\":6,\"k7\":7,\"k4\":4,\"k5\":5}")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cjson.encode_keep_buffer(), cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_number_precision(), cjson.encode_sparse_array())"#, Ok(b"true 1000 1000 false true 14 false 2 10")),
        (r#"local c = cjson.new() return tostring(c.encode_number_precision(3)) .. ' ' .. c.encode(math.pi) .. ' ' .. cjson.encode(math.pi)"#, Ok(b"3 3.14 3.1415926535898")),
        (r#"local c = cjson.new() c.encode_number_precision(1) return c.encode({0.05, 15, 150, 1e-10})"#, Ok(b"[0.05,2e+01,2e+02,1e-10]")),
        (r#"local c = cjson.new() local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end  return show(c.encode_sparse_array(true)) .. ' ' .. c.encode({[1] = 1, [100] = 2})"#, Ok(b"true 2 10 {\"1\":1,\"100\":2}")),
        (r#"local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[1] = 1, [12] = 2})"#, Ok(b"[1,null,null,null,null,null,null,null,null,null,null,2]")),
        (r#"local c = cjson.new() c.encode_sparse_array(false, 3, 1) return c.encode({[1] = 1, [3] = 3})"#, Ok(b"[1,null,3]")),
        (r#"local c = cjson.new() c.encode_sparse_array(false, 3, 1) return c.encode({[1] = 1, [4] = 3})"#, Ok(b"[1,null,null,3]")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local c = cjson.new() return show(c.encode_sparse_array('on', 5, 20))"#, Ok(b"true 5 20")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local c = cjson.new() return show(c.encode_invalid_numbers('null'), c.encode(1/0), c.encode({0/0}))"#, Ok(b"null null [null]")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local c = cjson.new() return show(c.encode_invalid_numbers(true), c.encode(0/0), c.encode(1/0), c.encode(-1/0), c.encode({[1/0] = 1}))"#, Ok(b"true nan inf -inf {\"inf\":1}")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local c = cjson.new() return show(c.encode_invalid_numbers('off'), c.encode_invalid_numbers('on'), c.encode_invalid_numbers())"#, Ok(b"false true true")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local c = cjson.new() return show(c.encode_keep_buffer(false), c.encode_keep_buffer('on'), c.encode({1}))"#, Ok(b"false true [1]")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local c = cjson.new() return show(c.decode_invalid_numbers(false), pcall(c.decode, '0x10'), pcall(c.decode, 'nan'), pcall(c.decode, '+1'), pcall(c.decode, '01'), c.decode('-0.5e1'))"#, Ok(b"false false false false false -5")),
        (r#"local c = cjson.new() c.encode_max_depth(2) return c.encode({{1}}) .. ' ' .. c.encode({{{1}}})"#, Err(r#"user_script:1: Cannot serialise, excessive nesting (3)"#)),
        (r#"local c = cjson.new() c.decode_max_depth(2) return c.encode(c.decode('[[1]]')) .. ' ' .. c.encode(c.decode('[[[1]]]'))"#, Err(r#"user_script:1: Found too many nested data structures (3) at character 3"#)),
        (r#"local c = cjson.new() c.decode_max_depth(2) return c.decode('{"a":{"b":{}}}')"#, Err(r#"user_script:1: Found too many nested data structures (3) at character 11"#)),
        (r#"return cjson.new().encode_invalid_numbers('bogus')"#, Err(r#"user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option 'bogus')"#)),
        (r#"return cjson.new().encode_number_precision(15)"#, Err(r#"user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"#)),
        (r#"return cjson.new().encode_number_precision(0)"#, Err(r#"user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"#)),
        (r#"return cjson.new().encode_number_precision('x')"#, Err(r#"user_script:1: bad argument #1 to 'encode_number_precision' (number expected, got string)"#)),
        (r#"return cjson.new().encode_max_depth(1, 2)"#, Err(r#"user_script:1: bad argument #2 to 'encode_max_depth' (found too many arguments)"#)),
        (r#"return cjson.new().encode_sparse_array(true, 1, 2, 3)"#, Err(r#"user_script:1: bad argument #4 to 'encode_sparse_array' (found too many arguments)"#)),
        (r#"return cjson.new().encode_sparse_array(true, -1)"#, Err(r#"user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"#)),
        (r#"return cjson.new().encode_sparse_array(true, 1, -1)"#, Err(r#"user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"#)),
        (r#"return cjson.new().encode_sparse_array(5)"#, Err(r#"user_script:1: bad argument #1 to 'encode_sparse_array' (invalid option '5')"#)),
        (r#"return cjson.new().decode_max_depth(0)"#, Err(r#"user_script:1: bad argument #1 to 'decode_max_depth' (expected integer between 1 and 2147483647)"#)),
        (r#"return cjson.new().encode_keep_buffer(1)"#, Err(r#"user_script:1: bad argument #1 to 'encode_keep_buffer' (invalid option '1')"#)),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local old = cjson.encode_number_precision() cjson.encode_number_precision(5) local s = cjson.encode(math.pi) cjson.encode_number_precision(old) return show(s, cjson.encode(math.pi), cjson.encode_number_precision(3.9), cjson.encode_number_precision(14))"#, Ok(b"3.1416 3.1415926535898 3 14")),
        (r#"return cjson.encode(cjson.decode('[1,2,3]'))"#, Ok(b"[1,2,3]")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local t = cjson.decode('{"a":1,"b":[true,false,null],"c":{}}') return show(t.a, t.b[1], t.b[2], t.b[3] == cjson.null, #t.b, type(t.c), next(t.c))"#, Ok(b"1 true false true 3 table nil")),
        (r#"return cjson.decode('"\\u00e9\\u00C9\\ud83d\\ude00\\u20ac\\u0041\\u0000z"')"#, Ok(b"\xc3\xa9\xc3\x89\xf0\x9f\x98\x80\xe2\x82\xacA\x00z")),
        (r#"return cjson.decode('"\\/\\b\\f\\n\\r\\t\\"\\\\"')"#, Ok(b"/\x08\x0c\x0a\x0d\x09\"\\")),
        (r#"return cjson.decode('"a\tb\1c"')"#, Ok(b"a\x09b\x01c")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cjson.decode('1e400'), cjson.decode('-1e400'), cjson.decode('-0'), cjson.decode('0x1F'), cjson.decode('+5'), cjson.decode('007'), cjson.decode('1.5e3'), cjson.decode('  \n\t\r 5 '), cjson.decode(' 12.25'))"#, Ok(b"inf -inf -0 31 5 7 1500 5 12.25")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cjson.decode('nan'), cjson.decode('-nan'), cjson.decode('Infinity'), cjson.decode('-inf'), cjson.decode('NaN'), cjson.decode('inf'), cjson.decode('1E2'), cjson.decode('0x'))"#, Err(r#"user_script:1: Expected the end but found invalid token at character 2"#)),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cjson.decode(123), cjson.decode('true'), cjson.decode('false'), cjson.decode('""'), cjson.decode('[1]\0junk')[1])"#, Ok(b"123 true false  1")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local t = cjson.decode('{"1":2,"a":1,"a":3}') return show(t['1'], t[1], t.a)"#, Ok(b"2 nil 3")),
        (r#"return cjson.encode(cjson.decode('[1,null,3]'))"#, Ok(b"[1,null,3]")),
        (r#"return cjson.encode(cjson.decode('{"z":[{},[]],"y":{"x":[1,{"w":null}]}}'))"#, Ok(b"{\"y\":{\"x\":[1,{\"w\":null}]},\"z\":[{},{}]}")),
        (r#"return cjson.decode('')"#, Err(r#"user_script:1: Expected value but found T_END at character 1"#)),
        (r#"return cjson.decode('   ')"#, Err(r#"user_script:1: Expected value but found T_END at character 4"#)),
        (r#"return cjson.decode('[1,')"#, Err(r#"user_script:1: Expected value but found T_END at character 4"#)),
        (r#"return cjson.decode('{"a" 1}')"#, Err(r#"user_script:1: Expected colon but found T_NUMBER at character 6"#)),
        (r#"return cjson.decode('{1:2}')"#, Err(r#"user_script:1: Expected object key string but found T_NUMBER at character 2"#)),
        (r#"return cjson.decode('[1 2]')"#, Err(r#"user_script:1: Expected comma or array end but found T_NUMBER at character 4"#)),
        (r#"return cjson.decode('{"a":1 "b"}')"#, Err(r#"user_script:1: Expected comma or object end but found T_STRING at character 8"#)),
        (r#"return cjson.decode('[1] x')"#, Err(r#"user_script:1: Expected the end but found invalid token at character 5"#)),
        (r#"return cjson.decode('"abc')"#, Err(r#"user_script:1: Expected value but found unexpected end of string at character 5"#)),
        (r#"return cjson.decode('"\\q"')"#, Err(r#"user_script:1: Expected value but found invalid escape code at character 2"#)),
        (r#"return cjson.decode('["\\u12"]')"#, Err(r#"user_script:1: Expected value but found invalid unicode escape code at character 3"#)),
        (r#"return cjson.decode('"\\udc00"')"#, Err(r#"user_script:1: Expected value but found invalid unicode escape code at character 2"#)),
        (r#"return cjson.decode('"\\ud800"')"#, Err(r#"user_script:1: Expected value but found invalid unicode escape code at character 2"#)),
        (r#"return cjson.decode('"\\ud800\\u0041"')"#, Err(r#"user_script:1: Expected value but found invalid unicode escape code at character 2"#)),
        (r#"return cjson.decode('tru')"#, Err(r#"user_script:1: Expected value but found invalid token at character 1"#)),
        (r#"return cjson.decode('nul')"#, Err(r#"user_script:1: Expected value but found invalid token at character 1"#)),
        (r#"return cjson.decode('x')"#, Err(r#"user_script:1: Expected value but found invalid token at character 1"#)),
        (r#"return cjson.decode('a\0')"#, Err(r#"user_script:1: JSON parser does not support UTF-16 or UTF-32"#)),
        (r#"return cjson.decode('\0a')"#, Err(r#"user_script:1: JSON parser does not support UTF-16 or UTF-32"#)),
        (r#"return cjson.decode('-')"#, Err(r#"user_script:1: Expected value but found invalid number at character 1"#)),
        (r#"return cjson.decode('[-x]')"#, Err(r#"user_script:1: Expected value but found invalid number at character 2"#)),
        (r#"return cjson.decode('[1,]')"#, Err(r#"user_script:1: Expected value but found T_ARR_END at character 4"#)),
        (r#"return cjson.decode('{"a":1,}')"#, Err(r#"user_script:1: Expected object key string but found T_OBJ_END at character 8"#)),
        (r#"return cjson.decode('{"a":}')"#, Err(r#"user_script:1: Expected value but found T_OBJ_END at character 6"#)),
        (r#"return cjson.decode(']')"#, Err(r#"user_script:1: Expected value but found T_ARR_END at character 1"#)),
        (r#"return cjson.decode('[1]]')"#, Err(r#"user_script:1: Expected the end but found T_ARR_END at character 4"#)),
        (r#"return cjson.decode()"#, Err(r#"user_script:1: bad argument #1 to 'decode' (expected 1 argument)"#)),
        (r#"return cjson.decode('1', '2')"#, Err(r#"user_script:1: bad argument #1 to 'decode' (expected 1 argument)"#)),
        (r#"return cjson.decode({})"#, Err(r#"user_script:1: bad argument #1 to 'decode' (string expected, got table)"#)),
        (r#"return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)) and 'ok'"#, Ok(b"ok")),
        (r#"return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))"#, Err(r#"user_script:1: Found too many nested data structures (1001) at character 1001"#)),
        (r#"return cjson.decode(string.rep('{"a":', 1001))"#, Err(r#"user_script:1: Found too many nested data structures (1001) at character 5001"#)),
        (r#"local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return tostring(#cjson.encode(t))"#, Ok(b"2000")),
        (r#"local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end return cjson.encode(t)"#, Err(r#"user_script:1: Cannot serialise, excessive nesting (1001)"#)),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(pcall(cjson.decode, '[1,'))"#, Ok(b"false Expected value but found T_END at character 4")),
        (r#"local c = cjson.new() c.decode_max_depth(100000) return type(c.decode(string.rep('[', 9000)))"#, Err(r#"user_script:1: Found too many nested data structures (7999) at character 7999"#)),
        (r#"local c = cjson.new() c.decode_max_depth(100000) return type(c.decode(string.rep('{"a":', 9000)))"#, Err(r#"user_script:1: Found too many nested data structures (4000) at character 19996"#)),
        (r#"local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i = 1, 9000 do x[1] = {} x = x[1] end return c.encode(t)"#, Err(r#"user_script:1: Cannot serialise, excessive nesting (7998)"#)),
        (r#"local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i = 1, 9000 do x.a = {} x = x.a end return c.encode(t)"#, Err(r#"user_script:1: Cannot serialise, excessive nesting (4000)"#)),
        (r#"return cjson.encode({['1'] = 1}) .. cjson.encode({[1] = 1, [3] = 3}) .. cjson.encode({[1] = 'a', [2] = 'b', [10] = 'c'})"#, Ok(b"{\"1\":1}[1,null,3][\"a\",\"b\",null,null,null,null,null,null,null,\"c\"]")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cjson.decode('12345678901234567890'), cjson.decode('0.1'), cjson.decode('1e-400'), cjson.decode('-0.0'), cjson.decode('1.7976931348623157e308'))"#, Ok(b"1.2345678901235e+19 0.1 0 -0 1.7976931348623e+308")),
        (r#"return cjson.encode({1e15, 1e16, 123456.789, -1e-7, 2^31, -2^31, 0.5, 1e100, 2^-1074})"#, Ok(b"[1e+15,1e+16,123456.789,-1e-07,2147483648,-2147483648,0.5,1e+100,4.9406564584125e-324]")),
        (r#"return cjson.encode({[1.5] = true, [-0.25] = false})"#, Ok(b"{\"1.5\":true,\"-0.25\":false}")),
        (r#"return cjson.encode(cjson.decode('{"a\\/b":"\\u0001\\u001f\\u007f"}'))"#, Ok(b"{\"a\\/b\":\"\\u0001\\u001f\\u007f\"}")),
    ];

    #[test]
    fn scripts_behave_as_in_redis() {
        assert_matches_redis(REDIS_CASES);
    }
}
