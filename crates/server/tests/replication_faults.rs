//! Replication under faults and across implementations: Cinnabar and the real
//! redis-server 7.0 mixed in one topology, processes killed (-9), stopped
//! (SIGSTOP) and restarted, replicas promoted. After each scenario the
//! datasets must converge (DEBUG DIGEST equal) and every write that WAIT
//! confirmed on N replicas must be on those replicas.
//!
//! Nodes keep their port and directory across restarts, as a real deployment
//! does, so replicas find a restarted master where it was.

mod common;

use std::time::Duration;

use common::node::{wait_converged, wait_linked, wait_until, write_keys, Node};
use common::Kind;

/// Writes keys one by one, each followed by WAIT for `replicas`; returns the
/// keys WAIT confirmed on all of them, until the master stops answering.
fn write_confirmed(master_port: u16, replicas: usize, limit: usize) -> Vec<String> {
    use std::io::{BufReader, Write};
    let mut confirmed = Vec::new();
    let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", master_port)) else { return confirmed };
    let mut reader = BufReader::new(stream.try_clone().expect("clone socket"));
    let mut writer = stream;
    let wanted = replicas.to_string();
    let mut call = |argv: &[&[u8]]| -> Option<Vec<u8>> {
        let mut request = format!("*{}\r\n", argv.len()).into_bytes();
        for arg in argv {
            request.extend(format!("${}\r\n", arg.len()).into_bytes());
            request.extend_from_slice(arg);
            request.extend(b"\r\n");
        }
        writer.write_all(&request).ok()?;
        let mut reply = Vec::new();
        common::read_frame(&mut reader, &mut reply).ok()?;
        Some(reply)
    };
    for i in 0..limit {
        let key = format!("acked:{i}");
        if call(&[b"SET", key.as_bytes(), b"1"]).is_none() {
            break;
        }
        match call(&[b"WAIT", wanted.as_bytes(), b"2000"]) {
            Some(reply) if reply == format!(":{wanted}\r\n").into_bytes() => confirmed.push(key),
            Some(_) => {}
            None => break,
        }
    }
    confirmed
}

fn assert_has_keys(node: &Node, keys: &[String]) {
    let mut c = node.conn();
    for key in keys {
        assert_eq!(c.cmd(&["EXISTS", key]), ":1\r\n", "{key} was acknowledged by WAIT but is missing");
    }
}

/// A Cinnabar master with a Cinnabar and a redis-server replica; the master
/// dies (-9) under a WAIT-confirmed write load; the Cinnabar replica is
/// promoted and the other replica follows it. No confirmed write is lost,
/// the follower continues with a partial sync, and the datasets converge.
#[test]
fn wait_confirmed_writes_survive_the_masters_death_and_a_promotion() {
    let mut master = Node::cinnabar(&[]);
    let promoted = Node::cinnabar(&[]);
    let follower = Node::redis(&[]);
    promoted.replicate_from(&master);
    follower.replicate_from(&master);
    wait_linked(&promoted);
    wait_linked(&follower);

    let port = master.port;
    let writer = std::thread::spawn(move || write_confirmed(port, 2, 100_000));
    std::thread::sleep(Duration::from_millis(300 + fastrand::u64(..700)));
    master.kill9();
    let confirmed = writer.join().expect("writer");
    assert!(!confirmed.is_empty(), "no write was confirmed before the kill");

    // The kill may fall between the master's writes to the two replicas;
    // PSYNC2 lets the follower continue only if it is not ahead.
    let offset = |n: &Node| n.info_field("replication", "master_repl_offset").parse::<u64>().expect("offset");
    let follower_not_ahead = offset(&follower) <= offset(&promoted);
    assert_eq!(promoted.cmd(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_has_keys(&promoted, &confirmed);
    assert_has_keys(&follower, &confirmed);
    follower.replicate_from(&promoted);
    wait_linked(&follower);
    wait_converged(&[&promoted, &follower]);
    if follower_not_ahead {
        assert_eq!(promoted.stat("sync_partial_ok"), 1, "the follower continued with a partial sync");
        assert_eq!(promoted.stat("sync_full"), 0);
    }
    write_keys(&promoted, "after", 100);
    wait_converged(&[&promoted, &follower]);
}

/// PSYNC2 across implementations: a master of kind `master` with two
/// replicas, `promoted` and `other`; `promoted` is promoted with REPLICAOF NO
/// ONE; `other` and the demoted master follow it with partial syncs.
fn followers_continue_partially_after_a_promotion(master: Kind, promoted: Kind, other: Kind) {
    let master = Node::start(master, &[]);
    let promoted = Node::start(promoted, &[]);
    let other = Node::start(other, &[]);
    promoted.replicate_from(&master);
    other.replicate_from(&master);
    wait_linked(&promoted);
    wait_linked(&other);
    write_keys(&master, "before", 500);
    wait_converged(&[&master, &promoted, &other]);

    assert_eq!(promoted.cmd(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    other.replicate_from(&promoted);
    master.replicate_from(&promoted);
    wait_linked(&other);
    wait_linked(&master);
    assert_eq!(promoted.stat("sync_partial_ok"), 2, "both followers continued partially");
    assert_eq!(promoted.stat("sync_full"), 0);
    write_keys(&promoted, "after", 500);
    wait_converged(&[&promoted, &other, &master]);
}

/// A redis-server master; its redis replica is promoted; a Cinnabar replica
/// and the demoted master follow.
#[test]
fn a_cinnabar_replica_and_a_demoted_master_follow_a_promoted_redis_replica_partially() {
    followers_continue_partially_after_a_promotion(Kind::Redis, Kind::Redis, Kind::Cinnabar);
}

/// A Cinnabar master; its Cinnabar replica is promoted; a redis-server
/// replica and the demoted Cinnabar master follow.
#[test]
fn a_redis_replica_and_a_demoted_master_follow_a_promoted_cinnabar_replica_partially() {
    followers_continue_partially_after_a_promotion(Kind::Cinnabar, Kind::Cinnabar, Kind::Redis);
}

/// A replica killed (-9) in the middle of a full sync comes back, syncs
/// again and converges; the master is not disturbed.
#[test]
fn a_replica_killed_during_a_full_sync_converges_after_restart() {
    // A slow snapshot keeps the transfer in progress long enough to kill it.
    let master = Node::cinnabar(&["--rdb-key-save-delay", "100", "--repl-diskless-sync", "no"]);
    master.cmd(&["DEBUG", "POPULATE", "20000", "key", "10"]);
    let mut replica = Node::cinnabar(&[]);
    replica.replicate_from(&master);
    wait_until("the full sync to start", Duration::from_secs(10), || {
        replica.info_field("replication", "master_sync_in_progress") == "1"
    });
    std::thread::sleep(Duration::from_millis(fastrand::u64(100..800)));
    replica.kill9();
    assert_eq!(master.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]), "+OK\r\n");
    let port = master.port.to_string();
    replica.args.extend(["--replicaof".to_string(), format!("127.0.0.1 {port}")]);
    replica.restart();
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    write_keys(&master, "after", 100);
    wait_converged(&[&master, &replica]);
}

/// A replica stopped (SIGSTOP) past the master's repl-timeout is dropped by
/// the master; once resumed it reconnects, continues partially (its offset
/// is still in the backlog) and converges.
#[test]
fn a_stopped_replica_is_dropped_then_continues_partially() {
    let master = Node::cinnabar(&["--repl-timeout", "2", "--repl-ping-replica-period", "1"]);
    let replica = Node::redis(&["--repl-timeout", "2"]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    write_keys(&master, "before", 200);
    wait_converged(&[&master, &replica]);

    replica.signal("STOP");
    wait_until("the master to drop the stopped replica", Duration::from_secs(15), || {
        master.info_field("replication", "connected_slaves") == "0"
    });
    write_keys(&master, "meanwhile", 200);
    replica.signal("CONT");
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert!(master.stat("sync_partial_ok") >= 1, "the resumed replica continued partially");
    assert_eq!(master.stat("sync_full"), 1);
}

/// A Cinnabar master killed (-9) while a replica loads its snapshot comes
/// back from its AOF; the replica syncs again and converges.
#[test]
fn a_master_killed_during_a_full_sync_comes_back_and_the_replica_converges() {
    let mut master = Node::cinnabar(&["--appendonly", "yes", "--appendfsync", "always", "--rdb-key-save-delay", "200"]);
    master.cmd(&["DEBUG", "POPULATE", "5000", "key", "10"]);
    // DEBUG POPULATE is not propagated; give the AOF the dataset too.
    assert!(master.cmd(&["BGREWRITEAOF"]).starts_with('+'));
    wait_until("the rewrite", Duration::from_secs(20), || {
        master.info_field("persistence", "aof_rewrite_in_progress") == "0"
            && master.info_field("persistence", "aof_rewrite_scheduled") == "0"
    });
    write_keys(&master, "acked", 100);
    let replica = Node::cinnabar(&[]);
    replica.replicate_from(&master);
    wait_until("the full sync to start", Duration::from_secs(10), || {
        replica.info_field("replication", "master_sync_in_progress") == "1"
    });
    master.kill9();
    assert!(master.dir().join("appendonlydir").exists());
    master.args.retain(|a| a != "200" && a != "--rdb-key-save-delay");
    master.restart();
    wait_linked(&replica);
    assert_has_keys(&replica, &(0..100).map(|i| format!("acked:{i}")).collect::<Vec<_>>());
    wait_converged(&[&master, &replica]);
}

/// A master stopped (SIGSTOP) past its replica's repl-timeout: the replica
/// declares the link down, keeps serving its data, and once the master runs
/// again continues partially and converges.
#[test]
fn a_stopped_master_is_left_then_followed_again_partially() {
    let master = Node::redis(&[]);
    let replica = Node::cinnabar(&["--repl-timeout", "2"]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    write_keys(&master, "before", 200);
    wait_converged(&[&master, &replica]);

    master.signal("STOP");
    wait_until("the replica to give up on the link", Duration::from_secs(15), || {
        replica.info_field("replication", "master_link_status") == "down"
    });
    assert_eq!(replica.cmd(&["GET", "before:1"]), "$7\r\nvalue-1\r\n", "stale data is served");
    master.signal("CONT");
    wait_linked(&replica);
    write_keys(&master, "after", 200);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_full"), 1);
    assert!(master.stat("sync_partial_ok") >= 1);
}
