//! Sorted sets at scale against the real redis-server: a 100k-member set
//! built with the same random scores on both servers (so the large encoding
//! is exercised through many tree splits), then samples of ZRANGE, ZRANK,
//! ZCOUNT, ZRANGEBYSCORE and friends compared byte for byte; plus a seeded
//! stream of mixed writes and reads on small and converting sets.

mod common;

use common::{Kind, RawConn, ServerProcess};

/// Sends `argv` to both servers; returns a description if the replies differ.
fn both(a: &mut RawConn, b: &mut RawConn, argv: &[Vec<u8>]) -> Option<String> {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let (x, y) = (a.call(&args), b.call(&args));
    (x != y).then(|| {
        format!(
            "{:?}\n  cinnabar: {:?}\n  redis:    {:?}",
            args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>(),
            String::from_utf8_lossy(&x[..x.len().min(300)]),
            String::from_utf8_lossy(&y[..y.len().min(300)])
        )
    })
}

fn words(parts: &[String]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn score_text(rng: &mut fastrand::Rng) -> String {
    match rng.u8(0..4) {
        0 => rng.i64(-1000..1000).to_string(),
        1 => format!("{}", (rng.f64() - 0.5) * 1e6),
        2 => format!("{}", rng.i64(-50..50) as f64 / 4.0),
        _ => format!("{}e{}", rng.i64(-9..9), rng.i64(-5..5)),
    }
}

#[test]
fn large_zset_queries_match_redis() {
    let ours = ServerProcess::start(Kind::Cinnabar, &[]);
    let theirs = ServerProcess::start(Kind::Redis, &[]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let mut rng = fastrand::Rng::with_seed(7);
    const MEMBERS: usize = 100_000;
    let mut mismatches = Vec::new();
    for chunk in 0..MEMBERS / 1000 {
        let mut argv = vec!["ZADD".to_string(), "big".to_string()];
        for i in 0..1000 {
            argv.push(score_text(&mut rng));
            argv.push(format!("m{}", chunk * 1000 + i));
        }
        mismatches.extend(both(&mut a, &mut b, &words(&argv)));
    }
    mismatches.extend(both(&mut a, &mut b, &words(&["ZCARD".into(), "big".into()])));
    mismatches.extend(both(&mut a, &mut b, &words(&["OBJECT".into(), "ENCODING".into(), "big".into()])));
    for _ in 0..400 {
        let n = MEMBERS as i64;
        let start = rng.i64(-n - 10..n + 10);
        let stop = start + rng.i64(-5..40);
        let (lo, hi) = (score_text(&mut rng), score_text(&mut rng));
        let ex = |s: &str, rng: &mut fastrand::Rng| if rng.bool() { format!("({s}") } else { s.to_string() };
        let (lo, hi) = (ex(&lo, &mut rng), ex(&hi, &mut rng));
        let member = format!("m{}", rng.usize(0..MEMBERS + 10));
        let cmd: Vec<String> = match rng.u8(0..9) {
            0 => vec!["ZRANGE".into(), "big".into(), start.to_string(), stop.to_string(), "WITHSCORES".into()],
            1 => vec!["ZRANGE".into(), "big".into(), start.to_string(), stop.to_string(), "REV".into()],
            2 => vec!["ZRANK".into(), "big".into(), member],
            3 => vec!["ZREVRANK".into(), "big".into(), member],
            4 => vec!["ZCOUNT".into(), "big".into(), lo, hi],
            5 => vec![
                "ZRANGEBYSCORE".into(),
                "big".into(),
                lo,
                hi,
                "LIMIT".into(),
                rng.i64(0..50).to_string(),
                "20".into(),
            ],
            6 => vec![
                "ZREVRANGEBYSCORE".into(),
                "big".into(),
                hi,
                lo,
                "WITHSCORES".into(),
                "LIMIT".into(),
                "3".into(),
                "15".into(),
            ],
            7 => vec!["ZSCORE".into(), "big".into(), member],
            _ => vec!["ZREM".into(), "big".into(), member],
        };
        mismatches.extend(both(&mut a, &mut b, &words(&cmd)));
    }
    for _ in 0..20 {
        let start = rng.i64(0..90_000).to_string();
        let stop = rng.i64(90_000..100_000).to_string();
        let cmd = [
            "ZREMRANGEBYRANK".to_string(),
            "big".into(),
            start.clone(),
            (start.parse::<i64>().unwrap() + 30).to_string(),
        ];
        mismatches.extend(both(&mut a, &mut b, &words(&cmd)));
        let cmd = ["ZRANGE".to_string(), "big".into(), start, stop, "LIMIT".into(), "0".into(), "1".into()];
        mismatches.extend(both(&mut a, &mut b, &words(&cmd)));
    }
    mismatches.extend(both(
        &mut a,
        &mut b,
        &words(&["ZRANGE".into(), "big".into(), "0".into(), "-1".into(), "WITHSCORES".into()]),
    ));
    mismatches.truncate(10);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn random_small_set_commands_match_redis() {
    let ours =
        ServerProcess::start(Kind::Cinnabar, &["--zset-max-listpack-entries", "16", "--enable-debug-command", "yes"]);
    let theirs =
        ServerProcess::start(Kind::Redis, &["--zset-max-listpack-entries", "16", "--enable-debug-command", "yes"]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let mut rng = fastrand::Rng::with_seed(11);
    let mut mismatches = Vec::new();
    for _ in 0..3000 {
        let key = format!("z{}", rng.u8(0..3));
        let member = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s"]
            [rng.usize(..19)]
        .to_string();
        let bound = |rng: &mut fastrand::Rng| ["-", "+", "[c", "(c", "[k", "(m", "[", "(a"][rng.usize(..8)].to_string();
        let cmd: Vec<String> = match rng.u8(0..12) {
            0..=3 => vec!["ZADD".into(), key, score_text(&mut rng), member],
            4 => vec!["ZINCRBY".into(), key, score_text(&mut rng), member],
            5 => vec!["ZREM".into(), key, member],
            6 => vec!["ZRANGE".into(), key, "0".into(), "-1".into(), "WITHSCORES".into()],
            7 => vec!["ZRANK".into(), key, member],
            8 => vec!["ZPOPMIN".into(), key, rng.u8(0..3).to_string()],
            9 => vec!["OBJECT".into(), "ENCODING".into(), key],
            10 => {
                vec!["ZUNIONSTORE".into(), "u".into(), "2".into(), key, "z0".into(), "AGGREGATE".into(), "MAX".into()]
            }
            _ => {
                let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                let key = "lex".to_string();
                mismatches.extend(both(&mut a, &mut b, &words(&["ZADD".into(), key.clone(), "0".into(), member])));
                vec!["ZRANGEBYLEX".into(), key, lo, hi]
            }
        };
        mismatches.extend(both(&mut a, &mut b, &words(&cmd)));
    }
    let digest = words(&["DEBUG".into(), "DIGEST".into()]);
    let (x, y) = (a.call(&[&digest[0], &digest[1]]), b.call(&[&digest[0], &digest[1]]));
    assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y), "dataset digests differ");
    mismatches.truncate(10);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
