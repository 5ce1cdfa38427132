//! The `cmsgpack` library (lua-cmsgpack 0.4): MessagePack encoding of Lua
//! values, choosing the same encodings as the C library so packed bytes equal
//! Redis's: integral numbers as the smallest integer format, other numbers as
//! float32 when that is lossless and float64 otherwise, strings as str
//! (fixstr/str8/str16/str32), tables that are sequences as arrays and other
//! tables as maps, anything else as nil.

use std::ffi::{c_int, CStr};

use super::capi::{self, c_function, ffi, lua_State, Failure, Returns};

/// Creates the `cmsgpack` table and leaves it on the stack.
pub(super) unsafe fn open(l: *mut lua_State) {
    let functions: [(&CStr, ffi::lua_CFunction); 4] = [
        (c"pack", c_function!(pack)),
        (c"unpack", c_function!(unpack)),
        (c"unpack_one", c_function!(unpack_one)),
        (c"unpack_limit", c_function!(unpack_limit)),
    ];
    ffi::lua_createtable(l, 0, 8);
    capi::set_functions(l, &functions, 0);
    let fields: [(&CStr, &[u8]); 4] = [
        (c"_NAME", b"cmsgpack"),
        (c"_VERSION", b"lua-cmsgpack 0.4.0"),
        (c"_COPYRIGHT", b"Copyright (C) 2012, Salvatore Sanfilippo"),
        (c"_DESCRIPTION", b"MessagePack C implementation for Lua"),
    ];
    for (name, value) in fields {
        capi::push_bytes(l, value);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Tables nested this deep are packed as nil, which also stops cycles.
const MAX_NESTING: u32 = 16;

/// `cmsgpack.pack(v1, v2, ...)`: the encodings of all arguments, concatenated.
unsafe fn pack(l: *mut lua_State) -> Returns {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        return Err(Failure::arg(0, "MessagePack pack needs input."));
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        return Err(Failure::arg(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for narg in 1..=nargs {
        capi::check_stack(l, 1, "in function mp_check")?;
        ffi::lua_pushvalue(l, narg);
        encode_top(l, &mut out, 0)?;
    }
    capi::push_bytes(l, &out);
    Ok(1)
}

/// Encodes the value on top of the stack and pops it.
unsafe fn encode_top(l: *mut lua_State, out: &mut Vec<u8>, level: u32) -> Result<(), Failure> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => {
            let mut len = 0;
            let data = ffi::lua_tolstring(l, -1, &mut len);
            encode_str(out, std::slice::from_raw_parts(data.cast(), len));
        }
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 { 0xc3 } else { 0xc2 }),
        ffi::LUA_TNUMBER => encode_number(out, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TTABLE if level < MAX_NESTING => {
            if table_is_sequence(l)? {
                encode_array(l, out, level)?;
            } else {
                encode_map(l, out, level)?;
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_settop(l, -2);
    Ok(())
}

fn encode_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

/// Whether a double converts to int64 and back unchanged.
fn is_int64(n: f64) -> bool {
    capi::double_to_c_long(n) as f64 == n
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if is_int64(n) {
        encode_integer(out, n as i64);
    } else if f64::from(n as f32) == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_integer(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2147483648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Writes an array or map header: the fix form for up to 15 entries, then
/// the 16-bit and 32-bit forms.
fn encode_container_header(out: &mut Vec<u8>, len: u64, fix: u8, wide16: u8) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide16 + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Whether the table on top of the stack has exactly the keys 1..n (the
/// empty table included), so it packs as an array.
unsafe fn table_is_sequence(l: *mut lua_State) -> Result<bool, Failure> {
    let (mut count, mut max) = (0i64, 0i64);
    capi::check_stack(l, 2, "in function table_is_an_array")?;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        let key = ffi::lua_tonumber(l, -1);
        let fits_c_int = key == f64::from(capi::double_to_c_int(key));
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER || key <= 0.0 || !fits_c_int {
            ffi::lua_settop(l, -2);
            return Ok(false);
        }
        max = max.max(key as i64);
        count += 1;
    }
    Ok(max == count)
}

unsafe fn encode_array(l: *mut lua_State, out: &mut Vec<u8>, level: u32) -> Result<(), Failure> {
    let len = ffi::lua_objlen(l, -1);
    encode_container_header(out, len as u64, 0x90, 0xdc);
    capi::check_stack(l, 1, "in function mp_encode_lua_table_as_array")?;
    for index in 1..=len {
        ffi::lua_rawgeti_(l, -1, index as c_int);
        encode_top(l, out, level + 1)?;
    }
    Ok(())
}

unsafe fn encode_map(l: *mut lua_State, out: &mut Vec<u8>, level: u32) -> Result<(), Failure> {
    capi::check_stack(l, 3, "in function mp_encode_lua_table_as_map")?;
    let mut len = 0u64;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        len += 1;
    }
    encode_container_header(out, len, 0x80, 0xde);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pushvalue(l, -2);
        encode_top(l, out, level + 1)?;
        encode_top(l, out, level + 1)?;
    }
    Ok(())
}

/// Why decoding stopped.
enum DecodeError {
    /// The input ended inside a value.
    MissingBytes,
    /// A byte that starts no supported type (ext, bin, 0xc1).
    BadFormat,
    /// A Lua-level failure (stack exhausted, invalid table key).
    Lua(Failure),
}

impl From<Failure> for DecodeError {
    fn from(failure: Failure) -> DecodeError {
        DecodeError::Lua(failure)
    }
}

/// The unread part of the input.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// The next `n` bytes, consumed.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::MissingBytes);
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("length taken"))
    }

    /// A big-endian length of `N` bytes.
    fn take_len<const N: usize>(&mut self) -> Result<usize, DecodeError> {
        Ok(self.take_array::<N>()?.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b)))
    }
}

/// What a value's leading bytes say: a complete scalar, or the length of
/// what follows.
enum Header {
    Number(f64),
    Nil,
    Boolean(bool),
    Str(usize),
    Array(usize),
    Map(usize),
}

/// Reads the header announced by the type byte `first` from `body` (the
/// bytes after it). Lua 5.1 numbers are doubles: uint64 values above 2^63
/// come back negative, as lua-cmsgpack pushes them as a signed lua_Integer.
fn read_header(first: u8, body: &mut Cursor) -> Result<Header, DecodeError> {
    Ok(match first {
        0x00..=0x7f => Header::Number(f64::from(first)),
        0xe0..=0xff => Header::Number(f64::from(first as i8)),
        0xc0 => Header::Nil,
        0xc2 => Header::Boolean(false),
        0xc3 => Header::Boolean(true),
        0xca => Header::Number(f64::from(f32::from_be_bytes(body.take_array()?))),
        0xcb => Header::Number(f64::from_be_bytes(body.take_array()?)),
        0xcc => Header::Number(f64::from(body.take_array::<1>()?[0])),
        0xcd => Header::Number(f64::from(u16::from_be_bytes(body.take_array()?))),
        0xce => Header::Number(f64::from(u32::from_be_bytes(body.take_array()?))),
        0xcf => Header::Number(u64::from_be_bytes(body.take_array()?) as i64 as f64),
        0xd0 => Header::Number(f64::from(body.take_array::<1>()?[0] as i8)),
        0xd1 => Header::Number(f64::from(i16::from_be_bytes(body.take_array()?))),
        0xd2 => Header::Number(f64::from(i32::from_be_bytes(body.take_array()?))),
        0xd3 => Header::Number(i64::from_be_bytes(body.take_array()?) as f64),
        0xa0..=0xbf => Header::Str(usize::from(first & 0x1f)),
        0xd9 => Header::Str(body.take_len::<1>()?),
        0xda => Header::Str(body.take_len::<2>()?),
        0xdb => Header::Str(body.take_len::<4>()?),
        0x90..=0x9f => Header::Array(usize::from(first & 0x0f)),
        0xdc => Header::Array(body.take_len::<2>()?),
        0xdd => Header::Array(body.take_len::<4>()?),
        0x80..=0x8f => Header::Map(usize::from(first & 0x0f)),
        0xde => Header::Map(body.take_len::<2>()?),
        0xdf => Header::Map(body.take_len::<4>()?),
        _ => return Err(DecodeError::BadFormat),
    })
}

/// An array or map being filled, its table on the Lua stack.
enum OpenContainer {
    /// The index of the element being decoded is above the table.
    Array { next_index: usize, len: usize },
    /// The key (once decoded) is above the table.
    Map { remaining: usize, have_key: bool },
}

/// Decodes one value from the cursor and pushes it. Nested containers are
/// tracked with an explicit stack, not recursion: nesting is bounded only
/// by the Lua stack (thousands of levels).
unsafe fn decode_value(l: *mut lua_State, cursor: &mut Cursor) -> Result<(), DecodeError> {
    let mut open: Vec<OpenContainer> = Vec::new();
    loop {
        let Some((&first, after_type)) = cursor.rest.split_first() else {
            return Err(DecodeError::MissingBytes);
        };
        capi::check_stack(l, 1, "too many return values at once; use unpack_one or unpack_limit instead.")?;
        let mut body = Cursor { rest: after_type };
        let header = read_header(first, &mut body)?;
        *cursor = body;
        let mut completed = true;
        match header {
            Header::Number(n) => ffi::lua_pushnumber(l, n),
            Header::Nil => ffi::lua_pushnil(l),
            Header::Boolean(b) => ffi::lua_pushboolean(l, c_int::from(b)),
            Header::Str(len) => capi::push_bytes(l, cursor.take(len)?),
            Header::Array(len) => {
                ffi::lua_createtable(l, 0, 0);
                capi::check_stack(l, 1, "in function mp_decode_to_lua_array")?;
                open.push(OpenContainer::Array { next_index: 1, len });
                completed = false;
            }
            Header::Map(len) => {
                ffi::lua_createtable(l, 0, 0);
                open.push(OpenContainer::Map { remaining: len, have_key: false });
                completed = false;
            }
        }
        // Store what completed and close full containers, until one expects
        // another value.
        loop {
            let Some(container) = open.last_mut() else {
                return Ok(());
            };
            if expects_value(l, container, completed)? {
                break;
            }
            open.pop();
            completed = true;
        }
    }
}

/// Stores the value on top of the stack into the container when `completed`
/// (a child was just decoded), then prepares for the container's next value:
/// true when one is expected, false when the container is full.
unsafe fn expects_value(
    l: *mut lua_State,
    container: &mut OpenContainer,
    completed: bool,
) -> Result<bool, DecodeError> {
    match container {
        OpenContainer::Array { next_index, len } => {
            if completed {
                ffi::lua_rawset(l, -3);
            }
            if *next_index > *len {
                return Ok(false);
            }
            ffi::lua_pushnumber(l, *next_index as f64);
            *next_index += 1;
        }
        OpenContainer::Map { remaining, have_key } => {
            if completed && !*have_key {
                *have_key = true;
                return Ok(true);
            }
            if completed {
                store_map_entry(l)?;
                *have_key = false;
                *remaining -= 1;
            }
            if *remaining == 0 {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Sets table[key] = value from the top three stack slots, rejecting the
/// keys Lua refuses with Lua's own (position-less) messages.
unsafe fn store_map_entry(l: *mut lua_State) -> Result<(), DecodeError> {
    match ffi::lua_type(l, -2) {
        ffi::LUA_TNIL => Err(DecodeError::Lua(Failure::Raw(b"table index is nil".to_vec()))),
        ffi::LUA_TNUMBER if ffi::lua_tonumber(l, -2).is_nan() => {
            Err(DecodeError::Lua(Failure::Raw(b"table index is NaN".to_vec())))
        }
        _ => {
            ffi::lua_rawset(l, -3);
            Ok(())
        }
    }
}

/// Decodes up to `limit` values starting at byte `offset` of argument 1.
/// Unless both are 0 (decode everything), the first result is the offset
/// where decoding stopped, or -1 at the end of the input.
unsafe fn unpack_from(l: *mut lua_State, limit: i64, offset: i64) -> Returns {
    let input = capi::check_bytes(l, 1)?;
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C library prints the input length where it means the limit.
        return Err(Failure::error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32,
            input.len() as i32
        )));
    }
    if offset as u64 > input.len() as u64 {
        return Err(Failure::error(format!(
            "Start offset {} greater than input length {}.",
            offset as i32,
            input.len() as i32
        )));
    }
    let limit = if decode_all { i64::from(i32::MAX) } else { limit };
    let mut cursor = Cursor { rest: &input[offset as usize..] };
    let mut count: c_int = 0;
    while !cursor.rest.is_empty() && i64::from(count) < limit {
        match decode_value(l, &mut cursor) {
            Ok(()) => count += 1,
            Err(DecodeError::MissingBytes) => return Err(Failure::error("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(Failure::error("Bad data format in input.")),
            Err(DecodeError::Lua(failure)) => return Err(failure),
        }
    }
    if decode_all {
        return Ok(count);
    }
    capi::check_stack(l, 1, "in function mp_unpack_full")?;
    let next_offset = if cursor.rest.is_empty() { -1 } else { (input.len() - cursor.rest.len()) as i64 };
    ffi::lua_pushinteger(l, next_offset);
    ffi::lua_insert(l, 2);
    Ok(count + 1)
}

/// `cmsgpack.unpack(data)`: every value in the input.
unsafe fn unpack(l: *mut lua_State) -> Returns {
    unpack_from(l, 0, 0)
}

/// `cmsgpack.unpack_one(data [, offset])`: the next offset and one value.
unsafe fn unpack_one(l: *mut lua_State) -> Returns {
    let offset = capi::opt_integer(l, 2, 0)?;
    drop_extra_args(l);
    unpack_from(l, 1, offset)
}

/// `cmsgpack.unpack_limit(data, limit [, offset])`: the next offset and up
/// to `limit` values.
unsafe fn unpack_limit(l: *mut lua_State) -> Returns {
    let limit = capi::check_integer(l, 2)?;
    let offset = capi::opt_integer(l, 3, 0)?;
    drop_extra_args(l);
    unpack_from(l, limit, offset)
}

/// Pops every argument but the first (none is left when there was none), so
/// that the results pushed next are the only values above the input.
unsafe fn drop_extra_args(l: *mut lua_State) {
    let extra = ffi::lua_gettop(l) - 1;
    ffi::lua_settop(l, -extra - 1);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_matches_redis, RedisCase};

    /// The `cmsgpack` scripts of tests/corpus/lua_libs.redis with the replies
    /// redis-server 7.0.15 gave them (a bulk string, or an error reply's message).
    const REDIS_CASES: &[RedisCase] = &[
        (r#"local t = {} for k, v in pairs(cmsgpack) do t[#t + 1] = k .. ':' .. type(v) end table.sort(t) return table.concat(t, ',')"#, Ok(b"_COPYRIGHT:string,_DESCRIPTION:string,_NAME:string,_VERSION:string,pack:function,unpack:function,unpack_limit:function,unpack_one:function")),
        (r#"return cmsgpack._NAME .. '|' .. cmsgpack._VERSION .. '|' .. cmsgpack._COPYRIGHT .. '|' .. cmsgpack._DESCRIPTION"#, Ok(b"cmsgpack|lua-cmsgpack 0.4.0|Copyright (C) 2012, Salvatore Sanfilippo|MessagePack C implementation for Lua")),
        (r#"return cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, 2^53)"#, Ok(b"\x00\x01\x7f\xcc\x80\xcc\xff\xcd\x01\x00\xcd\xff\xff\xce\x00\x01\x00\x00\xce\xff\xff\xff\xff\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xcf\x00 \x00\x00\x00\x00\x00\x00")),
        (r#"return cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53, -2^63)"#, Ok(b"\xff\xe0\xd0\xdf\xd0\x80\xd1\xff\x7f\xd1\x80\x00\xd2\xff\xff\x7f\xff\xd2\x80\x00\x00\x00\xd3\xff\xff\xff\xff\x7f\xff\xff\xff\xd3\xff\xe0\x00\x00\x00\x00\x00\x00\xd3\x80\x00\x00\x00\x00\x00\x00\x00")),
        (r#"return cmsgpack.pack(2^63, 2^64, 1.5, 0.1, -0.0, 1/0, -1/0, 1e300, 3.25, -2^63 - 2^12)"#, Ok(b"\xca_\x00\x00\x00\xca_\x80\x00\x00\xca?\xc0\x00\x00\xcb?\xb9\x99\x99\x99\x99\x99\x9a\x00\xca\xff\x80\x00\x00\xca\x7f\x80\x00\x00\xcb~7\xe4<\x88\x00u\x9c\xca@P\x00\x00\xcb\xc3\xe0\x00\x00\x00\x00\x00\x02")),
        (r#"return cmsgpack.pack(0/0)"#, Ok(b"\xcb\xff\xf8\x00\x00\x00\x00\x00\x00")),
        (r#"return cmsgpack.pack('', 'a', string.rep('x', 31))"#, Ok(b"\xa0\xa1a\xbfxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")),
        (r#"return string.sub(cmsgpack.pack(string.rep('x', 32)), 1, 3)"#, Ok(b"\xd9 x")),
        (r#"return string.sub(cmsgpack.pack(string.rep('x', 255)), 1, 3)"#, Ok(b"\xd9\xffx")),
        (r#"return string.sub(cmsgpack.pack(string.rep('x', 256)), 1, 4)"#, Ok(b"\xda\x01\x00x")),
        (r#"return string.sub(cmsgpack.pack(string.rep('x', 65535)), 1, 4)"#, Ok(b"\xda\xff\xffx")),
        (r#"return string.sub(cmsgpack.pack(string.rep('x', 65536)), 1, 6)"#, Ok(b"\xdb\x00\x01\x00\x00x")),
        (r#"return cmsgpack.pack(true, false, nil, tostring, cjson.null, coroutine.create(function() end))"#, Ok(b"\xc3\xc2\xc0\xc0\xc0\xc0")),
        (r#"return cmsgpack.pack(nil)"#, Ok(b"\xc0")),
        (r#"return cmsgpack.pack()"#, Err(r#"user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"#)),
        (r#"return cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {1, 2, nil, 4}, {[0] = 1}, {[1.5] = 2}, {[2] = 2})"#, Ok(b"\x90\x93\x01\x02\x03\x81\xa1a\x01\x83\x01\x01\x02\x02\x04\x04\x81\x00\x01\x81\xca?\xc0\x00\x00\x02\x81\x02\x02")),
        (r#"return cmsgpack.pack({[1] = 1, [2] = 2, x = 3})"#, Ok(b"\x83\x01\x01\x02\x02\xa1x\x03")),
        (r#"return cmsgpack.pack({b = 1, a = 2, c = 3, d = {e = 4, f = 5}, [7] = 'x', [3.5] = 'y'})"#, Ok(b"\x86\xa1a\x02\x07\xa1x\xa1c\x03\xa1b\x01\xca@`\x00\x00\xa1y\xa1d\x82\xa1e\x04\xa1f\x05")),
        (r#"local t = {} for i = 1, 30 do t['k' .. i] = i end return cmsgpack.pack(t)"#, Ok(b"\xde\x00\x1e\xa3k16\x10\xa3k26\x1a\xa3k19\x13\xa3k30\x1e\xa2k9\x09\xa3k15\x0f\xa3k21\x15\xa3k29\x1d\xa3k25\x19\xa3k11\x0b\xa3k24\x18\xa3k23\x17\xa3k22\x16\xa3k17\x11\xa3k28\x1c\xa3k20\x14\xa3k10\x0a\xa2k8\x08\xa2k1\x01\xa3k12\x0c\xa2k3\x03\xa2k2\x02\xa3k27\x1b\xa3k13\x0d\xa3k18\x12\xa3k14\x0e\xa2k6\x06\xa2k7\x07\xa2k4\x04\xa2k5\x05")),
        (r#"local t = {} for i = 1, 16 do t[i] = i end return string.sub(cmsgpack.pack(t), 1, 4)"#, Ok(b"\xdc\x00\x10\x01")),
        (r#"local t = {} for i = 1, 16 do t['k' .. i] = i end return string.sub(cmsgpack.pack(t), 1, 3)"#, Ok(b"\xde\x00\x10")),
        (r#"local t = {} for i = 1, 70000 do t[i] = 0 end return string.sub(cmsgpack.pack(t), 1, 6)"#, Ok(b"\xdd\x00\x01\x11p\x00")),
        (r#"local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)"#, Ok(b"\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\xc0")),
        (r#"local t = {} t[1] = t return cmsgpack.pack(t)"#, Ok(b"\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\xc0")),
        (r#"return cmsgpack.pack({1, {2, {3, {x = 'y'}}}})"#, Ok(b"\x92\x01\x92\x02\x92\x03\x81\xa1x\xa1y")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack(cmsgpack.pack(1, -1, 1.5, 0.1, 'abc', true, false, nil, 2^40, -2^40)))"#, Ok(b"1 -1 1.5 0.1 abc true false nil 1099511627776 -1099511627776")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(select('#', cmsgpack.unpack('')))"#, Ok(b"0")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack(string.char(0xcf, 255, 255, 255, 255, 255, 255, 255, 255), string.char(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1)))"#, Ok(b"-1")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack(string.char(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xd0, 0x80, 0xd1, 0x80, 0, 0xd2, 0x80, 0, 0, 0, 0xcc, 200, 0xcd, 1, 0, 0xce, 1, 0, 0, 0)))"#, Ok(b"-9.2233720368548e+18 -128 -32768 -2147483648 200 256 16777216")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack(string.char(0xca, 0x3f, 0xc0, 0, 0, 0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0xe0, 0xff, 0x7f)))"#, Ok(b"1.5 0.1 -32 -1 127")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack(string.char(0xd9, 3) .. 'abc' .. string.char(0xda, 0, 2) .. 'de' .. string.char(0xdb, 0, 0, 0, 1) .. 'f' .. string.char(0xa0)))"#, Ok(b"abc de f ")),
        (r#"return cjson.encode(cmsgpack.unpack(cmsgpack.pack({1, {2, {3, {x = 'y'}}}, {a = {b = {}}}})))"#, Ok(b"[1,[2,[3,{\"x\":\"y\"}]],{\"a\":{\"b\":{}}}]")),
        (r#"return cjson.encode({cmsgpack.unpack(string.char(0xdc, 0, 2, 1, 2, 0xdd, 0, 0, 0, 1, 3, 0xde, 0, 1, 0xa1, 97, 1, 0xdf, 0, 0, 0, 1, 0xa1, 98, 2))})"#, Ok(b"[[1,2],[3],{\"a\":1},{\"b\":2}]")),
        (r#"return cjson.encode(cmsgpack.unpack(string.char(0x93, 1, 0xc0, 3)))"#, Ok(b"[1,null,3]")),
        (r#"return cjson.encode(cmsgpack.unpack(string.char(0x82, 0xa1, 97, 0xc0, 0xa1, 98, 1)))"#, Ok(b"{\"b\":1}")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local s = '' for i = 1, 200 do s = s .. cmsgpack.pack(i) end return show(select('#', cmsgpack.unpack(s)))"#, Ok(b"200")),
        (r#"return cmsgpack.unpack(string.char(0xc1))"#, Err(r#"user_script:1: Bad data format in input."#)),
        (r#"return cmsgpack.unpack(string.char(0xd4, 1, 1))"#, Err(r#"user_script:1: Bad data format in input."#)),
        (r#"return cmsgpack.unpack(string.char(0xc4, 1, 1))"#, Err(r#"user_script:1: Bad data format in input."#)),
        (r#"return cmsgpack.unpack(string.char(0xcd, 1))"#, Err(r#"user_script:1: Missing bytes in input."#)),
        (r#"return cmsgpack.unpack(string.char(0xa3, 97))"#, Err(r#"user_script:1: Missing bytes in input."#)),
        (r#"return cmsgpack.unpack(string.char(0x92, 1))"#, Err(r#"user_script:1: Missing bytes in input."#)),
        (r#"return cmsgpack.unpack(string.char(0xdb, 0, 0, 1, 0))"#, Err(r#"user_script:1: Missing bytes in input."#)),
        (r#"return cmsgpack.unpack(string.char(0x81, 0xc0, 0x01))"#, Err(r#"table index is nil"#)),
        (r#"return cmsgpack.unpack(string.char(0x81, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 1))"#, Err(r#"table index is NaN"#)),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(pcall(cmsgpack.unpack, string.char(0x81, 0xc0, 0x01)))"#, Ok(b"false table index is nil")),
        (r#"return cmsgpack.unpack()"#, Err(r#"user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"#)),
        (r#"return cmsgpack.unpack({})"#, Err(r#"user_script:1: bad argument #1 to 'unpack' (string expected, got table)"#)),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_one(s)})"#, Ok(b"[1,1]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_one(s, 1)})"#, Ok(b"[5,\"two\"]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_one(s, 5)})"#, Ok(b"[-1,[3]]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_one(s, #s)})"#, Ok(b"[-1]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_limit(s, 2)})"#, Ok(b"[5,1,\"two\"]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_limit(s, 5, 1)})"#, Ok(b"[-1,\"two\",[3]]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_limit(s, 0)})"#, Ok(b"[1,\"two\",[3]]")),
        (r#"local s = cmsgpack.pack(1, 'two', {3}) return cjson.encode({cmsgpack.unpack_limit(s, 0, 1)})"#, Ok(b"[1]")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack_one('', 0))"#, Ok(b"-1")),
        (r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2), -1)"#, Err(r#"user_script:1: Invalid request to unpack with offset of -1 and limit of 2."#)),
        (r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2), -1)"#, Err(r#"user_script:1: Invalid request to unpack with offset of 0 and limit of 2."#)),
        (r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2), 100)"#, Err(r#"user_script:1: Start offset 100 greater than input length 2."#)),
        (r#"return cmsgpack.unpack_one()"#, Err(r#"user_script:1: bad argument #1 to 'unpack_one' (string expected, got no value)"#)),
        (r#"return cmsgpack.unpack_one('a', 'x')"#, Err(r#"user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)"#)),
        (r#"return cmsgpack.unpack_limit('a')"#, Err(r#"user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"#)),
        (r#"return cmsgpack.unpack_limit('a', 1, {})"#, Err(r#"user_script:1: bad argument #3 to 'unpack_limit' (number expected, got table)"#)),
        (r#"local s = string.rep(cmsgpack.pack(1), 10000) return select('#', cmsgpack.unpack(s))"#, Err(r#"user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#)),
        (r#"local s = string.rep(string.char(0x91), 5000) .. string.char(1) return type(cmsgpack.unpack(s))"#, Err(r#"user_script:1: stack overflow (in function mp_decode_to_lua_array)"#)),
        (r#"local s = string.rep(string.char(0x81, 0xa1, 0x61), 5000) .. string.char(1) return type(cmsgpack.unpack(s))"#, Err(r#"user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#)),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end local s = string.rep(cmsgpack.pack(1), 10000) local off, v = cmsgpack.unpack_limit(s, 7000) return show(off, v)"#, Ok(b"7000 1")),
        (r#"local t = {} for i = 1, 70000 do t['k' .. i] = 0 end return string.sub(cmsgpack.pack(t), 1, 5)"#, Ok(b"\xdf\x00\x01\x11p")),
        (r#"return cmsgpack.pack({[-1] = 1}, {[2^31] = 1}, {[2^31 - 1] = 1}, {1, 2, [4] = 4, [3] = 3}, {n = 1, 1})"#, Ok(b"\x81\xff\x01\x81\xce\x80\x00\x00\x00\x01\x81\xce\x7f\xff\xff\xff\x01\x94\x01\x02\x03\x04\x82\x01\x01\xa1n\x01")),
        (r#"return cmsgpack.pack(2^53 + 2, -2^63 - 2^11, 2^64 - 2^11, 1e-320, 3.4028234663852886e38, 3.4028235677973366e38)"#, Ok(b"\xcf\x00 \x00\x00\x00\x00\x00\x02\xcb\xc3\xe0\x00\x00\x00\x00\x00\x01\xcbC\xef\xff\xff\xff\xff\xff\xff\xcb\x00\x00\x00\x00\x00\x00\x07\xe8\xca\x7f\x7f\xff\xff\xcbG\xef\xff\xff\xf0\x00\x00\x00")),
        (r#"local t = setmetatable({}, {__index = function() return 1 end}) return cmsgpack.pack(t)"#, Ok(b"\x90")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(cmsgpack.unpack(string.char(0xca, 0x7f, 0x80, 0, 0, 0xca, 0xff, 0xc0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 1)))"#, Ok(b"inf -nan 4.9406564584125e-324")),
    ];

    #[test]
    fn scripts_behave_as_in_redis() {
        assert_matches_redis(REDIS_CASES);
    }
}
