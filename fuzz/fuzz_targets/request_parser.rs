//! Fuzzes the request parser: for any input, parsing it whole and parsing it
//! as it trickles in (split at points derived from the input) must give the
//! same commands and the same error, and no parse may claim more bytes than
//! it was given. Run: `cargo fuzz run request_parser` (see docs/operations.md).
#![no_main]

use cinnabar_protocol::request::parse_stream;
use cinnabar_protocol::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let limits = Limits { max_bulk_len: 1 << 20, auth_required: false };
    let step = usize::from(seed % 7) + 1;
    let mut ends: Vec<usize> = (step..input.len()).step_by(step).collect();
    ends.push(input.len());
    assert_eq!(parse_stream(input, &[input.len()], limits), parse_stream(input, &ends, limits));
});
