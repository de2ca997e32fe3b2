//! One module per subcommand.

pub mod keys;
pub mod trust_list;
pub mod verify;
