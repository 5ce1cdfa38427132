//! The differential corpus: every command in `tests/corpus/*.redis` is sent to
//! Cinnabar and to the real redis-server 7.0, and the raw replies must match
//! byte for byte. See `tests/corpus/README.md` for the file format.

mod common;

use common::{Kind, RawConn, ServerProcess};
use std::path::Path;

/// `frames` replies (more than one for a command that answers with several,
/// like SUBSCRIBE), or what happened instead.
fn exchange(conn: &mut Option<RawConn>, port: u16, argv: &[Vec<u8>], frames: usize) -> Vec<u8> {
    let c = conn.get_or_insert_with(|| RawConn::connect(port));
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    c.send_command(&args);
    let mut out = Vec::new();
    for _ in 0..frames {
        // One frame at a time: a reader kept across frames could buffer the
        // start of a reply that belongs to the next command.
        if let Err(e) = common::read_frame(&mut std::io::BufReader::with_capacity(1, ReaderShim(c)), &mut out) {
            *conn = None;
            return format!("<no reply: {}>", e.kind()).into_bytes();
        }
    }
    out
}

/// Lets `read_frame` read through the connection's own buffered reader.
struct ReaderShim<'a>(&'a mut RawConn);

impl std::io::Read for ReaderShim<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read_some(buf)
    }
}

fn sorted_elements(frame: &[u8]) -> Vec<u8> {
    if !matches!(frame.first(), Some(b'*' | b'~' | b'%')) {
        return frame.to_vec();
    }
    let (header, mut items) = common::split_aggregate(frame);
    items.sort();
    let mut out = header;
    items.iter().for_each(|i| out.extend_from_slice(i));
    out
}

/// Runs one corpus file against fresh servers; returns the mismatches.
fn run_corpus(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(format!("{name}.redis"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let args: Vec<&str> =
        text.lines().filter_map(|l| l.trim().strip_prefix("!args ")).flat_map(str::split_whitespace).collect();
    let servers = [ServerProcess::start(Kind::Cinnabar, &args), ServerProcess::start(Kind::Redis, &args)];
    let mut conns: [Option<RawConn>; 2] = [None, None];
    let mut mismatches = Vec::new();
    let mut executed = 0;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (directive, command) = match line.strip_prefix('!') {
            Some(rest) => rest.split_once(' ').unwrap_or((rest, "")),
            None => ("", line),
        };
        if directive == "args" {
            continue;
        }
        if directive == "sleep" {
            std::thread::sleep(std::time::Duration::from_millis(command.trim().parse().expect("!sleep <ms>")));
            continue;
        }
        let (frames, command) = match directive {
            "frames" => {
                let (n, rest) = command.split_once(' ').expect("!frames <n> <command>");
                (n.parse().expect("!frames <n>"), rest)
            }
            _ => (1, command),
        };
        let argv = cinnabar_protocol::request::split_args(command.as_bytes())
            .unwrap_or_else(|| panic!("{name}.redis:{}: unbalanced quotes", lineno + 1));
        let replies: Vec<Vec<u8>> = (0..2).map(|i| exchange(&mut conns[i], servers[i].port, &argv, frames)).collect();
        executed += 1;
        let (ours, theirs) = match directive {
            "" | "frames" => (replies[0].clone(), replies[1].clone()),
            "sort" => (sorted_elements(&replies[0]), sorted_elements(&replies[1])),
            "ignore" => continue,
            "type" => (replies[0][..1].to_vec(), replies[1][..1].to_vec()),
            other => panic!("{name}.redis:{}: unknown directive !{other}", lineno + 1),
        };
        if ours != theirs {
            mismatches.push(format!(
                "{name}.redis:{}: {line}\n  cinnabar: {:?}\n  redis:    {:?}",
                lineno + 1,
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            ));
        }
    }
    assert!(executed > 0, "{name}.redis has no commands");
    mismatches
}

macro_rules! corpus {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let mismatches = run_corpus(stringify!($name));
                assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
            }
        )*
    };
}

corpus!(
    protocol,
    connection,
    strings,
    bitmaps,
    keyspace,
    expire,
    object,
    config,
    client,
    server,
    info,
    command,
    debug,
    debug_resp3,
    hyperloglog,
    streams,
    hashes,
    sets,
    lists,
    lists_compressed,
    zsets,
    geo,
    sort,
    pubsub,
    tracking,
    transactions,
    scripting,
    functions,
    script_flags,
    scripting_acl,
    lua_libs,
    rdb,
    acl
);
