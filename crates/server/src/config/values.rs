//! Value formats of the directive table: numbers (plain, memory, percent,
//! octal), enums and flag sets, the multi-argument directives with their own
//! parser, printer and CONFIG REWRITE form (save, bind, client-output-buffer-limit,
//! ...), and the validity checks some directives add. Texts of errors are
//! Redis's, since clients and tests match them.

use cinnabar_protocol::numbers::{parse_f64, parse_i64};

use super::{Config, Format, Numeric};

/// A directive with a value of its own shape.
pub struct Special {
    /// Stores the arguments; `appending` as in `Directive::set`.
    pub parse: fn(&mut Config, &[String], bool) -> Result<(), String>,
    pub format: fn(&Config) -> String,
    /// CONFIG REWRITE lines, each with whether it is forced (see `Directive::rewrite_lines`).
    pub rewrite: fn(&Config, &str) -> Vec<(String, bool)>,
}

/// Output buffer limits of one client class (normal, replica, pubsub).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: i64,
}

impl ObufLimit {
    /// True once `pending` output bytes break the limit: past the hard
    /// limit, or past the soft one for more than its seconds. As Redis, the
    /// soft limit counts in whole seconds from the first time it was seen
    /// exceeded (`since`, kept by the caller) and never closes on that first
    /// sight.
    pub fn exceeded(&self, pending: u64, since: &mut Option<i64>, now_s: i64) -> bool {
        if self.hard > 0 && pending >= self.hard {
            return true;
        }
        if self.soft == 0 || pending < self.soft {
            *since = None;
            return false;
        }
        match *since {
            None => {
                *since = Some(now_s);
                false
            }
            Some(first) => now_s - first > self.soft_seconds,
        }
    }
}

/// `notify-keyspace-events` classes, as bits.
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class except key-miss and new.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// Class letters in the order CONFIG GET prints them (after `A`, before `KEm`).
    pub(super) const CLASSES: [(u32, char); 11] = [
        (GENERIC, 'g'),
        (STRING, '$'),
        (LIST, 'l'),
        (SET, 's'),
        (HASH, 'h'),
        (ZSET, 'z'),
        (EXPIRED, 'x'),
        (EVICTED, 'e'),
        (STREAM, 't'),
        (MODULE, 'd'),
        (NEW, 'n'),
    ];
}

/// Parses `1gb`, `100k`, `64` the way Redis's `memtoull` does: digits (leading
/// zeros allowed, overflow saturating) and an optional case-insensitive unit.
pub fn parse_memory(text: &str) -> Option<u64> {
    if text.starts_with('-') {
        return None;
    }
    let digits_end = text.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let value = digits.bytes().fold(0u64, |acc, d| acc.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    Some(value.wrapping_mul(mul))
}

/// C's `strtoll(s, &end, radix)` followed by a check that it consumed all of `s`:
/// leading spaces and a sign are allowed, overflow saturates, "" gives 0.
fn strtoll_whole(s: &str, radix: u32) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        // No conversion: `end` stays at the start, which is the end only for "".
        return s.is_empty().then_some(0);
    }
    let mut magnitude: i128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        magnitude = (magnitude * i128::from(radix) + i128::from(d)).min(i128::from(u64::MAX));
    }
    let value = if negative { -magnitude } else { magnitude };
    Some(value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Parses a numeric directive's value (Redis's `numericParseString` plus the
/// bounds check).
pub fn parse_number(text: &str, n: Numeric) -> Result<i64, String> {
    let value = match n.format {
        Format::Plain => parse_i64(text.as_bytes()).ok_or("argument couldn't be parsed into an integer")?,
        Format::Memory => parse_memory(text).ok_or("argument must be a memory value")? as i64,
        Format::MemoryOrPercent => match parse_memory(text) {
            Some(v) => v as i64,
            None => parse_percent(text).ok_or("argument must be a memory or percent value")?,
        },
        Format::Octal => strtoll_whole(text, 8).ok_or("argument couldn't be parsed as an octal number")?,
    };
    check_bounds(value, n)?;
    Ok(value)
}

/// `N%` with N >= 0, stored as -N.
fn parse_percent(text: &str) -> Option<i64> {
    let digits = text.strip_suffix('%').filter(|d| !d.is_empty())?;
    parse_i64(digits.as_bytes()).filter(|v| *v >= 0).map(|v| -v)
}

fn check_bounds(value: i64, n: Numeric) -> Result<(), String> {
    let out_of_range = |v: i128| v < n.min || v > n.max;
    if n.unsigned {
        if out_of_range(i128::from(value as u64)) {
            return Err(match n.format {
                Format::Octal => format!("argument must be between {:o} and {:o} inclusive", n.min, n.max),
                _ => format!("argument must be between {} and {} inclusive", n.min, n.max),
            });
        }
    } else if n.format == Format::MemoryOrPercent && value < 0 {
        if i128::from(value) < n.min {
            return Err(format!("percentage argument must be less or equal to {}", -n.min));
        }
    } else if out_of_range(i128::from(value)) {
        return Err(format!("argument must be between {} and {} inclusive", n.min, n.max));
    }
    Ok(())
}

/// A number as CONFIG GET prints it.
pub fn format_number(value: i64, format: Format) -> String {
    match format {
        Format::Plain => value.to_string(),
        Format::MemoryOrPercent if value < 0 => format!("{}%", -value),
        Format::Memory | Format::MemoryOrPercent => (value as u64).to_string(),
        Format::Octal => format!("{value:o}"),
    }
}

/// A number as CONFIG REWRITE writes it (memory in the largest exact unit).
pub fn rewrite_number(value: i64, format: Format) -> String {
    match format {
        Format::MemoryOrPercent if value < 0 => format_number(value, format),
        Format::Memory | Format::MemoryOrPercent => memory_with_unit(value as u64),
        Format::Plain | Format::Octal => format_number(value, format),
    }
}

fn memory_with_unit(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "gb"), (1 << 20, "mb"), (1 << 10, "kb")];
    // Redis formats through a signed value; keep its output for huge values.
    let signed = bytes as i64;
    for (size, unit) in UNITS {
        if signed != 0 && signed % size as i64 == 0 {
            return format!("{}{unit}", signed / size as i64);
        }
    }
    signed.to_string()
}

/// Parses enum names (several, combined as flags, when `multi`).
pub fn parse_enum(names: &[(&str, u32)], args: &[String], multi: bool) -> Result<u32, String> {
    let invalid = || {
        let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        format!("argument(s) must be one of the following: {}", list.join(", "))
    };
    if args.is_empty() || (!multi && args.len() != 1) {
        return Err(invalid());
    }
    let mut bits = 0;
    for arg in args {
        let (_, v) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(arg)).ok_or_else(invalid)?;
        bits |= v;
    }
    Ok(bits)
}

/// The name of an enum value: the first name with that value or, for flags, the
/// names whose bits it holds.
pub fn enum_name(names: &[(&str, u32)], value: u32, multi: bool) -> String {
    if let Some((n, _)) = names.iter().find(|(_, v)| *v == value) {
        return n.to_string();
    }
    let mut left = value;
    let mut parts = Vec::new();
    for (n, v) in names {
        if multi && *v != 0 && left & v == *v {
            parts.push(*n);
            left &= !v;
        }
    }
    if parts.is_empty() || left != 0 {
        return "unknown".to_string();
    }
    parts.join(" ")
}

/// Quotes a value the way CONFIG REWRITE writes strings (Redis's `sdscatrepr`).
pub fn repr(value: &str) -> String {
    let mut out = String::from("\"");
    for b in value.bytes() {
        match b {
            b'\\' | b'"' => {
                out.push('\\');
                out.push(b as char);
            }
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

// ---- save ----

pub static SAVE: Special = Special { parse: parse_save, format: format_save, rewrite: rewrite_save };

fn parse_save(config: &mut Config, args: &[String], appending: bool) -> Result<(), String> {
    let args: &[String] = if matches!(args, [only] if only.is_empty()) { &[] } else { args };
    if args.len() % 2 == 1 {
        return Err("Invalid save parameters".into());
    }
    let mut points = Vec::new();
    for pair in args.chunks(2) {
        let seconds = strtoll_whole(&pair[0], 10).filter(|s| *s >= 1);
        let changes = strtoll_whole(&pair[1], 10).filter(|c| *c >= 0);
        match (seconds, changes) {
            (Some(s), Some(c)) => points.push((s, c)),
            _ => return Err("Invalid save parameters".into()),
        }
    }
    // `save ""` clears even while appending; otherwise lines of one load add up.
    if !appending || args.is_empty() {
        config.save.clear();
    }
    config.save.extend(points);
    Ok(())
}

fn format_save(config: &Config) -> String {
    let parts: Vec<String> = config.save.iter().map(|(s, c)| format!("{s} {c}")).collect();
    parts.join(" ")
}

fn rewrite_save(config: &Config, name: &str) -> Vec<(String, bool)> {
    if config.save.is_empty() {
        return vec![(format!("{name} \"\""), true)];
    }
    config.save.iter().map(|(s, c)| (format!("{name} {s} {c}"), true)).collect()
}

// ---- bind ----

pub static BIND: Special = Special { parse: parse_bind, format: |c| c.bind.clone(), rewrite: rewrite_bind };

/// Redis's limit on bind addresses.
const MAX_BIND_ADDRESSES: usize = 16;

fn parse_bind(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    if args.len() > MAX_BIND_ADDRESSES {
        return Err("Too many bind addresses specified.".into());
    }
    config.bind = if matches!(args, [only] if only.is_empty()) { String::new() } else { args.join(" ") };
    Ok(())
}

fn rewrite_bind(config: &Config, name: &str) -> Vec<(String, bool)> {
    match config.bind.as_str() {
        "127.0.0.1 -::1" => Vec::new(),
        "" => vec![(format!("{name} \"\""), true)],
        addresses => vec![(format!("{name} {addresses}"), true)],
    }
}

/// CONFIG SET bind: Redis rebinds its listeners and fails if a required
/// address cannot be bound. Cinnabar keeps its listeners (see the module
/// comment of `net`) but refuses addresses that are not addresses of this host.
pub fn check_bind(config: &mut Config) -> Result<(), String> {
    let bindable = config.bind.split(' ').filter(|w| !w.is_empty() && !w.starts_with('-')).all(|addr| {
        let addr = if addr == "*" { "0.0.0.0" } else { addr };
        addr.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| std::net::TcpListener::bind(std::net::SocketAddr::new(ip, 0)).is_ok())
    });
    if bindable {
        Ok(())
    } else {
        Err("Failed to bind to specified addresses.".into())
    }
}

// ---- client-output-buffer-limit ----

pub static OBUF_LIMITS: Special = Special { parse: parse_obuf, format: format_obuf, rewrite: rewrite_obuf };

/// Class names in Redis's order: normal, replica ("slave"), pubsub.
const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];
const OBUF_DEFAULTS: [ObufLimit; 3] = [
    ObufLimit { hard: 0, soft: 0, soft_seconds: 0 },
    ObufLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 },
    ObufLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
];

fn obuf_class(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    }
}

fn parse_obuf(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut updates = Vec::new();
    for group in args.chunks(4) {
        let class = obuf_class(&group[0]).ok_or("Invalid client class specified in buffer limit configuration.")?;
        let hard = parse_memory(&group[1]);
        let soft = parse_memory(&group[2]);
        let seconds = strtoll_whole(&group[3], 10).filter(|s| *s >= 0);
        let (Some(hard), Some(soft), Some(soft_seconds)) = (hard, soft, seconds) else {
            return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
        };
        updates.push((class, ObufLimit { hard, soft, soft_seconds }));
    }
    for (class, limit) in updates {
        config.client_output_buffer_limit[class] = limit;
    }
    Ok(())
}

fn format_obuf(config: &Config) -> String {
    let parts: Vec<String> = config
        .client_output_buffer_limit
        .iter()
        .zip(OBUF_CLASSES)
        .map(|(l, class)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect();
    parts.join(" ")
}

fn rewrite_obuf(config: &Config, name: &str) -> Vec<(String, bool)> {
    let classes = ["normal", "replica", "pubsub"];
    config
        .client_output_buffer_limit
        .iter()
        .zip(OBUF_DEFAULTS.iter().zip(classes))
        .map(|(l, (default, class))| {
            let line =
                format!("{name} {class} {} {} {}", memory_with_unit(l.hard), memory_with_unit(l.soft), l.soft_seconds);
            (line, l != default)
        })
        .collect()
}

// ---- oom-score-adj-values ----

pub static OOM_VALUES: Special = Special { parse: parse_oom_values, format: format_oom_values, rewrite: rewrite_oom };

fn parse_oom_values(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    if args.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut values = [0i64; 3];
    for (slot, arg) in values.iter_mut().zip(args) {
        *slot = strtoll_whole(arg, 10)
            .filter(|v| (-2000..=2000).contains(v))
            .ok_or("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?;
    }
    config.oom_score_adj_values = values;
    Ok(())
}

fn format_oom_values(config: &Config) -> String {
    let parts: Vec<String> = config.oom_score_adj_values.iter().map(i64::to_string).collect();
    parts.join(" ")
}

fn rewrite_oom(config: &Config, name: &str) -> Vec<(String, bool)> {
    vec![(format!("{name} {}", format_oom_values(config)), config.oom_score_adj_values != [0, 200, 800])]
}

// ---- notify-keyspace-events ----

pub static NOTIFY: Special =
    Special { parse: parse_notify, format: |c| notify_string(c.notify_keyspace_events), rewrite: rewrite_notify };

fn parse_notify(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    let [classes] = args else { return Err("wrong number of arguments".into()) };
    let mut flags = 0;
    for c in classes.chars() {
        flags |= match c {
            'A' => notify::ALL,
            'K' => notify::KEYSPACE,
            'E' => notify::KEYEVENT,
            'm' => notify::KEY_MISS,
            other => notify::CLASSES
                .iter()
                .find(|(_, letter)| *letter == other)
                .map(|(bit, _)| *bit)
                .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
        };
    }
    config.notify_keyspace_events = flags;
    Ok(())
}

/// Flags back to letters, as CONFIG GET prints them.
fn notify_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & notify::ALL == notify::ALL {
        // Redis drops `n` here: it only prints class letters without `A`.
        out.push('A');
    } else {
        out.extend(notify::CLASSES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, c)| c));
    }
    for (bit, c) in [(notify::KEYSPACE, 'K'), (notify::KEYEVENT, 'E'), (notify::KEY_MISS, 'm')] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    out
}

fn rewrite_notify(config: &Config, name: &str) -> Vec<(String, bool)> {
    let flags = config.notify_keyspace_events;
    vec![(format!("{name} {}", repr(&notify_string(flags))), flags != 0)]
}

// ---- dir ----

pub static DIR: Special = Special { parse: parse_dir, format: |_| current_dir(), rewrite: rewrite_dir };

/// Changes the process's working directory at once, as Redis does while
/// reading the config, so later relative paths resolve against it.
fn parse_dir(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    let [dir] = args else { return Err("wrong number of arguments".into()) };
    std::env::set_current_dir(dir).map_err(|e| strerror(&e))?;
    config.dir = current_dir();
    Ok(())
}

fn current_dir() -> String {
    std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

fn rewrite_dir(_config: &Config, name: &str) -> Vec<(String, bool)> {
    vec![(format!("{name} {}", repr(&current_dir())), true)]
}

/// The C library's message for an I/O error, without Rust's "(os error N)".
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        // SAFETY: strerror returns a pointer to a NUL-terminated static or
        // thread-local string, read at once.
        Some(code) => unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) }.to_string_lossy().into_owned(),
        None => e.to_string(),
    }
}

// ---- replicaof ----

pub static REPLICAOF: Special =
    Special { parse: parse_replicaof, format: format_replicaof, rewrite: rewrite_replicaof };

fn parse_replicaof(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    let [host, port] = args else { return Err("wrong number of arguments".into()) };
    config.replicaof = None;
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        return Ok(());
    }
    let port = strtoll_whole(port, 10).filter(|p| (0..=65535).contains(p)).ok_or("Invalid master port")?;
    config.replicaof = Some((host.clone(), port));
    Ok(())
}

fn format_replicaof(config: &Config) -> String {
    config.replicaof.as_ref().map(|(host, port)| format!("{host} {port}")).unwrap_or_default()
}

fn rewrite_replicaof(config: &Config, name: &str) -> Vec<(String, bool)> {
    match &config.replicaof {
        Some((host, port)) if !config.cluster_enabled => vec![(format!("{name} {host} {port}"), true)],
        _ => Vec::new(),
    }
}

// ---- latency-tracking-info-percentiles ----

pub static PERCENTILES: Special =
    Special { parse: parse_percentiles, format: format_percentiles, rewrite: rewrite_percentiles };

fn parse_percentiles(config: &mut Config, args: &[String], _appending: bool) -> Result<(), String> {
    config.latency_tracking_info_percentiles.clear();
    let args: &[String] = if matches!(args, [only] if only.is_empty()) { &[] } else { args };
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        let p = parse_f64(arg.as_bytes()).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
        }
        values.push(p);
    }
    config.latency_tracking_info_percentiles = values;
    Ok(())
}

/// `%f` with trailing zeros (and a trailing dot) removed.
fn trimmed_float(v: f64) -> String {
    let text = format!("{v:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn format_percentiles(config: &Config) -> String {
    let parts: Vec<String> = config.latency_tracking_info_percentiles.iter().map(|p| trimmed_float(*p)).collect();
    parts.join(" ")
}

fn rewrite_percentiles(config: &Config, name: &str) -> Vec<(String, bool)> {
    let values = format_percentiles(config);
    let values = if values.is_empty() { "\"\"".to_string() } else { values };
    vec![(format!("{name} {values}"), true)]
}

// ---- checks and apply hooks ----

pub fn check_shutdown_flags(bits: u32) -> Result<(), &'static str> {
    const SAVE: u32 = 1;
    const NOSAVE: u32 = 2;
    if bits & SAVE != 0 && bits & NOSAVE != 0 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously");
    }
    Ok(())
}

/// Active defragmentation needs Redis's patched jemalloc; like a redis-server
/// built without it, Cinnabar refuses to enable it.
pub fn check_activedefrag(enable: bool) -> Result<(), &'static str> {
    if enable {
        return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution");
    }
    Ok(())
}

fn is_base_name(path: &str) -> bool {
    !path.contains('/') && !path.contains('\\')
}

pub fn check_dbfilename(name: &str) -> Result<(), &'static str> {
    if !is_base_name(name) {
        return Err("dbfilename can't be a path, just a filename");
    }
    Ok(())
}

pub fn check_aof_filename(name: &str) -> Result<(), &'static str> {
    match name {
        "" => Err("appendfilename can't be empty"),
        n if !is_base_name(n) => Err("appendfilename can't be a path, just a filename"),
        _ => Ok(()),
    }
}

pub fn check_aof_dirname(name: &str) -> Result<(), &'static str> {
    match name {
        "" => Err("appenddirname can't be empty"),
        n if !is_base_name(n) => Err("appenddirname can't be a path, just a dirname"),
        _ => Ok(()),
    }
}

pub fn check_hostname(name: &str) -> Result<(), &'static str> {
    if name.len() >= 46 {
        return Err("Hostnames must be less than 46 characters");
    }
    if !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots");
    }
    Ok(())
}

/// A template is valid if every `{variable}` is known and it does not expand
/// to nothing.
pub fn check_proc_title(template: &str) -> Result<(), &'static str> {
    const INVALID: &str = "template format is invalid or contains unknown variables";
    let mut expanded = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        expanded.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(INVALID);
        }
        if let Some(quoted) = after.strip_prefix('{') {
            expanded.push('{');
            rest = quoted;
            continue;
        }
        let close = after.find('}').ok_or(INVALID)?;
        expanded.push_str(match &after[..close] {
            "title" | "server-mode" | "unixsocket" => "",
            "listen-addr" | "config-file" | "port" | "tls-port" => "x",
            _ => return Err(INVALID),
        });
        rest = &after[close + 1..];
    }
    expanded.push_str(rest);
    if expanded.trim_matches(' ').is_empty() {
        return Err(INVALID);
    }
    Ok(())
}

/// Redis keeps hz within 1..=500 whatever was asked.
pub fn clamp_hz(config: &mut Config) -> Result<(), String> {
    config.hz = config.hz.clamp(1, 500);
    Ok(())
}

/// A new loglevel takes effect for the next log line.
pub fn apply_loglevel(config: &mut Config) -> Result<(), String> {
    let level = crate::log::Level::parse(&config.loglevel).unwrap_or(crate::log::Level::Notice);
    crate::log::configure(level, &config.logfile);
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn output_limits_close_past_hard_or_after_soft_seconds() {
        let limit = ObufLimit { hard: 100, soft: 50, soft_seconds: 2 };
        let mut since = None;
        assert!(limit.exceeded(100, &mut since, 0));
        assert!(!limit.exceeded(60, &mut since, 10));
        assert!(!limit.exceeded(60, &mut since, 12));
        assert!(limit.exceeded(60, &mut since, 13));
        assert!(!limit.exceeded(10, &mut since, 14));
        assert_eq!(since, None);
    }

    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("10k"), Some(10_000));
        assert_eq!(parse_memory("5"), Some(5));
        assert_eq!(parse_memory("007"), Some(7));
        assert_eq!(parse_memory("kb"), Some(0));
        assert_eq!(parse_memory("99999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
    }

    #[test]
    fn rewrite_uses_largest_exact_unit() {
        assert_eq!(memory_with_unit(0), "0");
        assert_eq!(memory_with_unit(1 << 30), "1gb");
        assert_eq!(memory_with_unit(3 << 20), "3mb");
        assert_eq!(memory_with_unit(1025), "1025");
    }

    #[test]
    fn keyspace_event_letters() {
        let mut c = Config::new();
        parse_notify(&mut c, &["KEA".to_string()], false).unwrap();
        assert_eq!(notify_string(c.notify_keyspace_events), "AKE");
        parse_notify(&mut c, &["Exg$".to_string()], false).unwrap();
        assert_eq!(notify_string(c.notify_keyspace_events), "g$xE");
        assert!(parse_notify(&mut c, &["Q".to_string()], false).is_err());
    }

    #[test]
    fn quoting_matches_sdscatrepr() {
        assert_eq!(repr("a b"), "\"a b\"");
        assert_eq!(repr("q\"\\\n\x01"), "\"q\\\"\\\\\\n\\x01\"");
    }

    #[test]
    fn proc_title_templates() {
        assert!(check_proc_title("{title} {listen-addr} {server-mode}").is_ok());
        assert!(check_proc_title("{title}").is_err());
        assert!(check_proc_title("{nope}").is_err());
        assert!(check_proc_title("x {").is_err());
    }
}
