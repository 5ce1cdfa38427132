//! Persistence drivers: when and how the dataset reaches disk and comes back
//! (the file formats themselves live in the `cinnabar-persistence` crate).

pub mod aof;
