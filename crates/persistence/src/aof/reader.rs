//! Reads the commands of one AOF file (RESP multibulk requests, with `#`
//! annotation lines such as `#TS:<unix>` skipped), telling apart, as Redis
//! 7.0's loader does, a file that merely ends early (truncated: the tail can
//! be cut at the last complete command) from one that is malformed.

use std::io::{self, BufRead, Read};

/// Longest line (`*<argc>`, `$<len>`, annotation) the loader reads at once.
const MAX_LINE: usize = 1024;

#[derive(Debug)]
pub enum ReadError {
    /// The file ends inside a command.
    Truncated,
    /// Bytes that are not a command where one must start.
    Format,
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Yields one command at a time, keeping the offset just past the last
/// complete one (where a truncated file is cut).
pub struct CommandReader<R> {
    input: R,
    offset: u64,
    line: Vec<u8>,
}

impl<R: BufRead> CommandReader<R> {
    /// `offset` is where `input` starts in the file (past an RDB preamble).
    pub fn new(input: R, offset: u64) -> Self {
        CommandReader { input, offset, line: Vec::with_capacity(64) }
    }

    /// Offset just past the last complete command read.
    pub fn valid_up_to(&self) -> u64 {
        self.offset
    }

    /// The next command, or None at a clean end of file.
    pub fn next_command(&mut self) -> Result<Option<Vec<Vec<u8>>>, ReadError> {
        let mut consumed = 0u64;
        let argc = loop {
            let Some(n) = self.read_line()? else { return Ok(None) };
            consumed += n;
            match self.line.first() {
                Some(b'#') => {
                    // An annotation is complete once read: valid to cut after it.
                    self.offset += consumed;
                    consumed = 0;
                }
                Some(b'*') if self.line.len() > 1 => break leading_int(&self.line[1..]),
                Some(b'*') => return Err(ReadError::Truncated),
                _ => return Err(ReadError::Format),
            }
        };
        if argc < 1 {
            return Err(ReadError::Format);
        }
        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            consumed += self.read_line()?.ok_or(ReadError::Truncated)?;
            if self.line.first() != Some(&b'$') {
                return Err(ReadError::Format);
            }
            let len = leading_int(&self.line[1..]).max(0) as usize;
            let mut arg = Vec::new();
            let got = (&mut self.input).take(len as u64).read_to_end(&mut arg)?;
            let mut crlf = Vec::with_capacity(2);
            let got_crlf = (&mut self.input).take(2).read_to_end(&mut crlf)?;
            if got < len || got_crlf < 2 {
                return Err(ReadError::Truncated);
            }
            consumed += (len + 2) as u64;
            argv.push(arg);
        }
        self.offset += consumed;
        Ok(Some(argv))
    }

    /// Reads one line (up to MAX_LINE bytes, like `fgets`) into `self.line`.
    /// Returns the bytes consumed, None at end of file.
    fn read_line(&mut self) -> Result<Option<u64>, ReadError> {
        self.line.clear();
        let n = (&mut self.input).take(MAX_LINE as u64 - 1).read_until(b'\n', &mut self.line)?;
        Ok(if n == 0 { None } else { Some(n as u64) })
    }
}

/// C's `strtol`/`atoi` on a line: optional sign and leading digits.
fn leading_int(s: &[u8]) -> i64 {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let value = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |acc, &d| acc.saturating_mul(10).saturating_add(i64::from(d - b'0')));
    if negative {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ReadError>, u64) {
        let mut reader = CommandReader::new(bytes, 0);
        let mut commands = Vec::new();
        loop {
            match reader.next_command() {
                Ok(Some(c)) => commands.push(c),
                Ok(None) => return (commands, None, reader.valid_up_to()),
                Err(e) => return (commands, Some(e), reader.valid_up_to()),
            }
        }
    }

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";

    #[test]
    fn reads_commands_and_skips_annotations() {
        let file = [b"#TS:1700000000\r\n".as_slice(), SET, b"*1\r\n$4\r\nPING\r\n"].concat();
        let (commands, err, offset) = read_all(&file);
        assert!(err.is_none());
        assert_eq!(commands, vec![vec![b"SET".to_vec(), b"a".to_vec(), b"1".to_vec()], vec![b"PING".to_vec()]]);
        assert_eq!(offset, file.len() as u64);
    }

    #[test]
    fn every_cut_inside_a_command_is_a_truncation() {
        for cut in 1..SET.len() {
            let file = [SET, &SET[..cut]].concat();
            let (commands, err, offset) = read_all(&file);
            assert_eq!(commands.len(), 1, "cut at {cut}");
            assert!(matches!(err, Some(ReadError::Truncated)), "cut at {cut}: {err:?}");
            assert_eq!(offset, SET.len() as u64);
        }
    }

    #[test]
    fn garbage_is_a_format_error() {
        let file = [SET, b"garbage\r\n".as_slice()].concat();
        assert!(matches!(read_all(&file).1, Some(ReadError::Format)));
        assert!(matches!(read_all(b"*2\r\n$3\r\nGET\r\nxx\r\n").1, Some(ReadError::Format)));
        assert!(matches!(read_all(b"*0\r\n").1, Some(ReadError::Format)));
    }
}
