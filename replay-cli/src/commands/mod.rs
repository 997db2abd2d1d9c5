//! The commands, one module each. A command module holds its clap arguments (`*Args`),
//! the settings they resolve to in one step (`*Settings`, built by `TryFrom<*Args>`),
//! and `run(&settings)`. Commands use the shared modules (`args`, `engine`, `exit`,
//! `files`, `loading`, `output`, `progress`, `timing`); those never use a command.
//! `example` and `recover` compose other commands through their settings and functions.

pub mod analyse;
pub mod bench;
pub mod capture;
pub mod check;
pub mod diff;
pub mod dump;
pub mod example;
pub mod generate;
pub mod microbench;
pub mod recover;
pub mod replay;
pub mod shrink;
pub mod torture;
