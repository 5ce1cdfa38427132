//! Introspection against the real thing: INFO's sections and field names
//! compared with redis-server 7.0, the slow log and latency monitor seen
//! through their commands, MEMORY USAGE next to Redis's figures, SHUTDOWN and
//! SIGTERM exits, and instantaneous_ops_per_sec under load.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Kind, RawConn, ServerProcess};

/// The payload of a bulk or verbatim reply.
fn text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply).into_owned();
    let body = s.split_once("\r\n").map(|(_, b)| b).unwrap_or("");
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

fn info(conn: &mut RawConn, sections: &[&str]) -> String {
    let mut argv: Vec<&[u8]> = vec![b"INFO"];
    argv.extend(sections.iter().map(|s| s.as_bytes()));
    text(&conn.call(&argv))
}

/// Section title -> field names, in order.
fn layout(info: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in info.split("\r\n") {
        if let Some(title) = line.strip_prefix("# ") {
            sections.push((title.to_string(), Vec::new()));
        } else if let Some((name, _)) = line.split_once(':') {
            sections.last_mut().expect("a field follows a section title").1.push(name.to_string());
        }
    }
    sections
}

fn field(info: &str, name: &str) -> String {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no field {name} in INFO"))
        .to_string()
}

/// Sections whose lines are per command, listed in Redis in hash-table order:
/// compared as sets of names.
const UNORDERED_SECTIONS: [&str; 2] = ["Commandstats", "Latencystats"];

#[test]
fn info_everything_has_redis_sections_and_fields_in_order() {
    let mut layouts = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &[]);
        let mut conn = server.raw();
        // The same history on both: commands with and without errors, keys with TTLs.
        conn.cmd(&["SET", "a", "1"]);
        conn.cmd(&["SET", "b", "2"]);
        conn.cmd(&["GET", "missing"]);
        conn.cmd(&["NOSUCHCOMMAND"]);
        conn.cmd(&["SELECT", "3"]);
        conn.cmd(&["SET", "c", "3"]);
        let text = info(&mut conn, &["everything"]);
        assert!(text.ends_with("\r\n"), "{kind:?}: INFO ends with CRLF");
        layouts.push(layout(&text));
    }
    let (ours, redis) = (&layouts[0], &layouts[1]);
    let titles = |l: &Vec<(String, Vec<String>)>| l.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(titles(ours), titles(redis));
    for ((title, our_fields), (_, redis_fields)) in ours.iter().zip(redis) {
        if UNORDERED_SECTIONS.contains(&title.as_str()) {
            let a: BTreeSet<_> = our_fields.iter().collect();
            let b: BTreeSet<_> = redis_fields.iter().collect();
            assert_eq!(a, b, "section {title}");
        } else {
            assert_eq!(our_fields, redis_fields, "section {title}");
        }
    }
}

#[test]
fn info_section_selection_matches_redis() {
    let requests: [&[&str]; 8] = [
        &[],
        &["default"],
        &["all"],
        &["CPU", "keyspace"],
        &["server", "server"],
        &["modules"],
        &["commandstats", "nosuch"],
        &["default", "latencystats"],
    ];
    let ours = ServerProcess::cinnabar(&[]);
    let redis = ServerProcess::redis(&[]);
    let (mut a, mut b) = (ours.raw(), redis.raw());
    for sections in requests {
        let titles = |info: String| layout(&info).into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(titles(info(&mut a, sections)), titles(info(&mut b, sections)), "INFO {sections:?}");
    }
}

#[test]
fn info_values_describe_this_process() {
    let server = ServerProcess::cinnabar(&[]);
    let mut conn = server.raw();
    let _other = server.raw();
    conn.cmd(&["SET", "k", "v"]);
    conn.cmd(&["GET", "k"]);
    conn.cmd(&["GET", "nokey"]);
    conn.cmd(&["GET"]);
    let text = info(&mut conn, &["everything"]);
    assert_eq!(field(&text, "redis_version"), "7.0.15");
    assert_eq!(field(&text, "process_id"), server.pid().to_string());
    assert_eq!(field(&text, "tcp_port"), server.port.to_string());
    assert_eq!(field(&text, "connected_clients"), "2");
    assert_eq!(field(&text, "keyspace_hits"), "1");
    assert_eq!(field(&text, "keyspace_misses"), "1");
    assert_eq!(field(&text, "total_error_replies"), "1");
    assert_eq!(field(&text, "errorstat_ERR"), "count=1");
    assert_eq!(field(&text, "db0"), "keys=1,expires=0,avg_ttl=0");
    assert_eq!(field(&text, "master_replid").len(), 40);
    assert_eq!(field(&text, "master_replid2"), "0".repeat(40));
    assert!(field(&text, "cmdstat_get").starts_with("calls=2,"));
    assert!(field(&text, "cmdstat_get").ends_with(",rejected_calls=1,failed_calls=0"));
    let percentiles = field(&text, "latency_percentiles_usec_get");
    assert!(percentiles.starts_with("p50=") && percentiles.contains(",p99=") && percentiles.contains(",p99.9="));
    assert!(field(&text, "used_memory").parse::<u64>().expect("number") > 0);
    assert!(field(&text, "used_memory_rss").parse::<u64>().expect("number") > 0);
    assert!(field(&text, "used_cpu_user").contains('.'));
}

#[test]
fn info_is_verbatim_text_in_resp3_and_bulk_in_resp2() {
    let server = ServerProcess::cinnabar(&[]);
    let mut conn = server.raw();
    assert!(conn.call(&[b"INFO", b"cluster"]).starts_with(b"$"));
    assert_eq!(conn.call(&[b"INFO", b"nosuch"]), b"$0\r\n\r\n");
}

/// A SLOWLOG GET entry: id, time, duration, arguments, client address, client name.
type SlowlogEntry<Arg> = (u64, i64, u64, Vec<Arg>, String, String);

#[test]
fn slowlog_records_commands_like_redis() {
    let long_key = "k".repeat(200);
    let mut del: Vec<String> = vec!["DEL".into()];
    del.extend((0..40).map(|i| format!("{long_key}{i}")));
    let del: Vec<&str> = del.iter().map(String::as_str).collect();
    let mut entries = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &["--slowlog-log-slower-than", "0", "--slowlog-max-len", "4"]);
        let mut conn = server.raw();
        // Connect redis-rs first: it sends CLIENT SETINFO on connect, which
        // Cinnabar supports (as 7.2 does) and 7.0 rejects, so it must not land
        // in the compared log.
        let mut client = server.client();
        conn.cmd(&["SLOWLOG", "RESET"]);
        conn.cmd(&del);
        conn.cmd(&["SET", "a", "b"]);
        conn.cmd(&["SET", "c", "d"]);
        assert_eq!(conn.cmd(&["SLOWLOG", "LEN"]), ":4\r\n", "{kind:?}: trimmed to slowlog-max-len");
        let all: Vec<SlowlogEntry<Vec<u8>>> =
            redis::cmd("SLOWLOG").arg("GET").arg(-1).query(&mut client).expect("SLOWLOG GET");
        // Without durations and timestamps, which vary, and with ids counted
        // from the oldest entry (ids keep growing across SLOWLOG RESET).
        let oldest = all.iter().map(|e| e.0).min().unwrap_or(0);
        entries.push(all.into_iter().map(|(id, _, _, argv, _, name)| (id - oldest, argv, name)).collect::<Vec<_>>());
        let one: Vec<redis::Value> = redis::cmd("SLOWLOG").arg("GET").arg(1).query(&mut client).expect("GET 1");
        assert_eq!(one.len(), 1);
    }
    assert_eq!(entries[0], entries[1]);
    let del_entry = &entries[0].iter().find(|e| e.1[0] == b"DEL").expect("DEL logged").1;
    assert_eq!(del_entry.len(), 32);
    assert_eq!(del_entry[31], b"... (10 more arguments)".to_vec());
}

#[test]
fn slowlog_names_the_client() {
    let server = ServerProcess::cinnabar(&["--slowlog-log-slower-than", "0"]);
    let mut conn = server.raw();
    conn.cmd(&["PING"]);
    let mut client = server.client();
    let entries: Vec<SlowlogEntry<String>> = redis::cmd("SLOWLOG").arg("GET").query(&mut client).expect("SLOWLOG GET");
    let ping = entries.iter().find(|e| e.3 == ["PING"]).expect("PING logged");
    assert!(ping.4.starts_with("127.0.0.1:"));
    assert!(ping.1 > 0);
}

#[test]
fn slowlog_disabled_by_negative_threshold() {
    let server = ServerProcess::cinnabar(&["--slowlog-log-slower-than", "-1"]);
    let mut conn = server.raw();
    conn.cmd(&["PING"]);
    assert_eq!(conn.cmd(&["SLOWLOG", "LEN"]), ":0\r\n");
}

#[test]
fn latency_monitor_records_a_slow_command() {
    let server = ServerProcess::cinnabar(&["--latency-monitor-threshold", "1"]);
    let mut conn = server.raw();
    // Copying a 64MB value into the keyspace takes well over a millisecond.
    let big = vec![b'x'; 64 << 20];
    conn.call(&[b"SET", b"big", &big]);
    let latest = conn.cmd(&["LATENCY", "LATEST"]);
    assert!(latest.contains("$7\r\ncommand\r\n"), "LATEST: {latest}");
    let history = conn.cmd(&["LATENCY", "HISTORY", "command"]);
    assert!(history.starts_with("*1\r\n*2\r\n:"), "HISTORY: {history}");
    let graph = text(&conn.call(&[b"LATENCY", b"GRAPH", b"command"]));
    assert!(graph.starts_with("command - high "), "GRAPH: {graph}");
    assert!(text(&conn.call(&[b"LATENCY", b"DOCTOR"])).contains("1. command: 1 latency spikes"));
    assert_eq!(conn.cmd(&["LATENCY", "RESET", "COMMAND"]), ":1\r\n");
    assert_eq!(conn.cmd(&["LATENCY", "LATEST"]), "*0\r\n");
}

#[test]
fn latency_histogram_counts_calls() {
    let server = ServerProcess::cinnabar(&[]);
    let mut conn = server.raw();
    for _ in 0..5 {
        conn.cmd(&["SET", "a", "b"]);
    }
    let mut client = server.client();
    let reply: redis::Value = redis::cmd("LATENCY").arg("HISTOGRAM").arg("set").query(&mut client).expect("HISTOGRAM");
    let flat = format!("{reply:?}");
    assert!(flat.contains("calls") && flat.contains("int(5)"), "{flat}");
    let none: redis::Value =
        redis::cmd("LATENCY").arg("HISTOGRAM").arg("config|get").query(&mut client).expect("HISTOGRAM");
    assert!(
        matches!(none, redis::Value::Array(ref v) if v.is_empty())
            || matches!(none, redis::Value::Map(ref v) if v.is_empty())
    );
}

#[test]
fn memory_usage_is_close_to_redis_for_strings() {
    let values = ["v".to_string(), "12345".to_string(), "x".repeat(40), "y".repeat(100), "z".repeat(5000)];
    let mut sizes: Vec<Vec<i64>> = Vec::new();
    for kind in [Kind::Cinnabar, Kind::Redis] {
        let server = ServerProcess::start(kind, &[]);
        let mut client = server.client();
        let mut these = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let key = format!("key:{i}");
            let _: () = redis::cmd("SET").arg(&key).arg(v).query(&mut client).expect("SET");
            these.push(redis::cmd("MEMORY").arg("USAGE").arg(&key).query(&mut client).expect("MEMORY USAGE"));
        }
        sizes.push(these);
    }
    for (i, (ours, redis)) in sizes[0].iter().zip(&sizes[1]).enumerate() {
        assert!(*ours > values[i].len() as i64 || values[i] == "12345", "value {i}: {ours} bytes");
        assert!(ours * 2 >= *redis && *ours <= redis * 2, "value {i}: ours {ours}, redis {redis}");
    }
}

#[test]
fn shutdown_exits_cleanly_and_removes_the_pidfile() {
    let mut server = ServerProcess::cinnabar(&["--pidfile", "server.pid"]);
    let pidfile = server.dir.path().join("server.pid");
    assert!(pidfile.exists());
    let mut conn = server.raw();
    // A non-empty directory where the dump should go makes the save fail.
    std::fs::create_dir_all(server.dir.path().join("dump.rdb").join("blocker")).unwrap();
    assert_eq!(conn.cmd(&["SHUTDOWN", "SAVE"]), "-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
    conn.send_command(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(conn.read_to_close().is_empty(), "SHUTDOWN sends no reply");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!pidfile.exists());
}

#[test]
fn sigterm_exits_cleanly_and_removes_the_pidfile() {
    let mut server = ServerProcess::cinnabar(&["--pidfile", "server.pid"]);
    let pidfile = server.dir.path().join("server.pid");
    assert!(pidfile.exists());
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!pidfile.exists());
    assert!(server.log().contains("Received SIGTERM"));
}

#[test]
fn instantaneous_ops_per_sec_rises_under_load() {
    let server = ServerProcess::cinnabar(&[]);
    let port = server.port;
    let load = std::thread::spawn(move || {
        let mut conn = RawConn::connect(port);
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(1500) {
            conn.send(&b"PING\r\n".repeat(100));
            for _ in 0..100 {
                conn.read_reply();
            }
        }
    });
    let mut conn = server.raw();
    let mut best = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) && best == 0 {
        std::thread::sleep(Duration::from_millis(300));
        best = field(&info(&mut conn, &["stats"]), "instantaneous_ops_per_sec").parse().expect("number");
    }
    load.join().expect("load thread");
    assert!(best > 0, "instantaneous_ops_per_sec stayed 0");
}
