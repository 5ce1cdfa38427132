//! LZF decompression, as Redis stores compressed strings in RDB files and
//! DUMP payloads. A pure function over bytes.

/// Expands `input` into exactly `expected_len` bytes; None if the input is
/// malformed or does not expand to that length.
pub fn decompress(input: &[u8], expected_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(expected_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let run = input.get(ip..ip + ctrl + 1)?;
            out.extend_from_slice(run);
            ip += ctrl + 1;
            continue;
        }
        // A back reference: length in the top 3 bits (7 = extended), offset
        // in the low 5 bits and the next byte.
        let mut len = ctrl >> 5;
        if len == 7 {
            len += usize::from(*input.get(ip)?);
            ip += 1;
        }
        let distance = ((ctrl & 0x1f) << 8) + usize::from(*input.get(ip)?) + 1;
        ip += 1;
        let start = out.len().checked_sub(distance)?;
        for i in 0..len + 2 {
            let b = out[start + i];
            out.push(b);
        }
    }
    (out.len() == expected_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::decompress;

    #[test]
    fn expands_literals_and_back_references() {
        // "abcabcabc": a literal "abc", then 6 bytes copied from 3 back.
        let compressed = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&compressed, 9).as_deref(), Some(&b"abcabcabc"[..]));
        assert_eq!(decompress(&compressed, 8), None);
        assert_eq!(decompress(&[0x20, 5], 2), None);
    }
}
