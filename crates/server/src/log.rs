//! The server log, in Redis's line format:
//! `pid:role dd Mon yyyy hh:mm:ss.mmm <level-char> message`.
//!
//! Harnesses and operators grep these lines (`Ready to accept connections`), so
//! the format, the level characters (`.` debug, `-` verbose, `*` notice,
//! `#` warning) and the role characters (`M` master, `S` replica, `C` child,
//! `X` sentinel) are Redis's.

use std::cell::RefCell;
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl Level {
    pub fn parse(name: &str) -> Option<Level> {
        match name.to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "verbose" => Some(Level::Verbose),
            "notice" => Some(Level::Notice),
            "warning" => Some(Level::Warning),
            _ => None,
        }
    }

    fn marker(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }
}

struct Logger {
    level: Level,
    /// Empty: standard output.
    file: String,
    role: char,
}

thread_local! {
    static LOGGER: RefCell<Logger> = const {
        RefCell::new(Logger { level: Level::Notice, file: String::new(), role: 'C' })
    };
}

/// Sets the minimum level and the destination (`""` for standard output).
pub fn configure(level: Level, file: &str) {
    LOGGER.with(|l| {
        let mut l = l.borrow_mut();
        l.level = level;
        l.file = file.to_string();
    });
}

/// Sets the role character printed after the pid.
pub fn set_role(role: char) {
    LOGGER.with(|l| l.borrow_mut().role = role);
}

pub fn enabled(level: Level) -> bool {
    LOGGER.with(|l| level >= l.borrow().level)
}

/// Writes one line if `level` is enabled. Failures to log are ignored, as in Redis.
pub fn log(level: Level, msg: &str) {
    LOGGER.with(|l| {
        let l = l.borrow();
        if level < l.level {
            return;
        }
        let line = format!("{}:{} {} {} {}\n", std::process::id(), l.role, timestamp(), level.marker(), msg);
        if l.file.is_empty() {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        } else if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&l.file) {
            let _ = f.write_all(line.as_bytes());
        }
    });
}

/// `22 Nov 2026 04:03:42.123` in local time.
fn timestamp() -> String {
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both out-pointers are valid for the duration of the calls.
    unsafe {
        libc::gettimeofday(&mut tv, std::ptr::null_mut());
        libc::localtime_r(&tv.tv_sec, &mut tm);
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tv.tv_usec / 1000
    )
}

macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Level::$level) {
            $crate::log::log($crate::log::Level::$level, &format!($($arg)*))
        }
    };
}
pub(crate) use log_at;
