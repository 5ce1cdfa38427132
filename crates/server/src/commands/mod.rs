//! The command families, one file each. A family exports `COMMANDS`, its table
//! entries; `FAMILIES` lists them all for the command table.

pub mod client;
pub mod connection;
pub mod expire;
pub mod info;
pub mod keyspace;
pub mod memory;
pub mod monitor;
#[cfg(test)]
mod propagation_tests;
pub mod server;
pub mod streams;
pub mod strings;

use crate::command::CommandSpec;

/// Every family's entries, in the order COMMAND lists them.
pub static FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    strings::COMMANDS,
    keyspace::COMMANDS,
    expire::COMMANDS,
    client::COMMANDS,
    monitor::COMMANDS,
    info::COMMANDS,
    server::COMMANDS,
    memory::COMMANDS,
    streams::COMMANDS,
];
