//! Values and their encodings.
//!
//! A string keeps Redis's three encodings because clients can observe them
//! (OBJECT ENCODING) and they decide memory use: `int` for canonical 64-bit
//! integers, `embstr` for short immutable strings (stored inline up to 22 bytes),
//! `raw` for long or modified strings (a growable buffer, so APPEND is amortised
//! O(1)). Collections join this enum as their families are built.

use std::borrow::Cow;

use cinnabar_protocol::numbers::{parse_i64, push_i64};

use crate::classbuf::ClassBuf;
use crate::hash::Hash;
use crate::set::Set;
use crate::stream::Stream;
use crate::{SmallBytes, Zset};

/// Longest string Redis stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;
/// Longest string Redis tries to read as an integer when choosing an encoding.
const INT_ENCODING_MAX: usize = 20;

/// A value stored under a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    Stream(Box<Stream>),
    // Small hashes, sets and sorted sets are a listpack or intset header
    // held inline (their big encodings are boxed inside): no allocation of
    // their own per key, as Redis's robj points straight at the listpack.
    Hash(Hash),
    Set(Set),
    List(Box<crate::List>),
    Zset(Zset),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Stream(_) => "stream",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::Zset(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Stream(_) => "stream",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(_) => "quicklist",
            Value::Zset(z) => z.encoding(),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str_mut(&mut self) -> Option<&mut StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The stream inside, if this is a stream.
    pub fn as_stream(&self) -> Option<&Stream> {
        match self {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    /// The sorted set inside, if this is one.
    pub fn as_zset(&self) -> Option<&Zset> {
        match self {
            Value::Zset(z) => Some(z),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&crate::List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The hash inside, if this is a hash.
    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    pub fn as_stream_mut(&mut self) -> Option<&mut Stream> {
        match self {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The set inside, if this is a set.
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_set_mut(&mut self) -> Option<&mut Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list_mut(&mut self) -> Option<&mut crate::List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_zset_mut(&mut self) -> Option<&mut Zset> {
        match self {
            Value::Zset(z) => Some(z),
            _ => None,
        }
    }

    /// The bytes of a compact encoding (a listpack hash or sorted set, an
    /// intset): Redis stores the very same bytes, so MEMORY USAGE reports
    /// Redis's figure for them. None for other encodings.
    pub fn compact_bytes(&self) -> Option<usize> {
        match self {
            Value::Hash(h) => match h {
                Hash::Listpack(lp) => Some(lp.bytes_len()),
                Hash::Table(_) => None,
            },
            Value::Zset(z) => z.listpack().map(|lp| lp.bytes_len()),
            Value::Set(s) => match s {
                Set::Ints(ints) => Some(ints.as_bytes().len()),
                Set::Table(_) => None,
            },
            _ => None,
        }
    }

    /// Rough heap bytes owned by the value, for MEMORY USAGE and UNLINK's
    /// decision to free in the background.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Stream(s) => s.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => l.memory_usage(),
            Value::Zset(z) => z.heap_size(),
        }
    }
}

/// A string value in one of Redis's encodings; see the module comment.
#[derive(Clone, Debug, PartialEq)]
pub enum StrValue {
    Int(i64),
    Embstr(SmallBytes),
    Raw(ClassBuf<usize>),
}

impl StrValue {
    /// The encoding Redis picks for a freshly written string (`tryObjectEncoding`).
    pub fn from_bytes(b: &[u8]) -> Self {
        if b.len() <= INT_ENCODING_MAX {
            if let Some(i) = parse_i64(b) {
                return StrValue::Int(i);
            }
        }
        if b.len() <= EMBSTR_MAX {
            StrValue::Embstr(SmallBytes::new(b))
        } else {
            StrValue::Raw(ClassBuf::from_slice(b))
        }
    }

    /// A string built by a command that edits in place (APPEND, SETRANGE, SETBIT):
    /// Redis leaves these `raw`, whatever their length.
    pub fn raw(v: Vec<u8>) -> Self {
        StrValue::Raw(ClassBuf::from_vec(v))
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Embstr(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }

    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            StrValue::Int(i) => {
                let mut v = Vec::with_capacity(20);
                push_i64(&mut v, *i);
                Cow::Owned(v)
            }
            StrValue::Embstr(b) => Cow::Borrowed(b),
            StrValue::Raw(v) => Cow::Borrowed(&v[..]),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(i) => {
                let digits = i.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
                digits + usize::from(*i < 0)
            }
            StrValue::Embstr(b) => b.len(),
            StrValue::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one in canonical form.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(i) => Some(*i),
            other => parse_i64(&other.as_bytes()),
        }
    }

    /// Converts to the `raw` encoding and returns the buffer to edit in place
    /// (`ClassBuf::edit` lends it as a `Vec<u8>`).
    pub fn make_raw(&mut self) -> &mut ClassBuf<usize> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::Raw(ClassBuf::from_slice(&self.as_bytes()));
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!("converted to raw just above"),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            StrValue::Int(_) => 0,
            StrValue::Embstr(b) => b.heap_size(),
            StrValue::Raw(v) => v.capacity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StrValue::from_bytes(b"123").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"-9223372036854775808").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = StrValue::from_bytes(b"12");
        s.make_raw().extend_from_slice(b"3");
        assert_eq!((s.encoding(), &*s.as_bytes()), ("raw", &b"123"[..]));
    }

    #[test]
    fn integer_lengths() {
        for i in [0i64, 9, 10, -1, -10, i64::MAX, i64::MIN] {
            assert_eq!(StrValue::Int(i).len(), i.to_string().len());
        }
    }
}
