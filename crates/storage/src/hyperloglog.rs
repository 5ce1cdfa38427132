//! HyperLogLog values in Redis 7.0's exact byte representation, as pure
//! functions over the string's bytes.
//!
//! An HLL is a plain string value: a 16-byte header (`HYLL`, an encoding byte,
//! three unused bytes, an 8-byte little-endian cached cardinality whose top bit
//! marks the cache invalid) followed by 16384 six-bit registers, either packed
//! (dense, 12288 bytes) or run-length coded (sparse opcodes ZERO, XZERO, VAL).
//! The bytes travel in RDB files and replication, so every edit here must leave
//! exactly the bytes Redis would: the same opcode splits, the same merging of
//! neighbouring VAL runs, the same promotion point to dense.
//!
//! This module knows nothing of keys, commands or replies; the server layer
//! validates the string, calls in, and reports `Corrupted` as Redis does.

/// Bytes before the registers.
pub const HEADER_LEN: usize = 16;
/// log2 of the register count.
const P: u32 = 14;
/// Hash bits left after the register index, whose run of zeros is counted.
const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const REGISTER_BITS: usize = 6;
const REGISTER_MAX: u32 = (1 << REGISTER_BITS) - 1;
/// Length of a dense HLL string, header included.
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * REGISTER_BITS).div_ceil(8);

const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_BYTE: usize = 4;
const CARD_BYTES: std::ops::Range<usize> = 8..16;
const CARD_INVALID_BYTE: usize = 15;
const CARD_INVALID_BIT: u8 = 0x80;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;

/// The seed Redis hashes elements with.
const HASH_SEED: u32 = 0xadc8_3b19;
/// 0.5 / ln(2), the estimator's constant for m → ∞.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_RUN: usize = 4;
const ZERO_MAX_RUN: usize = 64;
const XZERO_MAX_RUN: usize = 16384;

/// How the registers of an HLL string are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    /// The name PFDEBUG ENCODING replies with.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// The registers do not add up to 16384 (Redis's INVALIDOBJ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupted;

/// The encoding of `bytes` if they pass Redis's check for an HLL string
/// (magic, a known encoding, and the exact length when dense). Sparse opcodes
/// are only checked when they are walked.
pub fn validate(bytes: &[u8]) -> Option<Encoding> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return None;
    }
    match bytes[ENCODING_BYTE] {
        DENSE if bytes.len() == DENSE_LEN => Some(Encoding::Dense),
        SPARSE => Some(Encoding::Sparse),
        _ => None,
    }
}

/// An empty HLL as PFADD creates it: sparse, one XZERO run over all registers.
pub fn new_sparse() -> Vec<u8> {
    let mut hll = Vec::with_capacity(HEADER_LEN + 2);
    hll.extend_from_slice(MAGIC);
    hll.push(SPARSE);
    hll.resize(HEADER_LEN, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_RUN);
        hll.extend_from_slice(&xzero_opcode(run));
        left -= run;
    }
    hll
}

// ---------------------------------------------------------------------------
// Hashing

/// MurmurHash2, 64-bit variant, reading 8-byte blocks little-endian (as Redis
/// does on every architecture).
pub fn murmurhash64a(data: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = u64::from(seed) ^ (data.len() as u64).wrapping_mul(M);
    let blocks = data.chunks_exact(8);
    let tail = blocks.remainder();
    for block in blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("chunks_exact yields 8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the length of its "000..1" pattern:
/// the low P hash bits pick the register, the rest are scanned from the
/// least significant bit for the first 1 (counting it), at most Q+1.
pub fn pattern_len(element: &[u8]) -> (usize, u8) {
    let hash = murmurhash64a(element, HASH_SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------
// Dense registers: 6 bits each, packed little-endian, register 0 in the low
// bits of the first byte.

fn dense_get(registers: &[u8], index: usize) -> u8 {
    let byte = index * REGISTER_BITS / 8;
    let shift = (index * REGISTER_BITS) & 7;
    let low = u32::from(registers[byte]) >> shift;
    let high = u32::from(registers.get(byte + 1).copied().unwrap_or(0)) << (8 - shift);
    ((low | high) & REGISTER_MAX) as u8
}

fn dense_put(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * REGISTER_BITS / 8;
    let shift = (index * REGISTER_BITS) & 7;
    let value = u32::from(value);
    registers[byte] &= !(REGISTER_MAX << shift) as u8;
    registers[byte] |= (value << shift) as u8;
    // The last register ends inside its first byte; Redis's write to the byte
    // after it only touches the string's terminator.
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !(REGISTER_MAX >> (8 - shift)) as u8;
        *next |= (value >> (8 - shift)) as u8;
    }
}

/// Raises a dense register to `count`; true if it grew.
fn dense_raise(registers: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(registers, index) {
        dense_put(registers, index, count);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------
// Sparse opcodes

/// One sparse opcode: a run of zero registers (ZERO takes 1 byte, XZERO 2) or
/// a run of registers sharing a value (VAL, 1 byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Zeros { run: usize, width: usize },
    Val { value: u8, run: usize },
}

impl Op {
    fn run(self) -> usize {
        match self {
            Op::Zeros { run, .. } | Op::Val { run, .. } => run,
        }
    }

    fn width(self) -> usize {
        match self {
            Op::Zeros { width, .. } => width,
            Op::Val { .. } => 1,
        }
    }
}

/// Decodes the opcode at `pos`. An XZERO cut off by the end of the string
/// reads its second byte as 0, as Redis reads the string's terminator.
fn op_at(hll: &[u8], pos: usize) -> Op {
    let b = hll[pos];
    if b & VAL_BIT != 0 {
        Op::Val { value: ((b >> 2) & 0x1f) + 1, run: usize::from(b & 0x3) + 1 }
    } else if b & XZERO_BIT != 0 {
        let low = hll.get(pos + 1).copied().unwrap_or(0);
        Op::Zeros { run: ((usize::from(b & 0x3f) << 8) | usize::from(low)) + 1, width: 2 }
    } else {
        Op::Zeros { run: usize::from(b & 0x3f) + 1, width: 1 }
    }
}

/// The opcodes after the header, with their positions.
fn ops(hll: &[u8]) -> impl Iterator<Item = (usize, Op)> + '_ {
    let mut pos = HEADER_LEN;
    std::iter::from_fn(move || {
        (pos < hll.len()).then(|| {
            let op = op_at(hll, pos);
            let at = pos;
            pos += op.width();
            (at, op)
        })
    })
}

fn val_opcode(value: u8, run: usize) -> u8 {
    VAL_BIT | ((value - 1) << 2) | (run - 1) as u8
}

fn xzero_opcode(run: usize) -> [u8; 2] {
    let l = run - 1;
    [XZERO_BIT | (l >> 8) as u8, (l & 0xff) as u8]
}

/// Appends the shortest opcode for `run` zero registers (run <= 16384).
fn push_zeros(out: &mut Vec<u8>, run: usize) {
    if run > ZERO_MAX_RUN {
        out.extend_from_slice(&xzero_opcode(run));
    } else {
        out.push((run - 1) as u8);
    }
}

/// Calls `f(index, value)` for every VAL register of a sparse HLL, in order,
/// stopping (as Redis does) at a VAL run that would pass the last register.
/// Returns whether the runs cover exactly 16384 registers.
fn for_each_sparse_value(hll: &[u8], mut f: impl FnMut(usize, u8)) -> bool {
    let mut index = 0;
    for (_, op) in ops(hll) {
        match op {
            Op::Zeros { run, .. } => index += run,
            Op::Val { value, run } => {
                if index + run > REGISTERS {
                    return false;
                }
                (index..index + run).for_each(|i| f(i, value));
                index += run;
            }
        }
    }
    index == REGISTERS
}

/// Rewrites a sparse HLL as dense, keeping the header (cached cardinality
/// included). Returns true if it converted, false if it was dense already.
pub fn sparse_to_dense(hll: &mut Vec<u8>) -> Result<bool, Corrupted> {
    if hll[ENCODING_BYTE] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&hll[..HEADER_LEN]);
    dense[ENCODING_BYTE] = DENSE;
    let registers = &mut dense[HEADER_LEN..];
    if !for_each_sparse_value(hll, |i, value| dense_put(registers, i, value)) {
        return Err(Corrupted);
    }
    *hll = dense;
    Ok(true)
}

/// Raises register `index` of a sparse HLL to `count`, editing the opcodes in
/// place, or promoting to dense when the value does not fit a VAL opcode or the
/// string would outgrow `max_bytes`. Returns true if the register grew.
fn sparse_raise(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupted> {
    if count > VAL_MAX_VALUE {
        return promote_and_raise(hll, index, count);
    }
    // Find the opcode covering `index`, the one before it, and its first register.
    let mut prev = None;
    let mut found = None;
    let mut first = 0;
    for (pos, op) in ops(hll) {
        if index < first + op.run() {
            found = Some((pos, op));
            break;
        }
        prev = Some(pos);
        first += op.run();
    }
    let (pos, op) = found.ok_or(Corrupted)?;

    let replacement = match op {
        Op::Val { value, .. } if value >= count => return Ok(false),
        Op::Val { run: 1, .. } | Op::Zeros { run: 1, width: 1 } => {
            hll[pos] = val_opcode(count, 1);
            None
        }
        _ => Some(split_run(op, index - first, count)),
    };
    if let Some(seq) = replacement {
        let end = hll.len();
        let new_len = end + seq.len() - op.width();
        if new_len > end && new_len > max_bytes {
            return promote_and_raise(hll, index, count);
        }
        hll.splice(pos..(pos + op.width()).min(end), seq);
        // An XZERO cut off by the end of the string: Redis keeps the length
        // arithmetic of a whole opcode.
        hll.truncate(new_len);
    }
    merge_adjacent_vals(hll, prev.unwrap_or(HEADER_LEN));
    invalidate_cache(hll);
    Ok(true)
}

/// The opcodes replacing `op` once its register at `offset` holds `count`:
/// the part before, a VAL of one register, the part after.
fn split_run(op: Op, offset: usize, count: u8) -> Vec<u8> {
    let after = op.run() - 1 - offset;
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Zeros { .. } => {
            if offset > 0 {
                push_zeros(&mut seq, offset);
            }
            seq.push(val_opcode(count, 1));
            if after > 0 {
                push_zeros(&mut seq, after);
            }
        }
        Op::Val { value, .. } => {
            if offset > 0 {
                seq.push(val_opcode(value, offset));
            }
            seq.push(val_opcode(count, 1));
            if after > 0 {
                seq.push(val_opcode(value, after));
            }
        }
    }
    seq
}

/// Joins neighbouring VAL opcodes of equal value (up to the maximum run),
/// looking at no more than five opcodes from `start`, as Redis does.
fn merge_adjacent_vals(hll: &mut Vec<u8>, start: usize) {
    let mut pos = start;
    for _ in 0..5 {
        if pos >= hll.len() {
            break;
        }
        match op_at(hll, pos) {
            Op::Zeros { width, .. } => pos += width,
            Op::Val { value, run } => {
                let next = hll.get(pos + 1).map(|_| op_at(hll, pos + 1));
                match next {
                    Some(Op::Val { value: v2, run: run2 }) if v2 == value && run + run2 <= VAL_MAX_RUN => {
                        hll[pos + 1] = val_opcode(value, run + run2);
                        hll.remove(pos);
                    }
                    _ => pos += 1,
                }
            }
        }
    }
}

fn promote_and_raise(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupted> {
    sparse_to_dense(hll)?;
    Ok(dense_raise(&mut hll[HEADER_LEN..], index, count))
}

// ---------------------------------------------------------------------------
// Operations on a validated HLL string

fn encoding_of(hll: &[u8]) -> Encoding {
    if hll[ENCODING_BYTE] == DENSE {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// Adds one element (PFADD). Returns true if a register grew. The caller
/// invalidates the cached cardinality once for the whole command.
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupted> {
    let (index, count) = pattern_len(element);
    match hll[ENCODING_BYTE] {
        DENSE => Ok(dense_raise(&mut hll[HEADER_LEN..], index, count)),
        SPARSE => sparse_raise(hll, index, count, sparse_max_bytes),
        _ => Err(Corrupted),
    }
}

/// The cached cardinality, if the cache is valid.
pub fn cached_cardinality(hll: &[u8]) -> Option<u64> {
    (hll[CARD_INVALID_BYTE] & CARD_INVALID_BIT == 0)
        .then(|| u64::from_le_bytes(hll[CARD_BYTES].try_into().expect("8 header bytes")))
}

pub fn store_cardinality(hll: &mut [u8], cardinality: u64) {
    hll[CARD_BYTES].copy_from_slice(&cardinality.to_le_bytes());
}

pub fn invalidate_cache(hll: &mut [u8]) {
    hll[CARD_INVALID_BYTE] |= CARD_INVALID_BIT;
}

/// Estimates the cardinality of one HLL string (ignoring its cache).
pub fn count(hll: &[u8]) -> Result<u64, Corrupted> {
    let mut histogram = [0u32; 64];
    match encoding_of(hll) {
        Encoding::Dense => {
            let registers = &hll[HEADER_LEN..];
            (0..REGISTERS).for_each(|i| histogram[usize::from(dense_get(registers, i))] += 1);
        }
        Encoding::Sparse => {
            let mut covered = 0;
            for (_, op) in ops(hll) {
                let value = match op {
                    Op::Zeros { .. } => 0,
                    Op::Val { value, .. } => usize::from(value),
                };
                histogram[value] += op.run() as u32;
                covered += op.run();
            }
            if covered != REGISTERS {
                return Err(Corrupted);
            }
        }
    }
    Ok(estimate(&histogram))
}

/// The register-histogram estimator of Ertl's "New cardinality estimation
/// algorithms for HyperLogLog sketches", as Redis 7.0 computes it (same
/// operation order, so the same rounding).
fn estimate(histogram: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - f64::from(histogram[q + 1])) / m);
    for &registers in histogram[1..=q].iter().rev() {
        z += f64::from(registers);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// The register values of a dense HLL, in order (PFDEBUG GETREG).
pub fn dense_registers(hll: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let registers = &hll[HEADER_LEN..];
    (0..REGISTERS).map(move |i| dense_get(registers, i))
}

/// The opcodes of a sparse HLL as PFDEBUG DECODE prints them
/// (`z:LEN`, `Z:LEN`, `v:VALUE,LEN`, space separated).
pub fn decode_sparse(hll: &[u8]) -> String {
    let words: Vec<String> = ops(hll)
        .map(|(_, op)| match op {
            Op::Zeros { run, width: 1 } => format!("z:{run}"),
            Op::Zeros { run, .. } => format!("Z:{run}"),
            Op::Val { value, run } => format!("v:{value},{run}"),
        })
        .collect();
    words.join(" ")
}

// ---------------------------------------------------------------------------
// Unions (PFCOUNT of several keys, PFMERGE)

/// The register-wise maximum of several HLLs, one byte per register.
pub struct Union {
    registers: Box<[u8; REGISTERS]>,
    /// True once a dense HLL was merged (PFMERGE then writes a dense result).
    pub saw_dense: bool,
}

impl Default for Union {
    fn default() -> Self {
        Union { registers: Box::new([0; REGISTERS]), saw_dense: false }
    }
}

impl Union {
    /// Folds a validated HLL string into the union.
    pub fn merge(&mut self, hll: &[u8]) -> Result<(), Corrupted> {
        let max = &mut self.registers;
        match encoding_of(hll) {
            Encoding::Dense => {
                self.saw_dense = true;
                for (slot, value) in max.iter_mut().zip(dense_registers(hll)) {
                    *slot = (*slot).max(value);
                }
                Ok(())
            }
            Encoding::Sparse => {
                if for_each_sparse_value(hll, |i, value| max[i] = max[i].max(value)) {
                    Ok(())
                } else {
                    Err(Corrupted)
                }
            }
        }
    }

    /// The estimated cardinality of the union.
    pub fn count(&self) -> u64 {
        let mut histogram = [0u32; 64];
        self.registers.iter().for_each(|&r| histogram[usize::from(r)] += 1);
        estimate(&histogram)
    }

    /// Raises the registers of `dest` (a validated HLL that was merged into
    /// this union) to the union's, register by register as Redis does, so a
    /// sparse destination splits and promotes exactly as it would there.
    pub fn store_into(&self, dest: &mut Vec<u8>, sparse_max_bytes: usize) -> Result<(), Corrupted> {
        if self.saw_dense {
            sparse_to_dense(dest)?;
        }
        for (index, &value) in self.registers.iter().enumerate().filter(|&(_, &v)| v != 0) {
            match dest[ENCODING_BYTE] {
                DENSE => {
                    dense_raise(&mut dest[HEADER_LEN..], index, value);
                }
                // `dest` passed `merge`, so its runs cover every register and
                // raising one cannot fail.
                _ => {
                    sparse_raise(dest, index, value, sparse_max_bytes)?;
                }
            }
        }
        invalidate_cache(dest);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// PFSELFTEST

/// Redis's self test: dense registers read back what was written, and a dense
/// and a sparse HLL fed the same ten million elements agree with each other
/// and stay within the expected error. `seed` picks the random values.
/// Returns Redis's `TESTFAILED ...` message on failure.
pub fn self_test(seed: u64, sparse_max_bytes: usize) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut dense = vec![0u8; DENSE_LEN];
    let mut expected = [0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, slot) in expected.iter_mut().enumerate() {
            *slot = rng.u8(..=REGISTER_MAX as u8);
            dense_put(&mut dense[HEADER_LEN..], i, *slot);
        }
        for (i, &want) in expected.iter().enumerate() {
            let got = dense_get(&dense[HEADER_LEN..], i);
            if got != want {
                return Err(format!("TESTFAILED Register {i} should be {want} but is {got}"));
            }
        }
    }

    dense[HEADER_LEN..].fill(0);
    let mut sparse = new_sparse();
    let relative_error = 1.04 / (REGISTERS as f64).sqrt();
    let element_seed = rng.u64(..);
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let element = (j ^ element_seed).to_le_bytes();
        let (index, pattern) = pattern_len(&element);
        dense_raise(&mut dense[HEADER_LEN..], index, pattern);
        add(&mut sparse, &element, sparse_max_bytes).map_err(|_| "TESTFAILED corrupted sparse HLL".to_string())?;
        if j != checkpoint {
            continue;
        }
        if j < (sparse_max_bytes / 2) as u64 && encoding_of(&sparse) != Encoding::Sparse {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let estimate = count(&dense).expect("dense HLLs always count");
        if count(&sparse) != Ok(estimate) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let max_error = if j == 10 { 1 } else { (relative_error * 6.0 * checkpoint as f64).ceil() as u64 };
        let error = checkpoint.abs_diff(estimate);
        if error > max_error {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{error}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_BYTES: usize = 3000;

    fn hll_of(elements: &[&[u8]]) -> Vec<u8> {
        let mut hll = new_sparse();
        for e in elements {
            add(&mut hll, e, MAX_BYTES).unwrap();
        }
        hll
    }

    /// A sparse HLL with every register below `n` raised to `value` one at a time.
    fn sparse_with_prefix(n: usize, value: u8) -> Vec<u8> {
        let mut hll = new_sparse();
        for i in 0..n {
            assert_eq!(sparse_raise(&mut hll, i, value, MAX_BYTES), Ok(true));
        }
        hll
    }

    #[test]
    fn murmurhash_matches_redis_vectors() {
        let seed = HASH_SEED;
        assert_eq!(murmurhash64a(b"", seed), 0xd8dfea6585bc9732);
        assert_eq!(murmurhash64a(b"a", seed), 0x53d2470a9b43b1a7);
        assert_eq!(murmurhash64a(b"hello", seed), 0x0f656f01eecfe400);
        assert_eq!(murmurhash64a(b"abcdefgh", seed), 0xf3a65df559914567);
        assert_eq!(murmurhash64a(b"abcdefghi", seed), 0x834fba4d9152daf7);
        assert_eq!(murmurhash64a(b"The quick brown fox jumps over the lazy dog", seed), 0x51606c5c5b561ace);
        assert_eq!(murmurhash64a(b"hello", 0), 0x1e68d17c457bf117);
    }

    #[test]
    fn pattern_len_splits_the_hash() {
        let hash = murmurhash64a(b"hello", HASH_SEED);
        let (index, count) = pattern_len(b"hello");
        assert_eq!(index, (hash & 0x3fff) as usize);
        assert_eq!(u32::from(count), (hash >> 14).trailing_zeros() + 1);
    }

    #[test]
    fn empty_hll_is_one_xzero_run() {
        assert_eq!(new_sparse(), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(validate(&new_sparse()), Some(Encoding::Sparse));
        assert_eq!(count(&new_sparse()), Ok(0));
    }

    #[test]
    fn sparse_adds_match_redis_bytes() {
        // GET after `PFADD k a` and `PFADD k a b c` on redis-server 7.0.15.
        assert_eq!(hll_of(&[b"a"]), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80q\xa6\x84NW");
        let abc = hll_of(&[b"a", b"b", b"c"]);
        assert_eq!(abc, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ");
        assert_eq!(decode_sparse(&abc), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
        assert_eq!(count(&abc), Ok(3));
    }

    #[test]
    fn neighbouring_equal_values_merge_into_one_run() {
        assert_eq!(decode_sparse(&sparse_with_prefix(2, 1)), "v:1,2 Z:16382");
        assert_eq!(decode_sparse(&sparse_with_prefix(5, 1)), "v:1,4 v:1,1 Z:16379");
        let mut hll = sparse_with_prefix(3, 1);
        assert_eq!(sparse_raise(&mut hll, 1, 1, MAX_BYTES), Ok(false));
        assert_eq!(sparse_raise(&mut hll, 1, 2, MAX_BYTES), Ok(true));
        assert_eq!(decode_sparse(&hll), "v:1,1 v:2,1 v:1,1 Z:16381");
    }

    #[test]
    fn short_zero_runs_use_one_byte_opcodes() {
        let mut hll = new_sparse();
        sparse_raise(&mut hll, 100, 3, MAX_BYTES).unwrap();
        sparse_raise(&mut hll, 40, 3, MAX_BYTES).unwrap();
        assert_eq!(decode_sparse(&hll), "z:40 v:3,1 z:59 v:3,1 Z:16283");
    }

    #[test]
    fn dense_registers_round_trip_at_every_bit_offset() {
        let mut registers = vec![0u8; DENSE_LEN - HEADER_LEN];
        for i in 0..REGISTERS {
            dense_put(&mut registers, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&registers, i), (i % 64) as u8, "register {i}");
        }
        dense_put(&mut registers, REGISTERS - 1, 0);
        assert_eq!(dense_get(&registers, REGISTERS - 2), ((REGISTERS - 2) % 64) as u8);
        // Register 1 spans bytes 0 and 1: bits 6..12.
        let mut registers = vec![0u8; DENSE_LEN - HEADER_LEN];
        dense_put(&mut registers, 1, 0b111111);
        assert_eq!(&registers[..2], &[0b1100_0000, 0b0000_1111]);
    }

    #[test]
    fn conversion_to_dense_keeps_header_and_registers() {
        let mut hll = hll_of(&[b"a", b"b", b"c"]);
        store_cardinality(&mut hll, 3);
        assert_eq!(sparse_to_dense(&mut hll), Ok(true));
        assert_eq!(hll.len(), DENSE_LEN);
        assert_eq!(validate(&hll), Some(Encoding::Dense));
        assert_eq!(cached_cardinality(&hll), Some(3));
        let nonzero: Vec<(usize, u8)> = dense_registers(&hll).enumerate().filter(|&(_, v)| v != 0).collect();
        assert_eq!(nonzero, vec![(8436, 1), (12711, 2), (15780, 1)]);
        assert_eq!(sparse_to_dense(&mut hll), Ok(false));
        assert_eq!(count(&hll), Ok(3));
    }

    #[test]
    fn sparse_promotes_to_dense_past_max_bytes() {
        let mut hll = new_sparse();
        let mut i = 0u32;
        while validate(&hll) == Some(Encoding::Sparse) {
            add(&mut hll, format!("e{i}").as_bytes(), 40).unwrap();
            assert!(hll.len() <= 40 || hll.len() == DENSE_LEN);
            i += 1;
        }
        assert_eq!(hll.len(), DENSE_LEN);
        let mut sparse = new_sparse();
        (0..i).for_each(|j| {
            add(&mut sparse, format!("e{j}").as_bytes(), MAX_BYTES).unwrap();
        });
        assert_eq!(count(&hll), count(&sparse));
    }

    #[test]
    fn values_above_32_force_dense() {
        let mut hll = new_sparse();
        assert_eq!(sparse_raise(&mut hll, 7, 33, MAX_BYTES), Ok(true));
        assert_eq!(validate(&hll), Some(Encoding::Dense));
        assert_eq!(dense_registers(&hll).nth(7), Some(33));
    }

    #[test]
    fn runs_not_covering_every_register_are_corrupt() {
        let mut short = new_sparse();
        short.truncate(HEADER_LEN);
        short.push(0x3f); // z:64 only
        assert_eq!(count(&short), Err(Corrupted));
        assert_eq!(sparse_to_dense(&mut short.clone()), Err(Corrupted));
        assert_eq!(Union::default().merge(&short), Err(Corrupted));
        assert_eq!(add(&mut short.clone(), b"a", MAX_BYTES), Err(Corrupted));
    }

    #[test]
    fn validation_follows_redis() {
        assert_eq!(validate(b"HYLL"), None);
        assert_eq!(validate(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(validate(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(validate(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(validate(b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0"), Some(Encoding::Sparse));
    }

    #[test]
    fn union_counts_and_stores_like_the_sources() {
        let a = hll_of(&[b"a", b"b"]);
        let b = hll_of(&[b"b", b"c"]);
        let mut union = Union::default();
        union.merge(&a).unwrap();
        union.merge(&b).unwrap();
        assert_eq!(union.count(), 3);
        let mut dest = new_sparse();
        union.store_into(&mut dest, MAX_BYTES).unwrap();
        let mut expected = hll_of(&[b"a", b"b", b"c"]);
        invalidate_cache(&mut expected);
        assert_eq!(dest, expected);
    }

    #[test]
    fn estimator_handles_the_extremes() {
        let mut histogram = [0u32; 64];
        histogram[0] = REGISTERS as u32;
        assert_eq!(estimate(&histogram), 0);
        assert_eq!(tau(0.0), 0.0);
        assert!(sigma(1.0).is_infinite());
    }
}
