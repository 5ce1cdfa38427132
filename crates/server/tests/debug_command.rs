//! DEBUG behaviour a single-connection corpus cannot show: the dataset digest
//! agrees with the real redis-server however the data was built, and the
//! `enable-debug-command` setting is honoured.

mod common;

use common::{Kind, ServerProcess};

fn digest(server: &ServerProcess) -> String {
    server.raw().cmd(&["DEBUG", "DIGEST"])
}

#[test]
fn digest_matches_redis_whatever_the_insertion_order() {
    let args = ["--enable-debug-command", "yes"];
    let cinnabar = ServerProcess::start(Kind::Cinnabar, &args);
    let redis = ServerProcess::start(Kind::Redis, &args);
    let long = "x".repeat(100);
    let pairs = [("a", "1"), ("b", "hello"), ("long", long.as_str()), ("n", "-42")];
    let mut ours = cinnabar.raw();
    let mut theirs = redis.raw();
    for (key, value) in pairs {
        ours.cmd(&["SET", key, value]);
    }
    for (key, value) in pairs.iter().rev() {
        theirs.cmd(&["SET", key, value]);
    }
    theirs.cmd(&["SELECT", "2"]);
    theirs.cmd(&["SET", "other", "db"]);
    ours.cmd(&["SELECT", "2"]);
    ours.cmd(&["SET", "other", "db"]);
    let ours_digest = digest(&cinnabar);
    assert_eq!(ours_digest, digest(&redis));
    assert_ne!(ours_digest, format!("+{}\r\n", "0".repeat(40)));
}

#[test]
fn debug_is_refused_unless_enabled() {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let refused = ServerProcess::start(kind, &[]).raw().cmd(&["DEBUG", "DIGEST"]);
        assert!(refused.starts_with("-ERR DEBUG command not allowed."), "{kind:?}: {refused}");
        // Test connections come from the loopback interface, which `local` trusts.
        let local = ServerProcess::start(kind, &["--enable-debug-command", "local"]).raw().cmd(&["DEBUG", "DIGEST"]);
        assert_eq!(local, format!("+{}\r\n", "0".repeat(40)), "{kind:?}");
    }
}

/// A key past its TTL survives while `pause` is in effect (DBSIZE does not
/// expire keys itself; only the background cycle would) and goes once
/// `resume` is sent, on Cinnabar as on Redis.
fn background_expiry_waits_for(pause: &[&str], resume: &[&str]) {
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &["--enable-debug-command", "yes"]);
        let mut conn = server.raw();
        assert_eq!(conn.cmd(pause), "+OK\r\n");
        conn.cmd(&["SET", "k", "v"]);
        conn.cmd(&["PEXPIRE", "k", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(conn.cmd(&["DBSIZE"]), ":1\r\n", "{kind:?} {pause:?}");
        assert_eq!(conn.cmd(resume), "+OK\r\n");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while conn.cmd(&["DBSIZE"]) != ":0\r\n" {
            assert!(std::time::Instant::now() < deadline, "{kind:?}: the key was never expired after {resume:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn set_active_expire_stops_and_restarts_the_expiry_cycle() {
    background_expiry_waits_for(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"], &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
}

#[test]
fn pause_cron_stops_and_restarts_the_expiry_cycle() {
    background_expiry_waits_for(&["DEBUG", "PAUSE-CRON", "1"], &["DEBUG", "PAUSE-CRON", "0"]);
}
