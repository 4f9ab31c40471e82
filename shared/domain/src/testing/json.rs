//! Arbitrary JSON for property tests of whatever reads input: the domain's parsers
//! (`shared/domain/tests/parsers.rs`) and the API's bodies (`tests/integration/bodies.rs`).

use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value a few levels deep, whose strings are often one of `values` and whose
/// object keys are often one of `keys` (the input's own vocabulary, so that generated
/// documents get past the first checks and reach the deeper ones), the rest random.
pub fn any_json(values: &'static [&'static str], keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
        prop::sample::select(values).prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let key = prop_oneof![prop::sample::select(keys).prop_map(str::to_owned), "\\PC{1,6}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
