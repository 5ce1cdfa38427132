//! HyperLogLog behaviour too big for the one-connection corpus: 100k elements
//! added in batches to Cinnabar and to the real redis-server, whose counts and
//! raw string values (sparse, then dense) must stay byte-identical; the
//! `hll-sparse-max-bytes` directive moving the promotion point; unions of many
//! large HLLs; and PFSELFTEST.

mod common;

use common::ServerProcess;

const ELEMENTS: usize = 100_000;
const BATCH: usize = 500;

fn pfadd(con: &mut redis::Connection, key: &str, elements: &[String]) -> i64 {
    redis::cmd("PFADD").arg(key).arg(elements).query(con).expect("PFADD")
}

fn pfcount(con: &mut redis::Connection, keys: &[&str]) -> i64 {
    redis::cmd("PFCOUNT").arg(keys).query(con).expect("PFCOUNT")
}

fn get(con: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET").arg(key).query(con).expect("GET")
}

fn encoding(con: &mut redis::Connection, key: &str) -> String {
    redis::cmd("PFDEBUG").arg("ENCODING").arg(key).query(con).expect("PFDEBUG ENCODING")
}

/// Both servers, started with the same arguments, with a connection each.
struct Pair {
    _servers: [ServerProcess; 2],
    cons: [redis::Connection; 2],
}

impl Pair {
    fn start(args: &[&str]) -> Pair {
        let servers = [ServerProcess::cinnabar(args), ServerProcess::redis(args)];
        let cons = [servers[0].client(), servers[1].client()];
        Pair { _servers: servers, cons }
    }

    /// Runs `f` on both servers and asserts the results are equal.
    fn same<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, f: impl Fn(&mut redis::Connection) -> T) -> T {
        let [cinnabar, redis] = &mut self.cons;
        let ours = f(cinnabar);
        let theirs = f(redis);
        assert_eq!(ours, theirs, "{what}: Cinnabar (left) differs from redis-server (right)");
        ours
    }
}

fn batch(prefix: &str, start: usize, len: usize) -> Vec<String> {
    (start..start + len).map(|i| format!("{prefix}:{i}")).collect()
}

#[test]
fn hundred_thousand_elements_count_and_encode_like_redis() {
    let mut pair = Pair::start(&[]);
    let mut saw_sparse = false;
    for start in (0..ELEMENTS).step_by(BATCH) {
        let elements = batch("user", start, BATCH);
        pair.same("PFADD", |c| pfadd(c, "visitors", &elements));
        // Every few batches, and always while sparse: the estimate, then the
        // bytes with the cache it wrote back.
        if start % (BATCH * 20) == 0 || !saw_sparse {
            let enc = pair.same("PFDEBUG ENCODING", |c| encoding(c, "visitors"));
            saw_sparse |= enc == "sparse";
            pair.same("PFCOUNT", |c| pfcount(c, &["visitors"]));
            pair.same("GET", |c| get(c, "visitors"));
        }
    }
    assert!(saw_sparse, "the first batch should stay sparse");
    assert_eq!(pair.same("PFDEBUG ENCODING", |c| encoding(c, "visitors")), "dense");
    let count = pair.same("PFCOUNT", |c| pfcount(c, &["visitors"]));
    assert!((98_000..=102_000).contains(&count), "estimate {count} for {ELEMENTS}");
    pair.same("GET", |c| get(c, "visitors"));

    // Re-adding known elements changes nothing and keeps the cache valid.
    let again = batch("user", 0, BATCH);
    assert_eq!(pair.same("PFADD", |c| pfadd(c, "visitors", &again)), 0);
    pair.same("GET", |c| get(c, "visitors"));

    // Unions: a sparse and a dense source into a missing destination, and
    // the count of several keys (computed in a temporary, nothing written).
    let few = batch("other", 0, 300);
    pair.same("PFADD", |c| pfadd(c, "few", &few));
    pair.same("PFCOUNT many", |c| pfcount(c, &["visitors", "few", "missing"]));
    pair.same("PFMERGE", |c| {
        redis::cmd("PFMERGE").arg(&["merged", "few", "visitors"]).query::<String>(c).expect("PFMERGE")
    });
    pair.same("GET merged", |c| get(c, "merged"));
    pair.same("PFCOUNT merged", |c| pfcount(c, &["merged"]));
    pair.same("GET few", |c| get(c, "few"));
}

#[test]
fn the_sparse_limit_moves_the_promotion_point() {
    let mut pair = Pair::start(&["--hll-sparse-max-bytes", "60"]);
    for i in 0..40 {
        let element = vec![format!("e{i}")];
        pair.same("PFADD", |c| pfadd(c, "small", &element));
        pair.same("GET", |c| get(c, "small"));
    }
    assert_eq!(pair.same("PFDEBUG ENCODING", |c| encoding(c, "small")), "dense");
    pair.same("PFCOUNT", |c| pfcount(c, &["small"]));

    // PFMERGE into an existing sparse destination goes through the same
    // register-by-register edits and promotes at the same point.
    let some = batch("x", 0, 10);
    pair.same("PFADD", |c| pfadd(c, "dest", &some));
    let more = batch("y", 0, 30);
    pair.same("PFADD", |c| pfadd(c, "src", &more));
    pair.same("PFMERGE", |c| redis::cmd("PFMERGE").arg(&["dest", "src"]).query::<String>(c).expect("PFMERGE"));
    pair.same("GET dest", |c| get(c, "dest"));
}

#[test]
fn selftest_passes() {
    let server = ServerProcess::cinnabar(&[]);
    let mut con = server.client();
    let reply: String = redis::cmd("PFSELFTEST").query(&mut con).expect("PFSELFTEST");
    assert_eq!(reply, "OK");
}
