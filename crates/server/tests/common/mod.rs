//! Test fixtures shared by the integration tests: start a real server process
//! (Cinnabar, or the real redis-server 7.0 as the oracle) on a free port in a
//! temporary directory, and talk to it with redis-rs or raw RESP.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod blocking;
pub mod node;
pub mod proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process, killed when dropped.
pub struct ServerProcess {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cinnabar,
    Redis,
}

/// The binary under test.
pub fn cinnabar_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cinnabar-server"))
}

/// The real redis-server; tests that need the oracle fail loudly without it.
pub fn redis_binary() -> PathBuf {
    let path = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    PathBuf::from(path)
}

/// A port that was free a moment ago. Start-up retries on a clash.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind port 0").local_addr().expect("local addr").port()
}

impl ServerProcess {
    /// Starts Cinnabar with extra `--directive value` arguments.
    pub fn cinnabar(args: &[&str]) -> ServerProcess {
        Self::start(Kind::Cinnabar, args)
    }

    /// Starts the real redis-server with the same kind of arguments.
    pub fn redis(args: &[&str]) -> ServerProcess {
        Self::start(Kind::Redis, args)
    }

    pub fn start(kind: Kind, args: &[&str]) -> ServerProcess {
        Self::start_with_file(kind, None, args)
    }

    /// Starts a server with a config file (given first, as redis-server wants
    /// it) followed by the usual `--port`/`--bind` and `args`.
    pub fn start_with_file(kind: Kind, config_file: Option<&str>, args: &[&str]) -> ServerProcess {
        let mut last_err = String::new();
        for _ in 0..5 {
            match Self::try_start(kind, config_file, args) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start {kind:?}: {last_err}");
    }

    fn try_start(kind: Kind, config_file: Option<&str>, args: &[&str]) -> Result<ServerProcess, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let binary = match kind {
            Kind::Cinnabar => cinnabar_binary(),
            Kind::Redis => redis_binary(),
        };
        let port_text = port.to_string();
        let mut argv: Vec<&str> = config_file.into_iter().collect();
        argv.extend(["--port", &port_text, "--bind", "127.0.0.1"]);
        if kind == Kind::Redis {
            // The oracle must not write files or log noise into the test's way.
            argv.extend(["--save", "", "--appendonly", "no"]);
        }
        argv.extend_from_slice(args);
        let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&binary)
            .args(&argv)
            .current_dir(dir.path())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut server = ServerProcess { port, dir, child, kind };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited with {status}: {}", server.log()));
            }
            if server.log().contains("Ready to accept connections") && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("not ready in time: {}", server.log()))
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The processes the server forked (a BGSAVE or AOF rewrite child).
    pub fn children(&self) -> Vec<u32> {
        let pid = self.pid();
        let list = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        list.split_whitespace().filter_map(|p| p.parse().ok()).collect()
    }

    /// A redis-rs connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("redis-rs connects")
    }

    /// A raw connection for byte-exact protocol tests.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// Cinnabar and the real redis-server, started with the same arguments.
    pub fn both(args: &[&str]) -> [ServerProcess; 2] {
        [ServerProcess::start(Kind::Cinnabar, args), ServerProcess::start(Kind::Redis, args)]
    }

    /// Waits for the process to exit by itself and returns its status code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain TCP connection speaking raw RESP.
pub struct RawConn {
    reader: BufReader<TcpStream>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set timeout");
        RawConn { reader: BufReader::new(stream) }
    }

    /// The underlying socket (for timeouts and peeking).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// True if nothing arrives for a short while (a command is held).
    pub fn stays_quiet(&self) -> bool {
        let stream = self.stream();
        stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let peeked = stream.peek(&mut [0u8; 1]);
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        matches!(peeked, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Sends a command as a RESP multibulk request.
    pub fn send_command(&mut self, argv: &[&[u8]]) {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for a in argv {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.send(&out);
    }

    /// Sends a command and returns its complete raw reply.
    pub fn call(&mut self, argv: &[&[u8]]) -> Vec<u8> {
        self.send_command(argv);
        self.read_reply()
    }

    /// Like `call`, with the command given as words.
    pub fn cmd(&mut self, words: &[&str]) -> String {
        let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        String::from_utf8_lossy(&self.call(&argv)).into_owned()
    }

    /// Reads one complete RESP2/RESP3 frame and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        read_frame(&mut self.reader, &mut out).expect("read reply");
        out
    }

    /// Reads whatever bytes are available (at least one), through the buffer.
    pub fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }

    /// Reads until the server closes the connection; returns what came first.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.reader.read_to_end(&mut out);
        out
    }
}

/// Reads one RESP frame (any type, nested) from `r`, appending its raw bytes to `out`.
pub fn read_frame(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    let start = out.len();
    let n = r.read_until(b'\n', out)?;
    if n == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let line = String::from_utf8_lossy(&out[start..out.len() - 2]).into_owned();
    let (kind, rest) = line.split_at(1);
    let count = |rest: &str| rest.parse::<i64>().unwrap_or(-1);
    match kind {
        "+" | "-" | ":" | "_" | "," | "#" | "(" => {}
        "$" | "=" | "!" => {
            let len = count(rest);
            if len >= 0 {
                let mut body = vec![0u8; len as usize + 2];
                r.read_exact(&mut body)?;
                out.extend_from_slice(&body);
            }
        }
        "*" | "~" | ">" => {
            for _ in 0..count(rest).max(0) {
                read_frame(r, out)?;
            }
        }
        "%" | "|" => {
            for _ in 0..count(rest).max(0) * 2 {
                read_frame(r, out)?;
            }
        }
        other => {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unknown RESP type {other:?}")));
        }
    }
    Ok(())
}

/// Splits a raw aggregate reply into its header and its top-level elements.
pub fn split_aggregate(frame: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut r = BufReader::new(frame);
    let mut header = Vec::new();
    r.read_until(b'\n', &mut header).expect("header");
    let n: i64 = String::from_utf8_lossy(&header[1..header.len() - 2]).parse().unwrap_or(0);
    let per = if matches!(header[0], b'%' | b'|') { 2 } else { 1 };
    let mut items = Vec::new();
    for _ in 0..(n.max(0) * per) {
        let mut item = Vec::new();
        read_frame(&mut r, &mut item).expect("element");
        items.push(item);
    }
    (header, items)
}
