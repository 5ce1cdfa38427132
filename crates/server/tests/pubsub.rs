//! Pub/Sub across connections: delivery order and receiver counts, patterns,
//! shard channels, RESP3 pushes, cleanup on disconnection, what CLIENT LIST
//! and INFO show, and the output buffer limit that cuts off a subscriber
//! that does not read while the others keep receiving everything.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};

/// The frame of a RESP2 message push: `[kind, ...parts]`.
fn push_frame(parts: &[&str]) -> String {
    let mut out = format!("*{}\r\n", parts.len());
    for p in parts {
        out.push_str(&format!("${}\r\n{p}\r\n", p.len()));
    }
    out
}

fn read_text(conn: &mut RawConn) -> String {
    String::from_utf8_lossy(&conn.read_reply()).into_owned()
}

fn subscribed(server: &ServerProcess, command: &[&str]) -> RawConn {
    let mut conn = server.raw();
    conn.send_command(&command.iter().map(|w| w.as_bytes()).collect::<Vec<_>>());
    for _ in 1..command.len() {
        conn.read_reply();
    }
    conn
}

/// Polls `check` until it holds (the server acts on disconnections asynchronously).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info_field(conn: &mut RawConn, section: &str, field: &str) -> String {
    let info = conn.cmd(&["INFO", section]);
    let prefix = format!("{field}:");
    info.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {field} in INFO")).to_string()
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    let server = ServerProcess::cinnabar(&[]);
    let mut subscribers: Vec<RawConn> = (0..3).map(|_| subscribed(&server, &["SUBSCRIBE", "news"])).collect();
    let mut publisher = server.raw();
    for i in 0..50 {
        assert_eq!(publisher.cmd(&["PUBLISH", "news", &format!("m{i}")]), ":3\r\n");
    }
    assert_eq!(publisher.cmd(&["PUBLISH", "elsewhere", "x"]), ":0\r\n");
    for sub in &mut subscribers {
        for i in 0..50 {
            assert_eq!(read_text(sub), push_frame(&["message", "news", &format!("m{i}")]));
        }
    }
}

#[test]
fn patterns_match_with_redis_globs_and_count_once_per_pattern() {
    let server = ServerProcess::cinnabar(&[]);
    let mut both = subscribed(&server, &["PSUBSCRIBE", "n*", "*s"]);
    let mut escaped = subscribed(&server, &["PSUBSCRIBE", "n\\*"]);
    let mut channel = subscribed(&server, &["SUBSCRIBE", "news"]);
    let mut publisher = server.raw();
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "hi"]), ":3\r\n");
    assert_eq!(read_text(&mut channel), push_frame(&["message", "news", "hi"]));
    let mut got = [read_text(&mut both), read_text(&mut both)];
    got.sort();
    assert_eq!(got, [push_frame(&["pmessage", "*s", "news", "hi"]), push_frame(&["pmessage", "n*", "news", "hi"])]);
    assert_eq!(publisher.cmd(&["PUBLISH", "n*", "star"]), ":2\r\n");
    assert_eq!(read_text(&mut escaped), push_frame(&["pmessage", "n\\*", "n*", "star"]));
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), ":3\r\n");
    // A pattern two clients share counts once.
    let _again = subscribed(&server, &["PSUBSCRIBE", "n*"]);
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), ":3\r\n");
}

#[test]
fn shard_channels_are_their_own_namespace() {
    let server = ServerProcess::cinnabar(&[]);
    let mut shard = subscribed(&server, &["SSUBSCRIBE", "orders"]);
    let mut plain = subscribed(&server, &["SUBSCRIBE", "orders"]);
    let _pattern = subscribed(&server, &["PSUBSCRIBE", "ord*"]);
    let mut publisher = server.raw();
    assert_eq!(publisher.cmd(&["SPUBLISH", "orders", "s1"]), ":1\r\n");
    assert_eq!(publisher.cmd(&["PUBLISH", "orders", "p1"]), ":2\r\n");
    assert_eq!(read_text(&mut shard), push_frame(&["smessage", "orders", "s1"]));
    assert_eq!(read_text(&mut plain), push_frame(&["message", "orders", "p1"]));
    assert_eq!(publisher.cmd(&["PUBSUB", "SHARDNUMSUB", "orders"]), "*2\r\n$6\r\norders\r\n:1\r\n");
    assert_eq!(publisher.cmd(&["PUBSUB", "SHARDCHANNELS"]), "*1\r\n$6\r\norders\r\n");
    // Shard and plain subscriptions are counted apart.
    shard.send_command(&[b"SSUBSCRIBE", b"more"]);
    assert_eq!(read_text(&mut shard), "*3\r\n$10\r\nssubscribe\r\n$4\r\nmore\r\n:2\r\n");
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_any_command() {
    let server = ServerProcess::cinnabar(&[]);
    let mut sub = server.raw();
    sub.cmd(&["HELLO", "3"]);
    assert_eq!(sub.cmd(&["SUBSCRIBE", "ch"]), ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    let mut publisher = server.raw();
    assert_eq!(publisher.cmd(&["PUBLISH", "ch", "hello"]), ":1\r\n");
    assert_eq!(read_text(&mut sub), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    assert_eq!(sub.cmd(&["SET", "k", "v"]), "+OK\r\n");
    // Publishing to itself: the push comes before the reply.
    sub.send_command(&[b"PUBLISH", b"ch", b"self"]);
    assert_eq!(read_text(&mut sub), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n");
    assert_eq!(read_text(&mut sub), ":1\r\n");
}

#[test]
fn disconnecting_or_reset_drops_subscriptions() {
    let server = ServerProcess::cinnabar(&[]);
    let mut admin = server.raw();
    let gone = subscribed(&server, &["SUBSCRIBE", "a", "b"]);
    let _p = subscribed(&server, &["PSUBSCRIBE", "x*"]);
    let mut reset = subscribed(&server, &["SSUBSCRIBE", "s"]);
    assert_eq!(info_field(&mut admin, "stats", "pubsub_channels"), "2");
    assert_eq!(info_field(&mut admin, "stats", "pubsub_patterns"), "1");
    assert_eq!(info_field(&mut admin, "stats", "pubsubshard_channels"), "1");
    drop(gone);
    eventually("the closed subscriber's channels to go", || {
        admin.cmd(&["PUBSUB", "NUMSUB", "a", "b"]) == "*4\r\n$1\r\na\r\n:0\r\n$1\r\nb\r\n:0\r\n"
    });
    assert_eq!(info_field(&mut admin, "stats", "pubsub_channels"), "0");
    assert_eq!(reset.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(admin.cmd(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    assert_eq!(admin.cmd(&["SPUBLISH", "s", "m"]), ":0\r\n");
    assert_eq!(reset.cmd(&["GET", "k"]), "$-1\r\n");
}

#[test]
fn client_list_shows_subscriptions() {
    let server = ServerProcess::cinnabar(&[]);
    let mut sub = subscribed(&server, &["SUBSCRIBE", "a", "b"]);
    sub.send_command(&[b"PSUBSCRIBE", b"p*"]);
    sub.read_reply();
    sub.send_command(&[b"SSUBSCRIBE", b"s"]);
    sub.read_reply();
    let mut admin = server.raw();
    let list = admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(list.matches("id=").count(), 1, "{list}");
    assert!(list.contains(" flags=P db=0 sub=2 psub=1 ssub=1 "), "{list}");
    let normal = admin.cmd(&["CLIENT", "LIST", "TYPE", "normal"]);
    assert!(normal.contains(" flags=N ") && normal.contains(" sub=0 psub=0 ssub=0 "), "{normal}");
}

/// Publishes `count` messages of `size` bytes on `channel`.
fn publish_many(publisher: &mut RawConn, channel: &str, count: usize, size: usize) {
    let payload = "x".repeat(size);
    for _ in 0..count {
        publisher.cmd(&["PUBLISH", channel, &payload]);
    }
}

#[test]
fn a_subscriber_that_does_not_read_is_cut_off_and_the_others_get_everything() {
    let server = ServerProcess::cinnabar(&["--client-output-buffer-limit", "pubsub 512kb 256kb 60"]);
    let slow = subscribed(&server, &["SUBSCRIBE", "feed"]);
    let mut reading = subscribed(&server, &["SUBSCRIBE", "feed"]);
    let mut publisher = server.raw();
    let payload = "x".repeat(4096);
    let mut receivers = Vec::new();
    // The reading subscriber takes each message before the next is sent, so
    // only the other one falls behind, however busy the machine is.
    for i in 0..3000 {
        let message = format!("{i} {payload}");
        receivers.push(publisher.cmd(&["PUBLISH", "feed", &message]));
        assert_eq!(read_text(&mut reading), push_frame(&["message", "feed", &message]));
    }
    assert_eq!(receivers.first().map(String::as_str), Some(":2\r\n"));
    assert_eq!(receivers.last().map(String::as_str), Some(":1\r\n"), "the slow subscriber was never cut off");
    let log = server.log();
    assert!(log.contains("scheduled to be closed ASAP for overcoming of output buffer limits."), "{log}");
    assert!(log.contains(" flags=P ") && log.contains(" cmd=subscribe "), "{log}");
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMSUB", "feed"]), "*2\r\n$4\r\nfeed\r\n:1\r\n");
    drop(slow);
}

#[test]
fn a_monitor_that_does_not_read_is_cut_off_by_the_normal_limit() {
    let server = ServerProcess::cinnabar(&["--client-output-buffer-limit", "normal 512kb 0 0"]);
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
    let mut writer = server.raw();
    let value = "v".repeat(4096);
    for _ in 0..3000 {
        assert_eq!(writer.cmd(&["SET", "k", &value]), "+OK\r\n");
    }
    let log = server.log();
    assert!(log.contains(" flags=O ") && log.contains("overcoming of output buffer limits"), "{log}");
    eventually("the monitor to be gone", || writer.cmd(&["CLIENT", "LIST"]).matches("id=").count() == 1);
}

#[test]
fn pending_output_shows_in_client_list_and_info() {
    let server = ServerProcess::cinnabar(&["--client-output-buffer-limit", "pubsub 0 0 0"]);
    let _slow = subscribed(&server, &["SUBSCRIBE", "feed"]);
    let mut publisher = server.raw();
    publish_many(&mut publisher, "feed", 4000, 4096);
    let max_output: usize = info_field(&mut publisher, "clients", "client_recent_max_output_buffer").parse().unwrap();
    assert!(max_output > 1 << 20, "{max_output}");
    let list = publisher.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    let field = |name: &str| -> usize {
        let prefix = format!(" {name}=");
        let start = list.find(&prefix).unwrap() + prefix.len();
        list[start..].split(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(field("obl"), 16 * 1024);
    assert!(field("omem") > 1 << 20 && field("oll") > 0, "{list}");
}
