//! ACL rules: applying rule strings (`on`, `>pass`, `+@read`, `~key*`,
//! `(...)` selectors, ...) to a user with Redis 7.0's semantics and error
//! texts, and describing a user back as the rules ACL LIST, ACL GETUSER and
//! ACL SAVE print.
//!
//! The commands part of a description is rebuilt from the selector's command
//! bitmap the way Redis 7.0 does it: `+@all` or `-@all`, then the categories
//! that fit best one after another, then single commands for what differs.

use sha2::{Digest, Sha256};

use super::{user_flags, KeyPattern, Selector, User, KEY_ALL, KEY_READ, KEY_WRITE};
use crate::command::acl as category;
use crate::command::table::effective_acl_categories;
use crate::command::{CommandId, CommandTable};

/// Why a rule was refused (the text follows Redis's `ACLSetUserStringError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    UnknownCommand,
    Syntax,
    KeyPatternAfterAll,
    ChannelPatternAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
}

impl RuleError {
    pub fn message(&self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyPatternAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any \
                 effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelPatternAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any \
                 effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// SHA-256 of a password, as lower-case hex.
pub fn hash_password(password: &[u8]) -> String {
    Sha256::digest(password).iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Usernames and patterns may not hold spaces or NULs (they must survive
/// being written as rules).
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| c.is_ascii_whitespace() || c == 0x0b || c == 0)
}

fn is(op: &[u8], word: &str) -> bool {
    op.eq_ignore_ascii_case(word.as_bytes())
}

/// Applies one rule to `user`. `pubsub_all` is `acl-pubsub-default
/// allchannels` (what new selectors and `reset` start with).
pub fn apply(user: &mut User, op: &[u8], commands: &CommandTable, pubsub_all: bool) -> Result<(), RuleError> {
    use user_flags::*;
    if op.is_empty() {
        return Ok(());
    }
    let set_flags = |user: &mut User, on: u8, off: u8| user.flags = (user.flags | on) & !off;
    if is(op, "on") {
        set_flags(user, ENABLED, DISABLED);
    } else if is(op, "off") {
        set_flags(user, DISABLED, ENABLED);
    } else if is(op, "skip-sanitize-payload") {
        set_flags(user, SKIP_SANITIZE_PAYLOAD, SANITIZE_PAYLOAD);
    } else if is(op, "sanitize-payload") {
        set_flags(user, SANITIZE_PAYLOAD, SKIP_SANITIZE_PAYLOAD);
    } else if is(op, "nopass") {
        set_flags(user, NOPASS, 0);
        user.passwords.clear();
    } else if is(op, "resetpass") {
        set_flags(user, 0, NOPASS);
        user.passwords.clear();
    } else if op[0] == b'>' || op[0] == b'#' {
        let hash = password_hash_of(op)?;
        if !user.passwords.contains(&hash) {
            user.passwords.push(hash);
        }
        set_flags(user, 0, NOPASS);
    } else if op[0] == b'<' || op[0] == b'!' {
        let hash = password_hash_of(op)?;
        let at = user.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
        user.passwords.remove(at);
    } else if op[0] == b'(' && op[op.len() - 1] == b')' {
        let selector = selector_from_rules(&op[1..op.len() - 1], commands, pubsub_all)?;
        user.selectors.push(selector);
    } else if is(op, "clearselectors") {
        user.selectors.truncate(1);
    } else if is(op, "reset") {
        for rule in ["resetpass", "resetkeys", "resetchannels"] {
            apply(user, rule.as_bytes(), commands, pubsub_all)?;
        }
        if pubsub_all {
            apply(user, b"allchannels", commands, pubsub_all)?;
        }
        for rule in ["off", "sanitize-payload", "clearselectors", "-@all"] {
            apply(user, rule.as_bytes(), commands, pubsub_all)?;
        }
    } else {
        apply_to_selector(user.root_mut(), op, commands)?;
    }
    Ok(())
}

/// The stored hash a password rule names: hashed from `>pass`/`<pass`,
/// checked from `#hash`/`!hash`.
fn password_hash_of(op: &[u8]) -> Result<String, RuleError> {
    let value = &op[1..];
    if op[0] == b'>' || op[0] == b'<' {
        return Ok(hash_password(value));
    }
    if !valid_hash(value) {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

/// A `(...)` selector from the rules between the parentheses.
fn selector_from_rules(inner: &[u8], commands: &CommandTable, pubsub_all: bool) -> Result<Selector, RuleError> {
    let mut selector = Selector::new(false, commands.all().count(), pubsub_all);
    // Unbalanced quotes give no rules at all, as in Redis.
    for rule in cinnabar_protocol::request::split_args(inner).unwrap_or_default() {
        apply_to_selector(&mut selector, &rule, commands)?;
    }
    Ok(selector)
}

/// Applies a selector rule (commands, keys, channels).
pub fn apply_to_selector(selector: &mut Selector, op: &[u8], commands: &CommandTable) -> Result<(), RuleError> {
    if is(op, "allkeys") || op == b"~*" {
        selector.all_keys = true;
        selector.patterns.clear();
    } else if is(op, "resetkeys") {
        selector.all_keys = false;
        selector.patterns.clear();
    } else if is(op, "allchannels") || op == b"&*" {
        selector.all_channels = true;
        selector.channels.clear();
    } else if is(op, "resetchannels") {
        selector.all_channels = false;
        selector.channels.clear();
    } else if is(op, "allcommands") || is(op, "+@all") {
        selector.allowed.iter_mut().for_each(|w| *w = u64::MAX);
        selector.all_commands = true;
        selector.future_commands = true;
        selector.first_args.clear();
    } else if is(op, "nocommands") || is(op, "-@all") {
        selector.allowed.iter_mut().for_each(|w| *w = 0);
        selector.all_commands = false;
        selector.future_commands = false;
        selector.first_args.clear();
    } else if op[0] == b'~' || op[0] == b'%' {
        add_key_pattern(selector, op)?;
    } else if op[0] == b'&' {
        if selector.all_channels {
            return Err(RuleError::ChannelPatternAfterAll);
        }
        let pattern = &op[1..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        if !selector.channels.iter().any(|c| c == pattern) {
            selector.channels.push(pattern.to_vec());
        }
        selector.all_channels = false;
    } else if op.len() > 1 && op[1] == b'@' && (op[0] == b'+' || op[0] == b'-') {
        let flag = category_by_name(&op[2..]).ok_or(RuleError::UnknownCommand)?;
        set_category(selector, commands, flag, op[0] == b'+');
    } else if op[0] == b'+' {
        allow_command(selector, &op[1..], commands)?;
    } else if op[0] == b'-' {
        let id = lookup(commands, &op[1..]).ok_or(RuleError::UnknownCommand)?;
        change_permission(selector, commands, id, false);
    } else {
        return Err(RuleError::Syntax);
    }
    Ok(())
}

/// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
fn add_key_pattern(selector: &mut Selector, op: &[u8]) -> Result<(), RuleError> {
    if selector.all_keys {
        return Err(RuleError::KeyPatternAfterAll);
    }
    let (perms, pattern) = if op[0] == b'%' {
        let mut perms = 0;
        let mut offset = 1;
        while offset < op.len() {
            let c = op[offset];
            offset += 1;
            match c.to_ascii_uppercase() {
                b'R' if perms & KEY_READ == 0 => perms |= KEY_READ,
                b'W' if perms & KEY_WRITE == 0 => perms |= KEY_WRITE,
                b'~' => break,
                _ => return Err(RuleError::Syntax),
            }
        }
        // A pattern granting nothing could never be described back.
        if perms == 0 {
            return Err(RuleError::Syntax);
        }
        (perms, &op[offset..])
    } else {
        (KEY_ALL, &op[1..])
    };
    if has_spaces(pattern) {
        return Err(RuleError::Syntax);
    }
    match selector.patterns.iter_mut().find(|p| p.pattern == pattern) {
        Some(existing) => existing.perms |= perms,
        None => selector.patterns.push(KeyPattern { perms, pattern: pattern.to_vec() }),
    }
    selector.all_keys = false;
    Ok(())
}

/// `+cmd`, `+cmd|sub`, or `+cmd|firstarg` for a command without subcommands.
fn allow_command(selector: &mut Selector, name: &[u8], commands: &CommandTable) -> Result<(), RuleError> {
    let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
        let id = lookup(commands, name).ok_or(RuleError::UnknownCommand)?;
        change_permission(selector, commands, id, true);
        return Ok(());
    };
    let (parent_name, first_arg) = (&name[..bar], &name[bar + 1..]);
    let parent = lookup(commands, parent_name).ok_or(RuleError::UnknownCommand)?;
    if commands.get(parent).parent.is_some() {
        return Err(RuleError::SubcommandFirstArg);
    }
    if first_arg.is_empty() {
        return Err(RuleError::Syntax);
    }
    if commands.get(parent).is_container() {
        let id = commands.find_subcommand(parent, first_arg).ok_or(RuleError::UnknownCommand)?;
        change_permission(selector, commands, id, true);
    } else {
        crate::log::log_at!(
            Warning,
            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may \
             get disabled in the future (offender: +{})",
            String::from_utf8_lossy(name)
        );
        let allowed = selector.first_args.entry(parent).or_default();
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(first_arg)) {
            allowed.push(first_arg.to_vec());
        }
    }
    Ok(())
}

/// A command by its ACL name: `get` or `config|get`.
fn lookup(commands: &CommandTable, name: &[u8]) -> Option<CommandId> {
    let mut parts = name.split(|&c| c == b'|');
    let first = parts.next()?;
    let id = commands.find(first)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(id),
        (Some(sub), None) if commands.get(id).is_container() => commands.find_subcommand(id, sub),
        _ => None,
    }
}

fn category_by_name(name: &[u8]) -> Option<u64> {
    category::NAMES.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name)).map(|(flag, _)| *flag)
}

/// Allows or blocks a command; a container's subcommands follow it.
fn change_permission(selector: &mut Selector, commands: &CommandTable, id: CommandId, allow: bool) {
    selector.set_command_bit(id, allow);
    selector.first_args.remove(&id);
    for sub in commands.get(id).subcommand_ids() {
        selector.set_command_bit(sub, allow);
    }
}

/// `+@category` / `-@category`: every command (or subcommand) in it.
fn set_category(selector: &mut Selector, commands: &CommandTable, flag: u64, allow: bool) {
    for (id, command) in commands.all() {
        if effective_acl_categories(command.spec) & flag != 0 {
            change_permission(selector, commands, id, allow);
        }
    }
}

/// How many commands of a category the selector allows and denies.
fn count_category(selector: &Selector, commands: &CommandTable, flag: u64) -> (usize, usize) {
    let (mut on, mut off) = (0, 0);
    for (id, command) in commands.all() {
        if effective_acl_categories(command.spec) & flag != 0 {
            if selector.command_bit(id) {
                on += 1;
            } else {
                off += 1;
            }
        }
    }
    (on, off)
}

/// Joins `(... ...)` selectors that ACL SETUSER received as several
/// arguments back into one rule each. Err(index) of an unclosed selector.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, &arg) in args.iter().enumerate() {
        let closes = arg.last() == Some(&b')');
        if let Some((_, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(arg);
            if closes {
                merged.push(open.take().expect("open selector").1);
            }
        } else if arg.first() == Some(&b'(') && !closes {
            open = Some((i, arg.to_vec()));
        } else {
            merged.push(arg.to_vec());
        }
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

/// ACL SETUSER: `existing` (or a new user called `name`) with `args`
/// applied, all or nothing. Errors are the text after `ERR `.
pub fn set_user(
    existing: Option<&User>,
    name: &[u8],
    args: &[&[u8]],
    commands: &CommandTable,
    pubsub_all: bool,
) -> Result<User, String> {
    let rules = merge_selector_args(args).map_err(|start| {
        format!("Unmatched parenthesis in acl selector starting at '{}'.", String::from_utf8_lossy(args[start]))
    })?;
    let mut user = match existing {
        Some(user) => user.clone(),
        None => User::new(name, commands.all().count(), pubsub_all),
    };
    for rule in &rules {
        apply(&mut user, rule, commands, pubsub_all).map_err(|e| {
            format!("Error in ACL SETUSER modifier '{}': {}", String::from_utf8_lossy(rule), e.message())
        })?;
    }
    Ok(user)
}

/// The user as ACL LIST prints it after `user <name> `.
pub fn describe_user(user: &User, commands: &CommandTable) -> String {
    let mut out = String::new();
    for (flag, name) in user_flags::NAMES {
        if user.has(flag) {
            out.push_str(name);
            out.push(' ');
        }
    }
    for hash in &user.passwords {
        out.push('#');
        out.push_str(hash);
        out.push(' ');
    }
    for selector in &user.selectors {
        let description = describe_selector(selector, commands);
        if selector.root {
            out.push_str(&description);
        } else {
            out.push_str(" (");
            out.push_str(&description);
            out.push(')');
        }
    }
    out
}

fn describe_selector(selector: &Selector, commands: &CommandTable) -> String {
    let mut out = String::new();
    if selector.all_keys {
        out.push_str("~* ");
    } else {
        for pattern in &selector.patterns {
            out.push_str(&key_pattern_rule(pattern));
            out.push(' ');
        }
    }
    if selector.all_channels {
        out.push_str("&* ");
    } else {
        out.push_str("resetchannels ");
        for channel in &selector.channels {
            out.push('&');
            out.push_str(&String::from_utf8_lossy(channel));
            out.push(' ');
        }
    }
    out.push_str(&describe_commands(selector, commands));
    out
}

/// `~pat`, `%R~pat` or `%W~pat`.
pub fn key_pattern_rule(pattern: &KeyPattern) -> String {
    let prefix = match pattern.perms {
        KEY_READ => "%R~",
        KEY_WRITE => "%W~",
        _ => "~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(&pattern.pattern))
}

/// The key patterns as ACL GETUSER shows them (`~*` for allkeys).
pub fn describe_keys(selector: &Selector) -> String {
    if selector.all_keys {
        return "~*".into();
    }
    selector.patterns.iter().map(key_pattern_rule).collect::<Vec<_>>().join(" ")
}

/// The channel patterns as ACL GETUSER shows them (`&*` for allchannels).
pub fn describe_channels(selector: &Selector) -> String {
    if selector.all_channels {
        return "&*".into();
    }
    selector.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
}

/// The command rules that rebuild the selector's bitmap: `+@all` or
/// `-@all`, then best-fitting categories, then single commands.
pub fn describe_commands(selector: &Selector, commands: &CommandTable) -> String {
    let count = commands.all().count();
    let mut rules: Vec<String> = Vec::new();
    // `fake` replays the rules emitted so far; `remaining` has the fitted
    // categories taken away so later fits look only at what is left.
    let mut fake = Selector::new(false, count, false);
    let additive = !selector.future_commands;
    let start = if additive { "-@all" } else { "+@all" };
    apply_to_selector(&mut fake, start.as_bytes(), commands).expect("valid rule");
    rules.push(start.into());
    let mut remaining = selector.clone();
    let mut applied = [false; category::NAMES.len()];
    loop {
        let mut best: Option<usize> = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (i, (flag, _)) in category::NAMES.iter().enumerate() {
            if applied[i] {
                continue;
            }
            let (on, off) = count_category(&remaining, commands, *flag);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(i);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(best) = best else { break };
        let (flag, name) = category::NAMES[best];
        set_category(&mut fake, commands, flag, additive);
        set_category(&mut remaining, commands, flag, !additive);
        rules.push(format!("{}@{name}", if additive { '+' } else { '-' }));
        applied[best] = true;
    }
    for (id, command) in commands.all() {
        let user_bit = selector.command_bit(id);
        if user_bit != fake.command_bit(id) {
            rules.push(format!("{}{}", if user_bit { '+' } else { '-' }, command.fullname));
            change_permission(&mut fake, commands, id, user_bit);
        }
        if let (false, Some(first_args)) = (user_bit, selector.first_args.get(&id)) {
            for arg in first_args {
                rules.push(format!("+{}|{}", command.fullname, String::from_utf8_lossy(arg)));
            }
        }
    }
    rules.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> CommandTable {
        CommandTable::new(crate::commands::FAMILIES)
    }

    fn user_with(rules: &[&str]) -> Result<User, String> {
        let args: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        set_user(None, b"u", &args, &table(), false)
    }

    #[test]
    fn passwords_hash_to_sha256_hex() {
        assert_eq!(hash_password(b"p1"), "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a");
        let user = user_with(&[">p1", ">p1", "#f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"]);
        assert_eq!(user.unwrap().passwords.len(), 1);
        assert_eq!(
            user_with(&["#abc"]).unwrap_err(),
            format!("Error in ACL SETUSER modifier '#abc': {}", RuleError::BadHash.message())
        );
    }

    #[test]
    fn selectors_are_merged_from_several_arguments() {
        let merged = merge_selector_args(&[b"on", b"(~a", b"+get)", b"(+set)"]).unwrap();
        assert_eq!(merged, vec![b"on".to_vec(), b"(~a +get)".to_vec(), b"(+set)".to_vec()]);
        assert_eq!(merge_selector_args(&[b"on", b"(~a", b"+get"]), Err(1));
    }

    #[test]
    fn descriptions_rebuild_the_bitmap() {
        let commands = table();
        let user = user_with(&["on", "~k*", "%R~r*", "+@hash", "-hset", "+get"]).unwrap();
        let described = describe_user(&user, &commands);
        assert_eq!(described, "on ~k* %R~r* resetchannels -@all +@hash +get -hset");
        let again = user_with(&described.split(' ').collect::<Vec<_>>()).unwrap();
        assert_eq!(again.root().allowed, user.root().allowed);
    }
}
