//! What the keyspace and expire families put into the replication stream:
//! effects rather than the commands as sent (Redis 7.0's rewrites).

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
