//! Encodings that Redis versions before 7.0 wrote into RDB files and that
//! 7.0 still loads: the ziplist (lists, hashes and sorted sets before
//! listpacks) and the zipmap (hashes before 2.6). Both are decoded into
//! their elements, bounds-checked, and never kept.

use cinnabar_protocol::numbers::push_i64;

use super::RdbError;

const ZIPLIST_HEADER: usize = 10;
const ZIPLIST_END: u8 = 0xFF;

fn ziplist_corrupt() -> RdbError {
    RdbError::corrupt("Ziplist integrity check failed.")
}

/// The elements of a ziplist, integers in decimal.
pub fn ziplist_elements(zl: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    let get = |i: usize| zl.get(i).copied().ok_or_else(ziplist_corrupt);
    let le = |at: usize, n: usize| -> Result<u64, RdbError> {
        let bytes = zl.get(at..at + n).ok_or_else(ziplist_corrupt)?;
        Ok(bytes.iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    };
    if zl.len() < ZIPLIST_HEADER + 1 || le(0, 4)? as usize != zl.len() || zl[zl.len() - 1] != ZIPLIST_END {
        return Err(ziplist_corrupt());
    }
    let mut out = Vec::new();
    let mut p = ZIPLIST_HEADER;
    while get(p)? != ZIPLIST_END {
        // The previous entry's length: one byte, or 0xFE and four bytes.
        p += if get(p)? == 0xFE { 5 } else { 1 };
        let enc = get(p)?;
        let (header, len, int) = match enc >> 6 {
            0 => (1, usize::from(enc & 0x3F), None),
            1 => (2, (usize::from(enc & 0x3F) << 8) | usize::from(get(p + 1)?), None),
            2 => (5, u32::from_be_bytes([get(p + 1)?, get(p + 2)?, get(p + 3)?, get(p + 4)?]) as usize, None),
            _ => match enc {
                0xC0 => (1, 2, Some(le(p + 1, 2)? as u16 as i16 as i64)),
                0xD0 => (1, 4, Some(le(p + 1, 4)? as u32 as i32 as i64)),
                0xE0 => (1, 8, Some(le(p + 1, 8)? as i64)),
                0xF0 => (1, 3, Some(((le(p + 1, 3)? << 40) as i64) >> 40)),
                0xFE => (1, 1, Some(i64::from(get(p + 1)? as i8))),
                0xF1..=0xFD => (1, 0, Some(i64::from(enc & 0x0F) - 1)),
                _ => return Err(ziplist_corrupt()),
            },
        };
        let start = p + header;
        let end = start.checked_add(len).filter(|&e| e < zl.len()).ok_or_else(ziplist_corrupt)?;
        match int {
            Some(v) => {
                let mut digits = Vec::with_capacity(20);
                push_i64(&mut digits, v);
                out.push(digits);
            }
            None => out.push(zl[start..end].to_vec()),
        }
        p = end;
    }
    if p != zl.len() - 1 {
        return Err(ziplist_corrupt());
    }
    Ok(out)
}

fn zipmap_corrupt() -> RdbError {
    RdbError::corrupt("Zipmap integrity check failed.")
}

/// The field/value pairs of a zipmap, flattened.
pub fn zipmap_elements(zm: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    let get = |i: usize| zm.get(i).copied().ok_or_else(zipmap_corrupt);
    // A length: one byte under 254, or 254 and four little-endian bytes.
    let read_len = |p: usize| -> Result<(usize, usize), RdbError> {
        match get(p)? {
            254 => Ok((u32::from_le_bytes([get(p + 1)?, get(p + 2)?, get(p + 3)?, get(p + 4)?]) as usize, 5)),
            255 => Err(zipmap_corrupt()),
            n => Ok((usize::from(n), 1)),
        }
    };
    let mut out = Vec::new();
    let mut p = 1;
    while get(p)? != 255 {
        let (klen, n) = read_len(p)?;
        p += n;
        out.push(zm.get(p..p + klen).ok_or_else(zipmap_corrupt)?.to_vec());
        p += klen;
        let (vlen, n) = read_len(p)?;
        p += n;
        let free = usize::from(get(p)?);
        p += 1;
        out.push(zm.get(p..p + vlen).ok_or_else(zipmap_corrupt)?.to_vec());
        p += vlen + free;
    }
    if p != zm.len() - 1 {
        return Err(zipmap_corrupt());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ziplist_of_strings_and_integers() {
        // A ziplist Redis 6 wrote for RPUSH l a 5 300 hello.
        let mut zl = vec![0, 0, 0, 0, 0, 0, 0, 0, 4, 0];
        zl.extend_from_slice(&[0, 1, b'a']);
        zl.extend_from_slice(&[3, 0xF6]);
        zl.extend_from_slice(&[2, 0xC0, 0x2C, 0x01]);
        zl.extend_from_slice(&[4, 5, b'h', b'e', b'l', b'l', b'o']);
        zl.push(0xFF);
        let len = zl.len() as u32;
        zl[..4].copy_from_slice(&len.to_le_bytes());
        let got = ziplist_elements(&zl).unwrap();
        assert_eq!(got, vec![b"a".to_vec(), b"5".to_vec(), b"300".to_vec(), b"hello".to_vec()]);
        assert!(ziplist_elements(&zl[..zl.len() - 2]).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        let zm = [2, 1, b'f', 2, 0, b'v', b'1', 1, b'g', 1, 1, b'x', 0, 255];
        assert_eq!(zipmap_elements(&zm).unwrap(), vec![b"f".to_vec(), b"v1".to_vec(), b"g".to_vec(), b"x".to_vec()]);
    }
}
