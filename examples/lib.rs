//! Small programs a newcomer runs first; see `cargo run -p vaxcert-examples --example issue_and_verify`.
