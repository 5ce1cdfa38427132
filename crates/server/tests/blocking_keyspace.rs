//! Clients blocked on a key served by keyspace commands that make the key
//! appear without a push (RENAME, RENAMENX, COPY, MOVE, SWAPDB), and FLUSHALL,
//! which does not serve them. Each scenario runs against Cinnabar and the real
//! redis-server and the transcripts are compared. Scenarios wait for clients
//! to be blocked (INFO blocked_clients) before going on, so nothing depends on
//! timing.

mod common;

use common::blocking::{same_on_both, text, wait_blocked};
use common::{RawConn, ServerProcess};

/// Opens a connection on database `db`, sends `words` and waits until it is
/// the `blocked_after`th blocked client.
fn block_in(server: &ServerProcess, admin: &mut RawConn, db: &str, words: &[&str], blocked_after: usize) -> RawConn {
    let mut conn = server.raw();
    conn.cmd(&["SELECT", db]);
    let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    conn.send_command(&argv);
    wait_blocked(admin, blocked_after);
    conn
}

#[test]
fn rename_and_renamenx_onto_the_awaited_key_serve_it() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["RPUSH", "src", "a", "b"])];
        let mut waiter = block_in(server, &mut admin, "0", &["BLPOP", "k", "0"], 1);
        out.push(admin.cmd(&["RENAME", "src", "k"]));
        out.push(text(waiter.read_reply()));
        out.push(admin.cmd(&["LRANGE", "k", "0", "-1"]));
        out.push(admin.cmd(&["RPUSH", "src2", "c"]));
        let mut waiter = block_in(server, &mut admin, "0", &["BRPOP", "j", "0"], 1);
        out.push(admin.cmd(&["RENAMENX", "src2", "j"]));
        out.push(text(waiter.read_reply()));
        out.push(admin.cmd(&["EXISTS", "j", "src2"]));
        out
    });
}

#[test]
fn a_renamed_key_of_another_type_leaves_the_client_blocked() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["SET", "s", "v"])];
        let mut waiter = block_in(server, &mut admin, "0", &["BLPOP", "k", "0"], 1);
        out.push(admin.cmd(&["RENAME", "s", "k"]));
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["DEL", "k"]));
        out.push(admin.cmd(&["RPUSH", "k", "x"]));
        out.push(text(waiter.read_reply()));
        out
    });
}

#[test]
fn copy_serves_the_destination_in_its_own_database() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["RPUSH", "src", "a", "b"])];
        let mut here = block_in(server, &mut admin, "0", &["BLPOP", "k", "0"], 1);
        out.push(admin.cmd(&["COPY", "src", "k"]));
        out.push(text(here.read_reply()));
        let mut there = block_in(server, &mut admin, "2", &["BRPOP", "k", "0"], 1);
        out.push(admin.cmd(&["COPY", "src", "k", "DB", "2"]));
        out.push(text(there.read_reply()));
        out.push(admin.cmd(&["LRANGE", "src", "0", "-1"]));
        out.push(admin.cmd(&["LRANGE", "k", "0", "-1"]));
        out
    });
}

#[test]
fn move_from_another_database_serves_the_waiter() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["RPUSH", "k", "a", "b"])];
        let mut waiter = block_in(server, &mut admin, "1", &["BLPOP", "k", "0"], 1);
        out.push(admin.cmd(&["MOVE", "k", "1"]));
        out.push(text(waiter.read_reply()));
        out.push(admin.cmd(&["EXISTS", "k"]));
        out.push(waiter.cmd(&["LRANGE", "k", "0", "-1"]));
        out
    });
}

#[test]
fn swapdb_serves_clients_blocked_in_either_database() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["RPUSH", "k", "zero"])];
        admin.cmd(&["SELECT", "1"]);
        out.push(admin.cmd(&["RPUSH", "j", "one"]));
        // Blocked in db 1 on k (which db 0 has) and in db 0 on j (which db 1 has).
        let mut in_one = block_in(server, &mut admin, "1", &["BLPOP", "k", "0"], 1);
        let mut in_zero = block_in(server, &mut admin, "0", &["BRPOP", "j", "0"], 2);
        let mut still = block_in(server, &mut admin, "1", &["BLPOP", "missing", "0"], 3);
        out.push(admin.cmd(&["SWAPDB", "0", "1"]));
        out.push(text(in_one.read_reply()));
        out.push(text(in_zero.read_reply()));
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["DBSIZE"]));
        out.push(admin.cmd(&["RPUSH", "missing", "m"]));
        out.push(text(still.read_reply()));
        out
    });
}

#[test]
fn swapdb_with_a_key_of_another_type_serves_no_one() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["SET", "k", "string"])];
        let mut waiter = block_in(server, &mut admin, "1", &["BLPOP", "k", "0"], 1);
        out.push(admin.cmd(&["SWAPDB", "0", "1"]));
        wait_blocked(&mut admin, 1);
        admin.cmd(&["SELECT", "1"]);
        out.push(admin.cmd(&["TYPE", "k"]));
        out.push(admin.cmd(&["DEL", "k"]));
        out.push(admin.cmd(&["LPUSH", "k", "list"]));
        out.push(text(waiter.read_reply()));
        out
    });
}

#[test]
fn flushall_does_not_serve_and_the_client_times_out() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut waiter = block_in(server, &mut admin, "0", &["BLPOP", "k", "0.2"], 1);
        let out = vec![admin.cmd(&["FLUSHALL"]), admin.cmd(&["FLUSHDB"]), text(waiter.read_reply())];
        wait_blocked(&mut admin, 0);
        out
    });
}

/// CLIENT REPLY OFF and SKIP given before a blocking command also silence the
/// reply it gets when served or when it times out; a PING afterwards shows
/// which replies reached the client.
#[test]
fn client_reply_off_and_skip_silence_served_and_timed_out_replies() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = Vec::new();
        for mode in ["OFF", "SKIP"] {
            let mut waiter = server.raw();
            waiter.send_command(&[b"CLIENT", b"REPLY", mode.as_bytes()]);
            waiter.send_command(&[b"BLPOP", b"k", b"0"]);
            wait_blocked(&mut admin, 1);
            out.push(admin.cmd(&["RPUSH", "k", "v"]));
            wait_blocked(&mut admin, 0);
            waiter.send_command(&[b"BLPOP", b"k", b"0.05"]);
            waiter.send_command(&[b"CLIENT", b"REPLY", b"ON"]);
            out.push(text(waiter.read_reply()));
            out.push(waiter.cmd(&["PING"]));
        }
        out
    });
}

/// A served blocking command enters the slow log once it completes (after
/// the command that served it); one that times out does not.
#[test]
fn served_blocking_commands_reach_the_slow_log_and_timeouts_do_not() {
    same_on_both(|server| {
        let mut admin = server.raw();
        admin.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        admin.cmd(&["SLOWLOG", "RESET"]);
        let mut waiter = server.raw();
        waiter.cmd(&["CLIENT", "SETNAME", "waiter"]);
        waiter.send_command(&[b"BLPOP", b"k", b"0"]);
        wait_blocked(&mut admin, 1);
        admin.cmd(&["RPUSH", "k", "v"]);
        let mut out = vec![text(waiter.read_reply()), waiter.cmd(&["BLPOP", "k", "0.01"])];
        let log = admin.cmd(&["SLOWLOG", "GET", "10"]);
        // Entries carry ids, times, durations and ports that differ; keep the
        // command words and client names, in log order.
        out.extend(
            log.split("\r\n")
                .filter(|line| !line.starts_with(['*', '$', ':']) && !line.starts_with("127.0.0.1") && !line.is_empty())
                .map(str::to_string),
        );
        out
    });
}
