//! XREAD BLOCK and XREADGROUP BLOCK with several real connections, each
//! scenario run against Cinnabar and the real redis-server and the
//! transcripts compared. Entries get explicit IDs so replies are the same.

mod common;

use common::blocking::{block, same_on_both, text, wait_blocked};

#[test]
fn xadd_serves_readers_waiting_after_an_id_or_dollar() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["XADD", "s", "1-1", "a", "1"])];
        let mut after_id = block(server, &mut admin, &["XREAD", "BLOCK", "0", "STREAMS", "s", "1-1"], 1);
        let mut dollar = block(server, &mut admin, &["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "$"], 2);
        out.push(admin.cmd(&["XADD", "s", "2-1", "b", "2"]));
        out.push(text(after_id.read_reply()));
        out.push(text(dollar.read_reply()));
        // `$` on a missing stream waits for its first entry.
        let mut fresh = block(server, &mut admin, &["XREAD", "BLOCK", "0", "STREAMS", "new", "$"], 1);
        out.push(admin.cmd(&["XADD", "new", "5-5", "f", "v"]));
        out.push(text(fresh.read_reply()));
        let stats = admin.cmd(&["INFO", "commandstats"]);
        out.extend(
            stats.lines().filter(|l| l.starts_with("cmdstat_xread")).map(|l| l[..l.find(",usec").unwrap()].into()),
        );
        out
    });
}

#[test]
fn a_reader_of_several_streams_gets_only_the_ready_one_with_count() {
    same_on_both(|server| {
        let mut admin = server.raw();
        admin.cmd(&["XADD", "a", "1-1", "x", "1"]);
        let words = ["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "$", "0-0"];
        let mut reader = block(server, &mut admin, &words, 1);
        // Deleting entries and trimming do not serve anyone.
        let mut out = vec![admin.cmd(&["XDEL", "a", "1-1"]), admin.cmd(&["XTRIM", "a", "MAXLEN", "0"])];
        wait_blocked(&mut admin, 1);
        // A whole stream arriving under the key: COUNT limits what is served.
        for id in ["3-1", "3-2", "3-3"] {
            out.push(admin.cmd(&["XADD", "src", id, "f", id]));
        }
        out.push(admin.cmd(&["RENAME", "src", "b"]));
        out.push(text(reader.read_reply()));
        out
    });
}

#[test]
fn readers_are_served_first_come_first_served_and_time_out_with_null() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut first = block(server, &mut admin, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], 1);
        let mut second = block(server, &mut admin, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], 2);
        let mut out = vec![admin.cmd(&["XADD", "s", "1-1", "a", "1"])];
        out.push(text(first.read_reply()));
        out.push(text(second.read_reply()));
        out.push(first.cmd(&["XREAD", "BLOCK", "10", "STREAMS", "s", "$"]));
        first.cmd(&["HELLO", "3"]);
        out.push(first.cmd(&["XREAD", "BLOCK", "10", "STREAMS", "s", "$"]));
        out.push(first.cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"]));
        admin.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
        out.push(first.cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"]));
        // Served in RESP3: a map of the one ready stream.
        first.send_command(&[b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"s", b">"]);
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["XADD", "s", "2-2", "f", "v"]));
        out.push(text(first.read_reply()));
        out
    });
}

#[test]
fn a_group_reader_is_served_new_entries_and_records_them_as_pending() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let mut out = vec![admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])];
        let words = ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"];
        let mut alice = block(server, &mut admin, &words, 1);
        let noack = ["XREADGROUP", "GROUP", "g", "bob", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"];
        let mut bob = block(server, &mut admin, &noack, 2);
        out.push(admin.cmd(&["XADD", "s", "1-1", "a", "1"]));
        out.push(text(alice.read_reply()));
        // Alice took 1-1 for the group: Bob waits for something newer.
        wait_blocked(&mut admin, 1);
        out.push(admin.cmd(&["XADD", "s", "1-2", "b", "2"]));
        out.push(text(bob.read_reply()));
        out.push(admin.cmd(&["XPENDING", "s", "g"]));
        out.push(without_numbers(&admin.cmd(&["XINFO", "CONSUMERS", "s", "g"])));
        // Serving dirties the dataset only by the consumers it creates.
        let persistence = admin.cmd(&["INFO", "persistence"]);
        out.extend(persistence.lines().filter(|l| l.starts_with("rdb_changes")).map(str::to_string));
        out
    });
}

#[test]
fn group_readers_hear_when_their_group_or_stream_goes() {
    same_on_both(|server| {
        let mut admin = server.raw();
        admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        admin.cmd(&["XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"]);
        let group = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS"];
        let mut on_s = block(server, &mut admin, &[&group[..], &["s", ">"]].concat(), 1);
        let mut on_t = block(server, &mut admin, &[&group[..], &["t", ">"]].concat(), 2);
        let mut plain = block(server, &mut admin, &["XREAD", "BLOCK", "0", "STREAMS", "t", "$"], 3);
        let mut out = vec![admin.cmd(&["XGROUP", "DESTROY", "s", "g"])];
        out.push(text(on_s.read_reply()));
        out.push(admin.cmd(&["DEL", "t"]));
        out.push(text(on_t.read_reply()));
        // A plain reader waits on through the deletion and a key of another type.
        out.push(admin.cmd(&["SET", "t", "x"]));
        out.push(admin.cmd(&["DEL", "t"]));
        out.push(admin.cmd(&["XADD", "t", "9-9", "f", "v"]));
        out.push(text(plain.read_reply()));
        let stats = admin.cmd(&["INFO", "stats"]);
        out.push(stats.lines().filter(|l| l.starts_with("total_error_replies")).collect());
        out.push(admin.cmd(&["INFO", "errorstats"]));
        out
    });
}

#[test]
fn group_readers_hear_of_overwrites_flushes_and_expiry() {
    same_on_both(|server| {
        let mut admin = server.raw();
        let group = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"];
        let mut out = Vec::new();
        for gone in [&["SET", "s", "x"][..], &["RENAME", "s", "t"], &["FLUSHALL"], &["PEXPIRE", "s", "1"]] {
            admin.cmd(&["DEL", "s"]);
            admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
            let mut reader = block(server, &mut admin, &group, 1);
            out.push(admin.cmd(gone));
            out.push(text(reader.read_reply()));
            wait_blocked(&mut admin, 0);
        }
        out
    });
}

#[test]
fn swapdb_serves_waiters_and_tells_group_readers_their_stream_left() {
    same_on_both(|server| {
        let mut admin = server.raw();
        admin.cmd(&["XGROUP", "CREATE", "g", "g", "$", "MKSTREAM"]);
        let mut grouped =
            block(server, &mut admin, &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "g", ">"], 1);
        let mut reader = block(server, &mut admin, &["XREAD", "BLOCK", "0", "STREAMS", "s", "0-0"], 2);
        let mut popper = block(server, &mut admin, &["BLPOP", "l", "0"], 3);
        admin.cmd(&["SELECT", "1"]);
        let mut out = vec![admin.cmd(&["XADD", "s", "1-1", "f", "v"]), admin.cmd(&["RPUSH", "l", "x"])];
        out.push(admin.cmd(&["SWAPDB", "0", "1"]));
        out.extend([&mut grouped, &mut reader, &mut popper].map(|c| text(c.read_reply())));
        out
    });
}

/// `text` with every run of digits replaced by one `#`: idle times vary in
/// value and in length from run to run.
fn without_numbers(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}
