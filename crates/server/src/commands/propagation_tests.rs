//! What the command families put into the replication stream: effects
//! rather than the commands as sent (Redis 7.0's rewrites).

use std::cell::RefCell;
use std::rc::Rc;

use crate::client::Client;
use crate::command::dispatch;
use crate::config::Config;
use crate::propagate::StreamSink;
use crate::server::Server;

struct Recorder(Rc<RefCell<Vec<u8>>>);

impl StreamSink for Recorder {
    fn append(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().extend_from_slice(bytes);
    }
}

/// A server with a recording replication sink and one client.
struct Harness {
    srv: Server,
    client: Client,
    stream: Rc<RefCell<Vec<u8>>>,
}

impl Harness {
    fn new(configure: impl FnOnce(&mut Config)) -> Harness {
        let mut config = Config::new();
        configure(&mut config);
        let mut srv = Server::new(config);
        let stream = Rc::new(RefCell::new(Vec::new()));
        srv.propagation.attach(Box::new(Recorder(stream.clone())));
        let mut client = Client::new(1, String::new(), String::new(), -1, 0);
        client.authenticated = true;
        Harness { srv, client, stream }
    }

    /// Runs one command given as space-separated words.
    fn run(&mut self, command: &str) {
        let argv: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
        dispatch::execute(&mut self.srv, &mut self.client, &argv);
    }

    /// The stream so far, one line per command, arguments separated by spaces.
    fn lines(&self) -> Vec<String> {
        decode(&self.stream.borrow())
    }
}

/// Runs `commands` on a fresh server configured by `configure` and returns
/// what it propagated.
fn propagated(configure: impl FnOnce(&mut Config), commands: &[&str]) -> Vec<String> {
    let mut harness = Harness::new(configure);
    commands.iter().for_each(|c| harness.run(c));
    harness.lines()
}

/// Turns a RESP stream of commands back into lines.
fn decode(mut bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let next_line = |bytes: &mut &[u8]| -> String {
        let end = bytes.windows(2).position(|w| w == b"\r\n").expect("CRLF");
        let line = String::from_utf8_lossy(&bytes[..end]).into_owned();
        *bytes = &bytes[end + 2..];
        line
    };
    while !bytes.is_empty() {
        let count: usize = next_line(&mut bytes)[1..].parse().expect("array length");
        let args: Vec<String> = (0..count)
            .map(|_| {
                next_line(&mut bytes);
                next_line(&mut bytes)
            })
            .collect();
        lines.push(args.join(" "));
    }
    lines
}

fn defaults(_: &mut Config) {}

#[test]
fn relative_expires_become_pexpireat_with_options_kept() {
    let lines = propagated(defaults, &["SET k v", "EXPIRE k 100 NX", "PEXPIRE k 5000", "EXPIREAT k 4000000000"]);
    assert_eq!(lines[..2], ["SELECT 0", "SET k v"]);
    let at: Vec<(&str, i64, &str)> = lines[2..]
        .iter()
        .map(|l| {
            let parts: Vec<&str> = l.splitn(4, ' ').collect();
            (parts[0], parts[2].parse().expect("absolute ms"), parts.get(3).copied().unwrap_or(""))
        })
        .collect();
    let now = crate::server::unix_ms();
    assert_eq!((at[0].0, at[0].2), ("PEXPIREAT", "NX"));
    assert!((now + 90_000..=now + 100_000).contains(&at[0].1), "{lines:?}");
    assert!((now..=now + 5_000).contains(&at[1].1), "{lines:?}");
    assert_eq!(lines[4], "PEXPIREAT k 4000000000000");
}

#[test]
fn pexpireat_and_refused_expires_propagate_as_sent_or_not_at_all() {
    let lines =
        propagated(defaults, &["SET k v", "PEXPIREAT k 40000000000000 GT", "EXPIRE k 10 XX", "EXPIRE nokey 10"]);
    assert_eq!(lines, ["SELECT 0", "SET k v"]);
    let lines = propagated(defaults, &["SET k v", "PEXPIREAT k 40000000000000 LT"]);
    assert_eq!(lines, ["SELECT 0", "SET k v", "PEXPIREAT k 40000000000000 LT"]);
}

#[test]
fn an_expire_in_the_past_propagates_the_deletion() {
    let lines = propagated(defaults, &["SET k v", "EXPIRE k -1"]);
    assert_eq!(lines, ["SELECT 0", "SET k v", "DEL k"]);
    let lines = propagated(|c| c.lazyfree_lazy_expire = true, &["SET k v", "PEXPIREAT k 1"]);
    assert_eq!(lines, ["SELECT 0", "SET k v", "UNLINK k"]);
}

#[test]
fn flushes_propagate_even_when_empty() {
    let lines = propagated(defaults, &["FLUSHALL", "FLUSHDB ASYNC", "DEL nokey", "SWAPDB 0 1"]);
    assert_eq!(lines, ["SELECT 0", "FLUSHALL", "FLUSHDB ASYNC", "SWAPDB 0 1"]);
}

#[test]
fn keys_expired_on_access_propagate_del_or_unlink() {
    for (lazy, verb) in [(false, "DEL"), (true, "UNLINK")] {
        let mut harness = Harness::new(|c| c.lazyfree_lazy_expire = lazy);
        harness.run("SET k v");
        harness.run("PEXPIRE k 1");
        std::thread::sleep(std::time::Duration::from_millis(5));
        harness.run("GET k");
        assert_eq!(harness.lines().last().map(String::as_str), Some(format!("{verb} k").as_str()));
        assert_eq!(harness.srv.stats.expired_keys, 1);
    }
}

#[test]
fn hyperloglog_cache_refreshes_and_conversions_propagate_as_sent() {
    // The same stream redis-server 7.0.15 writes to its AOF for these commands.
    let lines = propagated(
        defaults,
        &[
            "PFADD h a b c",
            "PFCOUNT h",
            "PFCOUNT h",
            "PFCOUNT h h2",
            "PFADD h a",
            "PFDEBUG TODENSE h",
            "PFDEBUG TODENSE h",
            "PFADD h2",
            "PFDEBUG GETREG h2",
            "PFDEBUG GETREG h2",
            "PFMERGE h3",
        ],
    );
    assert_eq!(
        lines,
        ["SELECT 0", "PFADD h a b c", "PFCOUNT h", "PFDEBUG TODENSE h", "PFADD h2", "PFDEBUG GETREG h2", "PFMERGE h3"]
    );
}

/// Replaces millisecond times with `T` (and generated IDs with `T-n`) so
/// lines compare across runs.
fn mask_times(lines: Vec<String>) -> Vec<String> {
    let mask = |w: &str| match w.split_once('-') {
        _ if w.len() == 13 && w.bytes().all(|b| b.is_ascii_digit()) => "T".to_string(),
        Some((ms, _)) if ms.len() == 13 && ms.bytes().all(|b| b.is_ascii_digit()) => "T-n".to_string(),
        _ => w.to_string(),
    };
    lines.into_iter().map(|l| l.split(' ').map(mask).collect::<Vec<_>>().join(" ")).collect()
}

/// The stream Redis 7.0.15 wrote to its AOF for the same commands.
#[test]
fn stream_writes_propagate_ids_exact_trims_and_group_effects() {
    let lines = propagated(
        defaults,
        &[
            "XADD s 1-0 a 1",
            "XADD s 1-* a 2",
            "XADD s MINID ~ 0 2-0 a 3",
            "XTRIM s MAXLEN ~ 0",
            "XTRIM s MAXLEN 0",
            "XADD s 5-0 a 5",
            "XADD s 6-0 a 6",
            "XADD s 7-0 a 7",
            "XGROUP CREATE s g 0",
            "XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
            "XREADGROUP GROUP g c2 NOACK COUNT 1 STREAMS s >",
            "XREADGROUP GROUP g c1 STREAMS s 0",
            "XDEL s 5-0",
            "XCLAIM s g c3 0 5-0",
            "XREADGROUP GROUP g c1 STREAMS s >",
            "XCLAIM s g c3 0 7-0 LASTID 100-0",
            "XCLAIM s g c3 0 1-0 LASTID 200-0",
            "XAUTOCLAIM s g c4 0 0 JUSTID",
            "XACK s g 7-0",
            "XGROUP CREATECONSUMER s g c9",
            "XGROUP DELCONSUMER s g c9",
            "XSETID s 300-0",
        ],
    );
    assert_eq!(
        mask_times(lines),
        [
            "SELECT 0",
            "XADD s 1-0 a 1",
            "XADD s 1-1 a 2",
            "XADD s MINID = 1-0 2-0 a 3",
            "XTRIM s MAXLEN = 0",
            "XADD s 5-0 a 5",
            "XADD s 6-0 a 6",
            "XADD s 7-0 a 7",
            "XGROUP CREATE s g 0",
            "XCLAIM s g c1 0 5-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 5-0",
            "MULTI",
            "XGROUP CREATECONSUMER s g c2",
            "XGROUP SETID s g 6-0 ENTRIESREAD 5",
            "EXEC",
            "XDEL s 5-0",
            "XCLAIM s g c1 0 5-0 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 6-0",
            "XCLAIM s g c1 0 7-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 7-0",
            "XCLAIM s g c3 0 7-0 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 100-0",
            "XGROUP SETID s g 200-0 ENTRIESREAD 6",
            "XCLAIM s g c4 0 7-0 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 200-0",
            "XACK s g 7-0",
            "XGROUP CREATECONSUMER s g c9",
            "XGROUP DELCONSUMER s g c9",
            "XSETID s 300-0",
        ]
    );
}

#[test]
fn xadd_with_generated_id_and_approximate_trim_propagates_both_resolved() {
    let lines = propagated(
        defaults,
        &["xadd s2 1-0 a 1", "xadd s2 MAXLEN ~ 1 * a 3", "xadd s2 NOMKSTREAM MINID ~ 0 LIMIT 5 * a 3"],
    );
    assert_eq!(
        mask_times(lines),
        ["SELECT 0", "xadd s2 1-0 a 1", "xadd s2 MAXLEN = 2 T-n a 3", "xadd s2 NOMKSTREAM MINID = 1-0 LIMIT 5 T-n a 3"]
    );
}

#[test]
fn hincrbyfloat_propagates_the_resulting_hset() {
    let lines = propagated(defaults, &["HINCRBYFLOAT h f 10.5", "HINCRBYFLOAT h f 0.1", "HINCRBYFLOAT h f x"]);
    assert_eq!(lines, ["SELECT 0", "HSET h f 10.5", "HSET h f 10.6"]);
}

#[test]
fn spop_propagates_srem_per_member_in_a_transaction() {
    let lines = propagated(defaults, &["SADD s 1 2 3 4 5 6 7 8 9 10", "SPOP s 3", "SPOP s 1", "SPOP s"]);
    assert_eq!(lines[..2], ["SELECT 0", "SADD s 1 2 3 4 5 6 7 8 9 10"]);
    assert_eq!((lines[2].as_str(), lines[6].as_str()), ("MULTI", "EXEC"));
    assert!(lines[3..6].iter().chain(&lines[7..]).all(|l| l.starts_with("SREM s ")), "{lines:?}");
    assert_eq!(lines.len(), 9);
    // Most of the set: survivors are kept aside, the rest removed one by one.
    let lines = propagated(defaults, &["SADD s 1 2 3 4 5 6 7 8 9 10", "SPOP s 9"]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("SREM s ")).count(), 9);
}

#[test]
fn spop_of_the_whole_set_propagates_its_deletion() {
    let lines = propagated(defaults, &["SADD s a b", "SPOP s 5"]);
    assert_eq!(lines, ["SELECT 0", "SADD s a b", "DEL s"]);
    let lines = propagated(|c| c.lazyfree_lazy_server_del = true, &["SADD s a b", "SPOP s 2"]);
    assert_eq!(lines, ["SELECT 0", "SADD s a b", "UNLINK s"]);
}

#[test]
fn empty_store_results_propagate_only_a_deletion() {
    let lines = propagated(
        defaults,
        &[
            "SADD a 1",
            "SINTERSTORE d a nokey",
            "SUNIONSTORE d nokey",
            "SDIFFSTORE d a a",
            "SET d x",
            "SDIFFSTORE d a a",
        ],
    );
    assert_eq!(lines, ["SELECT 0", "SADD a 1", "SET d x", "SDIFFSTORE d a a"]);
}

/// Runs `command` for a second client registered with the server, so that
/// commands from the harness client can serve it when it blocks.
fn run_as(srv: &mut Server, client: &Rc<RefCell<Client>>, command: &str) -> dispatch::Outcome {
    let argv: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
    dispatch::execute(srv, &mut client.borrow_mut(), &argv)
}

#[test]
fn served_blocking_pops_propagate_their_non_blocking_form() {
    let mut harness = Harness::new(defaults);
    let waiters: Vec<_> = (0..3).map(|_| harness.srv.add_client(String::new(), String::new(), -1)).collect();
    assert_eq!(run_as(&mut harness.srv, &waiters[0], "BLPOP k 0"), dispatch::Outcome::Blocked);
    assert_eq!(run_as(&mut harness.srv, &waiters[1], "BLMOVE k d RIGHT LEFT 0"), dispatch::Outcome::Blocked);
    assert_eq!(run_as(&mut harness.srv, &waiters[2], "BLMPOP 0 2 x k LEFT COUNT 5"), dispatch::Outcome::Blocked);
    assert!(harness.lines().is_empty(), "blocking propagates nothing");
    harness.run("RPUSH k a b c d");
    assert_eq!(harness.lines(), ["SELECT 0", "RPUSH k a b c d", "LPOP k", "LMOVE k d RIGHT LEFT", "LPOP k 2"]);
    assert_eq!(harness.srv.blocking.count(), 0);
    assert_eq!(waiters[0].borrow_mut().reply.take(), b"*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    assert_eq!(waiters[1].borrow_mut().reply.take(), b"$1\r\nd\r\n");
    assert_eq!(waiters[2].borrow_mut().reply.take(), b"*2\r\n$1\r\nk\r\n*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
}

/// What Redis 7.0.15 wrote to its AOF for the same scenario.
#[test]
fn served_blocked_group_reads_propagate_their_group_effects() {
    let mut harness = Harness::new(defaults);
    harness.run("XGROUP CREATE s g $ MKSTREAM");
    let waiters: Vec<_> = (0..3).map(|_| harness.srv.add_client(String::new(), String::new(), -1)).collect();
    let reads = [
        "XREADGROUP GROUP g c1 COUNT 1 BLOCK 0 STREAMS s >",
        "XREADGROUP GROUP g c2 NOACK BLOCK 0 STREAMS s >",
        "XREAD BLOCK 0 STREAMS s $",
    ];
    for (waiter, read) in waiters.iter().zip(reads) {
        assert_eq!(run_as(&mut harness.srv, waiter, read), dispatch::Outcome::Blocked);
    }
    harness.run("XADD s 1-1 a 1");
    harness.run("XADD s 1-2 b 2");
    assert_eq!(
        mask_times(harness.lines()),
        [
            "SELECT 0",
            "XGROUP CREATE s g $ MKSTREAM",
            "XADD s 1-1 a 1",
            "XCLAIM s g c1 0 1-1 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 1-1",
            "XADD s 1-2 b 2",
            "MULTI",
            "XGROUP CREATECONSUMER s g c2",
            "XGROUP SETID s g 1-2 ENTRIESREAD 2",
            "EXEC",
        ]
    );
    assert_eq!(harness.srv.blocking.count(), 0);
}

#[test]
fn blocking_commands_served_at_once_propagate_their_non_blocking_form() {
    let lines = propagated(
        defaults,
        &["RPUSH k a b c", "BLPOP k 0", "BRPOPLPUSH k d 0", "BLMOVE d k LEFT RIGHT 1", "BLMPOP 0 1 k RIGHT COUNT 9"],
    );
    assert_eq!(lines, ["SELECT 0", "RPUSH k a b c", "LPOP k", "RPOPLPUSH k d", "LMOVE d k LEFT RIGHT", "RPOP k 2"]);
}

#[test]
fn sorted_set_pops_and_geoadd_propagate_as_redis_rewrites_them() {
    let lines = propagated(
        defaults,
        &[
            "ZADD z 1 a 2 b 3 c 4 d",
            "ZADD z INCR 5 a",
            "ZADD z XX 1 nosuch",
            "ZPOPMIN z 1",
            "ZMPOP 2 nokey z MAX",
            "ZMPOP 1 z MIN COUNT 10",
            "ZMPOP 1 z MIN",
            "GEOADD g CH 13.361389 38.115556 Palermo",
            "GEOADD g NX 13.361389 38.115556 Palermo",
        ],
    );
    assert_eq!(
        lines,
        [
            "SELECT 0",
            "ZADD z 1 a 2 b 3 c 4 d",
            "ZADD z INCR 5 a",
            "ZPOPMIN z 1",
            "ZPOPMAX z 1",
            "ZPOPMIN z 10",
            "zadd g CH 3479099956230698 Palermo",
        ]
    );
}

#[test]
fn sort_propagates_only_when_store_changes_something() {
    let lines = propagated(
        defaults,
        &[
            "RPUSH l 3 1 2",
            "SORT l",
            "SORT l STORE d",
            "SORT l LIMIT 0 0 STORE d",
            "SORT l LIMIT 0 0 STORE d",
            "SORT_RO l DESC",
            "SORT nokey STORE d",
        ],
    );
    assert_eq!(lines, ["SELECT 0", "RPUSH l 3 1 2", "SORT l STORE d", "SORT l LIMIT 0 0 STORE d"]);
}

#[test]
fn served_blocking_sorted_set_pops_propagate_as_zpopmin_or_zpopmax() {
    let mut harness = Harness::new(defaults);
    let waiters: Vec<_> = (0..4).map(|_| harness.srv.add_client(String::new(), String::new(), -1)).collect();
    assert_eq!(run_as(&mut harness.srv, &waiters[0], "BZPOPMIN k 0"), dispatch::Outcome::Blocked);
    assert_eq!(run_as(&mut harness.srv, &waiters[1], "BZPOPMAX x k 0"), dispatch::Outcome::Blocked);
    assert_eq!(run_as(&mut harness.srv, &waiters[2], "BZMPOP 0 2 x k MAX COUNT 5"), dispatch::Outcome::Blocked);
    assert_eq!(run_as(&mut harness.srv, &waiters[3], "BLPOP k 0"), dispatch::Outcome::Blocked);
    assert!(harness.lines().is_empty(), "blocking propagates nothing");
    harness.run("ZADD k 1 a 2 b 3 c 4 d");
    assert_eq!(harness.lines(), ["SELECT 0", "ZADD k 1 a 2 b 3 c 4 d", "ZPOPMIN k", "ZPOPMAX k", "ZPOPMAX k 5"]);
    assert_eq!(harness.srv.blocking.count(), 1, "the list waiter stays blocked");
    assert_eq!(waiters[0].borrow_mut().reply.take(), b"*3\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(waiters[1].borrow_mut().reply.take(), b"*3\r\n$1\r\nk\r\n$1\r\nd\r\n$1\r\n4\r\n");
    assert_eq!(
        waiters[2].borrow_mut().reply.take(),
        b"*2\r\n$1\r\nk\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
}

#[test]
fn blocking_sorted_set_pops_served_at_once_propagate_their_non_blocking_form() {
    let lines = propagated(
        defaults,
        &[
            "ZADD z 1 a 2 b 3 c",
            "BZPOPMIN nokey z 0",
            "BZPOPMAX z 1",
            "BZMPOP 0 1 z MIN COUNT 9",
            "BZMPOP 0.01 1 z MAX",
        ],
    );
    assert_eq!(lines, ["SELECT 0", "ZADD z 1 a 2 b 3 c", "ZPOPMIN z", "ZPOPMAX z", "ZPOPMIN z 9"]);
}

#[test]
fn exec_wraps_the_transaction_in_one_multi_exec() {
    let lines = propagated(defaults, &["MULTI", "SET a 1", "GET a", "INCR a", "SELECT 1", "SET b 1", "EXEC"]);
    assert_eq!(lines, ["SELECT 0", "MULTI", "SET a 1", "INCR a", "SELECT 1", "SET b 1", "EXEC"]);
}

#[test]
fn a_transaction_with_one_write_propagates_it_alone_and_a_read_only_one_nothing() {
    let lines = propagated(defaults, &["MULTI", "GET a", "SET a 1", "EXEC", "MULTI", "GET a", "EXEC"]);
    assert_eq!(lines, ["SELECT 0", "SET a 1"]);
}

#[test]
fn discarded_aborted_and_failed_transactions_propagate_nothing() {
    let lines = propagated(
        defaults,
        &["MULTI", "SET a 1", "DISCARD", "MULTI", "SET a 1", "NOSUCHCOMMAND", "EXEC", "WATCH a", "SET a 1"],
    );
    assert_eq!(lines, ["SELECT 0", "SET a 1"]);
    let lines = propagated(defaults, &["WATCH a", "SET a 1", "MULTI", "SET a 2", "EXEC"]);
    assert_eq!(lines, ["SELECT 0", "SET a 1"], "the EXEC whose watched key changed ran nothing");
}

#[test]
fn a_command_with_several_effects_inside_exec_is_wrapped_once() {
    let lines = propagated(defaults, &["SADD s a b c", "MULTI", "SPOP s 2", "SET x 1", "EXEC"]);
    assert_eq!(lines[..3], ["SELECT 0", "SADD s a b c", "MULTI"]);
    assert!(lines[3].starts_with("SREM s ") && lines[4].starts_with("SREM s "), "{lines:?}");
    assert_eq!(lines[5..], ["SET x 1", "EXEC"]);
}

#[test]
fn blocking_commands_inside_exec_propagate_what_they_did() {
    let lines =
        propagated(defaults, &["RPUSH l a", "MULTI", "BLPOP l 0", "BLPOP l 0", "BLMOVE l d LEFT LEFT 0", "EXEC"]);
    assert_eq!(lines, ["SELECT 0", "RPUSH l a", "LPOP l"]);
}

#[test]
fn scripts_propagate_their_effects_wrapped_once() {
    let lines = propagated(
        defaults,
        &[
            "EVAL return\tredis.call('set','a','1') 0",
            "EVAL redis.call('set','a','1')\tredis.call('select',3)\tredis.call('set','b','2') 0",
            "EVAL redis.call('incr','x')\tredis.set_repl(redis.REPL_NONE)\tredis.call('incr','y') 0",
            "EVAL return\tredis.call('get','a') 0",
        ],
    );
    // The same stream redis-server 7.0.15 writes to its AOF for these
    // scripts: a single write bare, several in MULTI/EXEC, the script never.
    assert_eq!(lines, ["SELECT 0", "set a 1", "MULTI", "set a 1", "SELECT 3", "set b 2", "EXEC", "SELECT 0", "incr x"]);
}

#[test]
fn restore_propagates_an_absolute_ttl_and_an_expired_restore_as_del() {
    let mut harness = Harness::new(defaults);
    let value = cinnabar_storage::Value::Str(cinnabar_storage::StrValue::from_bytes(b"v"));
    let payload = cinnabar_persistence::rdb::dump::dump_value(&value, true);
    for argv in [
        vec![&b"RESTORE"[..], b"dst", b"5000", &payload],
        vec![&b"RESTORE"[..], b"dst", b"1", &payload, b"REPLACE", b"ABSTTL"],
    ] {
        dispatch::execute(&mut harness.srv, &mut harness.client, &argv);
    }
    let lines = harness.lines();
    let parts: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!((parts[0], parts[1], *parts.last().unwrap()), ("RESTORE", "dst", "ABSTTL"), "{lines:?}");
    let at: i64 = parts[2].parse().expect("absolute ms");
    let now = crate::server::unix_ms();
    assert!((now..=now + 5_000).contains(&at), "{lines:?}");
    assert_eq!(lines[2], "DEL dst");
}

#[test]
fn evicted_keys_propagate_del_or_unlink_each_alone() {
    for (lazy, verb) in [(false, "DEL"), (true, "UNLINK")] {
        let mut harness = Harness::new(|c| {
            c.maxmemory_policy = "allkeys-lru".into();
            c.lazyfree_lazy_eviction = lazy;
        });
        harness.run("SET a 1");
        harness.run("SET b 2");
        // Any memory is too much now: the next command evicts every key.
        harness.srv.config.maxmemory = 1;
        harness.run("GET a");
        let lines = harness.lines();
        assert_eq!(lines[..3], ["SELECT 0", "SET a 1", "SET b 2"]);
        let mut evicted = lines[3..].to_vec();
        evicted.sort();
        assert_eq!(evicted, [format!("{verb} a"), format!("{verb} b")]);
        assert_eq!(harness.srv.stats.evicted_keys, 2);
    }
}
