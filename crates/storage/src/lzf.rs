//! LZF, the small fast compressor Redis uses for RDB strings and for
//! compressed quicklist nodes (`list-compress-depth`).
//!
//! Written by hand rather than taken from a crate because the bytes travel in
//! files and replication streams Redis must read: the format is liblzf's
//! (a control byte either starts a run of 1..=32 literals or encodes a
//! back-reference of 3..=264 bytes up to 8 KiB back).

/// Back-references reach at most this far behind the current position.
const MAX_OFFSET: usize = 1 << 13;
/// The longest back-reference: 2 + 7 + 255 bytes.
const MAX_MATCH: usize = 264;
/// The longest literal run one control byte announces.
const MAX_LITERALS: usize = 32;
const HASH_BITS: u32 = 14;

/// Compresses `input`. The result may be longer than the input for data that
/// does not compress; callers keep the original then, as Redis does.
pub fn compress(input: &[u8]) -> Vec<u8> {
    Compressor::new().compress(input)
}

/// A compressor whose hash table is reused across calls: compressing many
/// small strings (an RDB save) then costs no table allocation or clearing
/// per string. Table entries hold positions on a running counter that
/// grows with every call, so entries from earlier calls read as empty.
pub struct Compressor {
    table: Vec<u64>,
    /// The counter value at the start of the current input.
    base: u64,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    pub fn new() -> Self {
        Compressor { table: vec![0; 1 << HASH_BITS], base: 0 }
    }

    /// Compresses `input`; see `compress`.
    pub fn compress(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + input.len() / MAX_LITERALS + 1);
        let base = self.base;
        // Stored values are base + position + 1, so anything <= base is empty.
        let remember = |table: &mut [u64], at: usize| table[hash3(&input[at..])] = base + at as u64 + 1;
        let mut run = LiteralRun::start(&mut out);
        let mut pos = 0;
        while pos + 2 < input.len() {
            let slot = hash3(&input[pos..]);
            let stored = self.table[slot];
            let candidate = if stored > base { (stored - base) as usize } else { 0 };
            remember(&mut self.table, pos);
            if let Some(len) = match_at(input, candidate, pos) {
                run.finish(&mut out);
                push_back_reference(&mut out, pos - (candidate - 1) - 1, len);
                for skipped in pos + 1..(pos + len).min(input.len().saturating_sub(2)) {
                    remember(&mut self.table, skipped);
                }
                pos += len;
                run = LiteralRun::start(&mut out);
            } else {
                run.push(&mut out, input[pos]);
                pos += 1;
            }
        }
        for &byte in &input[pos..] {
            run.push(&mut out, byte);
        }
        run.finish(&mut out);
        self.base += input.len() as u64 + 1;
        out
    }
}

/// Decompresses `input`, which must expand to exactly `expanded_len` bytes.
/// None if the data is corrupt.
pub fn decompress(input: &[u8], expanded_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(expanded_len);
    let mut pos = 0;
    while pos < input.len() {
        let ctrl = input[pos] as usize;
        pos += 1;
        if ctrl < MAX_LITERALS {
            let literals = input.get(pos..pos + ctrl + 1)?;
            if out.len() + literals.len() > expanded_len {
                return None;
            }
            out.extend_from_slice(literals);
            pos += ctrl + 1;
            continue;
        }
        let mut len = ctrl >> 5;
        if len == 7 {
            len += *input.get(pos)? as usize;
            pos += 1;
        }
        len += 2;
        let offset = ((ctrl & 0x1f) << 8) + *input.get(pos)? as usize + 1;
        pos += 1;
        if offset > out.len() || out.len() + len > expanded_len {
            return None;
        }
        // Byte by byte: a reference may overlap the bytes it produces.
        let start = out.len() - offset;
        for i in 0..len {
            out.push(out[start + i]);
        }
    }
    (out.len() == expanded_len).then_some(out)
}

fn hash3(bytes: &[u8]) -> usize {
    let v = (bytes[0] as u32) << 16 | (bytes[1] as u32) << 8 | bytes[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - HASH_BITS)) as usize
}

/// The length of the match between the bytes at `pos` and an earlier
/// position (`candidate` - 1), if it is long and near enough to encode.
fn match_at(input: &[u8], candidate: usize, pos: usize) -> Option<usize> {
    let earlier = candidate.checked_sub(1)?;
    if pos - earlier > MAX_OFFSET || input[earlier..earlier + 3] != input[pos..pos + 3] {
        return None;
    }
    let max = MAX_MATCH.min(input.len() - pos);
    let mut len = 3;
    while len < max && input[earlier + len] == input[pos + len] {
        len += 1;
    }
    Some(len)
}

fn push_back_reference(out: &mut Vec<u8>, offset: usize, len: usize) {
    let encoded_len = len - 2;
    if encoded_len < 7 {
        out.push(((encoded_len << 5) | (offset >> 8)) as u8);
    } else {
        out.push(((7 << 5) | (offset >> 8)) as u8);
        out.push((encoded_len - 7) as u8);
    }
    out.push(offset as u8);
}

/// A run of literals being written: a count byte followed by the bytes.
struct LiteralRun {
    count_at: usize,
    count: usize,
}

impl LiteralRun {
    fn start(out: &mut Vec<u8>) -> LiteralRun {
        out.push(0);
        LiteralRun { count_at: out.len() - 1, count: 0 }
    }

    fn push(&mut self, out: &mut Vec<u8>, byte: u8) {
        out.push(byte);
        self.count += 1;
        if self.count == MAX_LITERALS {
            self.finish(out);
            *self = LiteralRun::start(out);
        }
    }

    /// Writes the count, or drops the count byte of an empty run.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.count == 0 {
            out.truncate(self.count_at);
        } else {
            out[self.count_at] = (self.count - 1) as u8;
        }
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repetitive_data_shrinks_and_round_trips() {
        let input: Vec<u8> = b"abcabcabcabc-hello-hello-hello-".repeat(100);
        let packed = compress(&input);
        assert!(packed.len() < input.len() / 2, "{} bytes", packed.len());
        assert_eq!(decompress(&packed, input.len()).unwrap(), input);
    }

    #[test]
    fn decodes_redis_output() {
        // How redis-server 7.0 stores 30 x 'a' (from its DUMP payload): two
        // literals, a 26-byte reference one byte back, two literals.
        let packed = [0x01, b'a', b'a', 0xe0, 0x11, 0x00, 0x01, b'a', b'a'];
        assert_eq!(decompress(&packed, 30).unwrap(), vec![b'a'; 30]);
    }

    #[test]
    fn a_reused_compressor_matches_a_fresh_one() {
        let mut reused = Compressor::new();
        for input in [&b"abcabcabcabcabcabc"[..], b"xyz", &[7u8; 5000], b"abcabcabcabcabcabc"] {
            let packed = reused.compress(input);
            assert_eq!(packed, compress(input));
            assert_eq!(decompress(&packed, input.len()).as_deref(), Some(input));
        }
    }

    #[test]
    fn corrupt_input_is_refused() {
        assert_eq!(decompress(&[0x05, b'a'], 6), None); // literals cut short
        assert_eq!(decompress(&[0x20, 0x05], 3), None); // reference before the start
        assert_eq!(decompress(&[0x00, b'a'], 2), None); // wrong length
        assert_eq!(decompress(&[0xe0], 10), None); // missing length byte
    }

    proptest! {
        #[test]
        fn round_trips(input in proptest::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), any::<u8>()], 0..20000)) {
            let packed = compress(&input);
            prop_assert_eq!(decompress(&packed, input.len()), Some(input));
        }
    }
}
