//! RDB's primitive encodings over `std::io`: type bytes, lengths (6/14/32/64
//! bit), strings (integer-encoded, LZF-compressed or raw), binary doubles and
//! millisecond times, with the running CRC-64 that ends a file.
//!
//! The writer buffers and checksums whole chunks; the reader checksums what
//! it has consumed, never allocates more than the bytes actually present
//! (a corrupt length cannot ask for terabytes), and reports a short read or
//! a bad encoding as an `RdbError`.

use std::io::{Read, Write};

use cinnabar_storage::lzf;

use super::RdbError;
use crate::{Crc64Digest, CRC64};

const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const LEN_ENCVAL: u8 = 3;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Writer buffer size: the CRC and the sink see chunks this big.
const CHUNK: usize = 64 * 1024;

/// Writes RDB primitives; see the module comment.
pub struct RdbWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: Option<Crc64Digest>,
    /// The LZF compressor, when `rdbcompression` allows it.
    lzf: Option<Box<lzf::Compressor>>,
}

impl<W: Write> RdbWriter<W> {
    /// `checksum` false leaves the CRC at zero (`rdbchecksum no`);
    /// `compress` allows LZF for strings over 20 bytes (`rdbcompression`).
    pub fn new(out: W, compress: bool, checksum: bool) -> Self {
        RdbWriter {
            out,
            buf: Vec::with_capacity(CHUNK),
            crc: checksum.then(|| CRC64.digest()),
            lzf: compress.then(Box::default),
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), RdbError> {
        if self.buf.len() + bytes.len() > CHUNK {
            self.flush_buf()?;
        }
        if bytes.len() >= CHUNK {
            self.digest(bytes);
            return self.out.write_all(bytes).map_err(RdbError::Io);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn digest(&mut self, bytes: &[u8]) {
        if let Some(crc) = &mut self.crc {
            crc.update(bytes);
        }
    }

    fn flush_buf(&mut self) -> Result<(), RdbError> {
        let buf = std::mem::take(&mut self.buf);
        self.digest(&buf);
        let result = self.out.write_all(&buf).map_err(RdbError::Io);
        self.buf = buf;
        self.buf.clear();
        result
    }

    pub fn byte(&mut self, b: u8) -> Result<(), RdbError> {
        self.raw(&[b])
    }

    pub fn length(&mut self, len: u64) -> Result<(), RdbError> {
        if len < 1 << 6 {
            self.byte((LEN_6BIT << 6) | len as u8)
        } else if len < 1 << 14 {
            self.raw(&[(LEN_14BIT << 6) | (len >> 8) as u8, len as u8])
        } else if len <= u64::from(u32::MAX) {
            self.byte(LEN_32BIT)?;
            self.raw(&(len as u32).to_be_bytes())
        } else {
            self.byte(LEN_64BIT)?;
            self.raw(&len.to_be_bytes())
        }
    }

    /// An integer in the smallest integer string encoding, if it fits 32 bits.
    fn encoded_int(&mut self, v: i64) -> Result<bool, RdbError> {
        let special = LEN_ENCVAL << 6;
        if let Ok(v) = i8::try_from(v) {
            self.raw(&[special | ENC_INT8, v as u8])?;
        } else if let Ok(v) = i16::try_from(v) {
            self.byte(special | ENC_INT16)?;
            self.raw(&v.to_le_bytes())?;
        } else if let Ok(v) = i32::try_from(v) {
            self.byte(special | ENC_INT32)?;
            self.raw(&v.to_le_bytes())?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// A string value that is an integer (an `int`-encoded string).
    pub fn int_string(&mut self, v: i64) -> Result<(), RdbError> {
        if !self.encoded_int(v)? {
            let mut digits = Vec::with_capacity(20);
            cinnabar_protocol::numbers::push_i64(&mut digits, v);
            self.length(digits.len() as u64)?;
            self.raw(&digits)?;
        }
        Ok(())
    }

    /// A string, as Redis chooses its form: short canonical integers
    /// integer-encoded, long ones LZF-compressed when that saves at least
    /// four bytes, the rest raw.
    pub fn string(&mut self, s: &[u8]) -> Result<(), RdbError> {
        if s.len() <= 11 {
            if let Some(v) = cinnabar_protocol::numbers::parse_i64(s) {
                if self.encoded_int(v)? {
                    return Ok(());
                }
            }
        }
        if let Some(lzf) = self.lzf.as_mut().filter(|_| s.len() > 20) {
            let packed = lzf.compress(s);
            if !packed.is_empty() && packed.len() <= s.len() - 4 {
                self.byte((LEN_ENCVAL << 6) | ENC_LZF)?;
                self.length(packed.len() as u64)?;
                self.length(s.len() as u64)?;
                return self.raw(&packed);
            }
        }
        self.length(s.len() as u64)?;
        self.raw(s)
    }

    pub fn binary_double(&mut self, v: f64) -> Result<(), RdbError> {
        self.raw(&v.to_le_bytes())
    }

    pub fn millis(&mut self, ms: i64) -> Result<(), RdbError> {
        self.raw(&ms.to_le_bytes())
    }

    /// Writes the checksum (zero when disabled), flushes, and returns the sink.
    pub fn finish(mut self) -> Result<W, RdbError> {
        self.flush_buf()?;
        let crc = self.crc.take().map_or(0, |c| c.finalize());
        self.out.write_all(&crc.to_le_bytes()).map_err(RdbError::Io)?;
        self.out.flush().map_err(RdbError::Io)?;
        Ok(self.out)
    }
}

/// Reads RDB primitives; see the module comment.
pub struct RdbReader<R: Read> {
    inp: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    crc: Crc64Digest,
    /// Bytes consumed before `buf` (for error offsets and progress).
    consumed_before: u64,
}

impl<R: Read> RdbReader<R> {
    pub fn new(inp: R) -> Self {
        RdbReader {
            inp,
            buf: vec![0; CHUNK].into_boxed_slice(),
            pos: 0,
            end: 0,
            crc: CRC64.digest(),
            consumed_before: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.consumed_before + self.pos as u64
    }

    /// Folds the consumed part of the buffer into the CRC and refills it.
    fn refill(&mut self) -> Result<(), RdbError> {
        self.crc.update(&self.buf[..self.pos]);
        self.buf.copy_within(self.pos..self.end, 0);
        self.consumed_before += self.pos as u64;
        self.end -= self.pos;
        self.pos = 0;
        while self.end < self.buf.len() {
            match self.inp.read(&mut self.buf[self.end..]) {
                Ok(0) => break,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RdbError::Io(e)),
            }
        }
        Ok(())
    }

    /// Exactly `n` bytes (`n` at most the chunk size).
    fn take(&mut self, n: usize) -> Result<&[u8], RdbError> {
        if self.end - self.pos < n {
            self.refill()?;
            if self.end - self.pos < n {
                return Err(RdbError::UnexpectedEof);
            }
        }
        self.pos += n;
        Ok(&self.buf[self.pos - n..self.pos])
    }

    pub fn byte(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    /// `n` bytes of any size, read as they arrive (a corrupt length fails at
    /// the end of the input instead of allocating it up front).
    pub fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let mut out = Vec::with_capacity(n.min(CHUNK as u64) as usize);
        let mut left = n;
        while left > 0 {
            if self.pos == self.end {
                self.refill()?;
                if self.pos == self.end {
                    return Err(RdbError::UnexpectedEof);
                }
            }
            let step = (self.end - self.pos).min(left.min(usize::MAX as u64) as usize);
            out.extend_from_slice(&self.buf[self.pos..self.pos + step]);
            self.pos += step;
            left -= step as u64;
        }
        Ok(out)
    }

    /// A length, or an integer/LZF string marker (`Err(marker)` in `Ok`).
    fn len_or_encoding(&mut self) -> Result<Result<u64, u8>, RdbError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            LEN_ENCVAL => Err(first & 0x3F),
            LEN_6BIT => Ok(u64::from(first & 0x3F)),
            LEN_14BIT => Ok((u64::from(first & 0x3F) << 8) | u64::from(self.byte()?)),
            _ if first == LEN_32BIT => Ok(u64::from(u32::from_be_bytes(self.array()?))),
            _ if first == LEN_64BIT => Ok(u64::from_be_bytes(self.array()?)),
            _ => return Err(RdbError::corrupt(format!("Unknown length encoding {first} in rdbLoadLen()"))),
        })
    }

    pub fn length(&mut self) -> Result<u64, RdbError> {
        self.len_or_encoding()?.map_err(|_| RdbError::corrupt("Unexpected string encoding where a length was due"))
    }

    /// A length that counts things to be read: bounded by `usize`.
    pub fn count(&mut self) -> Result<usize, RdbError> {
        usize::try_from(self.length()?).map_err(|_| RdbError::corrupt("Length out of range"))
    }

    /// A string in any of its encodings, as bytes (integers in decimal).
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_encoding()? {
            Ok(len) => self.bytes(len),
            Err(ENC_LZF) => {
                let packed_len = self.length()?;
                let len = self.length()?;
                if len == 0 {
                    return Err(RdbError::corrupt("Invalid LZF compressed string"));
                }
                let packed = self.bytes(packed_len)?;
                // LZF expands at most ~256x: a larger claim is corrupt.
                if len / 256 > packed_len + 1 {
                    return Err(RdbError::corrupt("Invalid LZF compressed string"));
                }
                lzf::decompress(&packed, len as usize).ok_or_else(|| RdbError::corrupt("Invalid LZF compressed string"))
            }
            Err(enc) => {
                let v = self.encoded_integer(enc)?;
                let mut out = Vec::with_capacity(20);
                cinnabar_protocol::numbers::push_i64(&mut out, v);
                Ok(out)
            }
        }
    }

    fn encoded_integer(&mut self, enc: u8) -> Result<i64, RdbError> {
        Ok(match enc {
            ENC_INT8 => i64::from(self.byte()? as i8),
            ENC_INT16 => i64::from(i16::from_le_bytes(self.array()?)),
            ENC_INT32 => i64::from(i32::from_le_bytes(self.array()?)),
            other => return Err(RdbError::corrupt(format!("Unknown RDB string encoding type {other}"))),
        })
    }

    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A double in the old text form (zset type 3): length byte, then
    /// digits; 253/254/255 stand for NaN, +inf, -inf.
    pub fn text_double(&mut self) -> Result<f64, RdbError> {
        let len = self.byte()?;
        match len {
            255 => Ok(f64::NEG_INFINITY),
            254 => Ok(f64::INFINITY),
            253 => Ok(f64::NAN),
            n => {
                let text = self.take(usize::from(n))?;
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .ok_or_else(|| RdbError::corrupt("Invalid double value"))
            }
        }
    }

    pub fn millis(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Seconds as the old EXPIRETIME opcode stores them (32-bit).
    pub fn seconds(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from(i32::from_le_bytes(self.array()?)))
    }

    pub fn raw<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        self.array()
    }

    /// The CRC of everything consumed so far.
    pub fn checksum_so_far(&mut self) -> u64 {
        self.crc.update(&self.buf[..self.pos]);
        self.consumed_before += self.pos as u64;
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.crc.clone().finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut RdbWriter<&mut Vec<u8>>)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = RdbWriter::new(&mut out, true, false);
        f(&mut w);
        w.finish().unwrap();
        out.truncate(out.len() - 8);
        out
    }

    #[test]
    fn lengths_round_trip_in_their_smallest_form() {
        for (v, size) in [(0u64, 1), (63, 1), (64, 2), (16383, 2), (16384, 5), (u32::MAX as u64, 5), (1 << 40, 9)] {
            let bytes = encoded(|w| w.length(v).unwrap());
            assert_eq!(bytes.len(), size, "{v}");
            assert_eq!(RdbReader::new(&bytes[..]).length().unwrap(), v);
        }
    }

    #[test]
    fn strings_pick_redis_encodings() {
        assert_eq!(encoded(|w| w.string(b"12").unwrap()), [0xC0, 12]);
        assert_eq!(encoded(|w| w.string(b"-300").unwrap()), [0xC1, 0xD4, 0xFE]);
        assert_eq!(encoded(|w| w.string(b"012").unwrap()), [3, b'0', b'1', b'2']);
        let long = vec![b'a'; 100];
        let packed = encoded(|w| w.string(&long).unwrap());
        assert_eq!(packed[0], 0xC3);
        for s in [&b"12"[..], b"-300", b"012", &long, b"12345678901", b"2147483648"] {
            let bytes = encoded(|w| w.string(s).unwrap());
            assert_eq!(RdbReader::new(&bytes[..]).string().unwrap(), s);
        }
    }

    #[test]
    fn huge_claimed_lengths_fail_without_allocating() {
        let bytes = [LEN_64BIT, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'x'];
        assert!(matches!(RdbReader::new(&bytes[..]).string(), Err(RdbError::UnexpectedEof)));
    }
}
