//! Stream behaviour a one-connection corpus cannot show, run against both
//! Cinnabar and the real redis-server with identical inputs: approximate
//! trimming (which depends on node boundaries) after many entries, with the
//! default and with small node sizes, consumer-group flows with two
//! consumers including claims of entries that went idle, and which UNLINKs
//! free a stream in the background.

mod common;

use common::{Kind, RawConn, ServerProcess};

/// Runs `script` (a list of commands) on a fresh server and returns every reply.
fn replies(kind: Kind, server_args: &[&str], script: &[Vec<String>]) -> Vec<Vec<u8>> {
    let server = ServerProcess::start(kind, server_args);
    let mut conn: RawConn = server.raw();
    script
        .iter()
        .map(|cmd| {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            if cmd[0] == "SLEEP" {
                std::thread::sleep(std::time::Duration::from_millis(cmd[1].parse().unwrap()));
                return Vec::new();
            }
            conn.call(&args)
        })
        .collect()
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn assert_same(server_args: &[&str], script: &[Vec<String>]) {
    let ours = replies(Kind::Cinnabar, server_args, script);
    let theirs = replies(Kind::Redis, server_args, script);
    for ((cmd, a), b) in script.iter().zip(&ours).zip(&theirs) {
        assert_eq!(String::from_utf8_lossy(a), String::from_utf8_lossy(b), "reply to {cmd:?} ({server_args:?})");
    }
}

/// 1000 entries of varied sizes, then approximate and exact trims, XDEL
/// holes, and XINFO's node counts.
fn trimming_script() -> Vec<Vec<String>> {
    let mut script = Vec::new();
    // Values cover listpack's encodings: integers of every width, short,
    // medium (>= 64 bytes) and long (>= 4096 bytes) strings.
    let numbers = ["-5000", "40000", "-9000000", "3000000000", "-1", "0123", "9223372036854775807"];
    for i in 1..=1000 {
        let value = match i % 50 {
            0 => "y".repeat(5000),
            7 | 19 => "z".repeat(70 + i % 200),
            n if n % 4 == 0 => numbers[i % numbers.len()].to_string(),
            _ => format!("{}{i}", "x".repeat(i % 37)),
        };
        let field = if i % 5 == 0 { "other" } else { "f" };
        script.push(words(&format!("XADD s {i}-{} {field} {value} n {i}", i % 3)));
    }
    // Every live entry of some nodes in the middle goes, dropping those nodes.
    let middle: Vec<String> = (300..420).map(|i| format!("{i}-{}", i % 3)).collect();
    script.push(words(&format!("XDEL s {}", middle.join(" "))));
    script.push(words("XINFO STREAM s"));
    for line in [
        "XDEL s 2-2 3-0 4-1 5-2 250-1",
        "XTRIM s MAXLEN ~ 990",
        "XLEN s",
        "XTRIM s MAXLEN ~ 555",
        "XLEN s",
        "XTRIM s MINID ~ 700",
        "XLEN s",
        "XTRIM s MAXLEN ~ 100 LIMIT 150",
        "XLEN s",
        "XADD s MAXLEN ~ 10 1001-0 f v",
        "XLEN s",
        "XDEL s 1001-0",
        "XINFO STREAM s",
        "XTRIM s MAXLEN = 5",
        "XLEN s",
        "XRANGE s - +",
        "XINFO STREAM s",
    ] {
        script.push(words(line));
    }
    script
}

#[test]
fn approximate_trimming_matches_redis_with_default_nodes() {
    assert_same(&[], &trimming_script());
}

#[test]
fn approximate_trimming_matches_redis_with_small_nodes() {
    assert_same(&["--stream-node-max-entries", "7", "--stream-node-max-bytes", "300"], &trimming_script());
}

#[test]
fn consumer_groups_with_two_consumers() {
    let mut script: Vec<Vec<String>> = Vec::new();
    for line in [
        "XADD s 1-0 k 1",
        "XADD s 2-0 k 2",
        "XADD s 3-0 k 3",
        "XADD s 4-0 k 4",
        "XADD s 5-0 k 5",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
        "XREADGROUP GROUP g bob COUNT 2 STREAMS s >",
        "XPENDING s g",
        "XACK s g 1-0 3-0",
        "XPENDING s g",
        "SLEEP 60",
        "XADD s 6-0 k 6",
        "XREADGROUP GROUP g bob STREAMS s >",
        "XCLAIM s g bob 50 2-0 JUSTID",
        "XCLAIM s g bob 50 6-0 JUSTID",
        "XPENDING s g",
        "XAUTOCLAIM s g alice 50 0 COUNT 1",
        "XAUTOCLAIM s g alice 50 0 JUSTID",
        "XPENDING s g",
        "XDEL s 4-0",
        "XAUTOCLAIM s g alice 0 0 JUSTID",
        "XACK s g 2-0 5-0 6-0",
        "XPENDING s g",
        "XINFO GROUPS s",
        "XGROUP DELCONSUMER s g alice",
        "XGROUP DELCONSUMER s g bob",
        "XPENDING s g",
    ] {
        script.push(words(line));
    }
    assert_same(&[], &script);
}

/// INFO's `lazyfreed_objects` once background frees are done.
fn lazyfreed_after_unlinks(kind: Kind, entries: usize) -> String {
    let server = ServerProcess::start(kind, &[]);
    let mut conn = server.raw();
    for i in 1..=entries {
        let id = format!("{i}-0");
        conn.send_command(&[b"XADD", b"big", id.as_bytes(), b"f", b"v"]);
    }
    (0..entries).for_each(|_| drop(conn.read_reply()));
    conn.cmd(&["XADD", "small", "1-0", "f", "v"]);
    conn.cmd(&["UNLINK", "big", "small"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let info = conn.cmd(&["INFO", "memory"]);
        let line = |name: &str| info.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
        if line("lazyfree_pending_objects:") == "lazyfree_pending_objects:0" || std::time::Instant::now() > deadline {
            return line("lazyfreed_objects:");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A stream's free effort counts its radix tree nodes as Redis does: with
/// 3000 entries (30 listpacks but over 64 tree nodes) the stream is freed in
/// the background, with 1000 inline, and a one-entry stream always inline.
#[test]
fn unlink_frees_large_streams_in_the_background_like_redis() {
    for entries in [6000, 3000, 1000] {
        let ours = lazyfreed_after_unlinks(Kind::Cinnabar, entries);
        assert_eq!(ours, lazyfreed_after_unlinks(Kind::Redis, entries), "{entries} entries");
    }
}

/// A small deterministic generator (xorshift), so the random scenario is
/// the same on every run and on both servers.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Random stream commands with explicit IDs (no generated IDs, no idle
/// times), so both servers must agree on every reply.
fn random_script(seed: u64, steps: usize) -> Vec<Vec<String>> {
    let mut rng = Rng(seed);
    let mut top = 1u64;
    let mut script = Vec::new();
    for _ in 0..steps {
        let id = |rng: &mut Rng, top: u64| format!("{}-{}", rng.below(top + 3), rng.below(4));
        let key = rng.pick(&["s", "s", "t"]);
        let group = rng.pick(&["g1", "g2", "nog"]);
        let consumer = rng.pick(&["c1", "c2", "c3"]);
        let line = match rng.below(20) {
            0..=5 => {
                top += rng.below(3);
                let new_id = match rng.below(3) {
                    0 => format!("{top}-{}", rng.below(4)),
                    1 => format!("{top}-*"),
                    _ => id(&mut rng, top),
                };
                let trim = match rng.below(6) {
                    0 => format!("MAXLEN ~ {}", rng.below(30)),
                    1 => format!("MAXLEN {}", rng.below(30)),
                    2 => format!("MINID ~ {}", id(&mut rng, top)),
                    3 => format!("MAXLEN ~ {} LIMIT {}", rng.below(30), rng.below(20)),
                    _ => String::new(),
                };
                format!("XADD {key} {trim} {new_id} {}", rng.pick(&["f v", "f 1 g 2", "x -100"]))
            }
            6 => format!("XDEL {key} {} {}", id(&mut rng, top), id(&mut rng, top)),
            7 => format!("XTRIM {key} {} {}", rng.pick(&["MAXLEN ~", "MAXLEN", "MAXLEN ="]), rng.below(30)),
            8 => format!("XTRIM {key} {} {}", rng.pick(&["MINID ~", "MINID"]), id(&mut rng, top)),
            9 => format!("XRANGE {key} ({} + COUNT {}", id(&mut rng, top), rng.below(5)),
            10 => format!("XREVRANGE {key} + {}", id(&mut rng, top)),
            11 => format!("XGROUP CREATE {key} {group} {} {}", rng.pick(&["0", "$"]), rng.pick(&["", "MKSTREAM"])),
            12 | 13 => format!(
                "XREADGROUP GROUP {group} {consumer} COUNT {} {} STREAMS {key} {}",
                1 + rng.below(4),
                rng.pick(&["", "NOACK"]),
                rng.pick(&[">", ">", "0"])
            ),
            14 => format!("XACK {key} {group} {} {}", id(&mut rng, top), id(&mut rng, top)),
            15 => format!("XINFO GROUPS {key}"),
            16 => format!("XCLAIM {key} {group} {consumer} 0 {} {} JUSTID", id(&mut rng, top), id(&mut rng, top)),
            17 => format!("XAUTOCLAIM {key} {group} {consumer} 0 0 COUNT {} JUSTID", 1 + rng.below(5)),
            18 => format!("XGROUP SETID {key} {group} {} ENTRIESREAD {}", id(&mut rng, top), rng.below(12) as i64 - 1),
            _ => format!("XINFO STREAM {key}"),
        };
        script.push(words(&line));
    }
    script
}

#[test]
fn random_stream_commands_match_redis() {
    for seed in [7, 1234567] {
        assert_same(&[], &random_script(seed, 600));
        assert_same(&["--stream-node-max-entries", "4", "--stream-node-max-bytes", "120"], &random_script(seed, 600));
    }
}
