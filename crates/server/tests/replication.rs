//! Replication against the real redis-server 7.0 in both roles: a
//! redis-server replica of a Cinnabar master and a Cinnabar replica of a
//! redis-server master sync fully (on disk and diskless), follow the
//! stream (expirations as DEL, transactions, other databases, scripts),
//! continue partially after a cut link, fall back to a full sync past the
//! backlog, and acknowledge WAIT. Replica rules (READONLY, MASTERDOWN,
//! hidden expired keys), ROLE and INFO follow Redis, a restarted replica
//! resumes from its RDB, and FAILOVER hands over without losing writes.

mod common;

use std::time::Duration;

use common::node::{wait_converged, wait_linked, wait_online, wait_until, write_keys, Node};
use common::proxy::Proxy;
use common::Kind;

/// Every type, TTLs and two databases.
fn populate(node: &Node) {
    let mut c = node.conn();
    c.cmd(&["SET", "str", "hello"]);
    c.cmd(&["SET", "ttl", "x", "PX", "100000000"]);
    for i in 0..300 {
        let i = i.to_string();
        c.cmd(&["RPUSH", "list", &i]);
        c.cmd(&["SADD", "set", &i]);
        c.cmd(&["HSET", "hash", &format!("f{i}"), &i]);
        c.cmd(&["ZADD", "zset", &i, &format!("m{i}")]);
    }
    c.cmd(&["SADD", "intset", "1", "2", "3"]);
    c.cmd(&["XADD", "stream", "1-1", "f", "v"]);
    c.cmd(&["PFADD", "hll", "a", "b", "c"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "in-db-3", "1"]);
}

fn full_sync_of_redis_replica(diskless: &str) {
    let master = Node::cinnabar(&["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"]);
    populate(&master);
    let replica = Node::redis(&[]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_full"), 1);
    assert!(master.info_field("replication", "slave0").contains("state=online"));
}

#[test]
fn a_redis_replica_syncs_from_cinnabar_on_disk() {
    full_sync_of_redis_replica("no");
}

#[test]
fn a_redis_replica_syncs_from_cinnabar_diskless() {
    full_sync_of_redis_replica("yes");
}

fn full_sync_of_cinnabar_replica(diskless: &str, load: &str) {
    let master = Node::redis(&["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"]);
    populate(&master);
    let replica = Node::cinnabar(&["--repl-diskless-load", load]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_full"), 1);
}

#[test]
fn cinnabar_syncs_from_redis_on_disk() {
    full_sync_of_cinnabar_replica("no", "disabled");
}

#[test]
fn cinnabar_syncs_from_redis_diskless() {
    full_sync_of_cinnabar_replica("yes", "swapdb");
}

/// The stream after the sync: plain writes, transactions, scripts, other
/// databases, and expirations, which reach replicas as DEL.
fn follow_the_stream(master: &Node, replica: &Node) {
    replica.replicate_from(master);
    wait_linked(replica);
    let mut c = master.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "a"]);
    c.cmd(&["LPUSH", "l", "x", "y"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["EVAL", "redis.call('set', KEYS[1], 'v'); return redis.call('incr', KEYS[2])", "2", "s", "n"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["SET", "short-lived", "v", "PX", "100"]);
    wait_converged(&[master, replica]);
    assert_eq!(replica.conn().cmd(&["GET", "a"]), "$1\r\n2\r\n");
    wait_until("the expired key to be deleted on the replica", Duration::from_secs(10), || {
        let mut r = replica.conn();
        r.cmd(&["SELECT", "5"]);
        r.cmd(&["DBSIZE"]) == ":1\r\n"
    });
    wait_converged(&[master, replica]);
}

#[test]
fn a_redis_replica_follows_the_cinnabar_stream() {
    follow_the_stream(&Node::cinnabar(&[]), &Node::redis(&[]));
}

#[test]
fn cinnabar_follows_the_redis_stream() {
    follow_the_stream(&Node::redis(&[]), &Node::cinnabar(&[]));
}

/// The link is cut (a proxy closes both ends); the replica reconnects and
/// continues from the backlog: a partial resync, no second full sync.
fn partial_after_cut(master: Node, replica: Node) {
    let proxy = Proxy::to(master.port);
    replica.cmd(&["REPLICAOF", "127.0.0.1", &proxy.port.to_string()]);
    wait_linked(&replica);
    write_keys(&master, "before", 200);
    wait_converged(&[&master, &replica]);
    proxy.down();
    write_keys(&master, "during", 200);
    wait_until("the master to notice", Duration::from_secs(10), || {
        master.info_field("replication", "connected_slaves") == "0"
    });
    proxy.up();
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_full"), 1);
    assert_eq!(master.stat("sync_partial_ok"), 1);
}

#[test]
fn a_redis_replica_continues_partially_after_a_cut() {
    partial_after_cut(Node::cinnabar(&[]), Node::redis(&[]));
}

#[test]
fn cinnabar_continues_partially_after_a_cut() {
    partial_after_cut(Node::redis(&[]), Node::cinnabar(&[]));
}

/// Past the backlog, only a full sync can bring the replica back.
#[test]
fn a_replica_behind_more_than_the_backlog_gets_a_full_sync() {
    let master = Node::cinnabar(&["--repl-backlog-size", "16384", "--repl-diskless-sync-delay", "0"]);
    let replica = Node::redis(&[]);
    let proxy = Proxy::to(master.port);
    replica.cmd(&["REPLICAOF", "127.0.0.1", &proxy.port.to_string()]);
    wait_linked(&replica);
    let refused_before = master.stat("sync_partial_err");
    proxy.down();
    write_keys(&master, "lots", 5000);
    proxy.up();
    wait_until("a second full sync", Duration::from_secs(20), || master.stat("sync_full") == 2);
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_partial_err"), refused_before + 1, "its PSYNC was refused");
    assert_eq!(master.stat("sync_partial_ok"), 0);
}

#[test]
fn wait_counts_the_replicas_that_acknowledged() {
    let master = Node::cinnabar(&["--repl-diskless-sync-delay", "0"]);
    let r1 = Node::redis(&[]);
    let r2 = Node::cinnabar(&[]);
    r1.replicate_from(&master);
    r2.replicate_from(&master);
    wait_linked(&r1);
    wait_linked(&r2);
    let mut c = master.conn();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd(&["WAIT", "2", "5000"]), ":2\r\n");
    r1.signal("STOP");
    c.cmd(&["SET", "k", "w"]);
    assert_eq!(c.cmd(&["WAIT", "2", "300"]), ":1\r\n", "only the running replica acknowledges");
    r1.signal("CONT");
    assert_eq!(c.cmd(&["WAIT", "2", "5000"]), ":2\r\n");
    // Inside MULTI WAIT answers at once.
    c.cmd(&["MULTI"]);
    c.cmd(&["WAIT", "5", "0"]);
    assert!(c.cmd(&["EXEC"]).starts_with("*1\r\n:"));
}

#[test]
fn wait_on_a_redis_master_is_acknowledged_by_cinnabar() {
    let master = Node::redis(&[]);
    let replica = Node::cinnabar(&[]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    let mut c = master.conn();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd(&["WAIT", "1", "5000"]), ":1\r\n");
}

#[test]
fn replicas_waiting_together_share_one_diskless_snapshot() {
    let master = Node::cinnabar(&["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "2"]);
    populate(&master);
    let r1 = Node::redis(&[]);
    let r2 = Node::cinnabar(&[]);
    r1.replicate_from(&master);
    r2.replicate_from(&master);
    wait_linked(&r1);
    wait_linked(&r2);
    wait_converged(&[&master, &r1, &r2]);
    assert_eq!(master.info_field("stats", "total_forks"), "1");
    assert_eq!(master.stat("sync_full"), 2);
}

#[test]
fn a_chained_replica_gets_the_same_stream_and_offsets() {
    let master = Node::redis(&[]);
    let middle = Node::cinnabar(&[]);
    let leaf = Node::redis(&[]);
    middle.replicate_from(&master);
    wait_linked(&middle);
    leaf.replicate_from(&middle);
    wait_linked(&leaf);
    write_keys(&master, "chain", 300);
    wait_converged(&[&master, &middle, &leaf]);
    let offset = |n: &Node| n.info_field("replication", "master_repl_offset");
    wait_until("equal offsets", Duration::from_secs(10), || offset(&master) == offset(&leaf));
    assert_eq!(offset(&middle), offset(&master));
}

#[test]
fn replicas_refuse_writes_and_stale_reads_like_redis() {
    let master = Node::redis(&[]);
    let replica = Node::cinnabar(&["--replica-serve-stale-data", "no"]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    let mut c = replica.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "-READONLY You can't write against a read only replica.\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), "$-1\r\n");
    // A master that is gone: stale data is refused, but INFO still answers.
    replica.cmd(&["REPLICAOF", "127.0.0.1", &common::free_port().to_string()]);
    assert_eq!(
        c.cmd(&["GET", "k"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert!(c.cmd(&["INFO", "replication"]).contains("master_link_status:down"));
    assert_eq!(c.cmd(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
}

#[test]
fn a_replica_hides_expired_keys_until_the_master_deletes_them() {
    let master = Node::redis(&[]);
    let replica = Node::cinnabar(&[]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    let mut m = master.conn();
    m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    m.cmd(&["SET", "k", "v", "PX", "200"]);
    m.cmd(&["WAIT", "1", "2000"]);
    std::thread::sleep(Duration::from_millis(400));
    let mut r = replica.conn();
    assert_eq!(r.cmd(&["GET", "k"]), "$-1\r\n", "logically expired");
    assert_eq!(r.cmd(&["DBSIZE"]), ":1\r\n", "but not deleted by the replica");
    m.cmd(&["GET", "k"]); // the master expires it and sends DEL
    wait_until("the DEL", Duration::from_secs(5), || replica.cmd(&["DBSIZE"]) == ":0\r\n");
}

/// ROLE and INFO replication have Redis's shapes on both sides.
#[test]
fn role_and_info_look_like_redis() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let master = Node::start(kind, &["--repl-diskless-sync-delay", "0"]);
        let replica = Node::start(kind, &[]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        master.conn().cmd(&["WAIT", "1", "2000"]);
        let port = replica.port.to_string();
        let role = master.cmd(&["ROLE"]);
        assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{kind:?}: {role}");
        assert!(role.contains(&format!("*3\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len())), "{kind:?}: {role}");
        let role = replica.cmd(&["ROLE"]);
        let master_port = master.port.to_string();
        let prefix = format!("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{master_port}\r\n$9\r\nconnected\r\n:");
        assert!(role.starts_with(&prefix), "{kind:?}: {role}");
        let names = |n: &Node| -> Vec<String> {
            n.cmd(&["INFO", "replication"])
                .lines()
                .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
                .collect()
        };
        assert!(names(&master).contains(&"slave0".to_string()));
        if kind == Kind::Cinnabar {
            let redis_master = Node::redis(&[]);
            let redis_replica = Node::redis(&[]);
            redis_replica.replicate_from(&redis_master);
            wait_linked(&redis_replica);
            assert_eq!(names(&replica), names(&redis_replica));
            assert_eq!(names(&master), names(&redis_master));
        }
    }
}

/// A replica restarted from its own dump continues with a partial sync.
#[test]
fn a_restarted_replica_resumes_from_its_rdb() {
    let master = Node::redis(&[]);
    let mut replica = Node::cinnabar(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    wait_linked(&replica);
    write_keys(&master, "before", 300);
    wait_converged(&[&master, &replica]);
    let mut c = replica.conn();
    c.send_command(&[b"SHUTDOWN", b"SAVE"]);
    c.read_to_close();
    replica.kill9();
    write_keys(&master, "meanwhile", 300);
    replica.restart();
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_full"), 1);
    assert_eq!(master.stat("sync_partial_ok"), 1);
}

/// FAILOVER: the master pauses writes, waits for the replica, hands over;
/// afterwards the roles are swapped and nothing written before is lost.
fn failover(master: Node, replica: Node) {
    replica.replicate_from(&master);
    wait_linked(&replica);
    wait_online(&master);
    write_keys(&master, "before", 200);
    let port = replica.port.to_string();
    assert_eq!(master.cmd(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "5000"]), "+OK\r\n");
    wait_until("the roles to swap", Duration::from_secs(15), || {
        replica.info_field("replication", "role") == "master"
            && master.info_field("replication", "master_link_status") == "up"
            && master.info_field("replication", "master_failover_state") == "no-failover"
    });
    write_keys(&replica, "after", 100);
    wait_converged(&[&replica, &master]);
    assert_eq!(master.cmd(&["SET", "x", "y"]), "-READONLY You can't write against a read only replica.\r\n");
}

#[test]
fn failover_from_cinnabar_to_a_redis_replica() {
    failover(Node::cinnabar(&[]), Node::redis(&[]));
}

#[test]
fn failover_from_redis_to_a_cinnabar_replica() {
    failover(Node::redis(&[]), Node::cinnabar(&[]));
}

#[test]
fn failover_errors_match_redis() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let node = Node::start(kind, &[]);
        let mut c = node.conn();
        assert_eq!(c.cmd(&["FAILOVER"]), "-ERR FAILOVER requires connected replicas.\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["FAILOVER", "ABORT"]), "-ERR No failover in progress.\r\n", "{kind:?}");
        assert_eq!(c.cmd(&["FAILOVER", "TIMEOUT", "-1"]), "-ERR FAILOVER timeout must be greater than 0\r\n");
        assert_eq!(c.cmd(&["FAILOVER", "BOGUS"]), "-ERR syntax error\r\n");
        assert_eq!(c.cmd(&["REPLICAOF", "127.0.0.1", "70000"]), "-ERR Invalid master port\r\n");
        assert_eq!(c.cmd(&["WAIT", "0", "-1"]), "-ERR timeout is negative\r\n");
    }
}

/// A script that writes fails on a read-only replica with READONLY (from
/// inside the script); a `no-writes` script runs.
#[test]
fn scripts_on_a_read_only_replica_behave_like_redis() {
    let mut replies = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let master = Node::redis(&[]);
        let replica = Node::start(kind, &[]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        let mut c = replica.conn();
        replies.push((
            c.cmd(&["EVAL", "return redis.call('set', 'k', 'v')", "0"]),
            c.cmd(&["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"]),
            c.cmd(&["EVAL", "#!lua\nreturn 1", "0"]),
        ));
    }
    assert_eq!(replies[0], replies[1]);
}

/// A replica that stops reading is cut off at its output-buffer limit
/// (counted beyond the backlog's history), reconnects once it runs again,
/// syncs fully (it fell out of the backlog) and converges, once.
#[test]
fn a_replica_past_its_output_limit_is_cut_off_and_comes_back() {
    let master = Node::cinnabar(&[
        "--client-output-buffer-limit",
        "replica 256kb 0 0",
        "--repl-backlog-size",
        "4mb",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let replica = Node::redis(&[]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    replica.signal("STOP");
    let value = "v".repeat(1000);
    let mut c = master.conn();
    // More than the kernel's socket buffers can absorb.
    for round in 0..20 {
        for i in 0..1000 {
            c.send_command(&[b"SET", format!("big:{round}:{i}").as_bytes(), value.as_bytes()]);
        }
        for _ in 0..1000 {
            c.read_reply();
        }
    }
    wait_until("the replica to be cut off", Duration::from_secs(15), || {
        master.info_field("replication", "connected_slaves") == "0"
    });
    assert!(master.log().contains("overcoming of output buffer limits"));
    replica.signal("CONT");
    wait_linked(&replica);
    wait_converged(&[&master, &replica]);
    assert_eq!(master.stat("sync_full"), 2);
}

/// min-replicas-to-write: writes are refused with Redis's error until
/// enough replicas acknowledge recently.
#[test]
fn min_replicas_to_write_refuses_writes_like_redis() {
    let mut refusals = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let master = Node::start(kind, &["--min-replicas-to-write", "1", "--repl-diskless-sync-delay", "0"]);
        refusals.push(master.cmd(&["SET", "k", "v"]));
        let replica = Node::redis(&[]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        wait_until("a good replica", Duration::from_secs(10), || master.cmd(&["SET", "k", "v"]) == "+OK\r\n");
    }
    assert_eq!(refusals[0], "-NOREPLICAS Not enough good replicas to write.\r\n");
    assert_eq!(refusals[0], refusals[1]);
}

/// CLIENT LIST marks the links (S on the master, M on the replica); the
/// byte counters of INFO stats move; a master alone past repl-backlog-ttl
/// frees its backlog.
#[test]
fn links_are_visible_and_the_backlog_expires_when_alone() {
    let master = Node::cinnabar(&["--repl-backlog-ttl", "1", "--repl-diskless-sync-delay", "0"]);
    let replica = Node::cinnabar(&[]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    write_keys(&master, "k", 10);
    wait_converged(&[&master, &replica]);
    assert!(master.cmd(&["CLIENT", "LIST", "TYPE", "replica"]).contains("flags=S "));
    assert!(replica.cmd(&["CLIENT", "LIST", "TYPE", "master"]).contains("flags=M "));
    assert!(master.stat("total_net_repl_output_bytes") > 0);
    assert!(replica.stat("total_net_repl_input_bytes") > 0);
    assert_eq!(master.info_field("replication", "repl_backlog_active"), "1");
    replica.cmd(&["REPLICAOF", "NO", "ONE"]);
    wait_until("the backlog to be freed", Duration::from_secs(10), || {
        master.info_field("replication", "repl_backlog_active") == "0"
    });
}

/// Function libraries travel in the snapshot of a full sync (both ways) and
/// survive a restart through the RDB.
#[test]
fn functions_reach_replicas_and_survive_restarts() {
    let library = "#!lua name=lib\nredis.register_function{function_name='answer', callback=function() return 42 end, \
                   flags={'no-writes'}}";
    for (master_kind, replica_kind) in [(Kind::Cinnabar, Kind::Redis), (Kind::Redis, Kind::Cinnabar)] {
        let master = Node::start(master_kind, &["--repl-diskless-sync-delay", "0"]);
        assert_eq!(master.cmd(&["FUNCTION", "LOAD", library]), "$3\r\nlib\r\n");
        let replica = Node::start(replica_kind, &[]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        assert_eq!(replica.cmd(&["FCALL_RO", "answer", "0"]), ":42\r\n", "{master_kind:?} -> {replica_kind:?}");
    }
    let mut node = Node::cinnabar(&[]);
    node.cmd(&["FUNCTION", "LOAD", library]);
    assert_eq!(node.cmd(&["SAVE"]), "+OK\r\n");
    node.kill9();
    node.restart();
    assert_eq!(node.cmd(&["FCALL", "answer", "0"]), ":42\r\n");
}

/// PUBLISH on a master reaches subscribers of its replicas (both ways).
#[test]
fn messages_published_on_the_master_reach_subscribers_of_replicas() {
    for (master_kind, replica_kind) in [(Kind::Cinnabar, Kind::Redis), (Kind::Redis, Kind::Cinnabar)] {
        let master = Node::start(master_kind, &["--repl-diskless-sync-delay", "0"]);
        let replica = Node::start(replica_kind, &[]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        let mut subscriber = replica.conn();
        subscriber.cmd(&["SUBSCRIBE", "news"]);
        master.cmd(&["PUBLISH", "news", "hello"]);
        let message = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
        assert_eq!(
            message, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
            "{master_kind:?} -> {replica_kind:?}"
        );
    }
}

/// A replica authenticates to a master that requires a password
/// (`masterauth`, and `masteruser` for an ACL user).
#[test]
fn replicas_authenticate_with_masterauth_and_masteruser() {
    let master = Node::redis(&["--requirepass", "secret"]);
    let replica = Node::cinnabar(&["--masterauth", "secret"]);
    replica.replicate_from(&master);
    wait_linked(&replica);
    let mut m = master.conn();
    m.cmd(&["AUTH", "secret"]);
    m.cmd(&["ACL", "SETUSER", "repl", "on", ">pw", "+psync", "+replconf", "+ping"]);
    let second = Node::cinnabar(&["--masteruser", "repl", "--masterauth", "pw"]);
    second.replicate_from(&master);
    wait_linked(&second);
    m.cmd(&["SET", "k", "v"]);
    wait_until("the write", Duration::from_secs(10), || second.cmd(&["GET", "k"]) == "$1\r\nv\r\n");
}

/// A failover that cannot complete (the replica is stopped) pauses writes
/// until FAILOVER ABORT, or until its TIMEOUT passes; then writes resume.
#[test]
fn a_stuck_failover_is_aborted_by_hand_or_by_its_timeout() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let master = Node::start(kind, &["--repl-diskless-sync-delay", "0"]);
        let replica = Node::redis(&[]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        wait_online(&master);
        replica.signal("STOP");
        master.cmd(&["SET", "k", "v"]);
        let port = replica.port.to_string();
        assert_eq!(master.cmd(&["FAILOVER", "TO", "127.0.0.1", &port]), "+OK\r\n", "{kind:?}");
        assert_eq!(master.info_field("replication", "master_failover_state"), "waiting-for-sync");
        assert_eq!(master.cmd(&["FAILOVER"]), "-ERR FAILOVER already in progress.\r\n", "{kind:?}");
        assert_eq!(master.cmd(&["FAILOVER", "ABORT"]), "+OK\r\n");
        assert_eq!(master.info_field("replication", "master_failover_state"), "no-failover");
        assert_eq!(master.cmd(&["SET", "k", "w"]), "+OK\r\n", "{kind:?}: writes resume");
        assert_eq!(master.cmd(&["FAILOVER", "TIMEOUT", "500"]), "+OK\r\n");
        wait_until("the timeout to abort it", Duration::from_secs(10), || {
            master.info_field("replication", "master_failover_state") == "no-failover"
        });
        assert_eq!(master.info_field("replication", "role"), "master", "{kind:?}");
        replica.signal("CONT");
    }
}

/// replica-announce-ip/port are what the master shows for its replica.
#[test]
fn masters_show_the_announced_replica_address() {
    for (master_kind, replica_kind) in [(Kind::Cinnabar, Kind::Redis), (Kind::Redis, Kind::Cinnabar)] {
        let master = Node::start(master_kind, &["--repl-diskless-sync-delay", "0"]);
        let replica =
            Node::start(replica_kind, &["--replica-announce-ip", "192.0.2.7", "--replica-announce-port", "5555"]);
        replica.replicate_from(&master);
        wait_linked(&replica);
        wait_online(&master);
        let shown = master.info_field("replication", "slave0");
        assert!(shown.starts_with("ip=192.0.2.7,port=5555,"), "{master_kind:?} <- {replica_kind:?}: {shown}");
        assert!(master.cmd(&["ROLE"]).contains("$9\r\n192.0.2.7\r\n$4\r\n5555\r\n"));
    }
}
