//! The `struct` library: `pack`, `unpack` and `size` convert between Lua
//! values and C-like binary records described by a format string, with the
//! sizes, alignment and byte orders of a 64-bit Linux build (`l`, `L` and `T`
//! are 8 bytes, `i`/`I` default to 4, native order is little endian).

use std::ffi::{c_int, CStr};

use super::capi::{self, c_function, ffi, lua_State, Failure, Returns};

/// Creates the `struct` table and leaves it on the stack.
pub(super) unsafe fn open(l: *mut lua_State) {
    let functions: [(&CStr, ffi::lua_CFunction); 3] =
        [(c"pack", c_function!(pack)), (c"unpack", c_function!(unpack)), (c"size", c_function!(size))];
    ffi::lua_createtable(l, 0, functions.len() as c_int);
    capi::set_functions(l, &functions, 0);
}

/// The largest `!` alignment default and the widest `i`/`I` integer.
const MAX_ALIGN: usize = 8;
const MAX_INT_SIZE: usize = 32;

/// Byte order and maximum alignment, changed by `<`, `>` and `!` as the
/// format is read.
struct Header {
    little_endian: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Header {
        Header { little_endian: cfg!(target_endian = "little"), align: 1 }
    }
}

/// A format string being read one option at a time.
struct Format<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next_option(&mut self) -> Option<u8> {
        let option = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(option)
    }

    /// The decimal count following an option, or `default` when there is none.
    fn count(&mut self, default: usize) -> Result<usize, Failure> {
        let mut value: i32 = 0;
        let mut seen = false;
        while let Some(digit) = self.bytes.get(self.pos).filter(|b| b.is_ascii_digit()) {
            let digit = i32::from(digit - b'0');
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(digit))
                .ok_or_else(|| Failure::error("integral size overflow"))?;
            self.pos += 1;
            seen = true;
        }
        Ok(if seen { value as usize } else { default })
    }

    /// The size of the data an option stands for (0 for control options).
    fn option_size(&mut self, option: u8) -> Result<usize, Failure> {
        Ok(match option {
            b'b' | b'B' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.count(1)?,
            b'i' | b'I' => {
                let size = self.count(4)?;
                if size > MAX_INT_SIZE {
                    return Err(Failure::error(format!("integral size {size} is larger than limit of {MAX_INT_SIZE}")));
                }
                size
            }
            _ => 0,
        })
    }
}

/// Padding needed before an item of `size` bytes at offset `len`.
fn padding(len: usize, header: &Header, option: u8, size: usize) -> usize {
    if size == 0 || option == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// Applies a control option (space, `<`, `>`, `!n`); anything else is an
/// invalid option.
fn control_option(option: u8, format: &mut Format, header: &mut Header) -> Result<(), Failure> {
    match option {
        b' ' => {}
        b'>' => header.little_endian = false,
        b'<' => header.little_endian = true,
        b'!' => {
            let align = format.count(MAX_ALIGN)?;
            if !align.is_power_of_two() {
                return Err(Failure::error(format!("alignment {align} is not a power of 2")));
            }
            header.align = align;
        }
        _ => {
            let mut message = b"invalid format option '".to_vec();
            message.extend_from_slice(&[option, b'\'']);
            return Err(Failure::Arg(1, message));
        }
    }
    Ok(())
}

fn is_integer_option(option: u8) -> bool {
    matches!(option, b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I')
}

/// A number as the 64-bit pattern the C library packs: through `long` for
/// negative numbers, `unsigned long` otherwise.
fn integer_bits(n: f64) -> u64 {
    if n < 0.0 {
        capi::double_to_c_long(n) as u64
    } else {
        capi::double_to_c_ulong(n)
    }
}

/// The low `size` bytes of `value` in the requested order (zero beyond 8).
fn integer_bytes(value: u64, size: usize, little_endian: bool) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..size).map(|i| value.checked_shr(8 * i as u32).unwrap_or(0) as u8).collect();
    if !little_endian {
        bytes.reverse();
    }
    bytes
}

fn ordered<const N: usize>(mut bytes: [u8; N], little_endian: bool) -> [u8; N] {
    if !little_endian {
        bytes.reverse();
    }
    bytes
}

/// `struct.pack(format, ...)`.
unsafe fn pack(l: *mut lua_State) -> Returns {
    let mut format = Format { bytes: capi::check_c_string(l, 1)?, pos: 0 };
    // The C library pushes a marker nil above the arguments, so a missing
    // argument right after the last one is reported as "got nil".
    ffi::lua_pushnil(l);
    let mut header = Header::default();
    let mut out = Vec::new();
    let mut narg: c_int = 2;
    while let Some(option) = format.next_option() {
        let mut size = format.option_size(option)?;
        out.resize(out.len() + padding(out.len(), &header, option, size), 0);
        match option {
            _ if is_integer_option(option) => {
                let value = integer_bits(capi::check_number(l, narg)?);
                narg += 1;
                out.extend_from_slice(&integer_bytes(value, size, header.little_endian));
            }
            b'x' => out.push(0),
            b'f' => {
                let value = capi::check_number(l, narg)? as f32;
                narg += 1;
                out.extend_from_slice(&ordered(value.to_le_bytes(), header.little_endian));
            }
            b'd' => {
                let value = capi::check_number(l, narg)?;
                narg += 1;
                out.extend_from_slice(&ordered(value.to_le_bytes(), header.little_endian));
            }
            b'c' | b's' => {
                let data = capi::check_bytes(l, narg)?;
                narg += 1;
                if size == 0 {
                    size = data.len();
                }
                // The C library reports the argument after the string here.
                if data.len() < size {
                    return Err(Failure::arg(narg, "string too short"));
                }
                out.extend_from_slice(&data[..size]);
                if option == b's' {
                    out.push(0);
                }
            }
            _ => control_option(option, &mut format, &mut header)?,
        }
    }
    capi::push_bytes(l, &out);
    Ok(1)
}

/// Reads an integer of `bytes.len()` bytes; wider than 8 keeps the low 64 bits.
fn read_integer(bytes: &[u8], little_endian: bool, signed: bool) -> f64 {
    let fold = |acc: u64, &byte: &u8| acc.wrapping_shl(8) | u64::from(byte);
    let value = if little_endian { bytes.iter().rev().fold(0, fold) } else { bytes.iter().fold(0, fold) };
    if !signed {
        return value as f64;
    }
    let sign_mask = u64::MAX.wrapping_shl((bytes.len() * 8).wrapping_sub(1) as u32);
    let value = if value & sign_mask != 0 { value | sign_mask } else { value };
    value as i64 as f64
}

fn read_array<const N: usize>(bytes: &[u8], little_endian: bool) -> [u8; N] {
    let array: [u8; N] = bytes[..N].try_into().expect("length checked");
    ordered(array, little_endian)
}

/// `struct.unpack(format, data [, init])`: the values, then the position
/// after the last byte read.
unsafe fn unpack(l: *mut lua_State) -> Returns {
    let mut format = Format { bytes: capi::check_c_string(l, 1)?, pos: 0 };
    let data = capi::check_bytes(l, 2)?;
    let init = capi::opt_integer(l, 3, 1)? as usize;
    if init == 0 {
        return Err(Failure::arg(3, "offset must be 1 or greater"));
    }
    let mut pos = init - 1;
    let mut header = Header::default();
    let mut results: c_int = 0;
    let too_short = || Failure::arg(2, "data string too short");
    while let Some(option) = format.next_option() {
        let mut size = format.option_size(option)?;
        pos = pos.wrapping_add(padding(pos, &header, option, size));
        if size > data.len() || pos > data.len() - size {
            return Err(too_short());
        }
        capi::check_stack(l, 2, "too many results")?;
        let field = &data[pos..];
        match option {
            _ if is_integer_option(option) => {
                let value = read_integer(&field[..size], header.little_endian, option.is_ascii_lowercase());
                ffi::lua_pushnumber(l, value);
                results += 1;
            }
            b'x' => {}
            b'f' => {
                ffi::lua_pushnumber(l, f64::from(f32::from_le_bytes(read_array(field, header.little_endian))));
                results += 1;
            }
            b'd' => {
                ffi::lua_pushnumber(l, f64::from_le_bytes(read_array(field, header.little_endian)));
                results += 1;
            }
            b'c' => {
                if size == 0 {
                    if results == 0 || ffi::lua_isnumber(l, -1) == 0 {
                        return Err(Failure::error("format 'c0' needs a previous size"));
                    }
                    size = capi::double_to_c_ulong(ffi::lua_tonumber(l, -1)) as usize;
                    ffi::lua_settop(l, -2);
                    results -= 1;
                    if size > data.len() || pos > data.len() - size {
                        return Err(too_short());
                    }
                }
                capi::push_bytes(l, &field[..size]);
                results += 1;
            }
            b's' => {
                let Some(end) = field.iter().position(|&b| b == 0) else {
                    return Err(Failure::error("unfinished string in data"));
                };
                capi::push_bytes(l, &field[..end]);
                results += 1;
                size = end + 1;
            }
            _ => control_option(option, &mut format, &mut header)?,
        }
        pos += size;
    }
    ffi::lua_pushinteger(l, (pos + 1) as i64);
    Ok(results + 1)
}

/// `struct.size(format)`: the bytes `pack` would produce (fixed sizes only).
unsafe fn size(l: *mut lua_State) -> Returns {
    let mut format = Format { bytes: capi::check_c_string(l, 1)?, pos: 0 };
    let mut header = Header::default();
    let mut pos = 0usize;
    while let Some(option) = format.next_option() {
        let size = format.option_size(option)?;
        pos = pos.wrapping_add(padding(pos, &header, option, size));
        if option == b's' {
            return Err(Failure::arg(1, "option 's' has no fixed size"));
        }
        if option == b'c' && size == 0 {
            return Err(Failure::arg(1, "option 'c0' has no fixed size"));
        }
        // Unknown letters count as zero-sized; only punctuation is checked.
        if !option.is_ascii_alphanumeric() {
            control_option(option, &mut format, &mut header)?;
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos as i64);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_matches_redis, RedisCase};

    /// The `struct` scripts of tests/corpus/lua_libs.redis with the replies
    /// redis-server 7.0.15 gave them (a bulk string, or an error reply's message).
    const REDIS_CASES: &[RedisCase] = &[
        (
            r#"local t = {} for k, v in pairs(struct) do t[#t + 1] = k .. ':' .. type(v) end table.sort(t) return table.concat(t, ',')"#,
            Ok(b"pack:function,size:function,unpack:function"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>i', 1))"#,
            Ok(b"00000001"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<i', -2))"#,
            Ok(b"feffffff"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('bBhH', -1, 255, -2, 65535))"#,
            Ok(b"fffffeffffff"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>lL', -3, 7))"#,
            Ok(b"fffffffffffffffd0000000000000007"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<T', 258))"#,
            Ok(b"0201000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>I3', 0x010203))"#,
            Ok(b"010203"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<i10', -1))"#,
            Ok(b"ffffffffffffffff0000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>i10', -1))"#,
            Ok(b"0000ffffffffffffffff"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>f', 1.5))"#,
            Ok(b"3fc00000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<d', -2.25))"#,
            Ok(b"00000000000002c0"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>d', 0.1))"#,
            Ok(b"3fb999999999999a"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('s', 'ab'))"#,
            Ok(b"616200"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('c0', 'hello'))"#,
            Ok(b"68656c6c6f"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('c3', 'hello'))"#,
            Ok(b"68656c"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('c', 'hello'))"#,
            Ok(b"68"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('!4 b i', 1, 2))"#,
            Ok(b"0100000002000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('!2 b d', 1, 0))"#,
            Ok(b"01000000000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('! b d', 1, 0))"#,
            Ok(b"01000000000000000000000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('!8 b h b i b l', 1, 2, 3, 4, 5, 6))"#,
            Ok(b"010002000300000004000000050000000600000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('b x x h', 1, 2))"#,
            Ok(b"0100000200"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>L', 2^64))"#,
            Ok(b"0000000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>L', 2^63))"#,
            Ok(b"8000000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>l', -2^63))"#,
            Ok(b"8000000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>B', '7'))"#,
            Ok(b"07"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>b', 300))"#,
            Ok(b"2c"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>h', 1.9))"#,
            Ok(b"0001"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>h', -1.9))"#,
            Ok(b"ffff"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<I0', 5))"#,
            Ok(b""),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack(''))"#,
            Ok(b""),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<i>i', 1, 1))"#,
            Ok(b"0100000000000001"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('b\0b', 1, 2))"#,
            Ok(b"01"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('>i', '\0\0\1\0'))"#,
            Ok(b"256 5"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<h', '\255\255'))"#,
            Ok(b"-1 3"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<H', '\255\255'))"#,
            Ok(b"65535 3"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('b', 'xyz', 2))"#,
            Ok(b"121 3"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('bb', 'xyz', 2))"#,
            Ok(b"121 122 4"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('s', 'ab\0cd'))"#,
            Ok(b"ab 4"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('ss', 'ab\0cd\0'))"#,
            Ok(b"ab cd 7"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('Bc0', '\3abcdef'))"#,
            Ok(b"abc 5"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('c2c0', '12abc'))"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('>d', struct.pack('>d', 0.1)))"#,
            Ok(b"0.1 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<f', struct.pack('<f', 0.5)))"#,
            Ok(b"0.5 5"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('>f', struct.pack('>f', 0.1)))"#,
            Ok(b"0.10000000149012 5"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2)))"#,
            Ok(b"1 2 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<i3', '\255\255\127'))"#,
            Ok(b"8388607 4"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<i3', '\0\0\128'))"#,
            Ok(b"-8388608 4"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('>l', struct.pack('>l', -5)))"#,
            Ok(b"-5 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('>L', '\255\255\255\255\255\255\255\255'))"#,
            Ok(b"1.844674407371e+19 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('>l', '\128\0\0\0\0\0\0\1'))"#,
            Ok(b"-9.2233720368548e+18 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<i10', '\1\2\3\4\5\6\7\8\9\10'))"#,
            Ok(b"-32255 11"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<I9', '\255\255\255\255\255\255\255\255\255'))"#,
            Ok(b"1.844674407371e+19 10"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('x b', 'ab'))"#,
            Ok(b"98 3"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('', 'ab'))"#,
            Ok(b"1"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('c0', 'ab', 3))"#,
            Err(r#"user_script:1: format 'c0' needs a previous size"#),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('i', 'abcd', '1'))"#,
            Ok(b"1684234849 5"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.size('bhilT'), struct.size('!bhilT'), struct.size('!4 bd'), struct.size('c5 d'), struct.size('q'), struct.size('i3'), struct.size('!'), struct.size('x'), struct.size('<>fd'))"#,
            Ok(b"23 24 12 13 0 3 0 1 12"),
        ),
        (
            r#"return struct.pack('q', 1)"#,
            Err(r#"user_script:1: bad argument #1 to 'pack' (invalid format option 'q')"#),
        ),
        (
            r#"return struct.pack('i', 'x')"#,
            Err(r#"user_script:1: bad argument #2 to 'pack' (number expected, got string)"#),
        ),
        (r#"return struct.pack('i')"#, Err(r#"user_script:1: bad argument #2 to 'pack' (number expected, got nil)"#)),
        (r#"return struct.pack('c5', 'abc')"#, Err(r#"user_script:1: bad argument #3 to 'pack' (string too short)"#)),
        (
            r#"return struct.pack('s', {})"#,
            Err(r#"user_script:1: bad argument #2 to 'pack' (string expected, got table)"#),
        ),
        (r#"return struct.pack('i40', 1)"#, Err(r#"user_script:1: integral size 40 is larger than limit of 32"#)),
        (r#"return struct.pack('!3 i', 1)"#, Err(r#"user_script:1: alignment 3 is not a power of 2"#)),
        (r#"return struct.pack('!0 i', 1)"#, Err(r#"user_script:1: alignment 0 is not a power of 2"#)),
        (r#"return struct.pack('c99999999999', 'a')"#, Err(r#"user_script:1: integral size overflow"#)),
        (r#"return struct.pack('i2147483648', 1)"#, Err(r#"user_script:1: integral size overflow"#)),
        (r#"return struct.pack()"#, Err(r#"user_script:1: bad argument #1 to 'pack' (string expected, got no value)"#)),
        (
            r#"return struct.pack('b3', 1)"#,
            Err(r#"user_script:1: bad argument #1 to 'pack' (invalid format option '3')"#),
        ),
        (
            r#"return struct.unpack('i', 'ab')"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (
            r#"return struct.unpack('i', 'abcd', 0)"#,
            Err(r#"user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"#),
        ),
        (
            r#"return struct.unpack('i', 'abcd', -1)"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (
            r#"return struct.unpack('b', 'abcd', 5)"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (r#"return struct.unpack('s', 'abc')"#, Err(r#"user_script:1: unfinished string in data"#)),
        (r#"return struct.unpack('c0', 'abc')"#, Err(r#"user_script:1: format 'c0' needs a previous size"#)),
        (r#"return struct.unpack('sc0', 'a\0bc')"#, Err(r#"user_script:1: format 'c0' needs a previous size"#)),
        (
            r#"return struct.unpack('Bc0', '\9abc')"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (
            r#"return struct.unpack('bc0', '\255abc')"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (
            r#"local f = struct.pack('<d', -105) return struct.unpack('dc0', f .. 'abc')"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (data string too short)"#),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('dc0', struct.pack('<d', 2.9) .. 'abc'))"#,
            Ok(b"ab 11"),
        ),
        (
            r#"return struct.unpack('i', 'abcd', 'x')"#,
            Err(r#"user_script:1: bad argument #3 to 'unpack' (number expected, got string)"#),
        ),
        (
            r#"return struct.unpack('z', 'abcd')"#,
            Err(r#"user_script:1: bad argument #1 to 'unpack' (invalid format option 'z')"#),
        ),
        (
            r#"return struct.unpack('i')"#,
            Err(r#"user_script:1: bad argument #2 to 'unpack' (string expected, got no value)"#),
        ),
        (
            r#"return struct.size('s')"#,
            Err(r#"user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"#),
        ),
        (
            r#"return struct.size('c0')"#,
            Err(r#"user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"#),
        ),
        (r#"return struct.size('!3')"#, Err(r#"user_script:1: alignment 3 is not a power of 2"#)),
        (r#"return struct.size('%')"#, Err(r#"user_script:1: bad argument #1 to 'size' (invalid format option '%')"#)),
        (r#"return struct.size('i33')"#, Err(r#"user_script:1: integral size 33 is larger than limit of 32"#)),
        (r#"return struct.size()"#, Err(r#"user_script:1: bad argument #1 to 'size' (string expected, got no value)"#)),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>f<f', 0/0, 1/0))"#,
            Ok(b"ffc000000000807f"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('>d', -1/0))"#,
            Ok(b"fff0000000000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<H', 70000))"#,
            Ok(b"7011"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('<I', -1))"#,
            Ok(b"ffffffff"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('!4 c3 i', 'abc', 1))"#,
            Ok(b"6162630001000000"),
        ),
        (
            r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return hex(struct.pack('!4 s i', 'ab', 1))"#,
            Ok(b"6162000001000000"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('!4 c3 i', struct.pack('!4 c3 i', 'abc', 7)))"#,
            Ok(b"abc 7 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('<I8', '\255\255\255\255\255\255\255\255'))"#,
            Ok(b"1.844674407371e+19 9"),
        ),
        (
            r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(struct.unpack('i0', 'abc'))"#,
            Ok(b"0 1"),
        ),
    ];

    #[test]
    fn scripts_behave_as_in_redis() {
        assert_matches_redis(REDIS_CASES);
    }
}
