//! The ACL file (`aclfile`) and `user` config directives: loading users at
//! start-up and on ACL LOAD (all or nothing, with Redis's error texts), and
//! writing them on ACL SAVE (to a temporary file renamed into place).

use std::collections::BTreeMap;

use super::{rules, Acl, User};
use crate::command::CommandTable;
use crate::log::log_at;

/// Reads `path` into users by name. Errors are the whole text ACL LOAD
/// replies with (without `ERR `).
pub fn load(path: &str, commands: &CommandTable, pubsub_all: bool) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {}", crate::config::strerror(&e)))?;
    let mut users = BTreeMap::new();
    let mut errors = String::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let linenum = i + 1;
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!("{path}:{linenum} should start with user keyword followed by the username. "));
            continue;
        }
        let name = words[1];
        if rules::has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut user = User::new(name, commands.all().count(), pubsub_all);
        let rule_args = match rules::merge_selector_args(&words[2..]) {
            Ok(merged) => merged,
            Err(_) => {
                errors.push_str(&format!("{path}:{linenum}: Unmatched parenthesis in selector definition."));
                Vec::new()
            }
        };
        let mut syntax_error = false;
        for rule in &rule_args {
            let rule = rule.trim_ascii();
            if let Err(e) = rules::apply(&mut user, rule, commands, pubsub_all) {
                if e == rules::RuleError::UnknownCommand {
                    errors.push_str(&format!(
                        "{path}:{linenum}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(rule),
                        e.message()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{path}:{linenum}: {}. ", e.message()));
                    syntax_error = true;
                }
            }
        }
        users.insert(name.to_vec(), user);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        Err(errors)
    }
}

/// The ACL file text: one `user <name> <rules>` line per user, by name.
pub fn render(acl: &Acl, commands: &CommandTable) -> String {
    let mut text = String::new();
    for user in acl.users() {
        let user = user.borrow();
        text.push_str(&format!("user {} {}\n", user.name_lossy(), rules::describe_user(&user, commands)));
    }
    text
}

/// Writes every user to `path` through a temporary file, so a crash never
/// leaves half a file. The error is the line to log.
pub fn save(path: &str, acl: &Acl, commands: &CommandTable, now_ms: i64) -> Result<(), String> {
    let temp = format!("{path}.tmp-{}-{now_ms}", std::process::id());
    let saved = std::fs::write(&temp, render(acl, commands))
        .map_err(|e| format!("Writing ACL file for ACL SAVE: {}", crate::config::strerror(&e)))
        .and_then(|()| {
            std::fs::rename(&temp, path)
                .map_err(|e| format!("Renaming ACL file for ACL SAVE: {}", crate::config::strerror(&e)))
        });
    if saved.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    saved
}

/// Start-up: `requirepass`, then the `user` directives or the ACL file (not
/// both). An error is logged by the caller, which exits.
pub fn load_at_startup(acl: &mut Acl, config: &crate::config::Config, commands: &CommandTable) -> Result<(), String> {
    acl.set_default_password(&config.requirepass, commands);
    let pubsub_all = config.acl_pubsub_default == "allchannels";
    if !config.aclfile.is_empty() && !config.users.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is \
                    invalid. This setup is very likely to lead to configuration errors and security holes, please \
                    define either an ACL file or declare users directly in your redis.conf, but not both."
            .into());
    }
    for words in &config.users {
        load_configured_user(acl, words, commands, pubsub_all)?;
    }
    if !config.aclfile.is_empty() {
        let users = load(&config.aclfile, commands, pubsub_all)
            .map_err(|errors| format!("Aborting Redis startup because of ACL errors: {errors}"))?;
        acl.replace_all(users, commands);
    }
    Ok(())
}

/// One `user <name> <rules...>` config directive (`words` without `user`).
fn load_configured_user(
    acl: &mut Acl,
    words: &[String],
    commands: &CommandTable,
    pubsub_all: bool,
) -> Result<(), String> {
    let name = words[0].as_bytes();
    if rules::has_spaces(name) {
        return Err("Spaces not allowed in ACL usernames".into());
    }
    let args: Vec<&[u8]> = words[1..].iter().map(|w| w.as_bytes()).collect();
    let merged = rules::merge_selector_args(&args).map_err(|_| "Unmatched parenthesis in selector definition.")?;
    let mut user = match acl.get(name) {
        // A `user default` line starts the default user over.
        Some(existing) => {
            let mut user = existing.borrow().clone();
            rules::apply(&mut user, b"reset", commands, pubsub_all).expect("reset is valid");
            user
        }
        None => User::new(name, commands.all().count(), pubsub_all),
    };
    for rule in &merged {
        rules::apply(&mut user, rule, commands, pubsub_all).map_err(|e| {
            format!(
                "Error loading ACL rule '{}' for the user named '{}': {}",
                String::from_utf8_lossy(rule),
                words[0],
                e.message()
            )
        })?;
    }
    if user.has(super::user_flags::DISABLED) {
        log_at!(
            Notice,
            "The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a \
             configuration error.",
            words[0]
        );
    }
    acl.put(user);
    Ok(())
}
