//! Randomised differential tests for hashes and sets: seeded streams of
//! writes that cross the encoding limits in both directions (small limits set
//! by CONFIG, long values, non-integer members) go to Cinnabar and to the real
//! redis-server, interleaved with reads whose replies do not depend on hash
//! table order (listpack and intset contents are ordered; table contents are
//! compared through digests, counts and OBJECT ENCODING). Every raw reply
//! must be identical.

mod common;

use common::{Kind, RawConn, ServerProcess};

/// Sends every command from `generate` to both servers and compares replies.
fn compare(seed: u64, commands: usize, mut generate: impl FnMut(&mut fastrand::Rng) -> Vec<String>) {
    let args = ["--enable-debug-command", "yes"];
    let ours = ServerProcess::start(Kind::Cinnabar, &args);
    let theirs = ServerProcess::start(Kind::Redis, &args);
    let (mut a, mut b): (RawConn, RawConn) = (ours.raw(), theirs.raw());
    for setup in [
        ["CONFIG", "SET", "hash-max-listpack-entries", "6"],
        ["CONFIG", "SET", "hash-max-listpack-value", "8"],
        ["CONFIG", "SET", "set-max-intset-entries", "6"],
    ] {
        let argv: Vec<&[u8]> = setup.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(a.call(&argv), b.call(&argv));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut mismatches = Vec::new();
    for _ in 0..commands {
        let argv = generate(&mut rng);
        let args: Vec<&[u8]> = argv.iter().map(String::as_bytes).collect();
        let (x, y) = (a.call(&args), b.call(&args));
        if x != y && mismatches.len() < 10 {
            mismatches.push(format!(
                "{argv:?}\n  cinnabar: {:?}\n  redis:    {:?}",
                String::from_utf8_lossy(&x),
                String::from_utf8_lossy(&y)
            ));
        }
    }
    assert!(mismatches.is_empty(), "seed {seed}:\n{}", mismatches.join("\n"));
}

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(..from.len())]
}

/// Fields, values and members: integers (some beyond 64 bits or not
/// canonical), short strings and strings past the listpack value limit.
fn element(rng: &mut fastrand::Rng) -> String {
    match rng.u8(0..5) {
        0 | 1 => rng.i64(-5..12).to_string(),
        2 => pick(rng, &["a", "b", "c", "01", "-0", "9223372036854775808", "-9223372036854775808"]).to_string(),
        3 => "x".repeat(rng.usize(6..11)),
        _ => format!("{}", rng.i64(..)),
    }
}

fn hash_command(rng: &mut fastrand::Rng) -> Vec<String> {
    let key = format!("h{}", rng.u8(0..3));
    let e = element;
    let mut argv: Vec<String> = match rng.u8(0..14) {
        0..=2 => {
            let mut v = vec!["HSET".into(), key];
            for _ in 0..rng.usize(1..4) {
                v.push(e(rng));
                v.push(e(rng));
            }
            v
        }
        3 => vec!["HSETNX".into(), key, e(rng), e(rng)],
        4 | 5 => vec!["HDEL".into(), key, e(rng), e(rng)],
        6 => vec!["HINCRBY".into(), key, e(rng), rng.i64(-3..4).to_string()],
        7 => vec!["HINCRBYFLOAT".into(), key, e(rng), pick(rng, &["0.5", "-1.25", "1e3", "x", "3"]).into()],
        8 => vec!["HGET".into(), key, e(rng)],
        9 => vec!["HMGET".into(), key, e(rng), e(rng)],
        10 => vec!["HSTRLEN".into(), key, e(rng)],
        11 => vec!["OBJECT".into(), "ENCODING".into(), key],
        12 => vec!["DEBUG".into(), "DIGEST-VALUE".into(), key],
        _ => vec![pick(rng, &["HLEN", "HEXISTS"]).into(), key],
    };
    if argv[0] == "HEXISTS" {
        argv.push(element(rng));
    }
    argv
}

fn set_command(rng: &mut fastrand::Rng) -> Vec<String> {
    let key = |rng: &mut fastrand::Rng| format!("s{}", rng.u8(0..4));
    let e = element;
    match rng.u8(0..15) {
        0..=2 => {
            let mut v = vec!["SADD".into(), key(rng)];
            v.extend((0..rng.usize(1..5)).map(|_| e(rng)));
            v
        }
        3 | 4 => vec!["SREM".into(), key(rng), e(rng), e(rng)],
        5 => vec!["SMOVE".into(), key(rng), key(rng), e(rng)],
        6 => vec![pick(rng, &["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]).into(), key(rng), key(rng), key(rng)],
        7 => vec!["SINTERCARD".into(), "2".into(), key(rng), key(rng)],
        8 => vec!["SISMEMBER".into(), key(rng), e(rng)],
        9 => vec!["SMISMEMBER".into(), key(rng), e(rng), e(rng)],
        10 => vec!["SCARD".into(), key(rng)],
        11 => vec!["OBJECT".into(), "ENCODING".into(), key(rng)],
        12 => vec!["DEBUG".into(), "DIGEST-VALUE".into(), key(rng)],
        13 => vec!["SCARD".into(), key(rng)],
        _ => vec!["DEBUG".into(), "DIGEST".into()],
    }
}

#[test]
fn random_hash_commands_match_redis() {
    for seed in 1..=3 {
        compare(seed, 1500, hash_command);
    }
}

#[test]
fn random_set_commands_match_redis() {
    for seed in 1..=3 {
        compare(seed, 1500, set_command);
    }
}
