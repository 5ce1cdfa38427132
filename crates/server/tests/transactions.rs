//! Transactions with several real connections, each scenario run against
//! Cinnabar and the real redis-server and the transcripts compared: WATCH
//! against other clients' writes, expiry, FLUSHDB/FLUSHALL and SWAPDB;
//! blocking commands and blocked clients around EXEC; disconnection inside
//! MULTI; CLIENT LIST fields; CLIENT PAUSE WRITE; commandstats.

mod common;

use common::blocking::{block, same_on_both, text, wait_blocked};
use common::ServerProcess;

/// `same_on_both`, with DEBUG enabled on both servers.
fn same_on_both_with_debug(scenario: fn(&ServerProcess) -> Vec<String>) {
    let args = ["--enable-debug-command", "yes"];
    assert_eq!(scenario(&ServerProcess::cinnabar(&args)), scenario(&ServerProcess::redis(&args)));
}

/// Runs MULTI, `commands`, EXEC on `conn`; returns the EXEC reply.
fn transaction(conn: &mut common::RawConn, commands: &[&[&str]]) -> String {
    assert_eq!(conn.cmd(&["MULTI"]), "+OK\r\n");
    for words in commands {
        assert_eq!(conn.cmd(words), "+QUEUED\r\n");
    }
    conn.cmd(&["EXEC"])
}

#[test]
fn another_clients_write_fails_exec_and_other_keys_do_not() {
    same_on_both(|server| {
        let (mut a, mut b) = (server.raw(), server.raw());
        let mut out = vec![a.cmd(&["WATCH", "k", "j"]), b.cmd(&["SET", "k", "1"])];
        out.push(transaction(&mut a, &[&["SET", "k", "mine"]]));
        out.push(a.cmd(&["GET", "k"]));
        out.push(a.cmd(&["WATCH", "k"]));
        out.push(b.cmd(&["SET", "other", "1"]));
        out.push(b.cmd(&["SELECT", "1"]));
        out.push(b.cmd(&["SET", "k", "in another db"]));
        out.push(transaction(&mut a, &[&["SET", "k", "mine"], &["GET", "k"]]));
        // DEL of a key that does not exist changes nothing.
        out.push(a.cmd(&["WATCH", "missing"]));
        out.push(b.cmd(&["SELECT", "0"]));
        out.push(b.cmd(&["DEL", "missing", "other"]));
        out.push(transaction(&mut a, &[&["PING"]]));
        out
    });
}

#[test]
fn watched_keys_that_expire_fail_exec_whoever_deletes_them() {
    same_on_both_with_debug(|server| {
        let (mut a, mut b) = (server.raw(), server.raw());
        let mut out = vec![a.cmd(&["SET", "k", "v", "PX", "30"]), a.cmd(&["WATCH", "k"])];
        // Wait until the key is gone: deleted by the active expiry cycle, or
        // by this EXISTS (lazy expiry).
        while b.cmd(&["EXISTS", "k"]) != ":0\r\n" {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        out.push(transaction(&mut a, &[&["PING"]]));
        // Expired but not yet deleted when EXEC runs: still a failure.
        out.push(a.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
        out.push(a.cmd(&["SET", "k", "v", "PX", "30"]));
        out.push(a.cmd(&["WATCH", "k"]));
        std::thread::sleep(std::time::Duration::from_millis(50));
        out.push(transaction(&mut a, &[&["PING"]]));
        // A key that had already expired when watched: its deletion is no change.
        out.push(a.cmd(&["SET", "k", "v", "PX", "1"]));
        std::thread::sleep(std::time::Duration::from_millis(10));
        out.push(a.cmd(&["WATCH", "k"]));
        out.push(b.cmd(&["GET", "k"]));
        out.push(transaction(&mut a, &[&["PING"]]));
        out
    });
}

#[test]
fn flushes_and_swapdb_fail_exec_only_for_keys_that_existed() {
    same_on_both(|server| {
        let (mut a, mut b) = (server.raw(), server.raw());
        let mut out = vec![a.cmd(&["SET", "k", "v"]), a.cmd(&["WATCH", "missing"]), b.cmd(&["FLUSHDB"])];
        out.push(transaction(&mut a, &[&["PING"]]));
        out.push(a.cmd(&["SET", "k", "v"]));
        out.push(a.cmd(&["WATCH", "k"]));
        out.push(b.cmd(&["FLUSHALL"]));
        out.push(transaction(&mut a, &[&["PING"]]));
        // SWAPDB: a key that only the other database holds counts too.
        out.push(b.cmd(&["SELECT", "1"]));
        out.push(b.cmd(&["SET", "k", "from db 1"]));
        out.push(a.cmd(&["WATCH", "k"]));
        out.push(b.cmd(&["SWAPDB", "0", "1"]));
        out.push(transaction(&mut a, &[&["GET", "k"]]));
        out.push(a.cmd(&["WATCH", "nowhere"]));
        out.push(b.cmd(&["SWAPDB", "0", "1"]));
        out.push(transaction(&mut a, &[&["GET", "k"]]));
        out
    });
}

#[test]
fn blocking_commands_inside_exec_do_not_block_and_exec_serves_blocked_clients() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut a = server.raw();
        let mut out = vec![transaction(&mut a, &[&["BLPOP", "l", "0"], &["BZPOPMIN", "z", "0"], &["PING"]])];
        let mut waiter = block(server, &mut admin, &["BLPOP", "l", "0"], 1);
        // The waiter is served once, after the whole transaction.
        out.push(transaction(&mut a, &[&["RPUSH", "l", "x"], &["RPUSH", "l", "y"], &["LLEN", "l"]]));
        out.push(text(waiter.read_reply()));
        out.push(admin.cmd(&["LRANGE", "l", "0", "-1"]));
        wait_blocked(&mut admin, 0);
        out
    });
}

#[test]
fn a_client_that_disconnects_inside_multi_runs_nothing() {
    same_on_both(|server| {
        let mut b = server.raw();
        {
            let mut a = server.raw();
            a.cmd(&["WATCH", "k"]);
            a.cmd(&["MULTI"]);
            a.cmd(&["SET", "k", "1"]);
        }
        // Once the server noticed the disconnection, only b is left.
        while b.cmd(&["CLIENT", "LIST"]).matches("id=").count() > 1 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        vec![b.cmd(&["GET", "k"]), b.cmd(&["SET", "k", "2"]), b.cmd(&["GET", "k"])]
    });
}

/// The CLIENT INFO fields that do not depend on timing or addresses.
fn stable_fields(line: &str) -> String {
    line.split(' ')
        .filter(|f| ["flags=", "multi=", "multi-mem=", "cmd="].iter().any(|p| f.starts_with(p)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn client_list_shows_the_transaction_and_a_touched_watch() {
    same_on_both(|server| {
        let (mut a, mut b) = (server.raw(), server.raw());
        let mut out = vec![a.cmd(&["MULTI"]), a.cmd(&["SET", "k", "abc"]), a.cmd(&["GET", "k"])];
        out.push(stable_fields(b.cmd(&["CLIENT", "LIST"]).lines().nth(1).unwrap_or_default()));
        out.push(a.cmd(&["DISCARD"]));
        out.push(a.cmd(&["WATCH", "k"]));
        out.push(b.cmd(&["SET", "k", "1"]));
        out.push(stable_fields(b.cmd(&["CLIENT", "LIST"]).lines().nth(1).unwrap_or_default()));
        out.push(a.cmd(&["UNWATCH"]));
        out.push(stable_fields(&a.cmd(&["CLIENT", "INFO"])));
        out
    });
}

#[test]
fn client_pause_write_holds_an_exec_of_writes_but_not_of_reads() {
    same_on_both(|server| {
        let (mut a, mut admin) = (server.raw(), server.raw());
        let mut out = vec![admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"])];
        out.push(transaction(&mut a, &[&["GET", "k"]]));
        out.push(a.cmd(&["MULTI"]));
        out.push(a.cmd(&["GET", "k"]));
        a.send_command(&[b"SET", b"k", b"1"]);
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["CLIENT", "UNPAUSE"]));
        out.push(text(a.read_reply()));
        out.push(admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]));
        a.send_command(&[b"EXEC"]);
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["CLIENT", "UNPAUSE"]));
        out.push(text(a.read_reply()));
        out
    });
}

/// The commandstats lines, without their timings, sorted.
fn command_counts(info: &str) -> Vec<String> {
    let mut lines: Vec<String> = info
        .lines()
        .filter(|l| l.starts_with("cmdstat_"))
        .map(|l| l.split(',').filter(|f| !f.starts_with("usec")).collect::<Vec<_>>().join(","))
        .collect();
    lines.sort();
    lines
}

#[test]
fn commandstats_count_queued_commands_when_exec_runs_them() {
    same_on_both(|server| {
        let mut a = server.raw();
        a.cmd(&["CONFIG", "RESETSTAT"]);
        transaction(&mut a, &[&["SET", "a", "1"], &["INCR", "a"], &["LPUSH", "a", "x"]]);
        a.cmd(&["MULTI"]);
        a.cmd(&["SET", "a"]);
        a.cmd(&["EXEC"]);
        a.cmd(&["EXEC", "extra"]);
        a.cmd(&["WATCH", "a"]);
        a.cmd(&["SET", "a", "2"]);
        transaction(&mut a, &[&["GET", "a"]]);
        let mut out = command_counts(&a.cmd(&["INFO", "commandstats"]));
        let errors = a.cmd(&["INFO", "errorstats"]);
        out.extend(errors.lines().filter(|l| l.starts_with("errorstat_")).map(str::to_string));
        out
    });
}

#[test]
fn reset_and_quit_end_a_transaction() {
    let server = ServerProcess::cinnabar(&[]);
    let mut a = server.raw();
    a.cmd(&["WATCH", "k"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "k", "1"]);
    assert_eq!(a.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(a.cmd(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "k", "1"]);
    assert_eq!(a.cmd(&["QUIT"]), "+OK\r\n");
    assert_eq!(server.raw().cmd(&["GET", "k"]), "$-1\r\n");
}
