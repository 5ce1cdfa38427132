//! Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) with several real
//! connections, each scenario run against Cinnabar and the real redis-server
//! and the transcripts compared.

mod common;

use common::blocking::{block, same_on_both, text, wait_blocked};
use common::RawConn;

#[test]
fn waiters_on_a_sorted_set_are_served_first_come_first_served() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut waiters: Vec<RawConn> = [
            &["BZPOPMIN", "k", "other", "0"][..],
            &["BZPOPMAX", "k", "0"],
            &["BZMPOP", "0", "2", "other", "k", "MAX", "COUNT", "2"],
            &["BZMPOP", "0", "1", "k", "MIN", "COUNT", "9"],
        ]
        .iter()
        .enumerate()
        .map(|(i, words)| block(server, &mut admin, words, i + 1))
        .collect();
        let mut out = vec![admin.cmd(&["ZADD", "k", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"])];
        out.extend(waiters.iter_mut().map(|w| text(w.read_reply())));
        out.push(admin.cmd(&["EXISTS", "k"]));
        out
    });
}

#[test]
fn a_set_emptied_by_earlier_waiters_keeps_later_ones_blocked() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut first = block(server, &mut admin, &["BZPOPMIN", "k", "0"], 1);
        let mut second = block(server, &mut admin, &["BZPOPMAX", "j", "k", "0"], 2);
        let mut out = vec![admin.cmd(&["ZADD", "k", "1", "only"])];
        out.push(text(first.read_reply()));
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["EXISTS", "k"]));
        out.push(admin.cmd(&["ZADD", "j", "7", "x", "8", "y"]));
        out.push(text(second.read_reply()));
        out.push(admin.cmd(&["ZRANGE", "j", "0", "-1", "WITHSCORES"]));
        out
    });
}

#[test]
fn timeouts_reply_null_arrays_and_resp3_replies_use_doubles() {
    same_on_both(|server| {
        let mut c = server.raw();
        let mut out = vec![
            c.cmd(&["BZPOPMIN", "k", "0.01"]),
            c.cmd(&["BZPOPMAX", "k", "j", "0.01"]),
            c.cmd(&["BZMPOP", "0.01", "1", "k", "MIN"]),
        ];
        c.cmd(&["HELLO", "3"]);
        out.push(c.cmd(&["BZPOPMIN", "k", "0.01"]));
        out.push(c.cmd(&["BZMPOP", "0.01", "2", "k", "j", "MAX", "COUNT", "3"]));
        let mut admin = server.raw();
        c.send_command(&[b"BZPOPMAX", b"k", b"0"]);
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["ZADD", "k", "1.5", "a", "2.5", "b", "3", "c"]));
        out.push(text(c.read_reply()));
        c.send_command(&[b"BZMPOP", b"0", b"1", b"k", b"MIN", b"COUNT", b"5"]);
        out.push(text(c.read_reply()));
        c.send_command(&[b"BZMPOP", b"0", b"1", b"k", b"MIN"]);
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["ZADD", "k", "-inf", "m"]));
        out.push(text(c.read_reply()));
        out
    });
}

#[test]
fn a_key_of_another_type_keeps_sorted_set_waiters_blocked() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut zwaiter = block(server, &mut admin, &["BZPOPMIN", "k", "0"], 1);
        let mut lwaiter = block(server, &mut admin, &["BLPOP", "k", "0"], 2);
        let mut out = vec![admin.cmd(&["SET", "k", "str"])];
        wait_blocked(&mut admin, 2);
        // Overwriting a key does not signal its waiters in Redis 7.0 (only
        // creating one does), so both clients stay blocked.
        out.push(admin.cmd(&["ZADD", "src", "1", "a", "2", "b"]));
        out.push(admin.cmd(&["ZUNIONSTORE", "k", "1", "src"]));
        wait_blocked(&mut admin, 2);
        out.push(admin.cmd(&["DEL", "k"]));
        out.push(admin.cmd(&["RPUSH", "k", "v"]));
        out.push(text(lwaiter.read_reply()));
        wait_blocked(&mut admin, 1);
        // A key created by RENAME, COPY or MOVE does signal.
        out.push(admin.cmd(&["RENAME", "src", "k"]));
        out.push(text(zwaiter.read_reply()));
        out.push(admin.cmd(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]));
        let mut copied = block(server, &mut admin, &["BZPOPMAX", "c", "0"], 1);
        out.push(admin.cmd(&["COPY", "k", "c"]));
        out.push(text(copied.read_reply()));
        let mut moved = server.raw();
        moved.cmd(&["SELECT", "1"]);
        moved.send_command(&[b"BZMPOP", b"0", b"1", b"k", b"MAX"]);
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["MOVE", "k", "1"]));
        out.push(text(moved.read_reply()));
        out
    });
}

#[test]
fn swapdb_serves_waiters_on_keys_the_swapped_database_holds() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut zwaiter = block(server, &mut admin, &["BZPOPMAX", "z", "0"], 1);
        let mut lwaiter = block(server, &mut admin, &["BLPOP", "z", "l", "0"], 2);
        let mut out = vec![admin.cmd(&["SELECT", "1"])];
        out.push(admin.cmd(&["ZADD", "z", "1", "a", "2", "b"]));
        out.push(admin.cmd(&["RPUSH", "l", "x"]));
        out.push(admin.cmd(&["SWAPDB", "0", "1"]));
        out.push(text(zwaiter.read_reply()));
        out.push(text(lwaiter.read_reply()));
        out.push(admin.cmd(&["SELECT", "0"]));
        out.push(admin.cmd(&["ZRANGE", "z", "0", "-1"]));
        out
    });
}
