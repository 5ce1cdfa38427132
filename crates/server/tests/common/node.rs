//! Servers that keep their port and directory across restarts (as a real
//! deployment does, so replicas find a restarted master where it was), and
//! the waits replication tests share: linked, converged.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Kind, RawConn};

/// A server process that can be killed and started again on the same port
/// and directory.
pub struct Node {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    pub args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    pub fn start(kind: Kind, args: &[&str]) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let args = args.iter().map(|a| a.to_string()).collect();
        let mut node = Node { kind, port: 0, dir, args, child: None };
        for _ in 0..5 {
            node.port = super::free_port();
            if node.launch() {
                return node;
            }
        }
        panic!("{kind:?} did not start: {}", node.log());
    }

    pub fn cinnabar(args: &[&str]) -> Node {
        Node::start(Kind::Cinnabar, args)
    }

    pub fn redis(args: &[&str]) -> Node {
        Node::start(Kind::Redis, args)
    }

    /// Starts the process; true once it accepts connections.
    fn launch(&mut self) -> bool {
        let binary = match self.kind {
            Kind::Cinnabar => super::cinnabar_binary(),
            Kind::Redis => super::redis_binary(),
        };
        let port = self.port.to_string();
        let dir = self.dir.path().to_str().expect("utf-8 path").to_string();
        let mut argv = vec!["--port", &port, "--bind", "127.0.0.1", "--dir", &dir, "--logfile", "server.log"];
        argv.extend(["--enable-debug-command", "yes", "--save", ""]);
        argv.extend(self.args.iter().map(String::as_str));
        let child = Command::new(binary)
            .args(&argv)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.log().contains("Ready to accept")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn restart(&mut self) {
        assert!(self.launch(), "{:?} did not restart: {}", self.kind, self.log());
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let _ = Command::new("kill").args([&format!("-{sig}"), &pid]).status();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    pub fn cmd(&self, words: &[&str]) -> String {
        self.conn().cmd(words)
    }

    pub fn replicate_from(&self, master: &Node) {
        let port = master.port.to_string();
        assert_eq!(self.cmd(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
    }

    pub fn info_field(&self, section: &str, name: &str) -> String {
        let info = self.cmd(&["INFO", section]);
        info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or("").trim().to_string()
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.info_field("stats", name).parse().unwrap_or(0)
    }

    pub fn digest(&self) -> String {
        self.cmd(&["DEBUG", "DIGEST"])
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A stopped process must be woken to die promptly.
            self.signal("CONT");
        }
        self.kill9();
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the replica's link to its master is up and in sync.
pub fn wait_linked(replica: &Node) {
    wait_until("master_link_status:up", Duration::from_secs(30), || {
        replica.info_field("replication", "master_link_status") == "up"
            && replica.info_field("replication", "master_sync_in_progress") == "0"
    });
}

/// Waits until the master lists its (first) replica as online: the
/// replica's own view of the link can be up a moment earlier (a Redis master
/// notices the end of a diskless transfer from its cron).
pub fn wait_online(master: &Node) {
    wait_until("the replica online", Duration::from_secs(10), || {
        master.info_field("replication", "slave0").contains("state=online")
    });
}

/// Waits until every node's dataset digest equals the first's.
pub fn wait_converged(nodes: &[&Node]) {
    wait_until("datasets to converge", Duration::from_secs(30), || {
        let first = nodes[0].digest();
        nodes[1..].iter().all(|n| n.digest() == first)
    });
}

pub fn write_keys(node: &Node, prefix: &str, count: usize) {
    let mut c = node.conn();
    for i in 0..count {
        c.send_command(&[b"SET", format!("{prefix}:{i}").as_bytes(), format!("value-{i}").as_bytes()]);
    }
    for _ in 0..count {
        c.read_reply();
    }
}
