//! The EU value sets this project builds in: a pinned snapshot of ehn-dcc-development/eu-dcc-valuesets
//! (the JSON files of `verifier/valuesets/`, Apache-2.0, with the licence and `SOURCE.md` beside them) at
//! [`BUILT_IN_COMMIT`], so a fresh machine (`vaxcert up`) and the offline scanner page check coded fields
//! without fetching anything. Data only: callers parse them into `hcert::ValueSets` themselves.

/// The eu-dcc-valuesets commit the built-in snapshot was taken from.
pub const BUILT_IN_COMMIT: &str = "60ea3d8643b004a5b9d44a698e223775d5916916";

/// The documents of the snapshot, in the order they are parsed.
pub const BUILT_IN_VALUE_SETS: [&str; 9] = [
    include_str!("../valuesets/country-2-codes.json"),
    include_str!("../valuesets/disease-agent-targeted.json"),
    include_str!("../valuesets/test-manf-example.json"),
    include_str!("../valuesets/test-result.json"),
    include_str!("../valuesets/test-type.json"),
    include_str!("../valuesets/vaccine-encoding-instructions.json"),
    include_str!("../valuesets/vaccine-mah-manf.json"),
    include_str!("../valuesets/vaccine-medicinal-product.json"),
    include_str!("../valuesets/vaccine-prophylaxis.json"),
];
