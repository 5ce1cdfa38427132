//! The assembled command table: every family's entries indexed by name, with
//! per-command statistics (INFO commandstats).

use std::collections::HashMap;

/// Name lookups hash with foldhash: every request looks its command up, and
/// SipHash (the std default) costs more than the rest of the lookup. The set
/// of names is fixed, so a fixed seed is enough.
type NameMap = HashMap<&'static [u8], CommandId, foldhash::fast::FixedState>;

use super::{acl, flags, CommandSpec};

/// Index of a command (or subcommand) in the table.
pub type CommandId = usize;

/// Per-command counters reported by INFO commandstats.
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Call durations (INFO latencystats, LATENCY HISTOGRAM); allocated on
    /// the first call, as it is large.
    pub latency_histogram: Option<Box<crate::latency::Histogram>>,
}

/// A table entry: the static spec plus what the running server keeps about it.
pub struct Command {
    pub spec: &'static CommandSpec,
    /// `get`, or `config|get` for a subcommand.
    pub fullname: String,
    pub parent: Option<CommandId>,
    subcommands: NameMap,
    pub stats: CommandStats,
}

impl Command {
    pub fn is_container(&self) -> bool {
        !self.spec.subcommands.is_empty()
    }

    /// Subcommand ids in declaration order.
    pub fn subcommand_ids(&self) -> Vec<CommandId> {
        let mut ids: Vec<CommandId> = self.subcommands.values().copied().collect();
        ids.sort_unstable();
        ids
    }
}

/// The table; see the module comment.
pub struct CommandTable {
    commands: Vec<Command>,
    by_name: NameMap,
}

/// Longest command name we look up; longer names cannot match.
const MAX_NAME: usize = 32;

/// Lower-cases `name` into `buf` without allocating; None if it cannot be a name.
fn lowercase<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME]) -> Option<&'b [u8]> {
    let lowered = buf.get_mut(..name.len())?;
    for (dst, src) in lowered.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    Some(lowered)
}

impl CommandTable {
    pub fn new(families: &[&'static [CommandSpec]]) -> Self {
        let mut table = CommandTable { commands: Vec::new(), by_name: NameMap::default() };
        for spec in families.iter().flat_map(|f| f.iter()) {
            let id = table.add(spec, None);
            let previous = table.by_name.insert(spec.name.as_bytes(), id);
            assert!(previous.is_none(), "command {} is declared twice", spec.name);
        }
        table
    }

    fn add(&mut self, spec: &'static CommandSpec, parent: Option<CommandId>) -> CommandId {
        let id = self.commands.len();
        let fullname = match parent {
            Some(p) => format!("{}|{}", self.commands[p].fullname, spec.name),
            None => spec.name.to_string(),
        };
        self.commands.push(Command {
            spec,
            fullname,
            parent,
            subcommands: NameMap::default(),
            stats: CommandStats::default(),
        });
        for sub in spec.subcommands {
            let sub_id = self.add(sub, Some(id));
            self.commands[id].subcommands.insert(sub.name.as_bytes(), sub_id);
        }
        id
    }

    pub fn get(&self, id: CommandId) -> &Command {
        &self.commands[id]
    }

    pub fn get_mut(&mut self, id: CommandId) -> &mut Command {
        &mut self.commands[id]
    }

    /// Looks up a top-level command by name, ignoring case.
    pub fn find(&self, name: &[u8]) -> Option<CommandId> {
        let mut buf = [0u8; MAX_NAME];
        self.by_name.get(lowercase(name, &mut buf)?).copied()
    }

    /// Looks up a subcommand of `parent` by name, ignoring case.
    pub fn find_subcommand(&self, parent: CommandId, name: &[u8]) -> Option<CommandId> {
        let mut buf = [0u8; MAX_NAME];
        self.commands[parent].subcommands.get(lowercase(name, &mut buf)?).copied()
    }

    /// Resolves a request to its command as Redis does: a container with a
    /// subcommand argument resolves to the subcommand (None if unknown).
    pub fn resolve(&self, argv: &[&[u8]]) -> Option<CommandId> {
        let id = self.find(argv[0])?;
        if !self.commands[id].is_container() || argv.len() == 1 {
            return Some(id);
        }
        self.find_subcommand(id, argv[1])
    }

    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = (CommandId, &Command)> {
        self.commands.iter().enumerate().filter(|(_, c)| c.parent.is_none())
    }

    /// Every command and subcommand.
    pub fn all(&self) -> impl Iterator<Item = (CommandId, &Command)> {
        self.commands.iter().enumerate()
    }

    pub fn len_top_level(&self) -> usize {
        self.by_name.len()
    }

    /// `rename-command from to`: the command answers to `to` instead (to
    /// nothing if `to` is empty). Names are set once at start-up, so the new
    /// name is leaked to live as long as the table.
    pub fn rename(&mut self, from: &str, to: &str) {
        let Some(id) = self.by_name.remove(from.to_ascii_lowercase().as_bytes()) else { return };
        if !to.is_empty() {
            self.by_name.insert(Box::leak(to.to_ascii_lowercase().into_bytes().into_boxed_slice()), id);
        }
    }

    pub fn reset_stats(&mut self) {
        for c in &mut self.commands {
            c.stats = CommandStats::default();
        }
    }
}

/// The categories Redis reports for a command: the declared ones plus those
/// implied by its flags (Redis's `setImplicitACLCategories`).
pub fn effective_acl_categories(spec: &CommandSpec) -> u64 {
    let mut cats = spec.acl;
    if spec.flags & flags::WRITE != 0 {
        cats |= acl::WRITE;
    }
    // Commands that neither read nor write data are not @read, even if readonly.
    if spec.flags & flags::READONLY != 0 && cats & acl::SCRIPTING == 0 {
        cats |= acl::READ;
    }
    if spec.flags & flags::ADMIN != 0 {
        cats |= acl::ADMIN | acl::DANGEROUS;
    }
    if spec.flags & flags::PUBSUB != 0 {
        cats |= acl::PUBSUB;
    }
    if spec.flags & flags::FAST != 0 {
        cats |= acl::FAST;
    }
    if spec.flags & flags::BLOCKING != 0 {
        cats |= acl::BLOCKING;
    }
    if cats & acl::FAST == 0 {
        cats |= acl::SLOW;
    }
    cats
}
