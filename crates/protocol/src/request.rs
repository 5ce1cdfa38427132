//! The incremental request parser.
//!
//! A connection feeds its whole read buffer; the parser remembers how far it got
//! inside a multibulk request, so a command split across any number of reads is
//! scanned once, and a huge argument is never rescanned. Arguments of multibulk
//! requests are byte ranges into the caller's buffer (no copy); inline requests,
//! whose quoting rules can rewrite bytes, own their arguments.
//!
//! The accepted grammar and every error text follow Redis 7.0's networking layer,
//! including its leniencies (the two bytes after a bulk are skipped unchecked).

use std::ops::Range;

use crate::numbers::parse_i64;

/// Longest inline request, and longest `*<count>`/`$<len>` header line, Redis accepts.
pub const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Before AUTH, Redis refuses requests larger than these.
const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
const UNAUTHENTICATED_MAX_BULK: i64 = 16 * 1024;

/// Per-request limits, taken from the configuration and the client's state.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: i64,
    /// True while the client must still authenticate.
    pub auth_required: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, auth_required: false }
    }
}

/// A malformed request. The connection answers `-ERR <message>` and closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
    TooBigInline,
    UnbalancedQuotes,
}

impl ParseError {
    /// The error text Redis sends (without the leading `-ERR `).
    pub fn message(&self) -> String {
        match self {
            ParseError::TooBigMultibulkCount => "Protocol error: too big mbulk count string".into(),
            ParseError::InvalidMultibulkLength => "Protocol error: invalid multibulk length".into(),
            ParseError::UnauthenticatedMultibulkLength => "Protocol error: unauthenticated multibulk length".into(),
            ParseError::TooBigBulkCount => "Protocol error: too big bulk count string".into(),
            ParseError::ExpectedDollar(c) => {
                format!("Protocol error: expected '$', got '{}'", *c as char)
            }
            ParseError::InvalidBulkLength => "Protocol error: invalid bulk length".into(),
            ParseError::UnauthenticatedBulkLength => "Protocol error: unauthenticated bulk length".into(),
            ParseError::TooBigInline => "Protocol error: too big inline request".into(),
            ParseError::UnbalancedQuotes => "Protocol error: unbalanced quotes in request".into(),
        }
    }

    /// The short reason Redis logs at verbose level.
    pub fn log_reason(&self) -> &'static str {
        match self {
            ParseError::TooBigMultibulkCount => "too big mbulk count string",
            ParseError::InvalidMultibulkLength => "invalid mbulk count",
            ParseError::UnauthenticatedMultibulkLength => "unauth mbulk count",
            ParseError::TooBigBulkCount => "too big bulk count string",
            ParseError::ExpectedDollar(_) => "expected $ but got something else",
            ParseError::InvalidBulkLength => "invalid bulk length",
            ParseError::UnauthenticatedBulkLength => "unauth bulk length",
            ParseError::TooBigInline => "too big inline request",
            ParseError::UnbalancedQuotes => "unbalanced quotes in inline request",
        }
    }
}

#[derive(Debug)]
enum Arg {
    Slice(Range<usize>),
    Owned(Vec<u8>),
}

/// Parses requests from the front of a buffer; see the module comment.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Bulks still to read in the current multibulk request (0 = between requests).
    pending: usize,
    /// How far into the buffer the current request has been parsed.
    pos: usize,
    args: Vec<Arg>,
    inline: bool,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one request from the front of `buf`.
    ///
    /// `Ok(Some(n))`: a request ends after `n` bytes; read it with [`Self::argv`],
    /// then drop those bytes and call [`Self::reset`] before the next call is made
    /// on the shifted buffer (or keep the buffer and pass `&buf[n..]`). A request
    /// with no arguments (`*0`, an empty line) is reported with `argc() == 0`.
    /// `Ok(None)`: more bytes are needed; call again with the same buffer extended.
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Result<Option<usize>, ParseError> {
        if self.pending == 0 && self.args.is_empty() && self.pos == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            self.inline = buf[0] != b'*';
        }
        if self.inline {
            self.parse_inline(buf)
        } else {
            self.parse_multibulk(buf, limits)
        }
    }

    /// Number of arguments of the request just parsed.
    pub fn argc(&self) -> usize {
        self.args.len()
    }

    /// Appends the request's arguments, borrowed from `buf` (the buffer given to
    /// [`Self::parse`]) or from the parser, to `out`.
    pub fn argv<'a>(&'a self, buf: &'a [u8], out: &mut Vec<&'a [u8]>) {
        out.extend(self.args.iter().map(|a| match a {
            Arg::Slice(r) => &buf[r.clone()],
            Arg::Owned(v) => v.as_slice(),
        }));
    }

    /// Forgets the request just parsed, ready for the next one.
    pub fn reset(&mut self) {
        self.pending = 0;
        self.pos = 0;
        self.args.clear();
        self.inline = false;
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        let Some(newline) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(ParseError::TooBigInline);
            }
            return Ok(None);
        };
        let line_end = if newline > 0 && buf[newline - 1] == b'\r' { newline - 1 } else { newline };
        let words = split_args(&buf[..line_end]).ok_or(ParseError::UnbalancedQuotes)?;
        self.args.extend(words.into_iter().map(Arg::Owned));
        Ok(Some(newline + 1))
    }

    fn parse_multibulk(&mut self, buf: &[u8], limits: Limits) -> Result<Option<usize>, ParseError> {
        if self.pending == 0 {
            debug_assert_eq!(self.pos, 0);
            let Some((count, next)) = header_line(buf, 0, ParseError::TooBigMultibulkCount)? else {
                return Ok(None);
            };
            let count = parse_i64(&count[1..])
                .filter(|&n| n <= i64::from(i32::MAX))
                .ok_or(ParseError::InvalidMultibulkLength)?;
            if count > UNAUTHENTICATED_MAX_ARGS && limits.auth_required {
                return Err(ParseError::UnauthenticatedMultibulkLength);
            }
            if count <= 0 {
                return Ok(Some(next));
            }
            self.pending = count as usize;
            self.pos = next;
            self.args.reserve(self.pending.min(1024));
        }
        while self.pending > 0 {
            let Some((len_text, start)) = header_line(buf, self.pos, ParseError::TooBigBulkCount)? else {
                return Ok(None);
            };
            if buf[self.pos] != b'$' {
                return Err(ParseError::ExpectedDollar(buf[self.pos]));
            }
            let len = parse_i64(&len_text[1..])
                .filter(|&n| n >= 0 && n <= limits.max_bulk_len)
                .ok_or(ParseError::InvalidBulkLength)?;
            if len > UNAUTHENTICATED_MAX_BULK && limits.auth_required {
                return Err(ParseError::UnauthenticatedBulkLength);
            }
            let len = len as usize;
            if buf.len() - start < len + 2 {
                return Ok(None);
            }
            self.args.push(Arg::Slice(start..start + len));
            self.pos = start + len + 2;
            self.pending -= 1;
        }
        Ok(Some(self.pos))
    }

    /// How many bytes of the buffer the request in progress already covers.
    pub fn progress(&self) -> usize {
        self.pos
    }
}

/// Every command in a byte stream that arrives in chunks, and how parsing
/// stopped: `Ok(n)` with `n` bytes of an incomplete request left over, or the
/// protocol error. `chunk_ends` are the offsets where successive reads end
/// (the last must be `input.len()`). For tests and fuzzing: a request split
/// anywhere must parse the same.
pub type StreamOutcome = (Vec<Vec<Vec<u8>>>, Result<usize, ParseError>);

/// Parses `input` as it arrives in chunks; see [`StreamOutcome`].
pub fn parse_stream(input: &[u8], chunk_ends: &[usize], limits: Limits) -> StreamOutcome {
    let mut parser = RequestParser::new();
    let mut commands = Vec::new();
    let mut start = 0;
    for &end in chunk_ends {
        loop {
            match parser.parse(&input[start..end], limits) {
                Ok(Some(n)) => {
                    assert!(n <= end - start, "parser consumed past the buffer");
                    let mut argv = Vec::new();
                    parser.argv(&input[start..end], &mut argv);
                    if !argv.is_empty() {
                        commands.push(argv.iter().map(|a| a.to_vec()).collect());
                    }
                    parser.reset();
                    start += n;
                }
                Ok(None) => break,
                Err(e) => return (commands, Err(e)),
            }
        }
    }
    (commands, Ok(input.len() - start))
}

/// Finds a `\r`-terminated header line starting at `from`. Like Redis, the byte
/// after `\r` must be present but is not checked. Returns the line (without the
/// terminator) and the offset just past it.
fn header_line(buf: &[u8], from: usize, too_big: ParseError) -> Result<Option<(&[u8], usize)>, ParseError> {
    let rest = &buf[from..];
    match memchr(b'\r', rest) {
        None if rest.len() > INLINE_MAX_SIZE => Err(too_big),
        None => Ok(None),
        Some(cr) if cr + 1 >= rest.len() => Ok(None),
        Some(cr) => Ok(Some((&rest[..cr], from + cr + 2))),
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Appends `argv` as a RESP multibulk request.
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.push(b'*');
    crate::numbers::push_i64(out, argv.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        out.push(b'$');
        crate::numbers::push_i64(out, arg.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// `bytes` quoted the way Redis logs and MONITOR show arguments and the AOF
/// manifest writes odd file names (`sdscatrepr`, the inverse of `split_args`): in double
/// quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` escaped and other
/// non-printable bytes as `\xHH`.
pub fn quoted_repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Splits an inline request into words with Redis's quoting rules
/// (`sdssplitargs`): double quotes take `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and
/// `\<c>` escapes, single quotes take only `\'`, and a closing quote must be
/// followed by a space or the end. A NUL byte ends the line, as in C.
/// Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let c = *line.get(i)?;
                let hex_escape = c == b'\\'
                    && line.get(i + 1) == Some(&b'x')
                    && line.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                    && line.get(i + 3).is_some_and(u8::is_ascii_hexdigit);
                if hex_escape {
                    word.push(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    word.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    i = after_closing_quote(line, i)?;
                    break;
                } else {
                    word.push(c);
                }
            } else if in_single {
                let c = *line.get(i)?;
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    word.push(b'\'');
                } else if c == b'\'' {
                    i = after_closing_quote(line, i)?;
                    break;
                } else {
                    word.push(c);
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(&c) if is_space(c) => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => word.push(c),
                }
            }
            i += 1;
        }
        words.push(word);
    }
}

/// C's `isspace`, which `sdssplitargs` uses.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Steps past a closing quote at `i`; Redis requires a space or the end of
/// the line right after it (None: unbalanced quotes).
fn after_closing_quote(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i + 1) {
        Some(&c) if !is_space(c) => None,
        _ => Some(i + 1),
    }
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let (commands, end) = outcome(input, false);
        end.map(|_| commands)
    }

    /// Feeds `input` one byte at a time, as a slow client would.
    fn parse_trickled(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let (commands, end) = outcome(input, true);
        end.map(|_| commands)
    }

    /// Every command parsed and how parsing stopped, whole or byte by byte.
    fn outcome(input: &[u8], trickle: bool) -> StreamOutcome {
        let ends: Vec<usize> = if trickle { (1..=input.len()).collect() } else { vec![input.len()] };
        parse_stream(input, &ends, Limits::default())
    }

    fn words(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_inline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n  set a  'b c'\n").unwrap();
        assert_eq!(got, vec![words(&["GET", "k"]), words(&["PING"]), words(&["set", "a", "b c"])]);
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(parse_all(b"*0\r\n*-1\r\n\r\n\n*1\r\n$4\r\nPING\r\n").unwrap(), vec![words(&["PING"])]);
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(parse_all(b"*x\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n+a\r\n"), Err(ParseError::ExpectedDollar(b'+')));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(parse_all(b"set \"a\"b\n"), Err(ParseError::UnbalancedQuotes));
        assert_eq!(parse_all(b"set \"a\n"), Err(ParseError::UnbalancedQuotes));
        let long = vec![b'a'; INLINE_MAX_SIZE + 1];
        assert_eq!(parse_all(&long), Err(ParseError::TooBigInline));
        let limits = Limits { max_bulk_len: 10, auth_required: false };
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$11\r\n", limits), Err(ParseError::InvalidBulkLength));
    }

    #[test]
    fn inline_escapes() {
        let got = parse_all(b"echo \"a\\x41\\n\" 'it\\'s'\r\n").unwrap();
        assert_eq!(got, vec![vec![b"echo".to_vec(), b"aA\n".to_vec(), b"it's".to_vec()]]);
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits { auth_required: true, ..Limits::default() };
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*11\r\n", limits), Err(ParseError::UnauthenticatedMultibulkLength));
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$16385\r\n", limits), Err(ParseError::UnauthenticatedBulkLength));
    }

    fn encode(commands: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::new();
        for argv in commands {
            out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
            for a in argv {
                out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                out.extend_from_slice(a);
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    proptest! {
        /// Any well-formed pipeline parses to the same commands however it is split.
        #[test]
        fn split_at_every_boundary(commands in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..6)) {
            let wire = encode(&commands);
            prop_assert_eq!(parse_all(&wire).unwrap(), commands.clone());
            prop_assert_eq!(parse_trickled(&wire).unwrap(), commands);
        }

        /// Corrupted pipelines (random byte changes in valid input) give the same
        /// commands and the same error whether they arrive whole or byte by byte.
        #[test]
        fn mutated_input_is_split_invariant(
            commands in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..4), 1..4),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)) {
            let mut wire = encode(&commands);
            for (at, byte) in flips {
                let i = at.index(wire.len());
                wire[i] = byte;
            }
            prop_assert_eq!(outcome(&wire, false), outcome(&wire, true));
        }

        /// Arbitrary bytes never panic, and a parse never claims more than it was given.
        #[test]
        fn arbitrary_input_never_panics(input in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut parser = RequestParser::new();
            let mut offset = 0;
            while offset < input.len() {
                match parser.parse(&input[offset..], Limits::default()) {
                    Ok(Some(n)) => {
                        prop_assert!(n <= input.len() - offset);
                        let mut argv = Vec::new();
                        parser.argv(&input[offset..], &mut argv);
                        parser.reset();
                        if n == 0 { break; }
                        offset += n;
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn repr_escapes_like_redis() {
        assert_eq!(quoted_repr(b"a b"), "\"a b\"");
        assert_eq!(quoted_repr(b"\"\\\n\r\t\x07\x08"), "\"\\\"\\\\\\n\\r\\t\\a\\b\"");
        assert_eq!(quoted_repr(b"\x00\xff~"), "\"\\x00\\xff~\"");
    }
}
