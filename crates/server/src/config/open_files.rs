//! Fitting `maxclients` to the process's open-files limit, as Redis does at
//! start-up and on CONFIG SET maxclients: raise the limit if it is too low, and
//! if the system refuses, lower `maxclients` to what the limit allows.

use super::Config;
use crate::log::log_at;

/// Descriptors Redis keeps for itself beyond one per client.
const RESERVED_FDS: u64 = 32;

/// What fitting `maxclients` to the limit did.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenFiles {
    /// The limit allows `maxclients` (possibly after raising it).
    Enough,
    /// The limit could not be raised enough; `maxclients` was lowered.
    Reduced,
    /// The limit leaves no room for any client: the server cannot start.
    TooLow,
}

/// Raises RLIMIT_NOFILE for `config.maxclients`, or lowers `maxclients`,
/// logging what happened in Redis's words.
pub fn fit_maxclients(config: &mut Config) -> OpenFiles {
    let wanted = config.maxclients as u64 + RESERVED_FDS;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        let e = std::io::Error::last_os_error();
        log_at!(
            Warning,
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            super::strerror(&e)
        );
        config.maxclients = 1024 - RESERVED_FDS as i64;
        return OpenFiles::Reduced;
    }
    let old = limit.rlim_cur;
    if old >= wanted {
        return OpenFiles::Enough;
    }
    let (best, error) = highest_settable_limit(old, wanted);
    if best >= wanted {
        log_at!(Notice, "Increased maximum number of open files to {} (it was originally set to {}).", wanted, old);
        return OpenFiles::Enough;
    }
    let requested = config.maxclients;
    config.maxclients = best as i64 - RESERVED_FDS as i64;
    if best <= RESERVED_FDS {
        log_at!(
            Warning,
            "Your current 'ulimit -n' of {} is not enough for the server to start. Please increase your open file limit to at least {}. Exiting.",
            old,
            wanted
        );
        return OpenFiles::TooLow;
    }
    log_at!(Warning, "You requested maxclients of {} requiring at least {} max file descriptors.", requested, wanted);
    log_at!(Warning, "Server can't set maximum open files to {} because of OS error: {}.", wanted, error);
    log_at!(
        Warning,
        "Current maximum open files is {}. maxclients has been reduced to {} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
        best,
        config.maxclients
    );
    OpenFiles::Reduced
}

/// Tries limits from `wanted` down in steps of 16 until one is accepted;
/// returns it (at least `old`) and the last refusal's reason.
fn highest_settable_limit(old: u64, wanted: u64) -> (u64, String) {
    let mut best = wanted;
    let mut error = String::new();
    while best > old {
        let limit = libc::rlimit { rlim_cur: best, rlim_max: best };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != -1 {
            break;
        }
        error = super::strerror(&std::io::Error::last_os_error());
        if best < 16 {
            best = old;
            break;
        }
        best -= 16;
    }
    (best.max(old), error)
}

/// CONFIG SET maxclients: refused if the system cannot give that many descriptors.
pub fn apply_maxclients(config: &mut Config) -> Result<(), String> {
    let requested = config.maxclients;
    fit_maxclients(config);
    if config.maxclients != requested {
        return Err(format!(
            "The operating system is not able to handle the specified number of clients, try with {}",
            config.maxclients
        ));
    }
    Ok(())
}
