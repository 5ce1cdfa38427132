//! Randomised differential tests for the string and bitmap families: seeded
//! streams of commands with awkward arguments (negative and out-of-range
//! indexes, every BITFIELD width and overflow mode, floats in many notations,
//! clashing SET/GETEX options) go to Cinnabar and to the real redis-server,
//! and every raw reply must be identical. Expiry arguments are chosen so that
//! no reply depends on when a command runs.

mod common;

use common::{Kind, RawConn, ServerProcess};

/// Sends every command from `generate` to both servers and compares replies.
fn compare(seed: u64, commands: usize, mut generate: impl FnMut(&mut fastrand::Rng) -> Vec<Vec<u8>>) {
    let ours = ServerProcess::start(Kind::Cinnabar, &[]);
    let theirs = ServerProcess::start(Kind::Redis, &[]);
    let (mut a, mut b): (RawConn, RawConn) = (ours.raw(), theirs.raw());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut mismatches = Vec::new();
    for _ in 0..commands {
        let argv = generate(&mut rng);
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let (x, y) = (a.call(&args), b.call(&args));
        if x != y && mismatches.len() < 10 {
            mismatches.push(format!(
                "{:?}\n  cinnabar: {:?}\n  redis:    {:?}",
                args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>(),
                String::from_utf8_lossy(&x),
                String::from_utf8_lossy(&y)
            ));
        }
    }
    assert!(mismatches.is_empty(), "seed {seed}:\n{}", mismatches.join("\n"));
}

fn words(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn key(rng: &mut fastrand::Rng) -> String {
    format!("k{}", rng.u8(0..4))
}

fn index(rng: &mut fastrand::Rng) -> String {
    rng.i64(-40..=40).to_string()
}

fn blob(rng: &mut fastrand::Rng) -> Vec<u8> {
    let alphabet = b"ab\x00\xff\x0f1";
    (0..rng.usize(0..12)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect()
}

fn float_text(rng: &mut fastrand::Rng) -> String {
    match rng.u8(0..6) {
        0 => rng.i64(-100..=100).to_string(),
        1 => format!("{:.*}", rng.usize(0..20), (rng.f64() - 0.5) * 2e6),
        2 => format!("{}e{}", rng.i64(-99..=99), rng.i64(-30..=30)),
        3 => format!("{}", rng.f64() - 0.5),
        4 => ["1e300", "-1e300", "0.1", "0.2", "0.3", "3.0", "9223372036854775808", "5.0e3", "1e+20"][rng.usize(..9)]
            .to_string(),
        _ => ["abc", "", " 1", "1 ", "nan", "inf", "0x10"][rng.usize(..7)].to_string(),
    }
}

fn integer_text(rng: &mut fastrand::Rng) -> String {
    match rng.u8(0..4) {
        0 => rng.i64(-300..=300).to_string(),
        1 => rng.i64(..).to_string(),
        2 => ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "01", "+1", "1.0", ""]
            [rng.usize(..7)]
        .to_string(),
        _ => rng.i64(-1000..=1000).to_string(),
    }
}

#[test]
fn bitmaps_and_ranges_match_redis() {
    compare(1, 6000, |rng| {
        let k = key(rng);
        match rng.u8(0..10) {
            0 => words(&["INCRBYFLOAT", &k, &float_text(rng)]),
            1 => {
                let mut v = words(&["SET", &k]);
                v.push(if rng.bool() { float_text(rng).into_bytes() } else { blob(rng) });
                v
            }
            2 => {
                let unit: &[&str] = [&[][..], &["BIT"], &["BYTE"]][rng.usize(..3)];
                let mut v = words(&["BITCOUNT", &k, &index(rng), &index(rng)]);
                v.extend(words(unit));
                v
            }
            3 => {
                let (s, e) = (index(rng), index(rng));
                let tail: Vec<&str> = match rng.u8(0..5) {
                    0 => vec![],
                    1 => vec![&s],
                    2 => vec![&s, &e],
                    3 => vec![&s, &e, "BIT"],
                    _ => vec![&s, &e, "BYTE"],
                };
                let mut v = words(&["BITPOS", &k, if rng.bool() { "1" } else { "0" }]);
                v.extend(words(&tail));
                v
            }
            4 => words(&["GETRANGE", &k, &index(rng), &index(rng)]),
            5 => {
                let mut v = words(&["SETRANGE", &k, &rng.u8(0..20).to_string()]);
                v.push(blob(rng));
                v
            }
            6 => {
                let opts: &[&str] =
                    [&[][..], &["LEN"], &["IDX"], &["IDX", "WITHMATCHLEN", "MINMATCHLEN", "2"]][rng.usize(..4)];
                let mut v = words(&["LCS", &k, &key(rng)]);
                v.extend(words(opts));
                v
            }
            7 => words(&["SETBIT", &k, &rng.u8(0..100).to_string(), if rng.bool() { "1" } else { "0" }]),
            8 => words(&["BITOP", ["AND", "OR", "XOR"][rng.usize(..3)], &k, "k1", "k2", "k3"]),
            _ => {
                let mut v = words(&["BITFIELD", &k]);
                for _ in 0..rng.usize(1..5) {
                    let ty = format!("{}{}", if rng.bool() { "i" } else { "u" }, rng.u8(1..=64));
                    let offset = if rng.bool() { rng.u8(0..80).to_string() } else { format!("#{}", rng.u8(0..6)) };
                    match rng.u8(0..10) {
                        0..=2 => v.extend(words(&["GET", &ty, &offset])),
                        3..=5 => v.extend(words(&["SET", &ty, &offset, &integer_text(rng)])),
                        6..=8 => v.extend(words(&["INCRBY", &ty, &offset, &integer_text(rng)])),
                        _ => v.extend(words(&["OVERFLOW", ["WRAP", "SAT", "FAIL"][rng.usize(..3)]])),
                    }
                }
                v
            }
        }
    });
}

#[test]
fn set_and_getex_options_match_redis() {
    const OPTIONS: &[&str] =
        &["NX", "XX", "GET", "KEEPTTL", "PERSIST", "EX", "PX", "EXAT", "PXAT", "nx", "get", "ex", "bogus"];
    // No value here makes a key expire while the test runs: far future, past, or invalid.
    const VALUES: &[&str] = &["100", "0", "-1", "abc", "99999999999", "99999999999999", "9223372036854775807", "1.5"];
    compare(2, 4000, |rng| {
        let k = key(rng);
        let mut opts = Vec::new();
        for _ in 0..rng.usize(0..5) {
            opts.push(OPTIONS[rng.usize(..OPTIONS.len())]);
            if rng.bool() {
                opts.push(VALUES[rng.usize(..VALUES.len())]);
            }
        }
        let mut v = match rng.u8(0..10) {
            0..=4 => words(&["SET", &k, if rng.bool() { "v" } else { "12" }]),
            5..=7 => words(&["GETEX", &k]),
            8 => return words(&[["SETEX", "PSETEX"][rng.usize(..2)], &k, VALUES[rng.usize(..VALUES.len())], "v"]),
            _ => return words(&["GETDEL", &k]),
        };
        v.extend(words(&opts));
        v
    });
}

#[test]
fn counters_and_multi_key_writes_match_redis() {
    compare(3, 6000, |rng| {
        let k = key(rng);
        let pairs = |rng: &mut fastrand::Rng| {
            let mut v = Vec::new();
            for _ in 0..rng.usize(1..4) {
                v.extend(words(&[&format!("k{}", rng.u8(0..6)), &integer_text(rng)]));
            }
            v
        };
        match rng.u8(0..14) {
            0 => words(&["INCR", &k]),
            1 => words(&["DECR", &k]),
            2 => words(&["INCRBY", &k, &integer_text(rng)]),
            3 => words(&["DECRBY", &k, &integer_text(rng)]),
            4 => words(&["APPEND", &k, ["1", "a", "", "-", "0"][rng.usize(..5)]]),
            5 => words(&["STRLEN", &k]),
            6 => words(&["SUBSTR", &k, &rng.i64(-5..=5).to_string(), &rng.i64(-5..=5).to_string()]),
            7 => [words(&["MSETNX"]), pairs(rng)].concat(),
            8 => [words(&["MSET"]), pairs(rng)].concat(),
            9 => words(&["GETSET", &k, &integer_text(rng)]),
            10 => words(&["GETDEL", &k]),
            11 => words(&["OBJECT", ["ENCODING", "REFCOUNT"][rng.usize(..2)], &k]),
            12 => words(&["MGET", &k, "k4", "k5"]),
            _ => words(&["INCRBYFLOAT", &k, &integer_text(rng)]),
        }
    });
}
