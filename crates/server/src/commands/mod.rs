//! The command families, one file each. A family exports `COMMANDS`, its table
//! entries; `FAMILIES` lists them all for the command table.

pub mod acl;
pub mod bitmaps;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod expire;
pub mod functions;
pub mod geo;
mod geohash;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod keyspace;
pub mod lists;
mod long_double;
pub mod memory;
pub mod monitor;
pub mod object;
#[cfg(test)]
mod propagation_tests;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod zsets;

use crate::command::CommandSpec;

/// Every family's entries, in the order COMMAND lists them.
pub static FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    strings::COMMANDS,
    lists::COMMANDS,
    bitmaps::COMMANDS,
    object::COMMANDS,
    keyspace::COMMANDS,
    expire::COMMANDS,
    command::COMMANDS,
    debug::COMMANDS,
    client::COMMANDS,
    config::COMMANDS,
    monitor::COMMANDS,
    replication::COMMANDS,
    info::COMMANDS,
    server::COMMANDS,
    memory::COMMANDS,
    hyperloglog::COMMANDS,
    streams::COMMANDS,
    hashes::COMMANDS,
    sets::COMMANDS,
    zsets::COMMANDS,
    geo::COMMANDS,
    sort::COMMANDS,
    pubsub::COMMANDS,
    transactions::COMMANDS,
    scripting::COMMANDS,
    functions::COMMANDS,
    dump::COMMANDS,
    rdb::COMMANDS,
    acl::COMMANDS,
];
