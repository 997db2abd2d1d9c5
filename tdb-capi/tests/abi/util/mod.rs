//! What the tests share: the two libraries, running programs on one of them, the C
//! test program.

pub mod c_program;
pub mod diff;
pub mod library;
pub mod run;

pub use diff::{assert_same_except, Known};
pub use library::{debian_present, testdata, Lib};
pub use run::{assert_mapped, assert_same, assert_same_file, installed, on, run, Run};
