//! Configuration: the directive table, redis.conf / command-line parsing, and the
//! get/set primitives CONFIG GET/SET/REWRITE are built on.
//!
//! Each directive is one row of `DIRECTIVES`: its name, an optional alias, how its
//! value is parsed and printed, its default (in the text form a config file would
//! use), flags, and the `Config` field it lives in. Reading a setting on the hot
//! path is a plain field access.

use cinnabar_protocol::numbers::parse_i64;

/// Settings, one field per directive (see `DIRECTIVES`).
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub port: i64,
    pub bind: String,
    pub databases: i64,
    pub daemonize: bool,
    pub loglevel: String,
    pub logfile: String,
    pub pidfile: String,
    pub dir: String,
    pub protected_mode: bool,
    pub maxclients: i64,
    pub timeout: i64,
    pub tcp_backlog: i64,
    pub tcp_keepalive: i64,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: i64,
    pub hz: i64,
    pub requirepass: String,
    pub always_show_logo: bool,
    pub latency_monitor_threshold: i64,
    pub latency_tracking: bool,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: i64,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub active_expire_effort: i64,
    pub maxmemory: i64,
    pub maxmemory_policy: String,
    pub stream_node_max_bytes: i64,
    pub stream_node_max_entries: i64,
    /// The config file the server was started with ("" if none), for CONFIG REWRITE.
    pub config_file: String,
}

/// How a directive's value is parsed and printed.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// An integer that also accepts `k`, `kb`, `m`, `mb`, `g`, `gb` suffixes.
    Memory {
        min: i64,
        max: i64,
    },
    Str,
    Enum(&'static [&'static str]),
}

#[derive(Clone, Copy)]
enum Field {
    Bool(fn(&Config) -> &bool, fn(&mut Config) -> &mut bool),
    Int(fn(&Config) -> &i64, fn(&mut Config) -> &mut i64),
    Str(fn(&Config) -> &String, fn(&mut Config) -> &mut String),
}

/// May not be changed with CONFIG SET.
pub const IMMUTABLE: u8 = 1;
/// Holds a secret (kept out of logs).
pub const SENSITIVE: u8 = 2;

/// One row of the directive table.
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
    field: Field,
}

macro_rules! field {
    (bool $f:ident) => {
        Field::Bool(|c| &c.$f, |c| &mut c.$f)
    };
    (int $f:ident) => {
        Field::Int(|c| &c.$f, |c| &mut c.$f)
    };
    (str $f:ident) => {
        Field::Str(|c| &c.$f, |c| &mut c.$f)
    };
}

macro_rules! directive {
    ($name:literal, $alias:expr, $kind:expr, $default:literal, $flags:expr, $ty:ident $field:ident) => {
        Directive { name: $name, alias: $alias, kind: $kind, default: $default, flags: $flags, field: field!($ty $field) }
    };
}

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

const fn memory(min: i64, max: i64) -> Kind {
    Kind::Memory { min, max }
}

const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;

/// Every directive the server knows, in Redis's names.
pub static DIRECTIVES: &[Directive] = &[
    directive!("port", None, int(0, 65535), "6379", 0, int port),
    directive!("bind", None, Kind::Str, "127.0.0.1 -::1", 0, str bind),
    directive!("databases", None, int(1, INT_MAX), "16", IMMUTABLE, int databases),
    directive!("daemonize", None, Kind::Bool, "no", IMMUTABLE, bool daemonize),
    directive!("loglevel", None, Kind::Enum(&["debug", "verbose", "notice", "warning"]), "notice", 0, str loglevel),
    directive!("logfile", None, Kind::Str, "", IMMUTABLE, str logfile),
    directive!("pidfile", None, Kind::Str, "", IMMUTABLE, str pidfile),
    directive!("dir", None, Kind::Str, "", 0, str dir),
    directive!("protected-mode", None, Kind::Bool, "yes", 0, bool protected_mode),
    directive!("maxclients", None, int(1, INT_MAX), "10000", 0, int maxclients),
    directive!("timeout", None, int(0, INT_MAX), "0", 0, int timeout),
    directive!("tcp-backlog", None, int(0, INT_MAX), "511", IMMUTABLE, int tcp_backlog),
    directive!("tcp-keepalive", None, int(0, INT_MAX), "300", 0, int tcp_keepalive),
    directive!("proto-max-bulk-len", None, memory(1024 * 1024, LONG_MAX), "536870912", 0, int proto_max_bulk_len),
    directive!("client-query-buffer-limit", None, memory(1024 * 1024, LONG_MAX), "1073741824", 0, int client_query_buffer_limit),
    directive!("hz", None, int(0, INT_MAX), "10", 0, int hz),
    directive!("requirepass", None, Kind::Str, "", SENSITIVE, str requirepass),
    directive!("always-show-logo", None, Kind::Bool, "no", IMMUTABLE, bool always_show_logo),
    directive!("latency-monitor-threshold", None, int(0, LONG_MAX), "0", 0, int latency_monitor_threshold),
    directive!("latency-tracking", None, Kind::Bool, "yes", 0, bool latency_tracking),
    directive!("slowlog-log-slower-than", None, int(-1, LONG_MAX), "10000", 0, int slowlog_log_slower_than),
    directive!("slowlog-max-len", None, int(0, LONG_MAX), "128", 0, int slowlog_max_len),
    directive!("lazyfree-lazy-user-del", None, Kind::Bool, "no", 0, bool lazyfree_lazy_user_del),
    directive!("lazyfree-lazy-user-flush", None, Kind::Bool, "no", 0, bool lazyfree_lazy_user_flush),
    directive!("lazyfree-lazy-expire", None, Kind::Bool, "no", 0, bool lazyfree_lazy_expire),
    directive!("lazyfree-lazy-server-del", None, Kind::Bool, "no", 0, bool lazyfree_lazy_server_del),
    directive!("active-expire-effort", None, int(1, 10), "1", 0, int active_expire_effort),
    directive!("maxmemory", None, memory(0, LONG_MAX), "0", 0, int maxmemory),
    directive!("stream-node-max-bytes", None, memory(0, LONG_MAX), "4096", 0, int stream_node_max_bytes),
    directive!("stream-node-max-entries", None, int(0, LONG_MAX), "100", 0, int stream_node_max_entries),
    directive!("maxmemory-policy", None, Kind::Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), "noeviction", 0, str maxmemory_policy),
];

/// Finds a directive by name or alias, ignoring case.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

/// Parses `1gb`, `100k`, `64` the way Redis's `memtoull` does.
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, i64); 7] =
        [("kb", 1024), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1)];
    let (digits, mul) = units
        .iter()
        .find(|(suffix, _)| lower.ends_with(suffix))
        .map(|(suffix, mul)| (&lower[..lower.len() - suffix.len()], *mul))
        .unwrap_or((lower.as_str(), 1));
    let n: u64 = digits.parse().ok().filter(|_| !digits.starts_with('+'))?;
    i64::try_from(n.checked_mul(mul as u64)?).ok()
}

impl Directive {
    /// The value as CONFIG GET prints it.
    pub fn get(&self, config: &Config) -> String {
        match self.field {
            Field::Bool(get, _) => if *get(config) { "yes" } else { "no" }.to_string(),
            Field::Int(get, _) => get(config).to_string(),
            Field::Str(get, _) => get(config).clone(),
        }
    }

    /// Parses and stores a value. The error is the reason Redis gives.
    pub fn set(&self, config: &mut Config, value: &str) -> Result<(), String> {
        match (self.field, self.kind) {
            (Field::Bool(_, slot), _) => {
                *slot(config) = match value.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err("argument must be 'yes' or 'no'".into()),
                };
            }
            (Field::Int(_, slot), Kind::Int { min, max }) => {
                let n = parse_i64(value.as_bytes()).ok_or("argument couldn't be parsed into an integer")?;
                *slot(config) = check_bounds(n, min, max)?;
            }
            (Field::Int(_, slot), Kind::Memory { min, max }) => {
                let n = parse_memory(value).ok_or("argument must be a memory value")?;
                *slot(config) = check_bounds(n, min, max)?;
            }
            (Field::Str(_, slot), Kind::Enum(names)) => {
                let lower = value.to_ascii_lowercase();
                if !names.contains(&lower.as_str()) {
                    return Err(format!("argument(s) must be one of the following: {}", names.join(", ")));
                }
                *slot(config) = lower;
            }
            (Field::Str(_, slot), _) => *slot(config) = value.to_string(),
            (Field::Int(..), _) => unreachable!("integer fields have Int or Memory kinds"),
        }
        Ok(())
    }
}

fn check_bounds(n: i64, min: i64, max: i64) -> Result<i64, String> {
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(n)
}

impl Config {
    /// The defaults of every directive.
    pub fn new() -> Config {
        let mut c = Config::default();
        for d in DIRECTIVES {
            d.set(&mut c, d.default).expect("defaults are valid");
        }
        c
    }
}

/// A fatal error in the configuration, reported as Redis reports it.
#[derive(Debug)]
pub struct ConfigError {
    pub line_number: usize,
    pub line: String,
    pub reason: String,
}

impl ConfigError {
    /// The text Redis prints to stderr before exiting with status 1.
    pub fn report(&self) -> String {
        format!(
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}\n",
            self.line_number, self.line, self.reason
        )
    }
}

/// Applies the text of a config file (plus command-line options, which Redis
/// appends as extra lines) to `config`.
pub fn load_text(config: &mut Config, text: &str) -> Result<(), ConfigError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason: String| ConfigError { line_number: i + 1, line: line.to_string(), reason };
        let words = cinnabar_protocol::request::split_args(line.as_bytes())
            .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
        let words: Vec<String> = words.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
        let Some(directive) = lookup(&words[0]) else {
            return Err(fail("Bad directive or wrong number of arguments".into()));
        };
        // Multi-word values (bind, save) are stored joined by spaces.
        let value = words[1..].join(" ");
        if words.len() < 2 && !matches!(directive.kind, Kind::Str) {
            return Err(fail("wrong number of arguments".into()));
        }
        directive.set(config, &value).map_err(fail)?;
    }
    Ok(())
}

/// What the command line asked for.
pub enum Invocation {
    Run(Box<Config>),
    Version,
    Help,
}

/// Parses `cinnabar-server [/path/redis.conf] [--directive value ...]` like
/// redis-server: options after the file become extra config lines, and a
/// lone `-` reads the file from standard input.
pub fn from_args(args: &[String]) -> Result<Invocation, ConfigError> {
    let mut rest = args;
    match rest.first().map(String::as_str) {
        Some("-v" | "--version") => return Ok(Invocation::Version),
        Some("-h" | "--help") => return Ok(Invocation::Help),
        _ => {}
    }
    let mut text = String::new();
    let mut config_file = String::new();
    if let Some(first) = rest.first().filter(|a| !a.starts_with("--")) {
        config_file = first.clone();
        text = if first == "-" {
            std::io::read_to_string(std::io::stdin()).unwrap_or_default()
        } else {
            std::fs::read_to_string(first).map_err(|e| ConfigError {
                line_number: 0,
                line: first.clone(),
                reason: format!("Fatal error, can't open config file '{first}': {e}"),
            })?
        };
        rest = &rest[1..];
    }
    text.push('\n');
    // Each `--name` starts a new line; following words are its arguments.
    for arg in rest {
        if let Some(name) = arg.strip_prefix("--") {
            text.push('\n');
            text.push_str(name);
        } else {
            text.push(' ');
            text.push_str(&quote(arg));
        }
    }
    let mut config = Config::new();
    load_text(&mut config, &text)?;
    config.config_file = config_file;
    Ok(Invocation::Run(Box::new(config)))
}

/// Quotes a command-line word so `split_args` gives it back unchanged.
fn quote(word: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let args: Vec<String> = ["--port", "7000", "--save", ""].iter().map(|s| s.to_string()).collect();
        // `save` is not known yet: the error names the line as Redis does.
        assert!(from_args(&args).is_err());
        let args: Vec<String> =
            ["--port", "7000", "--bind", "127.0.0.1", "::1"].iter().map(|s| s.to_string()).collect();
        let Ok(Invocation::Run(c)) = from_args(&args) else { panic!("parses") };
        assert_eq!((c.port, c.bind.as_str(), c.databases), (7000, "127.0.0.1 ::1", 16));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("10k"), Some(10_000));
        assert_eq!(parse_memory("5"), Some(5));
        assert_eq!(parse_memory("x"), None);
    }
}
