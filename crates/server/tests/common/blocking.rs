//! Helpers for multi-connection blocking scenarios: run one scenario against
//! Cinnabar and the real redis-server and compare transcripts, and wait for
//! clients to be blocked (INFO blocked_clients) so nothing depends on timing.

use super::{Kind, RawConn, ServerProcess};

/// Runs `scenario` on both servers and asserts the transcripts are equal.
pub fn same_on_both(scenario: fn(&ServerProcess) -> Vec<String>) {
    let ours = scenario(&ServerProcess::start(Kind::Cinnabar, &[]));
    let theirs = scenario(&ServerProcess::start(Kind::Redis, &[]));
    assert_eq!(ours, theirs);
}

pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Waits until `n` clients are blocked.
pub fn wait_blocked(admin: &mut RawConn, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    for _ in 0..2000 {
        if admin.cmd(&["INFO", "clients"]).contains(&want) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("never saw {n} blocked clients");
}

/// Sends `words` from a new connection and waits until it is blocked.
pub fn block(server: &ServerProcess, admin: &mut RawConn, words: &[&str], blocked_after: usize) -> RawConn {
    let mut conn = server.raw();
    let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    conn.send_command(&argv);
    wait_blocked(admin, blocked_after);
    conn
}
