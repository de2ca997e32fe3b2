//! Headline benchmarks: `cargo bench -p vaxcert-benchmarks`. The numbers live in `BENCHMARKS.md`.
