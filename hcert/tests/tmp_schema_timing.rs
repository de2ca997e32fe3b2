#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
use std::time::Instant;
use hcert::{Dcc, ValueSets, validate_schema};
#[test]
fn timing() {
    let dir = std::path::Path::new("/work/shared/spec/eu-dcc-valuesets");
    let texts: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("test-manf-example.json")).map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let sets = ValueSets::from_documents(texts.iter().map(String::as_str)).unwrap();
    let payload: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("/work/shared/spec/eu-dcc-schema/examples/vaccination/simple.json").unwrap()).unwrap();
    let dcc = Dcc::from_json(payload);
    for (label, vs) in [("no sets", None), ("sets", Some(&sets))] {
        let n = 2_000_000;
        let start = Instant::now();
        for _ in 0..n { std::hint::black_box(validate_schema(std::hint::black_box(&dcc), vs).unwrap()); }
        println!("{label}: {:.1} ns", start.elapsed().as_nanos() as f64 / n as f64);
    }
}
