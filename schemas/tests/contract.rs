//! The wire contract: generated files match the code, and committed fixtures keep parsing.
//!
//! Regenerate the JSON Schema files and FEATURES.md after an intended change with
//! `UPDATE_SCHEMAS=1 cargo test -p homeostat-schemas --test contract`.

use std::path::PathBuf;

use homeostat_schemas::{
    ActionCommand, ActionResult, Alert, AnomalyScore, DeadLetter, FeatureWindow, IncidentEvent, Prediction,
    RawTelemetry, TelemetryEvent, catalogue, json_schema, topics,
};

fn root() -> PathBuf {
    // At run time: a test binary reused from a build in another checkout must read this one.
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn check_or_write(path: PathBuf, expected: &str) {
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, expected).expect("write generated file");
        return;
    }
    let actual = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is missing ({e}); run with UPDATE_SCHEMAS=1", path.display()));
    assert!(
        actual == expected,
        "{} differs from the code; run `UPDATE_SCHEMAS=1 cargo test -p homeostat-schemas --test contract` and commit the result",
        path.display()
    );
}

#[test]
fn json_schema_files_match_the_code() {
    let all = json_schema::all();
    assert_eq!(all.len(), topics::ALL.len(), "one schema per topic");
    for (topic, schema) in all {
        check_or_write(root().join("json").join(format!("{topic}.json")), &schema);
    }
}

#[test]
fn features_md_matches_the_catalogue() {
    check_or_write(root().join("FEATURES.md"), &catalogue::features_markdown());
}

fn parse_fixture<T: serde::de::DeserializeOwned + serde::Serialize>(topic: &str) -> T {
    let path = root().join("fixtures/v1").join(format!("{topic}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{topic} fixture no longer parses: {e}"));
    // And what we write back parses again to the same thing.
    let again: T = serde_json::from_str(&serde_json::to_string(&value).expect("serialize")).expect("reparse");
    assert_eq!(
        serde_json::to_value(&value).expect("to value"),
        serde_json::to_value(&again).expect("to value")
    );
    value
}

#[test]
fn golden_fixtures_of_every_topic_still_parse() {
    let raw: RawTelemetry = parse_fixture(topics::TELEMETRY_RAW);
    assert_eq!(raw.schema_version, 1);
    let ev: TelemetryEvent = parse_fixture(topics::TELEMETRY_V1);
    assert_eq!(ev.service_id, "checkout");
    let _: DeadLetter = parse_fixture(topics::TELEMETRY_DLQ);
    let fw: FeatureWindow = parse_fixture(topics::FEATURES_V1);
    assert!(fw.get(homeostat_schemas::FeatureId::LatencyP99).is_some());
    let _: AnomalyScore = parse_fixture(topics::ANOMALIES_V1);
    let _: Alert = parse_fixture(topics::ALERTS_V1);
    let _: Prediction = parse_fixture(topics::PREDICTIONS_V1);
    let _: ActionCommand = parse_fixture(topics::ACTIONS_V1);
    let _: ActionResult = parse_fixture(topics::ACTIONS_RESULTS_V1);
    let _: IncidentEvent = parse_fixture(topics::INCIDENTS_V1);
}
