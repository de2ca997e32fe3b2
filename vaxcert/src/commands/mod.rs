//! One module per subcommand.

pub mod intake;
pub mod issue;
pub mod keys;
pub mod renew;
pub mod revoke;
pub mod serve;
pub mod tokens;
pub mod trust_list;
pub mod up;
pub mod verify;
