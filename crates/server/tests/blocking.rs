//! Blocking list commands with several real connections, each scenario run
//! against Cinnabar and the real redis-server and the transcripts compared.
//! Scenarios wait for clients to be blocked (INFO blocked_clients) before
//! going on, so nothing depends on timing.

mod common;

use common::{block, same_on_both, text, wait_blocked, Kind, RawConn, ServerProcess};

#[test]
fn clients_blocked_on_one_key_are_served_first_come_first_served() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut waiters: Vec<RawConn> =
            (1..=3).map(|i| block(server, &mut admin, &["BLPOP", "k", "other", "0"], i)).collect();
        let mut out = vec![admin.cmd(&["LPUSH", "k", "a", "b"])];
        out.extend(waiters[..2].iter_mut().map(|w| text(w.read_reply())));
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["EXISTS", "k"]));
        out.push(admin.cmd(&["RPUSH", "other", "x", "y"]));
        out.push(text(waiters[2].read_reply()));
        out.push(admin.cmd(&["LRANGE", "other", "0", "-1"]));
        out.push(waiters[0].cmd(&["PING"]));
        out
    });
}

#[test]
fn timeouts_reply_null_arrays_and_zero_waits_for_a_push() {
    same_on_both(|server| {
        let mut c = server.raw();
        let mut out = vec![
            c.cmd(&["BLPOP", "k", "0.05"]),
            c.cmd(&["BRPOPLPUSH", "k", "d", "0.01"]),
            c.cmd(&["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.01"]),
            c.cmd(&["BLMPOP", "0.01", "1", "k", "LEFT"]),
        ];
        c.cmd(&["HELLO", "3"]);
        out.push(c.cmd(&["BRPOP", "k", "0.01"]));
        let mut admin = server.raw();
        let mut forever = block(server, &mut admin, &["BLMPOP", "0", "2", "j", "k", "RIGHT", "COUNT", "5"], 1);
        out.push(admin.cmd(&["RPUSH", "k", "1", "2", "3"]));
        out.push(text(forever.read_reply()));
        out
    });
}

#[test]
fn blmove_chains_serve_each_hop_in_one_go() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut a = block(server, &mut admin, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"], 1);
        let mut b = block(server, &mut admin, &["BRPOPLPUSH", "b", "c", "0"], 2);
        let mut c = block(server, &mut admin, &["BLPOP", "c", "0"], 3);
        vec![
            admin.cmd(&["LPUSH", "a", "x"]),
            text(a.read_reply()),
            text(b.read_reply()),
            text(c.read_reply()),
            admin.cmd(&["DBSIZE"]),
        ]
    });
}

#[test]
fn a_client_that_disconnects_while_blocked_is_forgotten() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let gone = block(server, &mut admin, &["BLPOP", "k", "0"], 1);
        drop(gone);
        wait_blocked(&mut admin, 0);
        vec![admin.cmd(&["RPUSH", "k", "v"]), admin.cmd(&["LLEN", "k"])]
    });
}

#[test]
fn client_unblock_releases_with_a_timeout_or_an_error() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = Vec::new();
        for reason in ["TIMEOUT", "ERROR"] {
            let mut waiter = server.raw();
            let id = waiter.cmd(&["CLIENT", "ID"]);
            let id = id.trim_start_matches(':').trim_end().to_string();
            waiter.send_command(&[b"BLPOP", b"k", b"0"]);
            wait_blocked(&mut admin, 1);
            let list = admin.cmd(&["CLIENT", "LIST", "ID", &id]);
            out.push(format!("{} {}", list.contains(" flags=b "), list.contains(" cmd=blpop ")));
            out.push(admin.cmd(&["CLIENT", "UNBLOCK", &id, reason]));
            out.push(text(waiter.read_reply()));
            out.push(admin.cmd(&["CLIENT", "UNBLOCK", &id]));
            out.push(waiter.cmd(&["PING"]));
        }
        out
    });
}

#[test]
fn a_key_of_another_type_keeps_waiters_blocked_and_a_bad_destination_errors() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut waiter = block(server, &mut admin, &["BLPOP", "k", "0"], 1);
        let mut out = vec![admin.cmd(&["SET", "k", "str"])];
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["DEL", "k"]));
        out.push(admin.cmd(&["RPUSH", "k", "v"]));
        out.push(text(waiter.read_reply()));
        out.push(admin.cmd(&["SET", "dst", "str"]));
        let mut mover = block(server, &mut admin, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"], 1);
        out.push(admin.cmd(&["RPUSH", "src", "e"]));
        out.push(text(mover.read_reply()));
        out.push(admin.cmd(&["LRANGE", "src", "0", "-1"]));
        out
    });
}

/// Quicklist shape after pushes, inserts in full nodes (splits and merges),
/// trims and removals: DEBUG OBJECT's node fields must match Redis's, so
/// memory per element does too.
#[test]
fn quicklist_nodes_split_and_merge_like_redis() {
    let shape = |kind| {
        let server = ServerProcess::start(kind, &["--enable-debug-command", "yes"]);
        let mut c = server.raw();
        let mut out = Vec::new();
        for fill in ["4", "-1"] {
            c.cmd(&["DEL", "l"]);
            c.cmd(&["CONFIG", "SET", "list-max-listpack-size", fill]);
            let element = |i: usize| format!("{i}-{}", "x".repeat(i * 7 % 90));
            for i in 0..40 {
                c.cmd(&["RPUSH", "l", &element(i)]);
            }
            for (i, pivot) in [0, 3, 17].map(element).iter().enumerate() {
                for j in 0..6 {
                    let side = if (i + j) % 2 == 0 { "BEFORE" } else { "AFTER" };
                    c.cmd(&["LINSERT", "l", side, pivot, &"y".repeat(j * 13)]);
                }
            }
            c.cmd(&["LTRIM", "l", "3", "-4"]);
            c.cmd(&["LREM", "l", "0", ""]);
            c.cmd(&["LPUSH", "l", "head"]);
            let info = c.cmd(&["DEBUG", "OBJECT", "l"]);
            out.push(info[info.find("ql_nodes").expect("quicklist fields")..].to_string());
            out.push(c.cmd(&["LRANGE", "l", "0", "-1"]));
        }
        out
    };
    assert_eq!(shape(Kind::Cinnabar), shape(Kind::Redis));
}

#[test]
fn info_counts_blocked_clients_and_those_with_a_timeout() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let _forever = block(server, &mut admin, &["BRPOP", "a", "0"], 1);
        let _timed = block(server, &mut admin, &["BLMPOP", "100", "1", "b", "LEFT"], 2);
        let info = admin.cmd(&["INFO", "clients"]);
        info.lines()
            .filter(|l| l.starts_with("blocked_clients") || l.starts_with("clients_in_timeout"))
            .map(String::from)
            .collect()
    });
}

#[test]
fn commandstats_count_a_blocking_call_once_when_it_completes() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut served = block(server, &mut admin, &["BLPOP", "k", "0"], 1);
        admin.cmd(&["RPUSH", "k", "v"]);
        served.read_reply();
        served.cmd(&["BLPOP", "k", "0.01"]);
        let id = served.cmd(&["CLIENT", "ID"]);
        served.send_command(&[b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0"]);
        wait_blocked(&mut admin, 1);
        admin.cmd(&["CLIENT", "UNBLOCK", id.trim_start_matches(':').trim_end(), "ERROR"]);
        served.read_reply();
        let stats = admin.cmd(&["INFO", "commandstats"]);
        // Redis lists commandstats in its dictionary's order: compare sorted.
        let mut lines: Vec<String> = stats
            .lines()
            .filter(|l| l.starts_with("cmdstat_bl"))
            .map(|l| l.split(',').filter(|f| !f.contains("usec")).collect::<Vec<_>>().join(","))
            .collect();
        lines.sort();
        lines
    });
}
