//! Client-side caching across connections, compared with redis-server: RESP3
//! invalidation pushes (after the reply for the client's own writes), REDIRECT
//! to a RESP2 subscriber of `__redis__:invalidate`, BCAST prefixes, OPTIN and
//! OPTOUT with CLIENT CACHING, NOLOOP, FLUSHALL's null invalidation, expiry,
//! a broken redirection, and what CLIENT LIST and INFO show.

mod common;

use common::blocking::{same_on_both, text};
use common::{RawConn, ServerProcess};

fn resp3(server: &ServerProcess) -> RawConn {
    let mut conn = server.raw();
    conn.cmd(&["HELLO", "3"]);
    conn
}

fn id_of(conn: &mut RawConn) -> String {
    conn.cmd(&["CLIENT", "ID"]).trim_start_matches(':').trim().to_string()
}

/// Sends `words` and returns the reply plus the `extra` frames that follow it.
fn run(conn: &mut RawConn, words: &[&str], extra: usize) -> String {
    let mut out = conn.cmd(words);
    for _ in 0..extra {
        out.push_str(&text(conn.read_reply()));
    }
    out
}

#[test]
fn default_mode_invalidates_readers_once() {
    same_on_both(|server| {
        let mut reader = resp3(server);
        let mut writer = server.raw();
        let mut log = vec![run(&mut reader, &["CLIENT", "TRACKING", "on"], 0)];
        log.push(run(&mut reader, &["MGET", "a", "b"], 0));
        log.push(writer.cmd(&["SET", "a", "1"]));
        log.push(text(reader.read_reply()));
        // b is still tracked, a no longer is.
        log.push(writer.cmd(&["MSET", "a", "2", "b", "2"]));
        log.push(text(reader.read_reply()));
        // Its own write: the invalidation follows the reply.
        log.push(run(&mut reader, &["GET", "a"], 0));
        log.push(run(&mut reader, &["INCR", "a"], 1));
        log.push(run(&mut reader, &["CLIENT", "TRACKINGINFO"], 0));
        log.push(run(&mut reader, &["CLIENT", "GETREDIR"], 0));
        // Expiry invalidates too.
        log.push(writer.cmd(&["SET", "e", "1", "PX", "300"]));
        log.push(run(&mut reader, &["GET", "e"], 0));
        std::thread::sleep(std::time::Duration::from_millis(400));
        log.push(writer.cmd(&["GET", "e"]));
        log.push(text(reader.read_reply()));
        // FLUSHALL: a null invalidation, and nothing is tracked any more.
        log.push(run(&mut reader, &["GET", "f"], 0));
        log.push(writer.cmd(&["FLUSHALL"]));
        log.push(text(reader.read_reply()));
        let info = writer.cmd(&["INFO"]);
        log.extend(info.lines().filter(|l| l.starts_with("tracking_")).map(str::to_string));
        log.push(run(&mut reader, &["CLIENT", "TRACKING", "off"], 0));
        log.push(run(&mut reader, &["CLIENT", "GETREDIR"], 0));
        log
    });
}

#[test]
fn redirect_to_a_resp2_subscriber() {
    same_on_both(|server| {
        let mut sink = server.raw();
        let sink_id = id_of(&mut sink);
        let mut tracker = server.raw();
        let mut writer = server.raw();
        let mut log = vec![sink.cmd(&["SUBSCRIBE", "__redis__:invalidate"])];
        log.push(tracker.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id]));
        log.push(tracker.cmd(&["GET", "k"]));
        log.push(writer.cmd(&["SET", "k", "v"]));
        log.push(text(sink.read_reply()));
        log.push(writer.cmd(&["FLUSHDB"]));
        log.push(text(sink.read_reply()));
        let list = writer.cmd(&["CLIENT", "LIST"]);
        let tracker_line = list.lines().find(|l| l.contains(" flags=t ")).expect("a tracking client").to_string();
        log.push(tracker_line.contains(&format!(" redir={sink_id} ")).to_string());
        log
    });
}

#[test]
fn broken_redirect_is_reported_to_a_resp3_tracker() {
    let server = ServerProcess::cinnabar(&[]);
    let mut sink = server.raw();
    let sink_id = id_of(&mut sink);
    let mut tracker = resp3(&server);
    let mut writer = server.raw();
    tracker.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id]);
    tracker.cmd(&["GET", "k"]);
    drop(sink);
    // Once the sink is gone, a write reaches the tracker as a broken redirect.
    let mut push = String::new();
    for attempt in 0..200 {
        writer.cmd(&["SET", "k", &attempt.to_string()]);
        if writer.cmd(&["CLIENT", "LIST"]).contains(" flags=tR ") {
            push = text(tracker.read_reply());
            break;
        }
        tracker.cmd(&["GET", "k"]);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(push, format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{sink_id}\r\n"));
    let info = tracker.cmd(&["CLIENT", "TRACKINGINFO"]);
    assert!(info.contains("$15\r\nbroken_redirect\r\n"), "{info}");
}

#[test]
fn bcast_prefixes_and_noloop() {
    same_on_both(|server| {
        let mut listener = resp3(server);
        let mut writer = server.raw();
        let mut log =
            vec![listener.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p:", "PREFIX", "q", "NOLOOP"])];
        // One push per prefix, keys in order.
        log.push(writer.cmd(&["MSET", "p:2", "a", "p:1", "b", "q", "c", "z", "d"]));
        log.push(text(listener.read_reply()));
        log.push(text(listener.read_reply()));
        // Its own writes are left out (NOLOOP).
        log.push(listener.cmd(&["SET", "p:3", "x"]));
        log.push(writer.cmd(&["SET", "q1", "x"]));
        log.push(text(listener.read_reply()));
        log.push(listener.cmd(&["CLIENT", "TRACKINGINFO"]));
        log.push(listener.cmd(&["CLIENT", "TRACKING", "on"]));
        let list = writer.cmd(&["CLIENT", "LIST"]);
        log.push(list.lines().any(|l| l.contains(" flags=tB ")).to_string());
        let info = writer.cmd(&["INFO"]);
        log.extend(info.lines().filter(|l| l.starts_with("tracking_")).map(str::to_string));
        log
    });
}

#[test]
fn optin_and_optout_follow_client_caching() {
    same_on_both(|server| {
        let mut optin = resp3(server);
        let mut optout = resp3(server);
        let mut writer = server.raw();
        let mut log = vec![optin.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"])];
        log.push(optout.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]));
        log.push(optin.cmd(&["GET", "not-cached"]));
        log.push(optin.cmd(&["CLIENT", "CACHING", "yes"]));
        log.push(optin.cmd(&["CLIENT", "TRACKINGINFO"]));
        log.push(optin.cmd(&["GET", "cached"]));
        log.push(optout.cmd(&["CLIENT", "CACHING", "no"]));
        log.push(optout.cmd(&["GET", "cached"]));
        log.push(optout.cmd(&["GET", "not-cached"]));
        log.push(writer.cmd(&["MSET", "cached", "1", "not-cached", "2"]));
        log.push(text(optin.read_reply()));
        log.push(text(optout.read_reply()));
        log.push(optin.cmd(&["CLIENT", "CACHING", "no"]));
        log.push(optout.cmd(&["CLIENT", "CACHING", "yes"]));
        log.push(optin.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]));
        log
    });
}

#[test]
fn table_limit_invalidates_tracked_keys() {
    same_on_both(|server| {
        let mut reader = resp3(server);
        let mut log = vec![reader.cmd(&["CLIENT", "TRACKING", "on"])];
        log.push(reader.cmd(&["MGET", "a", "b", "c"]));
        log.push(reader.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"]));
        // Which keys go is random. The cron or the next command drops them,
        // so two invalidations of one key each come before PING's reply.
        reader.send_command(&[b"PING"]);
        for _ in 0..2 {
            let push = text(reader.read_reply());
            log.push(push.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n").to_string());
        }
        log.push(text(reader.read_reply()));
        let info = reader.cmd(&["INFO", "stats"]);
        log.extend(info.lines().filter(|l| l.starts_with("tracking_total_keys")).map(str::to_string));
        log
    });
}

#[test]
fn reset_turns_tracking_off() {
    same_on_both(|server| {
        let mut conn = resp3(server);
        let mut log = vec![conn.cmd(&["CLIENT", "TRACKING", "on", "BCAST"])];
        log.push(conn.cmd(&["RESET"]));
        log.push(conn.cmd(&["CLIENT", "TRACKINGINFO"]));
        let info = conn.cmd(&["INFO"]);
        log.extend(info.lines().filter(|l| l.starts_with("tracking_")).map(str::to_string));
        log
    });
}
