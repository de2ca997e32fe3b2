//! Verify one certificate.
fn main() {}
