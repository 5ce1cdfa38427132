//! Fuzzes the request parser: for any input, parsing it whole and parsing it
//! as it trickles in (split at points derived from the input) must give the
//! same commands and the same error, and no parse may claim more bytes than
//! it was given. Run: `cargo fuzz run request_parser` (see docs/operations.md).
#![no_main]

use cinnabar_protocol::{Limits, ParseError, RequestParser};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<Vec<u8>>>, Result<usize, ParseError>);

fn parse(input: &[u8], ends: &[usize]) -> Outcome {
    let limits = Limits { max_bulk_len: 1 << 20, auth_required: false };
    let mut parser = RequestParser::new();
    let mut commands = Vec::new();
    let mut start = 0;
    for &end in ends {
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

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let step = usize::from(seed % 7) + 1;
    let mut ends: Vec<usize> = (step..input.len()).step_by(step).collect();
    ends.push(input.len());
    assert_eq!(parse(input, &[input.len()]), parse(input, &ends));
});
