//! Configuration against the real redis-server 7.0: fatal errors for bad files
//! and arguments (stderr and exit status), CONFIG GET * after start-up, the
//! command line, `include`, and CONFIG REWRITE round trips.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cinnabar_binary, redis_binary, Kind, ServerProcess};

/// What a server process printed before exiting by itself.
#[derive(Debug, PartialEq)]
struct Exit {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs a binary that is expected to exit on its own (a fatal config error);
/// a server that starts instead is killed after a while.
fn run_to_exit(kind: Kind, dir: &Path, args: &[&str]) -> Exit {
    let binary = match kind {
        Kind::Cinnabar => cinnabar_binary(),
        Kind::Redis => redis_binary(),
    };
    let mut child = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    Exit {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Log lines without their `pid:role date time level` prefix.
fn log_messages(stdout: &str) -> Vec<String> {
    stdout.lines().map(|l| l.splitn(6, ' ').last().unwrap_or("").to_string()).collect()
}

#[test]
fn fatal_errors_match_redis() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let bad_directive = write("bad-directive.conf", "port 7777\n\n# comment\nfoo bar\n");
    let unbalanced = write("unbalanced.conf", "save 900 1\nsave \"a\n");
    let included = write("included.conf", "hz 20\nbogus 1\n");
    let including = write("including.conf", &format!("maxmemory 1mb\ninclude {included}\n"));
    let arity = write("arity.conf", "maxmemory 1 2\n");
    let rename = write("rename.conf", "rename-command nosuchcommand foo\n");
    let sentinel = write("sentinel.conf", "sentinel monitor mymaster 127.0.0.1 6379 2\n");
    let cases: Vec<Vec<&str>> = vec![
        vec![&bad_directive],
        vec![&unbalanced],
        vec![&including],
        vec![&arity],
        vec![&rename],
        vec![&sentinel],
        vec![&bad_directive, "--port", "7000"],
        vec!["--port", "7777", "--daemonize", "maybe"],
        vec!["--port", "1", "2"],
        vec!["--maxmemory", "10x"],
        vec!["--maxmemory", "-1"],
        vec!["--loglevel", "bad"],
        vec!["--hz", "abc"],
        vec!["--port", "70000"],
        vec!["--maxclients", "0"],
        vec!["--save", "1"],
        vec!["--save", "0 1"],
        vec!["--appendfsync", "sometimes"],
        vec!["--logfile", "/nonexistent-dir/x.log"],
        vec!["--dir", "/nonexistent-dir"],
        vec!["--replicaof", "127.0.0.1", "port"],
        vec!["--client-output-buffer-limit", "normal 1 2"],
        vec!["--oom-score-adj-values", "1 2"],
        vec!["--notify-keyspace-events", "Q"],
        vec!["--shutdown-on-sigterm", "save", "nosave"],
        vec!["--cluster-enabled", "yes", "--replicaof", "127.0.0.1", "6379"],
        vec!["--dbfilename", "a/b"],
        vec!["--no-such-option", "1"],
        vec!["--port", "\"7000"],
        vec!["--port"],
        vec!["--save", "--port", "7000", "--hz", "x"],
        vec!["--port", "--hz", "7"],
        vec!["--include", "/nonexistent-dir/x.conf", "--hz", "x"],
        vec!["--\"quoted", "1"],
        vec!["--save", "900", "1", "--save", "", "--save", "60", "-5"],
        vec!["--latency-tracking-info-percentiles", "50 101"],
        vec!["--maxmemory-clients", "101%"],
        vec!["--unixsocketperm", "999"],
        vec!["--bind", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17"],
    ];
    for args in cases {
        let ours = run_to_exit(Kind::Cinnabar, dir.path(), &args);
        let theirs = run_to_exit(Kind::Redis, dir.path(), &args);
        assert_eq!(theirs.status, Some(1), "{args:?}: redis-server did not fail: {theirs:?}");
        assert_eq!((ours.status, &ours.stderr), (theirs.status, &theirs.stderr), "{args:?}");
    }
}

#[test]
fn missing_config_file_is_logged_like_redis() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["/nonexistent-dir/redis.conf"];
    let ours = run_to_exit(Kind::Cinnabar, dir.path(), &args);
    let theirs = run_to_exit(Kind::Redis, dir.path(), &args);
    assert_eq!(ours.status, Some(1));
    assert_eq!(log_messages(&ours.stdout), log_messages(&theirs.stdout));
    assert_eq!(ours.stderr, theirs.stderr);
}

/// CONFIG GET as (name, value) pairs sorted by name, without the settings
/// that differ between two test servers by construction.
fn all_settings(server: &ServerProcess, pattern: &str) -> Vec<(String, String)> {
    let flat: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(pattern).query(&mut server.client()).unwrap();
    let mut pairs: Vec<(String, String)> = flat
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .filter(|(name, _)| name != "port" && name != "dir")
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn config_get_all_matches_redis() {
    let args = ["--save", "", "--appendonly", "no"];
    let ours = ServerProcess::cinnabar(&args);
    let theirs = ServerProcess::redis(&args);
    assert_eq!(all_settings(&ours, "*"), all_settings(&theirs, "*"));
}

#[test]
fn command_line_options_match_redis() {
    let args = [
        "--maxmemory",
        "10mb",
        "--save",
        "900",
        "1",
        "--save",
        "300 10",
        "--maxmemory-policy",
        "ALLKEYS-LRU",
        "--hz",
        "1000",
        "--client-output-buffer-limit",
        "normal 1mb 2mb 3",
        "--notify-keyspace-events",
        "KEA",
        "--list-max-ziplist-size",
        "7",
        "--slave-read-only",
        "no",
        "--latency-tracking-info-percentiles",
        "50 99.99",
        "--shutdown-on-sigint",
        "nosave",
        "now",
        "--requirepass",
        "",
    ];
    let ours = ServerProcess::cinnabar(&args);
    let theirs = ServerProcess::redis(&args);
    let settings = all_settings(&ours, "*");
    assert!(settings.contains(&("save".into(), "900 1 300 10".into())));
    assert!(settings.contains(&("hz".into(), "500".into())));
    assert_eq!(settings, all_settings(&theirs, "*"));
}

#[test]
fn include_files_and_patterns() {
    let conf_dir = tempfile::tempdir().unwrap();
    let path = |name: &str| conf_dir.path().join(name).to_string_lossy().into_owned();
    std::fs::create_dir(conf_dir.path().join("conf.d")).unwrap();
    std::fs::write(path("conf.d/a.conf"), "hz 20\nmaxmemory 1mb\n").unwrap();
    std::fs::write(path("conf.d/b.conf"), "maxmemory-policy allkeys-lfu\n").unwrap();
    std::fs::write(path("base.conf"), "maxmemory 3mb\n").unwrap();
    // Redis stops accumulating `save` lines once an include ended (checked
    // by hand against redis-server 7.0.15).
    let main = format!(
        "save 60 1\ninclude {}\ninclude {}\nmaxmemory 5mb\ninclude {}\nsave 900 1\nsave 300 10\n",
        path("conf.d/*.conf"),
        path("base.conf"),
        path("empty.d/*.conf")
    );
    std::fs::write(path("redis.conf"), main).unwrap();
    let config_file = path("redis.conf");
    let ours = ServerProcess::start_with_file(Kind::Cinnabar, Some(&config_file), &[]);
    let theirs = ServerProcess::start_with_file(Kind::Redis, Some(&config_file), &[]);
    let wanted = |s: &ServerProcess| {
        all_settings(s, "*")
            .into_iter()
            .filter(|(n, _)| ["hz", "maxmemory", "maxmemory-policy", "save"].contains(&n.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        wanted(&ours),
        [
            ("hz".into(), "20".into()),
            ("maxmemory".into(), "5242880".into()),
            ("maxmemory-policy".into(), "allkeys-lfu".into()),
            ("save".into(), "300 10".into()),
        ]
    );
    // The oracle is started with `--save ""`, which comes last and wins.
    assert_eq!(wanted(&ours)[..3], wanted(&theirs)[..3]);
}

const ORIGINAL: &str = "# A test configuration\n\
maxmemory 1mb\n\
\n\
\n\
# Snapshots\n\
save 900 1\n\
save 300 10\n\
slave-read-only yes\n\
hz 15\n\
include /dev/null\n";

/// CONFIG SETs then CONFIG REWRITE; returns the server (its directory, which
/// the file now names, lives as long as it) and the new file.
fn rewrite_after_changes(kind: Kind, conf: &Path) -> (ServerProcess, String) {
    std::fs::write(conf, ORIGINAL).unwrap();
    let server = ServerProcess::start_with_file(kind, Some(&conf.to_string_lossy()), &["--save", "900 1 300 10"]);
    let mut c = server.client();
    let set = |c: &mut redis::Connection, name: &str, value: &str| {
        let _: () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(c).unwrap();
    };
    set(&mut c, "maxmemory", "2mb");
    set(&mut c, "hz", "10");
    set(&mut c, "save", "60 5");
    set(&mut c, "maxmemory-policy", "allkeys-lru");
    set(&mut c, "replica-read-only", "no");
    set(&mut c, "client-output-buffer-limit", "pubsub 64mb 16mb 90");
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut c).unwrap();
    (server, std::fs::read_to_string(conf).unwrap())
}

/// The rewritten file in a comparable form: the part before the generated
/// marker as is, the generated lines sorted (Redis appends them in hash
/// order), without lines that differ between two test servers by construction.
fn comparable(content: &str) -> (Vec<String>, Vec<String>) {
    let keep = |l: &&str| !l.starts_with("port ") && !l.starts_with("dir ") && !l.starts_with("user ");
    let lines: Vec<&str> = content.lines().filter(keep).collect();
    let marker = lines.iter().position(|l| *l == "# Generated by CONFIG REWRITE").unwrap_or(lines.len());
    let mut generated: Vec<String> = lines[marker..].iter().map(|l| l.to_string()).collect();
    generated.sort();
    (lines[..marker].iter().map(|l| l.to_string()).collect(), generated)
}

#[test]
fn rewrite_matches_redis_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ours_conf = dir.path().join("ours.conf");
    let theirs_conf = dir.path().join("theirs.conf");
    let (_first_run, ours) = rewrite_after_changes(Kind::Cinnabar, &ours_conf);
    let (_oracle, theirs) = rewrite_after_changes(Kind::Redis, &theirs_conf);
    assert_eq!(comparable(&ours), comparable(&theirs), "ours:\n{ours}\ntheirs:\n{theirs}");
    let (kept, generated) = comparable(&ours);
    assert_eq!(kept[..4], ["# A test configuration", "maxmemory 2mb", "", "# Snapshots"]);
    assert!(generated.contains(&"maxmemory-policy allkeys-lru".to_string()), "{ours}");

    let restarted = ServerProcess::start_with_file(Kind::Cinnabar, Some(&ours_conf.to_string_lossy()), &[]);
    let settings = all_settings(&restarted, "*");
    for wanted in [
        ("maxmemory", "2097152"),
        ("hz", "10"),
        ("save", "60 5"),
        ("maxmemory-policy", "allkeys-lru"),
        ("replica-read-only", "no"),
        ("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 90"),
    ] {
        assert!(settings.contains(&(wanted.0.to_string(), wanted.1.to_string())), "{wanted:?}");
    }
}

#[test]
fn dir_changes_the_working_directory_when_allowed() {
    let target = tempfile::tempdir().unwrap();
    let server = ServerProcess::cinnabar(&["--enable-protected-configs", "local"]);
    let mut c = server.client();
    let wanted = target.path().canonicalize().unwrap().to_string_lossy().into_owned();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("dir").arg(&wanted).query(&mut c).unwrap();
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("dir").query(&mut c).unwrap();
    assert_eq!(got, ["dir".to_string(), wanted]);
    let err = redis::cmd("CONFIG").arg("SET").arg("dir").arg("/nonexistent-dir").query::<()>(&mut c).unwrap_err();
    assert_eq!(
        err.detail(),
        Some("CONFIG SET failed (possibly related to argument 'dir') - No such file or directory")
    );
}

#[test]
fn rename_command_matches_redis() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("rename.conf");
    std::fs::write(&conf, "rename-command echo say\nrename-command GET \"\"\n").unwrap();
    let conf = conf.to_string_lossy().into_owned();
    let ours = ServerProcess::start_with_file(Kind::Cinnabar, Some(&conf), &[]);
    let theirs = ServerProcess::start_with_file(Kind::Redis, Some(&conf), &[]);
    let (mut ours, mut theirs) = (ours.raw(), theirs.raw());
    for words in [&["SAY", "hello"][..], &["ECHO", "hello"], &["GET", "k"], &["say"]] {
        assert_eq!(ours.cmd(words), theirs.cmd(words), "{words:?}");
    }
}

/// A server started through `sh` under a low open-files limit; killed on drop.
struct Limited(std::process::Child);

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_with_open_files_limit(kind: Kind, dir: &Path, limit: u32) -> (Limited, u16) {
    let binary = match kind {
        Kind::Cinnabar => cinnabar_binary(),
        Kind::Redis => redis_binary(),
    };
    let port = common::free_port();
    let script = format!(
        "ulimit -n {limit} && exec {} --port {port} --bind 127.0.0.1 --save '' --maxclients 1000",
        binary.display()
    );
    let child = Command::new("sh").args(["-c", &script]).current_dir(dir).stdout(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{kind:?} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Limited(child), port)
}

#[test]
fn maxclients_fits_the_open_files_limit_like_redis() {
    let dir = tempfile::tempdir().unwrap();
    let (_ours, ours_port) = start_with_open_files_limit(Kind::Cinnabar, dir.path(), 200);
    let (_theirs, theirs_port) = start_with_open_files_limit(Kind::Redis, dir.path(), 200);
    let (mut ours, mut theirs) = (common::RawConn::connect(ours_port), common::RawConn::connect(theirs_port));
    for words in [
        &["CONFIG", "GET", "maxclients"][..],
        &["CONFIG", "SET", "maxclients", "500"],
        &["CONFIG", "GET", "maxclients"],
        &["CONFIG", "SET", "maxclients", "100"],
        &["CONFIG", "GET", "maxclients"],
    ] {
        assert_eq!(ours.cmd(words), theirs.cmd(words), "{words:?}");
    }
}

fn oom_score(server: &ServerProcess) -> String {
    std::fs::read_to_string(format!("/proc/{}/oom_score_adj", server.pid())).unwrap().trim().to_string()
}

#[test]
fn oom_score_adj_acts_like_redis() {
    let args = ["--oom-score-adj", "absolute", "--oom-score-adj-values", "100 200 300"];
    let ours = ServerProcess::cinnabar(&args);
    let theirs = ServerProcess::redis(&args);
    let mut steps = Vec::new();
    for server in [&ours, &theirs] {
        let mut c = server.raw();
        let mut seen = vec![(String::new(), oom_score(server))];
        // Going back below the original score needs privileges: without them
        // both servers refuse the last step alike.
        for (name, value) in
            [("oom-score-adj-values", "150 200 300"), ("oom-score-adj", "relative"), ("oom-score-adj", "no")]
        {
            let reply = c.cmd(&["CONFIG", "SET", name, value]);
            seen.push((reply, oom_score(server)));
        }
        steps.push(seen);
    }
    assert_eq!(steps[0][0].1, "100");
    assert_eq!(steps[0][1], ("+OK\r\n".to_string(), "150".to_string()));
    assert_eq!(steps[0], steps[1]);
}
