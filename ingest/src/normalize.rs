//! Validation and normalization of one raw record. Every rejection has a code and a reason.

use chrono::DateTime;
use homeostat_schemas::{RawTelemetry, SCHEMA_VERSION, TelemetryBody, TelemetryEvent, stable_id};
use runtime::codec::SourceRecord;

use crate::IngestConfig;

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Reason code: `too_large`, `not_utf8`, `invalid_json`, `not_an_object`,
    /// `unsupported_schema_version`, `missing_field`, `unknown_field`, `wrong_type`,
    /// `unknown_kind`, `invalid_id`, `invalid_timestamp`, `timestamp_out_of_range`,
    /// `invalid_value`, `conflicting_fields`.
    pub code: &'static str,
    /// What was wrong, for a person.
    pub reason: String,
    /// The service id, when it could be read.
    pub service_id: Option<String>,
}

fn reject(code: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection {
        code,
        reason: reason.into(),
        service_id: None,
    }
}

fn normalize_id(field: &str, raw: &str) -> Result<String, Rejection> {
    let id = raw.trim().to_ascii_lowercase();
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(id)
    } else {
        Err(reject(
            "invalid_id",
            format!("{field} {raw:?} must match [a-z0-9][a-z0-9._:-]{{0,127}} after trimming and lower-casing"),
        ))
    }
}

/// Parse an RFC 3339 string or an epoch number (s, ms, µs or ns by magnitude) into epoch ms.
fn parse_timestamp(v: &serde_json::Value) -> Result<i64, Rejection> {
    match v {
        serde_json::Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|d| d.timestamp_millis())
            .map_err(|e| reject("invalid_timestamp", format!("timestamp {s:?} is not RFC 3339: {e}"))),
        serde_json::Value::Number(n) => {
            let x = n.as_f64().filter(|x| x.is_finite() && *x > 0.0).ok_or_else(|| {
                reject(
                    "invalid_timestamp",
                    format!("timestamp {n} must be a positive epoch number"),
                )
            })?;
            // Told apart by magnitude: seconds until year 5138, then ms, µs, ns.
            let ms = if x < 1e11 {
                x * 1e3
            } else if x < 1e14 {
                x
            } else if x < 1e17 {
                x / 1e3
            } else {
                x / 1e6
            };
            Ok(ms.round() as i64)
        }
        other => Err(reject(
            "invalid_timestamp",
            format!("timestamp must be a string or number, got {other}"),
        )),
    }
}

fn finite_nonneg(field: &str, v: f64) -> Result<f64, Rejection> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(reject(
            "invalid_value",
            format!("{field} must be a finite number ≥ 0, got {v}"),
        ))
    }
}

fn classify_serde(e: &serde_json::Error) -> &'static str {
    let m = e.to_string();
    if m.starts_with("unknown field") {
        "unknown_field"
    } else if m.starts_with("missing field") {
        "missing_field"
    } else {
        "wrong_type"
    }
}

/// Normalize one raw record at wall-clock time `now_ms`.
pub fn normalize(rec: &SourceRecord, cfg: &IngestConfig, now_ms: i64) -> Result<TelemetryEvent, Rejection> {
    let bytes = &rec.payload;
    if bytes.len() > cfg.max_record_bytes {
        return Err(reject(
            "too_large",
            format!("record is {} bytes; the limit is {}", bytes.len(), cfg.max_record_bytes),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| reject("not_utf8", format!("record is not UTF-8: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| reject("invalid_json", format!("not valid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(reject("not_an_object", "a telemetry record must be a JSON object"));
    };
    let service_hint = obj
        .get("service_id")
        .and_then(|v| v.as_str())
        .map(|s| s.trim().to_ascii_lowercase());
    let with_service = |mut r: Rejection| {
        r.service_id = service_hint.clone().filter(|s| normalize_id("service_id", s).is_ok());
        r
    };
    match obj.get("schema_version") {
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(v) => {
            return Err(with_service(reject(
                "unsupported_schema_version",
                format!("schema_version {v} is not supported; this ingest reads version {SCHEMA_VERSION}"),
            )));
        }
        None => {
            return Err(with_service(reject("missing_field", "missing field `schema_version`")));
        }
    }
    let raw: RawTelemetry =
        serde_json::from_value(value.clone()).map_err(|e| with_service(reject(classify_serde(&e), e.to_string())))?;
    normalize_raw(&raw, rec, cfg, now_ms).map_err(with_service)
}

fn normalize_raw(
    raw: &RawTelemetry,
    rec: &SourceRecord,
    cfg: &IngestConfig,
    now_ms: i64,
) -> Result<TelemetryEvent, Rejection> {
    let service_id = normalize_id("service_id", &raw.service_id)?;
    let instance_id = normalize_id("instance_id", &raw.instance_id)?;
    let event_time = parse_timestamp(&raw.timestamp)?;
    if event_time > now_ms + cfg.max_future_skew_s * 1000 {
        return Err(reject(
            "timestamp_out_of_range",
            format!(
                "timestamp is {} s in the future (limit {} s)",
                (event_time - now_ms) / 1000,
                cfg.max_future_skew_s
            ),
        ));
    }
    if event_time < now_ms - cfg.max_age_s * 1000 {
        return Err(reject(
            "timestamp_out_of_range",
            format!(
                "timestamp is {} s old (limit {} s)",
                (now_ms - event_time) / 1000,
                cfg.max_age_s
            ),
        ));
    }
    let body = match raw.kind.as_str() {
        "request" => request_body(raw)?,
        "resource" => resource_body(raw)?,
        other => {
            return Err(reject(
                "unknown_kind",
                format!("kind {other:?} is neither \"request\" nor \"resource\""),
            ));
        }
    };
    let id = match &raw.id {
        Some(id) => normalize_id("id", id)?,
        None => stable_id(
            "raw",
            &[&rec.partition.to_le_bytes(), &rec.offset.to_le_bytes(), &rec.payload],
        ),
    };
    Ok(TelemetryEvent {
        schema_version: SCHEMA_VERSION,
        id,
        event_time,
        service_id,
        instance_id,
        body,
    })
}

fn request_body(raw: &RawTelemetry) -> Result<TelemetryBody, Rejection> {
    let given: Vec<(&str, f64)> = [
        ("latency_ms", raw.latency_ms, 1.0),
        ("latency_s", raw.latency_s, 1e3),
        ("latency_us", raw.latency_us, 1e-3),
    ]
    .into_iter()
    .filter_map(|(n, v, f)| v.map(|v| (n, v * f)))
    .collect();
    let latency_ms = match given.as_slice() {
        [] => {
            return Err(reject(
                "missing_field",
                "a request needs one of latency_ms, latency_s, latency_us",
            ));
        }
        [(n, v)] => finite_nonneg(n, *v)?,
        _ => {
            return Err(reject(
                "conflicting_fields",
                "give latency in one unit only (latency_ms, latency_s or latency_us)",
            ));
        }
    };
    if latency_ms > 3_600_000.0 {
        return Err(reject(
            "invalid_value",
            format!("latency {latency_ms} ms is over an hour"),
        ));
    }
    let status = raw
        .status
        .ok_or_else(|| reject("missing_field", "missing field `status`"))?;
    if status != 0 && !(100..=599).contains(&status) {
        return Err(reject("invalid_value", format!("status {status} is not 0 or 100–599")));
    }
    let route = raw.route.as_deref().map(str::trim).unwrap_or("");
    if route.is_empty() || route.len() > 256 {
        return Err(reject("missing_field", "a request needs a route (1–256 characters)"));
    }
    let method = raw
        .method
        .as_deref()
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "GET".into());
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(reject(
            "invalid_value",
            format!("method {method:?} is not an HTTP method"),
        ));
    }
    Ok(TelemetryBody::Request {
        route: route.to_owned(),
        method,
        status,
        latency_ms,
        bytes_out: raw.bytes_out.unwrap_or(0),
    })
}

fn resource_body(raw: &RawTelemetry) -> Result<TelemetryBody, Rejection> {
    let cpu_ratio = match (raw.cpu_ratio, raw.cpu_percent) {
        (Some(_), Some(_)) => {
            return Err(reject("conflicting_fields", "give cpu_ratio or cpu_percent, not both"));
        }
        (Some(r), None) => finite_nonneg("cpu_ratio", r)?,
        (None, Some(p)) => finite_nonneg("cpu_percent", p)? / 100.0,
        (None, None) => {
            return Err(reject(
                "missing_field",
                "a resource sample needs cpu_ratio or cpu_percent",
            ));
        }
    };
    if cpu_ratio > 64.0 {
        return Err(reject(
            "invalid_value",
            format!("cpu ratio {cpu_ratio} is over 64 cores' worth"),
        ));
    }
    let memory_bytes = raw
        .memory_bytes
        .ok_or_else(|| reject("missing_field", "missing field `memory_bytes`"))?;
    let limit = raw
        .memory_limit_bytes
        .ok_or_else(|| reject("missing_field", "missing field `memory_limit_bytes`"))?;
    if limit == 0 {
        return Err(reject("invalid_value", "memory_limit_bytes must be positive"));
    }
    let memory_ratio = memory_bytes as f64 / limit as f64;
    if memory_ratio > 4.0 {
        return Err(reject(
            "invalid_value",
            format!("memory_bytes is {memory_ratio:.1}× the limit"),
        ));
    }
    let connections = raw.connections.unwrap_or(0);
    let connection_limit = raw.connection_limit.unwrap_or(0);
    Ok(TelemetryBody::Resource {
        cpu_ratio,
        memory_ratio,
        memory_bytes,
        connections,
        connection_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_953_600_000; // 2026-11-29T12:00:00Z

    fn rec(payload: &[u8]) -> SourceRecord {
        SourceRecord {
            topic: "telemetry.raw".into(),
            partition: 0,
            offset: 7,
            key: None,
            payload: payload.to_vec(),
        }
    }

    fn run(json: &str) -> Result<TelemetryEvent, Rejection> {
        normalize(&rec(json.as_bytes()), &IngestConfig::default(), NOW)
    }

    fn code(json: &str) -> &'static str {
        run(json).expect_err("should be rejected").code
    }

    const REQ: &str = r#"{"schema_version":1,"kind":"request","service_id":" Checkout ","instance_id":"checkout-1","timestamp":"2026-11-29T11:59:59.500Z","route":"/api/cart","method":"get","status":200,"latency_s":0.0235,"bytes_out":10}"#;

    #[test]
    fn normalizes_a_request() {
        let ev = run(REQ).expect("valid");
        assert_eq!(ev.service_id, "checkout");
        assert_eq!(ev.event_time, NOW - 500);
        match ev.body {
            TelemetryBody::Request {
                latency_ms,
                ref method,
                status,
                ..
            } => {
                assert!((latency_ms - 23.5).abs() < 1e-9);
                assert_eq!(method, "GET");
                assert_eq!(status, 200);
            }
            _ => panic!("not a request"),
        }
        // The derived id is stable across redelivery of the same record.
        assert_eq!(run(REQ).expect("valid").id, ev.id);
    }

    #[test]
    fn normalizes_a_resource_sample_and_epoch_units() {
        for ts in ["1795953599", "1795953599000", "1795953599000000", "1795953599000000000"] {
            let j = format!(
                r#"{{"schema_version":1,"kind":"resource","service_id":"a","instance_id":"a-1","timestamp":{ts},"cpu_percent":150,"memory_bytes":512,"memory_limit_bytes":1024,"connections":3,"connection_limit":10}}"#
            );
            let ev = run(&j).expect("valid");
            assert_eq!(ev.event_time, NOW - 1000, "{ts}");
            assert_eq!(
                ev.body,
                TelemetryBody::Resource {
                    cpu_ratio: 1.5,
                    memory_ratio: 0.5,
                    memory_bytes: 512,
                    connections: 3,
                    connection_limit: 10
                }
            );
        }
    }

    #[test]
    fn rejects_too_large() {
        let cfg = IngestConfig {
            max_record_bytes: 10,
            ..IngestConfig::default()
        };
        assert_eq!(
            normalize(&rec(REQ.as_bytes()), &cfg, NOW).expect_err("big").code,
            "too_large"
        );
    }

    #[test]
    fn rejects_not_utf8() {
        assert_eq!(
            normalize(&rec(&[0xff, 0xfe, b'{']), &IngestConfig::default(), NOW)
                .expect_err("bytes")
                .code,
            "not_utf8"
        );
    }

    #[test]
    fn rejects_invalid_json() {
        assert_eq!(code("{oops"), "invalid_json");
        assert_eq!(code(""), "invalid_json");
    }

    #[test]
    fn rejects_non_objects() {
        assert_eq!(code("[1,2]"), "not_an_object");
        assert_eq!(code("42"), "not_an_object");
    }

    #[test]
    fn rejects_other_schema_versions() {
        assert_eq!(
            code(&REQ.replace(r#""schema_version":1"#, r#""schema_version":2"#)),
            "unsupported_schema_version"
        );
    }

    #[test]
    fn rejects_missing_fields() {
        assert_eq!(code(&REQ.replace(r#""schema_version":1,"#, "")), "missing_field");
        assert_eq!(code(&REQ.replace(r#""service_id":" Checkout ","#, "")), "missing_field");
        assert_eq!(code(&REQ.replace(r#""status":200,"#, "")), "missing_field");
        assert_eq!(code(&REQ.replace(r#""latency_s":0.0235,"#, "")), "missing_field");
        let r = run(&REQ.replace(r#""status":200,"#, "")).expect_err("missing");
        assert_eq!(
            r.service_id.as_deref(),
            Some("checkout"),
            "the dead letter keeps the service"
        );
    }

    #[test]
    fn rejects_unknown_fields() {
        assert_eq!(
            code(&REQ.replace(r#""bytes_out":10"#, r#""bytes_out":10,"colour":"red""#)),
            "unknown_field"
        );
    }

    #[test]
    fn rejects_wrong_types() {
        assert_eq!(code(&REQ.replace(r#""status":200"#, r#""status":"ok""#)), "wrong_type");
        assert_eq!(code(&REQ.replace(r#""status":200"#, r#""status":-1"#)), "wrong_type");
    }

    #[test]
    fn rejects_unknown_kind() {
        assert_eq!(
            code(&REQ.replace(r#""kind":"request""#, r#""kind":"trace""#)),
            "unknown_kind"
        );
    }

    #[test]
    fn rejects_invalid_ids() {
        assert_eq!(code(&REQ.replace(r#"" Checkout ""#, r#""check out""#)), "invalid_id");
        assert_eq!(code(&REQ.replace(r#""checkout-1""#, r#""""#)), "invalid_id");
    }

    #[test]
    fn rejects_invalid_timestamps() {
        assert_eq!(
            code(&REQ.replace("2026-11-29T11:59:59.500Z", "yesterday")),
            "invalid_timestamp"
        );
        assert_eq!(
            code(&REQ.replace(r#""2026-11-29T11:59:59.500Z""#, "-5")),
            "invalid_timestamp"
        );
        assert_eq!(
            code(&REQ.replace(r#""2026-11-29T11:59:59.500Z""#, "true")),
            "invalid_timestamp"
        );
    }

    #[test]
    fn rejects_timestamps_out_of_range() {
        assert_eq!(
            code(&REQ.replace("2026-11-29T11:59:59.500Z", "2026-11-29T13:00:00Z")),
            "timestamp_out_of_range"
        );
        assert_eq!(
            code(&REQ.replace("2026-11-29T11:59:59.500Z", "2025-01-01T00:00:00Z")),
            "timestamp_out_of_range"
        );
    }

    #[test]
    fn rejects_invalid_values() {
        assert_eq!(
            code(&REQ.replace(r#""latency_s":0.0235"#, r#""latency_s":-1"#)),
            "invalid_value"
        );
        assert_eq!(
            code(&REQ.replace(r#""status":200"#, r#""status":700"#)),
            "invalid_value"
        );
        assert_eq!(
            code(&REQ.replace(r#""method":"get""#, r#""method":"g3t""#)),
            "invalid_value"
        );
        let res = r#"{"schema_version":1,"kind":"resource","service_id":"a","instance_id":"a-1","timestamp":1795953599,"cpu_ratio":0.5,"memory_bytes":512,"memory_limit_bytes":0}"#;
        assert_eq!(code(res), "invalid_value");
    }

    #[test]
    fn rejects_conflicting_fields() {
        assert_eq!(
            code(&REQ.replace(r#""latency_s":0.0235"#, r#""latency_s":0.0235,"latency_ms":23.5"#)),
            "conflicting_fields"
        );
        let res = r#"{"schema_version":1,"kind":"resource","service_id":"a","instance_id":"a-1","timestamp":1795953599,"cpu_ratio":0.5,"cpu_percent":50,"memory_bytes":1,"memory_limit_bytes":2}"#;
        assert_eq!(code(res), "conflicting_fields");
    }
}
