//! `homeostat eval nab` end to end on a subset of the NAB corpus (any subset of files with the
//! same layout is a valid DIR): the table with Homeostat's row, the JSON, per-row scores in the
//! peers' layout that score the same when read back, one PNG per series, and a clear error for a
//! directory that is not a NAB corpus.

use std::path::{Path, PathBuf};
use std::process::Command;

use homeostat_cli::nab::{Corpus, PROFILES, normalized, read_scores, score_file};

fn nab_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../../shared/datasets/nab")
}

const FILES: [&str; 3] = [
    "realKnownCause/nyc_taxi.csv",
    "realTraffic/speed_t4013.csv",
    "artificialNoAnomaly/art_noisy.csv",
];

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// A NAB directory holding only `FILES`, with two peers.
fn subset(root: &Path) {
    let src = nab_dir();
    let labels: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(src.join("labels/combined_windows.json")).expect("labels"))
            .expect("labels json");
    let mut kept = serde_json::Map::new();
    for f in FILES {
        copy(&src.join("data").join(f), &root.join("data").join(f));
        for peer in ["ARTime", "numenta"] {
            copy(
                &src.join("peers").join(peer).join(f),
                &root.join("peers").join(peer).join(f),
            );
        }
        kept.insert(f.to_owned(), labels[f].clone());
    }
    std::fs::create_dir_all(root.join("labels")).expect("mkdir");
    std::fs::write(
        root.join("labels/combined_windows.json"),
        serde_json::to_string(&kept).expect("json"),
    )
    .expect("write labels");
    copy(
        &src.join("config/thresholds.json"),
        &root.join("config/thresholds.json"),
    );
}

#[test]
fn eval_nab_scores_homeostat_beside_the_peers_on_a_subset() {
    let tmp = std::env::temp_dir().join(format!("homeostat-nab-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let data = tmp.join("nab");
    subset(&data);
    let out = Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args(["eval", "nab", "--data"])
        .arg(&data)
        .arg("--json")
        .arg(tmp.join("nab.json"))
        .arg("--scores-out")
        .arg(tmp.join("scores"))
        .arg("--plots")
        .arg(tmp.join("plots"))
        .args(["--per-file", "ARTime"])
        .arg("--trace")
        .arg(FILES[0])
        .arg(tmp.join("trace.csv"))
        .output()
        .expect("run homeostat");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    assert!(stdout.contains("NAB scores on 3 files"), "{stdout}");
    for name in ["homeostat", "ARTime", "numenta"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} row missing:\n{stdout}"
        );
    }

    // The JSON: files, windows, our row with its threshold per profile (the frozen ones).
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.join("nab.json")).expect("json")).expect("parse");
    let corpus = Corpus::load(&data).expect("subset");
    let windows: usize = corpus.series.iter().map(|s| s.windows.len()).sum();
    assert_eq!(report["files"], 3);
    assert_eq!(report["windows"], windows);
    let ours = report["detectors"]
        .as_array()
        .expect("detectors")
        .iter()
        .find(|d| d["name"] == "homeostat")
        .expect("homeostat row");
    let frozen = homeostat_cli::nab::homeostat::Frozen::load(None).expect("checked-in settings");
    for p in PROFILES {
        assert_eq!(
            ours["threshold"][p.name].as_f64(),
            frozen.thresholds.get(p.name).copied()
        );
        assert!(ours[p.name].is_number());
    }

    // The per-row scores, read back in the peers' layout and scored at our standard threshold,
    // give the standard score of the table.
    let level = frozen.thresholds["standard"];
    let mut raw = 0.0;
    for s in &corpus.series {
        let path = tmp.join("scores").join(&s.key);
        let header = std::fs::read_to_string(&path).expect("scores file");
        assert!(header.starts_with("timestamp,anomaly_score\n"));
        let scores = read_scores(&path, s).expect("same rows as the data");
        raw += score_file(&scores, &s.windows, level, &PROFILES[0]).score;
        let png = std::fs::read(tmp.join("plots").join(s.key.replace(".csv", ".png"))).expect("plot");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    let standard = normalized(raw, windows, &PROFILES[0]);

    // The file-by-file view: one line per series, then the totals, which agree with the per-row
    // scores (windows detected, detections outside windows, raw score).
    let (mut detected, mut outside) = (0, 0);
    for s in &corpus.series {
        let f = score_file(
            &read_scores(&tmp.join("scores").join(&s.key), s).expect("scores"),
            &s.windows,
            level,
            &PROFILES[0],
        );
        detected += f.windows - f.missed_windows;
        outside += f.fp_rows;
        assert!(
            stdout.lines().any(|l| l.starts_with(&s.key)),
            "no line for {}:\n{stdout}",
            s.key
        );
    }
    let total = stdout
        .lines()
        .find(|l| l.starts_with("all 3 files"))
        .expect("totals line");
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cells[3], format!("{detected}/{windows}"), "{total}");
    assert_eq!(cells[4], outside.to_string(), "{total}");
    assert!(
        (cells[6].parse::<f64>().expect("raw score") - raw).abs() < 0.006,
        "{total} vs {raw}"
    );
    assert!(stdout.contains("standard profile, file by file"), "{stdout}");

    // The trace of one series: a header naming the signals, then one line per row of the data
    // whose emitted score is the one written with --scores-out.
    let trace = std::fs::read_to_string(tmp.join("trace.csv")).expect("trace");
    let mut lines = trace.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,value,baseline,raw_score,score,level,shift,change,seasonal,seasonal_shift")
    );
    let series = corpus.series.iter().find(|s| s.key == FILES[0]).expect("traced series");
    let emitted = read_scores(&tmp.join("scores").join(FILES[0]), series).expect("scores");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), series.values.len());
    for (row, want) in rows.iter().zip(&emitted) {
        let score: f64 = row
            .split(',')
            .nth(4)
            .and_then(|x| x.parse().ok())
            .expect("score column");
        assert!((score - want).abs() < 1e-6, "{row} vs {want}");
    }
    assert!(
        (standard - ours["standard"].as_f64().expect("number")).abs() < 1e-9,
        "{standard} vs {}",
        ours["standard"]
    );
    std::fs::remove_dir_all(&tmp).expect("cleanup");
}

#[test]
fn a_directory_that_is_not_a_nab_corpus_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args(["eval", "nab", "--data", "/nonexistent/nab"])
        .output()
        .expect("run homeostat");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/nab/labels/combined_windows.json"), "{err}");
}
