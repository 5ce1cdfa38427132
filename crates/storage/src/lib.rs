//! The data layer: byte strings, values and their Redis encodings, the
//! incrementally-rehashed dictionary, databases with expiry, and glob matching.
//!
//! Nothing here does I/O, knows about clients, or decides what a command means:
//! the server layer calls in with the current time and applies the rules
//! (lazy expiry, propagation, notifications) around these structures.

pub mod bytes;
pub mod classbuf;
pub mod db;
pub mod dict;
pub mod glob;
pub mod hash;
pub mod hyperloglog;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod lzf;
pub mod set;
pub mod stream;
pub mod value;
pub mod zset;

pub use bytes::{CompactBytes, SmallBytes};
pub use db::{Db, Entry};
pub use dict::{Dict, TableStats};
pub use hash::{Hash, HashLimits};
pub use list::List;
pub use set::Set;
pub use stream::{Stream, StreamId};
pub use value::{StrValue, Value};
pub use zset::{Zset, ZsetLimits};
