//! INCRBYFLOAT's arithmetic: the sum of two decimal strings computed in C
//! `long double` and formatted the way Redis formats it. Redis does this in
//! 80-bit extended precision, which Rust lacks, and the digits users see depend
//! on it (`10.5 + 0.1` is "10.6"), so the work is done by csrc/long_double.c.

use crate::command::context::errors;
use crate::command::CmdError;

extern "C" {
    fn cinnabar_long_double_add(
        a: *const libc::c_char,
        alen: libc::size_t,
        b: *const libc::c_char,
        blen: libc::size_t,
        out: *mut libc::c_char,
        outlen: libc::size_t,
    ) -> libc::c_long;
}

/// Room for the longest formatted result (Redis's MAX_LONG_DOUBLE_CHARS).
const OUT_MAX: usize = 5 * 1024;

/// Why a long double sum failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// The first operand is not a number.
    BadValue,
    /// The second operand is not a number.
    BadIncrement,
    /// The sum is NaN or infinite.
    NotFinite,
}

/// `value + increment` as Redis's INCRBYFLOAT prints it, or its error.
pub fn add(value: &[u8], increment: &[u8]) -> Result<Vec<u8>, CmdError> {
    try_add(value, increment).map_err(|e| match e {
        AddError::NotFinite => "ERR increment would produce NaN or Infinity".into(),
        AddError::BadValue | AddError::BadIncrement => errors::NOT_FLOAT.into(),
    })
}

/// `value + increment` formatted as Redis formats long doubles, telling
/// which operand was bad (HINCRBYFLOAT words those errors differently).
pub fn try_add(value: &[u8], increment: &[u8]) -> Result<Vec<u8>, AddError> {
    let mut out = vec![0u8; OUT_MAX];
    // SAFETY: both inputs are valid for their lengths and `out` holds OUT_MAX bytes.
    let n = unsafe {
        cinnabar_long_double_add(
            value.as_ptr().cast(),
            value.len(),
            increment.as_ptr().cast(),
            increment.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    match n {
        -3 => Err(AddError::NotFinite),
        -2 => Err(AddError::BadIncrement),
        n if n < 0 => Err(AddError::BadValue),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::add;

    fn sum(a: &str, b: &str) -> String {
        String::from_utf8(add(a.as_bytes(), b.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn formats_like_redis() {
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("5.0e3", "0"), "5000");
        assert_eq!(sum("1", "-1"), "0");
        assert_eq!(sum("-0.0", "0"), "0");
        // Beyond f64 precision, within long double precision (as Redis).
        assert_eq!(sum("1e18", "1"), "1000000000000000001");
        assert_eq!(sum("1e20", "1"), "100000000000000000000");
    }

    #[test]
    fn rejects_what_redis_rejects() {
        assert!(add(b" 1", b"1").is_err());
        assert!(add(b"1", b"abc").is_err());
        assert!(add(b"1", b"").is_err());
        assert!(add(b"1", b"nan").is_err());
        assert_eq!(add(b"1", b"inf").unwrap_err().0, "ERR increment would produce NaN or Infinity");
    }
}
