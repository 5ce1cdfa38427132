//! Settings that act on the process itself: the kernel's OOM-killer score
//! (`oom-score-adj`, `oom-score-adj-values`), transparent huge pages
//! (`disable-thp`) and jemalloc's background purging thread
//! (`jemalloc-bg-thread`). Applied at start-up and on CONFIG SET.

use std::sync::Mutex;

use super::Config;
use crate::log::log_at;

const OOM_SCORE_FILE: &str = "/proc/self/oom_score_adj";

/// The score the process had before Cinnabar changed it (None: unchanged),
/// to restore when `oom-score-adj` goes back to `no`.
static OOM_SCORE_BASE: Mutex<Option<i64>> = Mutex::new(None);

/// Writes the OOM score `oom-score-adj` asks for: the value for this process's
/// role (master or replica), relative to the original score or absolute.
fn set_oom_score(config: &Config) -> Result<(), ()> {
    let mut base = OOM_SCORE_BASE.lock().unwrap_or_else(|e| e.into_inner());
    let score = if config.oom_score_adj != "no" {
        let original = match *base {
            Some(original) => original,
            None => {
                let text = std::fs::read_to_string(OOM_SCORE_FILE).map_err(|e| {
                    log_at!(Warning, "Unable to read oom_score_adj: {}", super::strerror(&e));
                })?;
                let original = text.trim().parse().unwrap_or(0);
                *base = Some(original);
                original
            }
        };
        let role = usize::from(config.replicaof.is_some());
        let value = config.oom_score_adj_values[role];
        let value = if config.oom_score_adj == "absolute" { value } else { value + original };
        value.clamp(-1000, 1000)
    } else if let Some(original) = base.take() {
        original
    } else {
        return Ok(());
    };
    std::fs::write(OOM_SCORE_FILE, format!("{score}\n")).map_err(|e| {
        log_at!(Warning, "Unable to write oom_score_adj: {}", super::strerror(&e));
    })
}

/// CONFIG SET oom-score-adj / oom-score-adj-values.
pub fn apply_oom_score(config: &mut Config) -> Result<(), String> {
    set_oom_score(config).map_err(|()| "Failed to set current oom_score_adj. Check server logs.".to_string())
}

/// CONFIG SET jemalloc-bg-thread.
pub fn apply_jemalloc_bg_thread(config: &mut Config) -> Result<(), String> {
    // Like Redis, a jemalloc that refuses is not an error of the setting.
    let _ = tikv_jemalloc_ctl::background_thread::write(config.jemalloc_bg_thread);
    Ok(())
}

/// Start-up: the OOM score, THP for this process, jemalloc's background thread.
pub fn apply_process_settings(config: &Config) {
    if config.disable_thp {
        // SAFETY: prctl with these arguments only changes a flag of this process.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
    let _ = tikv_jemalloc_ctl::background_thread::write(config.jemalloc_bg_thread);
    let _ = set_oom_score(config);
}
