//! `validate_schema` agrees with the official DCC JSON schema and the EU value sets.
//!
//! The oracle is the `jsonschema` crate running `DCC.combined-schema.json` (schema 1.3.x, `format` not
//! asserted) plus value-set membership worked out here from the raw value-set JSON, following the
//! schema's own `valueset-uri` links. The corpus: every official example
//! (`$DCC_SPEC_DIR/eu-dcc-schema/examples/**/*.json`), the `JSON` of every dgc-testdata vector
//! (`$DCC_TESTDATA_DIR/dgc-testdata/**/2DCode/raw/*.json`) and generated mutations of the valid ones.
//!
//! Both are checked under two value-set configurations: the files the schema names (its `test-manf.json`
//! is not published, so the test-device set is not loaded and not enforced), and the same with
//! `test-manf-example.json` standing in as the test-device set (then enforced).
//!
//! The data is read from the shared spec and test-data folders, never copied into the repository: the test
//! is skipped with a message when the variables are unset, and fails when they are unset under CI.

// Test code: a broken data file or a disagreement should stop the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use hcert::{Dcc, ValueSets, validate_schema};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// A folder named by an environment variable; `None` (skip) when unset outside CI.
fn data_dir(var: &str) -> Option<PathBuf> {
    match env::var_os(var) {
        Some(dir) => Some(PathBuf::from(dir)),
        None if env::var_os("CI").is_some() => panic!("{var} must be set under CI"),
        None => {
            eprintln!("schema agreement: {var} is not set, skipping what needs it");
            None
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// One way of supplying value sets, seen by both sides.
struct Configuration {
    label: &'static str,
    ours: Option<ValueSets>,
    oracle: Oracle,
}

/// The codes of one value set.
type Codes = HashSet<String>;

/// The official schema plus value-set membership derived from the schema's `valueset-uri` links.
struct Oracle {
    validator: jsonschema::Validator,
    /// For each group key (`v`, `t`, `r`), each coded property and the codes of its set, when loaded.
    coded: BTreeMap<String, Vec<(String, Option<Codes>)>>,
}

impl Oracle {
    /// The schema's validator; with `valueset_dir`, membership in every set the schema links to and that
    /// folder holds (`substitutes` maps a linked file name to another file of the folder).
    fn new(schema: &Value, valueset_dir: Option<&Path>, substitutes: &[(&str, &str)]) -> Oracle {
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(schema)
            .expect("the official schema compiles");
        let defs = &schema["$defs"];
        let def = |reference: &Value| -> &Value {
            let name = reference
                .as_str()
                .unwrap()
                .strip_prefix("#/$defs/")
                .unwrap();
            &defs[name]
        };
        let mut coded = BTreeMap::new();
        let Some(valueset_dir) = valueset_dir else {
            return Oracle { validator, coded };
        };
        for (group, spec) in schema["properties"].as_object().unwrap() {
            let Some(entry_ref) = spec.pointer("/items/$ref") else {
                continue;
            };
            let mut fields = Vec::new();
            for (field, property) in def(entry_ref)["properties"].as_object().unwrap() {
                let Some(reference) = property.get("$ref") else {
                    continue;
                };
                let Some(uri) = def(reference).get("valueset-uri").and_then(Value::as_str) else {
                    continue;
                };
                let file = uri.strip_prefix("valuesets/").unwrap();
                let file = substitutes
                    .iter()
                    .find(|(named, _)| *named == file)
                    .map_or(file, |(_, substitute)| substitute);
                let path = valueset_dir.join(file);
                let codes = path.exists().then(|| {
                    let document: Value = serde_json::from_str(&read(&path)).unwrap();
                    document["valueSetValues"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .cloned()
                        .collect()
                });
                fields.push((field.clone(), codes));
            }
            coded.insert(group.clone(), fields);
        }
        Oracle { validator, coded }
    }

    fn accepts(&self, payload: &Value) -> bool {
        self.validator.is_valid(payload) && self.members(payload)
    }

    fn members(&self, payload: &Value) -> bool {
        self.coded.iter().all(|(group, fields)| {
            let entries = payload
                .get(group)
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            entries.iter().filter_map(Value::as_object).all(|entry| {
                fields
                    .iter()
                    .all(|(field, codes)| match (entry.get(field), codes) {
                        (Some(Value::String(code)), Some(codes)) => codes.contains(code),
                        _ => true,
                    })
            })
        })
    }
}

fn configurations(spec: &Path) -> Vec<Configuration> {
    let schema: Value =
        serde_json::from_str(&read(&spec.join("eu-dcc-schema/DCC.combined-schema.json"))).unwrap();
    let valueset_dir = spec.join("eu-dcc-valuesets");
    let mut files = Vec::new();
    json_files(&valueset_dir, &mut files);
    let load = |with_example: bool| {
        let texts: Vec<String> = files
            .iter()
            .filter(|path| with_example || !path.ends_with("test-manf-example.json"))
            .map(|path| read(path))
            .collect();
        ValueSets::from_documents(texts.iter().map(String::as_str)).expect("the EU value sets load")
    };
    vec![
        Configuration {
            label: "sets as named by the schema",
            ours: Some(load(false)),
            oracle: Oracle::new(&schema, Some(&valueset_dir), &[]),
        },
        Configuration {
            label: "with test-manf-example.json as test-manf.json",
            ours: Some(load(true)),
            oracle: Oracle::new(
                &schema,
                Some(&valueset_dir),
                &[("test-manf.json", "test-manf-example.json")],
            ),
        },
        Configuration {
            label: "no value sets",
            ours: None,
            oracle: Oracle::new(&schema, None, &[]),
        },
    ]
}

/// A payload of the corpus and where it comes from.
struct Case {
    name: String,
    payload: Value,
}

fn corpus(spec: &Path, testdata: Option<&Path>) -> (Vec<Case>, Vec<Case>) {
    let mut paths = Vec::new();
    json_files(&spec.join("eu-dcc-schema/examples"), &mut paths);
    let examples: Vec<Case> = paths
        .iter()
        .map(|path| Case {
            name: path.strip_prefix(spec).unwrap().display().to_string(),
            payload: serde_json::from_str(&read(path)).unwrap(),
        })
        .collect();
    let mut vectors = Vec::new();
    if let Some(testdata) = testdata {
        let mut paths = Vec::new();
        json_files(&testdata.join("dgc-testdata"), &mut paths);
        for path in paths {
            let in_raw = path.parent().is_some_and(|raw| raw.ends_with("2DCode/raw"));
            if !in_raw {
                continue;
            }
            let vector: Value = serde_json::from_str(&read(&path)).unwrap();
            if let Some(payload) = vector.get("JSON") {
                vectors.push(Case {
                    name: path.strip_prefix(testdata).unwrap().display().to_string(),
                    payload: payload.clone(),
                });
            }
        }
        assert!(
            vectors.len() > 100,
            "too few dgc-testdata vectors found: {}",
            vectors.len()
        );
    }
    assert!(
        examples.len() >= 20,
        "too few official examples found: {}",
        examples.len()
    );
    (examples, vectors)
}

fn ours(configuration: &Configuration, payload: &Value) -> bool {
    validate_schema(
        &Dcc::from_json(payload.clone()),
        configuration.ours.as_ref(),
    )
    .is_ok()
}

/// Counts of the run, for the summary line.
#[derive(Default)]
struct Tally {
    agreed: usize,
    total: usize,
    rejected: usize,
    disagreements: Vec<String>,
}

impl Tally {
    fn compare(&mut self, configuration: &Configuration, name: &str, payload: &Value) -> bool {
        let expected = configuration.oracle.accepts(payload);
        let actual = ours(configuration, payload);
        self.total += 1;
        self.rejected += usize::from(!expected);
        if expected == actual {
            self.agreed += 1;
        } else {
            let detail = validate_schema(
                &Dcc::from_json(payload.clone()),
                configuration.ours.as_ref(),
            );
            self.disagreements.push(format!(
                "[{}] {name}: oracle {expected}, ours {detail:?}",
                configuration.label
            ));
        }
        expected == actual
    }
}

#[test]
fn validate_schema_agrees_with_the_official_schema() {
    let Some(spec) = data_dir("DCC_SPEC_DIR") else {
        return;
    };
    let testdata = data_dir("DCC_TESTDATA_DIR");
    let configurations = configurations(&spec);
    let (examples, vectors) = corpus(&spec, testdata.as_deref());
    let mut tally = Tally::default();
    for configuration in &configurations {
        for case in examples.iter().chain(&vectors) {
            tally.compare(configuration, &case.name, &case.payload);
        }
    }
    // The mutations start from payloads both sides accept under every configuration.
    let bases: Vec<Value> = examples
        .iter()
        .chain(&vectors)
        .map(|case| &case.payload)
        .filter(|payload| {
            configurations
                .iter()
                .all(|c| c.oracle.accepts(payload) && ours(c, payload))
        })
        .cloned()
        .collect();
    let pools = Pools::new(&spec, &bases);
    let generated = generated(&configurations, &bases, &pools, &mut tally);
    println!(
        "schema agreement: {}/{} ({} examples, {} test vectors, {} generated, each under {} value-set \
         configurations; {} rejected by the oracle)",
        tally.agreed,
        tally.total,
        examples.len(),
        vectors.len(),
        generated,
        configurations.len(),
        tally.rejected,
    );
    assert!(
        tally.disagreements.is_empty(),
        "disagreements:\n{}",
        tally.disagreements.join("\n")
    );
}

const CASES: u32 = 5000;

fn generated(
    configurations: &[Configuration],
    bases: &[Value],
    pools: &Pools,
    tally: &mut Tally,
) -> usize {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..bases.len(),
        prop::collection::vec(any::<(u8, u32, u32)>(), 1..4),
    );
    let count = Cell::new(0);
    let tally = RefCell::new(tally);
    let outcome = runner.run(&strategy, |(base, ops)| {
        let mut payload = bases[base].clone();
        for (op, select, variant) in ops {
            mutate(&mut payload, op, select, variant, pools, bases);
        }
        count.set(count.get() + 1);
        for configuration in configurations {
            let name = format!("mutation of base {base}: {payload}");
            if !tally.borrow_mut().compare(configuration, &name, &payload) {
                return Err(TestCaseError::fail(format!("disagreement on {payload}")));
            }
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!(
            "generated case disagrees: {failure}\n{}",
            tally.borrow().disagreements.join("\n")
        );
    }
    count.get()
}

/// Values the mutations draw from.
struct Pools {
    codes: Vec<String>,
    strings: Vec<String>,
    groups: Vec<(String, Value)>,
}

impl Pools {
    fn new(spec: &Path, bases: &[Value]) -> Pools {
        let mut files = Vec::new();
        json_files(&spec.join("eu-dcc-valuesets"), &mut files);
        let mut codes: Vec<String> = [
            "",
            "J07BX03",
            "XY",
            "vn",
            "9999",
            "ORG-99999999",
            "840539007",
            "1232",
        ]
        .map(String::from)
        .to_vec();
        for path in files {
            let document: Value = serde_json::from_str(&read(&path)).unwrap();
            let values = document["valueSetValues"].as_object().unwrap();
            codes.extend(values.keys().step_by(7).cloned());
        }
        let strings = [
            "",
            "1.3.0",
            "1.0.0",
            "1a3b0",
            "1.3",
            "12345",
            "1..3.0",
            "1.3.0\n",
            "١.٣.٠",
            "1950",
            "1901-08",
            "1979-04-14",
            "1899-01-01",
            "2021-13-45",
            "2100-01-01",
            "1979-4-14",
            "SMITH<JONES",
            "Smith",
            "SMITH JONES",
            "1979-04-14-01",
            "1800",
            "18",
            "123.",
            "1.2.3.",
            "1.2.3.4",
            "1234",
            "0.0.0",
            "ÅGESEN",
            "<<<",
            "VN",
            "vn",
            "V1",
            "123",
            "DEU",
            "2021-06-11T17:30:00Z",
        ]
        .map(String::from)
        .to_vec();
        let groups = bases
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|payload| {
                ["v", "t", "r"]
                    .into_iter()
                    .filter_map(|key| Some((key.to_string(), payload.get(key)?.clone())))
            })
            .collect();
        Pools {
            codes,
            strings,
            groups,
        }
    }
}

/// One step of a JSON pointer.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(Step::Key(key.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(Step::Index(index));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(key) => node.get_mut(key.as_str()),
        Step::Index(index) => node.get_mut(*index),
    })
}

fn pick<T>(items: &[T], select: u32) -> Option<&T> {
    (!items.is_empty()).then(|| &items[select as usize % items.len()])
}

fn ends_with_key(path: &[Step], keys: &[&str]) -> bool {
    matches!(path.last(), Some(Step::Key(key)) if keys.contains(&key.as_str()))
}

fn group_key(payload: &Value) -> Option<&'static str> {
    ["v", "t", "r"]
        .into_iter()
        .find(|key| payload.get(key).is_some())
}

/// A string of up to 11 characters from digits, separators and letters, drawn from the bits of `seed`.
fn short_string(seed: u32) -> String {
    const ALPHABET: [char; 16] = [
        '0', '1', '9', '2', '8', '.', '.', '-', '-', 'A', 'Z', '<', 'a', ' ', 'Ễ', '\n',
    ];
    let mut state = u64::from(seed)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let length = (seed % 12) as usize;
    (0..length)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ALPHABET[(state >> 60) as usize]
        })
        .collect()
}

const CODED: [&str; 7] = ["tg", "vp", "mp", "ma", "tt", "tr", "co"];

/// Applies mutation `op` (one of eleven kinds, near misses twice as often) at a node chosen by `select`, with a value chosen by `variant`.
fn mutate(payload: &mut Value, op: u8, select: u32, variant: u32, pools: &Pools, bases: &[Value]) {
    let mut all = Vec::new();
    paths(payload, &mut Vec::new(), &mut all);
    let strings: Vec<Vec<Step>> = all
        .iter()
        .filter(|path| node_mut(payload, path).is_some_and(|node| node.is_string()))
        .cloned()
        .collect();
    let last_key = |path: &Vec<Step>, keys: &[&str]| ends_with_key(path, keys);
    match op % 12 {
        // Drop a field or an entry.
        0 => {
            if let Some(path) = pick(&all, select) {
                let (last, parent) = path.split_last().unwrap();
                match (node_mut(payload, parent).unwrap(), last) {
                    (Value::Object(map), Step::Key(key)) => drop(map.remove(key)),
                    (Value::Array(items), Step::Index(index)) => drop(items.remove(*index)),
                    _ => unreachable!(),
                }
            }
        }
        // Change a type.
        1 => {
            let replacements = [
                json!(null),
                json!(true),
                json!(0),
                json!(1.5),
                json!(""),
                json!("X"),
                json!([]),
                json!({}),
                json!(["X"]),
            ];
            if let Some(path) = pick(&all, select) {
                *node_mut(payload, path).unwrap() = pick(&replacements, variant).unwrap().clone();
            } else {
                *payload = pick(&replacements, variant).unwrap().clone();
            }
        }
        // Lengthen or shorten a string around the 80-character limit, in letters of 1 to 4 bytes.
        2 => {
            if let Some(path) = pick(&strings, select) {
                let length = [0, 1, 79, 80, 81, 200][variant as usize % 6];
                let letter = ['A', 'a', '<', 'Ễ', '😀', '1'][(variant / 6) as usize % 6];
                *node_mut(payload, path).unwrap() =
                    Value::String(std::iter::repeat_n(letter, length).collect());
            }
        }
        // Add a second group (or replace the group with another kind's).
        3 => {
            if let (Some((key, group)), Some(root)) =
                (pick(&pools.groups, variant), payload.as_object_mut())
            {
                root.insert(key.clone(), group.clone());
            }
        }
        // Insert a lowercase or non-ASCII letter into a string.
        4 => {
            if let Some(path) = pick(&strings, select) {
                let node = node_mut(payload, path).unwrap();
                let text = node.as_str().unwrap();
                let boundaries: Vec<usize> = text
                    .char_indices()
                    .map(|(at, _)| at)
                    .chain([text.len()])
                    .collect();
                let at = *pick(&boundaries, variant).unwrap();
                let letter = ["a", "ß", "ǅ", " "][(variant / 7) as usize % 4];
                *node = Value::String(format!("{}{letter}{}", &text[..at], &text[at..]));
            }
        }
        // Change a code to another set's, a deprecated one, or none.
        5 => {
            let coded: Vec<&Vec<Step>> = strings
                .iter()
                .filter(|path| last_key(path, &CODED))
                .collect();
            if let Some(path) = pick(&coded, select) {
                *node_mut(payload, path).unwrap() =
                    Value::String(pick(&pools.codes, variant).unwrap().clone());
            }
        }
        // Set a dose number.
        6 => {
            let doses: Vec<&Vec<Step>> = all
                .iter()
                .filter(|path| last_key(path, &["dn", "sd"]))
                .collect();
            let values = [
                json!(0),
                json!(1),
                json!(-1),
                json!(1.5),
                json!(1.0),
                json!(2),
                json!(-0.0),
                json!(0.5),
                json!("1"),
                json!(1e300),
                json!(u64::MAX),
            ];
            if let Some(path) = pick(&doses, select) {
                *node_mut(payload, path).unwrap() = pick(&values, variant).unwrap().clone();
            }
        }
        // Put a pattern-relevant string anywhere a string is.
        7 => {
            if let Some(path) = pick(&strings, select) {
                *node_mut(payload, path).unwrap() =
                    Value::String(pick(&pools.strings, variant).unwrap().clone());
            }
        }
        // A near miss in a field that has a pattern: a short random string or one from the pool.
        8 | 10 => {
            let patterned: Vec<&Vec<Step>> = strings
                .iter()
                .filter(|path| ends_with_key(path, &["ver", "dob", "fnt", "gnt", "co"]))
                .collect();
            if let Some(path) = pick(&patterned, select) {
                let text = match variant % 2 {
                    0 => short_string(variant / 2),
                    _ => pick(&pools.strings, variant / 2).unwrap().clone(),
                };
                *node_mut(payload, path).unwrap() = Value::String(text);
            }
        }
        // Empty a group, or give it two entries.
        9 => {
            let group = group_key(payload).and_then(|key| payload.get_mut(key));
            if let Some(Value::Array(items)) = group {
                if variant.is_multiple_of(2) {
                    items.clear();
                } else if let Some(first) = items.first().cloned() {
                    items.push(first);
                }
            }
        }
        // Add an unknown field (older payloads carry `t[].dr`), or swap in another base's name.
        _ => {
            let group = group_key(payload).and_then(|key| payload.get_mut(key));
            if let Some(entry) = group.and_then(|group| group.get_mut(0)?.as_object_mut()) {
                entry.insert("dr".into(), json!("2021-05-30T10:30:15Z"));
            }
            let name = pick(bases, variant).and_then(|other| other.get("nam"));
            if let (Some(nam), Some(root)) = (name, payload.as_object_mut()) {
                root.insert("nam".into(), nam.clone());
            }
        }
    }
}

/// The oracle's value-set side sees what it should: the deprecated `J07BX03` is a member, `XY` is not.
#[test]
fn the_oracle_knows_the_value_sets() {
    let Some(spec) = data_dir("DCC_SPEC_DIR") else {
        return;
    };
    let configurations = configurations(&spec);
    let base: Value = serde_json::from_str(&read(
        &spec.join("eu-dcc-schema/examples/vaccination/simple.json"),
    ))
    .unwrap();
    for configuration in &configurations {
        let with = |field: &str, value: &str| {
            let mut payload = base.clone();
            payload["v"][0][field] = json!(value);
            (
                configuration.oracle.accepts(&payload),
                ours(configuration, &payload),
            )
        };
        assert_eq!(with("vp", "J07BX03"), (true, true));
        let enforced = configuration.ours.is_some();
        assert_eq!(with("co", "XY"), (!enforced, !enforced));
        assert_eq!(
            with("co", "vn"),
            (false, false),
            "the pattern holds without value sets"
        );
        assert_eq!(
            with("ma", "ORG-100001417"),
            (true, true),
            "impossible pairs pass"
        );
        assert_eq!(
            with("dt", "2021-06-11T22:54:00+02:00"),
            (true, true),
            "format is not asserted"
        );
    }
    let test_device = |configuration: &Configuration| {
        let mut payload: Value = serde_json::from_str(&read(
            &spec.join("eu-dcc-schema/examples/test/simple-rat.json"),
        ))
        .unwrap();
        payload["t"][0]["ma"] = json!("9999");
        (
            configuration.oracle.accepts(&payload),
            ours(configuration, &payload),
        )
    };
    assert_eq!(
        test_device(&configurations[0]),
        (true, true),
        "test-manf.json not published: not enforced"
    );
    assert_eq!(
        test_device(&configurations[1]),
        (false, false),
        "test-manf-example.json loaded: enforced"
    );
    assert_eq!(
        test_device(&configurations[2]),
        (true, true),
        "no value sets"
    );
}
