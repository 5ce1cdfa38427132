//! Reading the configuration like redis-server: the command line
//! (`[/path/redis.conf] [--directive value ...] [-]`), config files with
//! `include`, and the fatal error report Redis prints before exiting with
//! status 1.

use std::collections::HashSet;

use cinnabar_protocol::request::split_args;

use super::values::{repr, strerror};
use super::{lookup, Config, MULTI_ARG};
use crate::log::log_at;

/// What the command line asked for.
pub enum Invocation {
    Run(Box<Config>),
    Version,
    Help,
}

/// A configuration problem that stops the server, reported as Redis reports it.
#[derive(Debug)]
pub enum ConfigError {
    /// A bad line (`line`: its number and text) or a bad result of the whole load.
    Fatal { line: Option<(usize, String)>, reason: String },
    /// A config file that could not be opened; Redis logs this one.
    CantOpen { path: String, reason: String },
}

impl ConfigError {
    fn at(line_number: usize, line: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Fatal { line: Some((line_number, line.to_string())), reason: reason.into() }
    }

    /// The text Redis prints (to stderr for `Fatal`, as a log line for `CantOpen`).
    pub fn report(&self) -> String {
        match self {
            ConfigError::Fatal { line, reason } => {
                let mut out = format!("\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n", crate::REDIS_VERSION);
                if let Some((number, text)) = line {
                    out.push_str(&format!("Reading the configuration file, at line {number}\n>>> '{text}'\n"));
                }
                out.push_str(reason);
                out.push('\n');
                out
            }
            ConfigError::CantOpen { path, reason } => format!("Fatal error, can't open config file '{path}': {reason}"),
        }
    }

    /// Prints the report where Redis does; the caller then exits with status 1.
    pub fn print(&self) {
        match self {
            ConfigError::Fatal { .. } => eprint!("{}", self.report()),
            ConfigError::CantOpen { .. } => log_at!(Warning, "{}", self.report()),
        }
    }
}

/// Config lines Redis 7.0 still accepts and ignores.
const DEPRECATED: [&str; 3] = ["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"];

/// Deepest `include` chain followed (Redis recurses without limit and crashes).
const MAX_INCLUDE_DEPTH: usize = 32;

/// State of one configuration load across files.
#[derive(Default)]
struct Loader {
    /// Directives already set by this load: a repeated `save` adds points.
    seen: HashSet<&'static str>,
    /// False once an included file ended: like Redis, whose flag for "reading
    /// a config file" an include clears, later `save` lines replace again.
    reading_file: bool,
    depth: usize,
}

/// Applies the text of a config file (plus command-line options, which Redis
/// appends as extra lines) to `config`, then checks the result as a whole.
pub fn load_text(config: &mut Config, text: &str) -> Result<(), ConfigError> {
    let mut loader = Loader::default();
    loader.apply_text(config, text)?;
    finish(config)
}

/// The checks Redis makes once every line is read.
fn finish(config: &mut Config) -> Result<(), ConfigError> {
    let fatal = |reason: String| ConfigError::Fatal { line: None, reason };
    if !config.logfile.is_empty() {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
            .map_err(|e| fatal(format!("Can't open the log file: {}", strerror(&e))))?;
    }
    if config.cluster_enabled && config.replicaof.is_some() {
        return Err(fatal("replicaof directive not allowed in cluster mode".into()));
    }
    config.hz = config.hz.clamp(1, 500);
    Ok(())
}

impl Loader {
    fn apply_text(&mut self, config: &mut Config, text: &str) -> Result<(), ConfigError> {
        self.reading_file = true;
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.apply_line(config, line).map_err(|reason| match reason {
                LineError::Reason(reason) => ConfigError::at(i + 1, line, reason),
                LineError::Nested(e) => e,
            })?;
        }
        self.reading_file = false;
        Ok(())
    }

    fn apply_line(&mut self, config: &mut Config, line: &str) -> Result<(), LineError> {
        let words = split_args(line.as_bytes()).ok_or("Unbalanced quotes in configuration line")?;
        let mut argv: Vec<String> = words.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
        let Some(first) = argv.first_mut() else { return Ok(()) };
        first.make_ascii_lowercase();
        let name = argv[0].as_str();
        if let Some(directive) = lookup(name) {
            let multi = directive.is(MULTI_ARG);
            if !multi && argv.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            // A multi-argument value given as one word ("--save '900 1'") is split.
            let args: Vec<String> = if multi && argv.len() == 2 && !argv[1].is_empty() {
                split_args(argv[1].as_bytes())
                    .unwrap_or_default()
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect()
            } else {
                argv[1..].to_vec()
            };
            let appending = !self.seen.insert(directive.name) && self.reading_file;
            directive.set(config, &args, appending)?;
            return Ok(());
        }
        if DEPRECATED.contains(&name) && argv.len() == 2 {
            return Ok(());
        }
        match (name, argv.len()) {
            ("include", 2) => self.include(config, &argv[1]).map_err(LineError::Nested),
            ("rename-command", 3) => rename_command(config, &argv[1], &argv[2]),
            ("user", n) if n >= 2 => {
                config.users.push(argv[1..].to_vec());
                Ok(())
            }
            // A lone `sentinel` line only selects sentinel mode, decided at start-up.
            ("sentinel", 1) => Ok(()),
            ("sentinel", _) => Err("sentinel directive while not in sentinel mode".into()),
            _ => Err("Bad directive or wrong number of arguments".into()),
        }
    }

    /// `include path`: the file's lines, or those of every file a glob pattern matches.
    fn include(&mut self, config: &mut Config, path: &str) -> Result<(), ConfigError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::Fatal { line: None, reason: format!("Too many nested includes at '{path}'") });
        }
        let files = if path.contains(['*', '?', '[']) { glob(path) } else { vec![path.to_string()] };
        self.depth += 1;
        for file in files {
            let text = read_config_file(&file)?;
            self.apply_text(config, &text)?;
        }
        self.depth -= 1;
        Ok(())
    }
}

/// Why a line failed: a reason for this line, or an error inside an included file.
enum LineError {
    Reason(String),
    Nested(ConfigError),
}

impl From<&str> for LineError {
    fn from(reason: &str) -> Self {
        LineError::Reason(reason.to_string())
    }
}

impl From<String> for LineError {
    fn from(reason: String) -> Self {
        LineError::Reason(reason)
    }
}

/// `rename-command`: checked against the command table and recorded.
fn rename_command(config: &mut Config, from: &str, to: &str) -> Result<(), LineError> {
    let exists =
        |name: &str| crate::commands::FAMILIES.iter().flat_map(|f| f.iter()).any(|c| c.name.eq_ignore_ascii_case(name));
    if !exists(from) {
        return Err("No such command in rename-command".into());
    }
    if !to.is_empty() && exists(to) {
        return Err("Target command name already exists".into());
    }
    config.renamed_commands.push((from.to_string(), to.to_string()));
    Ok(())
}

/// Paths matching a glob pattern, sorted; none is not an error.
fn glob(pattern: &str) -> Vec<String> {
    let Ok(c_pattern) = std::ffi::CString::new(pattern) else { return Vec::new() };
    // SAFETY: glob_t is plain data; glob fills it and globfree releases it.
    unsafe {
        let mut found: libc::glob_t = std::mem::zeroed();
        if libc::glob(c_pattern.as_ptr(), 0, None, &mut found) != 0 {
            return Vec::new();
        }
        let paths = (0..found.gl_pathc)
            .map(|i| std::ffi::CStr::from_ptr(*found.gl_pathv.add(i)).to_string_lossy().into_owned())
            .collect();
        libc::globfree(&mut found);
        paths
    }
}

fn read_config_file(path: &str) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| ConfigError::CantOpen { path: path.to_string(), reason: strerror(&e) })
}

/// Parses `cinnabar-server [/path/redis.conf] [--directive value ...] [-]` like
/// redis-server: options become extra config lines after the file, and `-`
/// (first or last) reads more config from standard input.
pub fn from_args(args: &[String]) -> Result<Invocation, ConfigError> {
    let mut config = Config::new();
    let Some(first) = args.first() else { return Ok(Invocation::Run(Box::new(config))) };
    match first.as_str() {
        "-v" | "--version" => return Ok(Invocation::Version),
        "-h" | "--help" => return Ok(Invocation::Help),
        _ => {}
    }
    let (config_file, options_start) = if first.starts_with('-') { (None, 0) } else { (Some(absolute(first)), 1) };
    let (options, from_stdin) = options_text(args, options_start);
    let mut text = match &config_file {
        Some(path) => read_config_file(path)?,
        None => String::new(),
    };
    if from_stdin {
        log_at!(Warning, "Reading config from stdin");
        text.push_str(&std::io::read_to_string(std::io::stdin()).unwrap_or_default());
    }
    text.push('\n');
    text.push_str(&options);
    load_text(&mut config, &text)?;
    config.config_file = config_file.unwrap_or_default();
    config.loaded_from_arguments = true;
    Ok(Invocation::Run(Box::new(config)))
}

/// Turns `--name value ...` arguments into config lines, as redis-server does
/// (values quoted; `--save` with no value means `save ""`). Also says whether
/// a `-` asked for standard input.
fn options_text(args: &[String], start: usize) -> (String, bool) {
    let mut options = String::new();
    let mut from_stdin = false;
    // False right after an option name with no value yet: a following
    // `--word` is then that option's value.
    let mut value_given = true;
    for (j, arg) in args.iter().enumerate().skip(start) {
        let is_last = j == args.len() - 1;
        let next_is_option = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
        if arg == "-" && (j == 0 || is_last) {
            from_stdin = true;
        } else if value_given && arg.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&arg[2..]);
            options.push(' ');
            let words = split_args(arg.as_bytes()).map_or(1, |w| w.len());
            value_given = words != 1;
            if words == 1 {
                if arg.eq_ignore_ascii_case("--save") && (is_last || next_is_option) {
                    options.push_str("\"\"");
                    value_given = true;
                } else if arg.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    value_given = true;
                }
            }
        } else {
            options.push_str(&repr(arg));
            options.push(' ');
            value_given = true;
        }
    }
    (options, from_stdin)
}

/// The absolute form of a path given on the command line.
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path).to_string_lossy().into_owned(),
        Err(_) => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_become_quoted_lines() {
        let (text, stdin) = options_text(&strings(&["--port", "7000", "--save", "--bind", "a", "b", "-"]), 0);
        assert_eq!(text, "port \"7000\" \nsave \"\"\nbind \"a\" \"b\" ");
        assert!(stdin);
    }

    #[test]
    fn bad_lines_report_their_number() {
        let mut c = Config::new();
        let err = load_text(&mut c, "port 7000\n\nfoo bar\n").unwrap_err();
        assert_eq!(
            err.report(),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'foo bar'\nBad directive or wrong number of arguments\n"
        );
    }

    #[test]
    fn save_lines_accumulate_within_a_load() {
        let mut c = Config::new();
        load_text(&mut c, "save 900 1\nsave 300 10\n").unwrap();
        assert_eq!(c.save, vec![(900, 1), (300, 10)]);
        load_text(&mut c, "save 60 5\n").unwrap();
        assert_eq!(c.save, vec![(60, 5)]);
    }
}
