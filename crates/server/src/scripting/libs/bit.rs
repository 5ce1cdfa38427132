//! The `bit` library (LuaBitOp 1.0): bitwise operations on Lua numbers seen
//! as 32-bit integers. Results are signed 32-bit values returned as numbers.

use std::ffi::{c_int, CStr};

use super::capi::{self, c_function, ffi, lua_State, Returns};

/// Creates the `bit` table and leaves it on the stack.
pub(super) unsafe fn open(l: *mut lua_State) {
    let functions: [(&CStr, ffi::lua_CFunction); 12] = [
        (c"tobit", c_function!(tobit)),
        (c"bnot", c_function!(bnot)),
        (c"band", c_function!(band)),
        (c"bor", c_function!(bor)),
        (c"bxor", c_function!(bxor)),
        (c"lshift", c_function!(lshift)),
        (c"rshift", c_function!(rshift)),
        (c"arshift", c_function!(arshift)),
        (c"rol", c_function!(rol)),
        (c"ror", c_function!(ror)),
        (c"bswap", c_function!(bswap)),
        (c"tohex", c_function!(tohex)),
    ];
    ffi::lua_createtable(l, 0, functions.len() as c_int);
    capi::set_functions(l, &functions, 0);
}

/// The low 32 bits of a number after rounding it to an integer (ties to
/// even), which is what adding 2^52 + 2^51 to a double and reading its low
/// mantissa word yields; any double (huge, infinite, NaN) maps somewhere.
fn normalize(n: f64) -> u32 {
    (n + 6755399441055744.0).to_bits() as u32
}

/// An argument as 32 bits; numeric strings are accepted, as by Lua's arithmetic.
unsafe fn bits_arg(l: *mut lua_State, narg: c_int) -> Result<u32, capi::Failure> {
    let bits = normalize(ffi::lua_tonumber(l, narg));
    if bits == 0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(capi::type_error(l, narg, "number"));
    }
    Ok(bits)
}

unsafe fn push_bits(l: *mut lua_State, bits: u32) -> Returns {
    ffi::lua_pushnumber(l, f64::from(bits as i32));
    Ok(1)
}

unsafe fn tobit(l: *mut lua_State) -> Returns {
    push_bits(l, bits_arg(l, 1)?)
}

unsafe fn bnot(l: *mut lua_State) -> Returns {
    push_bits(l, !bits_arg(l, 1)?)
}

/// Folds every argument into the first with `op`; later arguments are read
/// from the last one down, so a bad argument is reported as LuaBitOp does.
unsafe fn fold_args(l: *mut lua_State, op: fn(u32, u32) -> u32) -> Returns {
    let mut bits = bits_arg(l, 1)?;
    for narg in (2..=ffi::lua_gettop(l)).rev() {
        bits = op(bits, bits_arg(l, narg)?);
    }
    push_bits(l, bits)
}

unsafe fn band(l: *mut lua_State) -> Returns {
    fold_args(l, |a, b| a & b)
}

unsafe fn bor(l: *mut lua_State) -> Returns {
    fold_args(l, |a, b| a | b)
}

unsafe fn bxor(l: *mut lua_State) -> Returns {
    fold_args(l, |a, b| a ^ b)
}

/// Shifts or rotates the first argument by the second, taken modulo 32.
unsafe fn shift(l: *mut lua_State, op: fn(u32, u32) -> u32) -> Returns {
    let bits = bits_arg(l, 1)?;
    let count = bits_arg(l, 2)? & 31;
    push_bits(l, op(bits, count))
}

unsafe fn lshift(l: *mut lua_State) -> Returns {
    shift(l, |b, n| b << n)
}

unsafe fn rshift(l: *mut lua_State) -> Returns {
    shift(l, |b, n| b >> n)
}

unsafe fn arshift(l: *mut lua_State) -> Returns {
    shift(l, |b, n| ((b as i32) >> n) as u32)
}

unsafe fn rol(l: *mut lua_State) -> Returns {
    shift(l, u32::rotate_left)
}

unsafe fn ror(l: *mut lua_State) -> Returns {
    shift(l, u32::rotate_right)
}

unsafe fn bswap(l: *mut lua_State) -> Returns {
    push_bits(l, bits_arg(l, 1)?.swap_bytes())
}

/// `tohex(x [, n])`: the low |n| hex digits of x (default 8, at most 8),
/// upper case when n is negative.
unsafe fn tohex(l: *mut lua_State) -> Returns {
    let bits = bits_arg(l, 1)?;
    let requested = if ffi::lua_type(l, 2) == ffi::LUA_TNONE { 8 } else { bits_arg(l, 2)? as i32 };
    let digits: &[u8; 16] = if requested < 0 { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let count = requested.unsigned_abs().min(8);
    let hex: Vec<u8> = (0..count).rev().map(|i| digits[((bits >> (4 * i)) & 15) as usize]).collect();
    capi::push_bytes(l, &hex);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_matches_redis, RedisCase};

    /// The `bit` scripts of tests/corpus/lua_libs.redis with the replies
    /// redis-server 7.0.15 gave them (a bulk string, or an error reply's message).
    const REDIS_CASES: &[RedisCase] = &[
        (r#"local t = {} for k, v in pairs(bit) do t[#t + 1] = k .. ':' .. type(v) end table.sort(t) return table.concat(t, ',')"#, Ok(b"arshift:function,band:function,bnot:function,bor:function,bswap:function,bxor:function,lshift:function,rol:function,ror:function,rshift:function,tobit:function,tohex:function")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit('12'), bit.tobit(1/0), bit.tobit(0/0), bit.tobit(2^52), bit.tobit(-2^31), bit.tobit(2^31))"#, Ok(b"-1 5 2 2 -2 12 0 0 0 -2147483648 -2147483648")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.bnot(0), bit.bnot(-1), bit.bnot(0x0f0f0f0f))"#, Ok(b"-1 0 -252645136")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4, 8), bit.bxor(0xff, 0x0f), bit.band(5), bit.bor(-1, 0), bit.bxor(1, 2, 3, 4))"#, Ok(b"3 15 240 5 -1 4")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(3, -1), bit.rshift(-1, 28), bit.rshift(256, 4), bit.arshift(-256, 4), bit.arshift(0x80000000, 31))"#, Ok(b"-2147483648 1 2 -2147483648 15 16 -16 -1")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.rol(5, 0), bit.ror(5, 32), bit.rol(1, 31), bit.ror(1, 1))"#, Ok(b"1164411171 1736516421 5 5 -2147483648 -2147483648")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(0xff))"#, Ok(b"2018915346 -1 -16777216")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.tohex(255), bit.tohex(-1, -4), bit.tohex(0x1234, 2), bit.tohex(0x1234, 20), bit.tohex(1, 0), bit.tohex(0xabcdef), bit.tohex(0xabcdef, -8), bit.tohex(-1), bit.tohex(2^32 + 10))"#, Ok(b"000000ff FFFF 34 00001234  00abcdef 00ABCDEF ffffffff 0000000a")),
        (r#"return bit.tohex()"#, Err(r#"user_script:1: bad argument #1 to 'tohex' (number expected, got no value)"#)),
        (r#"return bit.band(1, 'x', 'y')"#, Err(r#"user_script:1: bad argument #3 to 'band' (number expected, got string)"#)),
        (r#"return bit.lshift(1)"#, Err(r#"user_script:1: bad argument #2 to 'lshift' (number expected, got no value)"#)),
        (r#"return bit.bor({}, 3)"#, Err(r#"user_script:1: bad argument #1 to 'bor' (number expected, got table)"#)),
        (r#"return bit.tobit(nil)"#, Err(r#"user_script:1: bad argument #1 to 'tobit' (number expected, got nil)"#)),
        (r#"return bit.tohex(1, 'x')"#, Err(r#"user_script:1: bad argument #2 to 'tohex' (number expected, got string)"#)),
        (r#"return tostring(bit.bnot('0'))"#, Ok(b"-1")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.tobit(2^53 + 3), bit.tobit(-2^53), bit.tobit(2^63), bit.tobit(1e300), bit.tobit(-0.5), bit.tobit(0.5), bit.tobit(-1/0), bit.tobit(4294967295.5))"#, Ok(b"2 0 0 -2013235812 0 0 0 0")),
        (r#"local function show(...) local n = select('#', ...) local t = {...} for i = 1, n do t[i] = tostring(t[i]) end return table.concat(t, ' ') end return show(bit.band(), bit.tohex('ff'))"#, Err(r#"user_script:1: bad argument #1 to 'band' (number expected, got no value)"#)),
    ];

    #[test]
    fn scripts_behave_as_in_redis() {
        assert_matches_redis(REDIS_CASES);
    }
}
