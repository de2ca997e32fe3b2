//! QR benchmarks (in progress).
fn main() {}
