//! The reply encoder: appends RESP2 or RESP3 frames to a client's output buffer.
//!
//! Commands describe replies by shape (map, set, double, null, ...) and the
//! encoder picks each protocol's form, as Redis's `addReply*` family does, so a
//! command is written once for both protocols.

use crate::numbers::{format_g17, push_i64};

/// The protocol a client speaks, chosen with HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RespVersion {
    #[default]
    Resp2,
    Resp3,
}

/// A client's pending output.
#[derive(Debug, Default)]
pub struct Reply {
    buf: Vec<u8>,
    pub resp: RespVersion,
}

/// A length header whose count is written once the elements are known.
#[must_use]
pub struct Deferred {
    at: usize,
    kind: u8,
}

impl Reply {
    pub fn new(resp: RespVersion) -> Self {
        Reply { buf: Vec::new(), resp }
    }

    pub fn is_resp3(&self) -> bool {
        self.resp == RespVersion::Resp3
    }

    /// The encoded bytes not yet sent.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the pending bytes, leaving an empty buffer that keeps its capacity
    /// when `spare` is given back by [`Self::restore_capacity`].
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Gives back a drained buffer so its allocation is reused.
    pub fn restore_capacity(&mut self, mut spare: Vec<u8>) {
        if self.buf.is_empty() {
            spare.clear();
            self.buf = spare;
        }
    }

    /// Drops everything written after `len` (used to retract a reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Appends already-encoded protocol bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.raw(b"+OK\r\n");
    }

    /// A status reply; `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` starts with the error code (`ERR ...`, `WRONGTYPE ...`);
    /// CR and LF inside it become spaces, as Redis does, so the frame stays valid.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend(msg.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        self.header(b':', v);
    }

    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// An integer sent as a bulk string (Redis's `addReplyBulkLongLong`).
    pub fn bulk_i64(&mut self, v: i64) {
        let mut digits = Vec::with_capacity(20);
        push_i64(&mut digits, v);
        self.bulk(&digits);
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.resp {
            RespVersion::Resp2 => self.raw(b"$-1\r\n"),
            RespVersion::Resp3 => self.raw(b"_\r\n"),
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.resp {
            RespVersion::Resp2 => self.raw(b"*-1\r\n"),
            RespVersion::Resp3 => self.raw(b"_\r\n"),
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of `2n` in RESP2.
    pub fn map(&mut self, n: usize) {
        match self.resp {
            RespVersion::Resp2 => self.header(b'*', 2 * n as i64),
            RespVersion::Resp3 => self.header(b'%', n as i64),
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        match self.resp {
            RespVersion::Resp2 => self.header(b'*', n as i64),
            RespVersion::Resp3 => self.header(b'~', n as i64),
        }
    }

    /// An out-of-band push: `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        match self.resp {
            RespVersion::Resp2 => self.header(b'*', n as i64),
            RespVersion::Resp3 => self.header(b'>', n as i64),
        }
    }

    /// A double as Redis 7.0 sends it: `%.17g`, as a bulk string in RESP2 and a
    /// `,` frame in RESP3; infinities are spelled `inf`/`-inf`.
    pub fn double(&mut self, d: f64) {
        let text = if d.is_infinite() {
            if d > 0.0 {
                "inf".to_string()
            } else {
                "-inf".to_string()
            }
        } else {
            format_g17(d)
        };
        match self.resp {
            RespVersion::Resp2 => self.bulk(text.as_bytes()),
            RespVersion::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn bool(&mut self, v: bool) {
        match self.resp {
            RespVersion::Resp2 => self.int(i64::from(v)),
            RespVersion::Resp3 => self.raw(if v { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A big number given as its decimal digits (`(digits` in RESP3, a bulk
    /// string in RESP2).
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.resp {
            RespVersion::Resp2 => self.bulk(digits),
            RespVersion::Resp3 => {
                self.buf.push(b'(');
                self.buf.extend_from_slice(digits);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Verbatim text (`=len\r\ntxt:...` in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.resp {
            RespVersion::Resp2 => self.bulk(text),
            RespVersion::Resp3 => {
                self.header(b'=', text.len() as i64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Starts an aggregate whose length is not known yet.
    pub fn defer_array(&mut self) -> Deferred {
        self.defer(b'*')
    }

    /// Starts a map whose length is not known yet.
    pub fn defer_map(&mut self) -> Deferred {
        self.defer(b'%')
    }

    /// Starts a set whose length is not known yet.
    pub fn defer_set(&mut self) -> Deferred {
        self.defer(b'~')
    }

    fn defer(&mut self, kind: u8) -> Deferred {
        Deferred { at: self.buf.len(), kind }
    }

    /// Writes the header of a deferred aggregate now that it holds `n` elements
    /// (pairs, for a map).
    pub fn finish(&mut self, d: Deferred, n: usize) {
        let (kind, count) = match (d.kind, self.resp) {
            (b'%', RespVersion::Resp2) => (b'*', 2 * n),
            (b'~', RespVersion::Resp2) => (b'*', n),
            (kind, _) => (kind, n),
        };
        let mut header = vec![kind];
        push_i64(&mut header, count as i64);
        header.extend_from_slice(b"\r\n");
        self.buf.splice(d.at..d.at, header);
    }

    fn header(&mut self, kind: u8, n: i64) {
        self.buf.push(kind);
        push_i64(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_per_protocol() {
        let mut r2 = Reply::new(RespVersion::Resp2);
        let mut r3 = Reply::new(RespVersion::Resp3);
        for r in [&mut r2, &mut r3] {
            r.map(1);
            r.bulk(b"k");
            r.double(0.1);
            r.null();
            r.bool(true);
        }
        assert_eq!(r2.bytes(), b"*2\r\n$1\r\nk\r\n$19\r\n0.10000000000000001\r\n$-1\r\n:1\r\n");
        assert_eq!(r3.bytes(), b"%1\r\n$1\r\nk\r\n,0.10000000000000001\r\n_\r\n#t\r\n");
    }

    #[test]
    fn deferred_lengths() {
        let mut r = Reply::new(RespVersion::Resp2);
        r.int(7);
        let d = r.defer_map();
        r.bulk(b"a");
        r.int(1);
        r.finish(d, 1);
        assert_eq!(r.bytes(), b":7\r\n*2\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn errors_cannot_break_framing() {
        let mut r = Reply::new(RespVersion::Resp2);
        r.error("ERR bad\r\nthing");
        assert_eq!(r.bytes(), b"-ERR bad  thing\r\n");
    }
}
