//! Reading a NAB directory: `data/<category>/<file>.csv`, `labels/combined_windows.json`, and
//! per-row score files in the `peers/<detector>/<category>/<file>.csv` layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One series with its label windows as row ranges.
#[derive(Debug, Clone)]
pub struct Series {
    /// `<category>/<file>.csv`.
    pub key: String,
    /// Timestamps as written (`YYYY-MM-DD HH:MM:SS`).
    pub timestamps: Vec<String>,
    /// Values.
    pub values: Vec<f64>,
    /// Inclusive row ranges of the label windows.
    pub windows: Vec<(usize, usize)>,
}

/// The series of a NAB directory that have data files.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Root.
    pub root: PathBuf,
    /// Series in key order.
    pub series: Vec<Series>,
}

fn read_csv(path: &Path) -> anyhow::Result<Vec<(String, f64)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (ts, v) = line
            .split_once(',')
            .with_context(|| format!("{}:{}: expected two columns", path.display(), n + 1))?;
        let v: f64 = v
            .trim()
            .parse()
            .with_context(|| format!("{}:{}: {v:?} is not a number", path.display(), n + 1))?;
        rows.push((ts.trim().to_owned(), v));
    }
    Ok(rows)
}

/// Per-row scores of one series from a file in the peers layout; the timestamps must match.
pub fn read_scores(path: &Path, series: &Series) -> anyhow::Result<Vec<f64>> {
    let rows = read_csv(path)?;
    if rows.len() != series.values.len() {
        bail!(
            "{}: {} rows, but {} has {}",
            path.display(),
            rows.len(),
            series.key,
            series.values.len()
        );
    }
    for (i, (ts, _)) in rows.iter().enumerate() {
        if ts[..ts.len().min(19)] != series.timestamps[i][..series.timestamps[i].len().min(19)] {
            bail!(
                "{}: row {} is {ts}, the data has {}",
                path.display(),
                i + 1,
                series.timestamps[i]
            );
        }
    }
    Ok(rows.into_iter().map(|r| r.1).collect())
}

impl Corpus {
    /// Load every `data/*/*.csv` under `root` with its windows.
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let labels_path = root.join("labels/combined_windows.json");
        let labels: BTreeMap<String, Vec<(String, String)>> = serde_json::from_str(
            &std::fs::read_to_string(&labels_path).with_context(|| format!("reading {}", labels_path.display()))?,
        )
        .with_context(|| format!("parsing {}", labels_path.display()))?;
        let mut series = Vec::new();
        let mut cats: Vec<_> = std::fs::read_dir(root.join("data"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        cats.sort();
        for cat in cats {
            let mut files: Vec<_> = std::fs::read_dir(&cat)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "csv"))
                .collect();
            files.sort();
            for f in files {
                let key = format!(
                    "{}/{}",
                    cat.file_name().and_then(|s| s.to_str()).unwrap_or_default(),
                    f.file_name().and_then(|s| s.to_str()).unwrap_or_default()
                );
                let rows = read_csv(&f)?;
                let timestamps: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
                let find = |ts: &str| timestamps.iter().position(|t| t.as_str() == &ts[..ts.len().min(19)]);
                let mut windows = Vec::new();
                for (a, b) in labels.get(&key).cloned().unwrap_or_default() {
                    let (Some(l), Some(r)) = (find(&a), find(&b)) else {
                        bail!("{key}: window {a} … {b} does not match row timestamps");
                    };
                    windows.push((l, r));
                }
                series.push(Series {
                    key,
                    timestamps,
                    values: rows.into_iter().map(|r| r.1).collect(),
                    windows,
                });
            }
        }
        Ok(Self {
            root: root.to_owned(),
            series,
        })
    }
}
