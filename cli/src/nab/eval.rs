//! Side-by-side NAB scores: every detector in `peers/` scored by the same scorer, on the same
//! files, at its published threshold per profile.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::{Corpus, PROFILES, normalized, read_scores, score_file};

/// One detector's normalized scores.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorRow {
    /// Name.
    pub name: String,
    /// Standard profile.
    pub standard: f64,
    /// Reward-low-FP profile.
    #[serde(rename = "reward_low_FP_rate")]
    pub reward_low_fp_rate: f64,
    /// Reward-low-FN profile.
    #[serde(rename = "reward_low_FN_rate")]
    pub reward_low_fn_rate: f64,
    /// The alert level used per profile (Homeostat's row only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<BTreeMap<String, f64>>,
}

impl DetectorRow {
    /// The score for profile number `i` of [`PROFILES`].
    pub fn score(&self, i: usize) -> f64 {
        [self.standard, self.reward_low_fp_rate, self.reward_low_fn_rate][i]
    }
}

/// The table.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Files scored.
    pub files: usize,
    /// Label windows in them.
    pub windows: usize,
    /// Rows, best standard score first.
    pub detectors: Vec<DetectorRow>,
}

#[derive(serde::Deserialize)]
struct Threshold {
    threshold: f64,
}

/// The peers' published thresholds, `DIR/config/thresholds.json`: detector → profile → threshold.
fn thresholds(dir: &Path) -> anyhow::Result<BTreeMap<String, BTreeMap<String, Threshold>>> {
    let path = dir.join("config/thresholds.json");
    serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?)
        .with_context(|| format!("parsing {}", path.display()))
}

/// Score every detector under `DIR/peers` at its threshold from `DIR/config/thresholds.json`.
pub fn peers(dir: &Path, progress: bool) -> anyhow::Result<Report> {
    let corpus = Corpus::load(dir)?;
    let path = dir.join("config/thresholds.json");
    let thresholds = thresholds(dir)?;
    let windows: usize = corpus.series.iter().map(|s| s.windows.len()).sum();
    let mut names: Vec<String> = std::fs::read_dir(dir.join("peers"))
        .with_context(|| format!("reading {}", dir.join("peers").display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    let mut detectors = Vec::new();
    for (k, name) in names.iter().enumerate() {
        if progress {
            eprintln!(
                "[{}/{}] scoring {name} on {} files",
                k + 1,
                names.len(),
                corpus.series.len()
            );
        }
        let t = thresholds
            .get(name)
            .with_context(|| format!("no thresholds for {name} in {}", path.display()))?;
        let mut per_profile = [0.0; 3];
        for series in &corpus.series {
            let scores = read_scores(&dir.join("peers").join(name).join(&series.key), series)?;
            for (i, p) in PROFILES.iter().enumerate() {
                let th = t
                    .get(p.name)
                    .with_context(|| format!("no {} threshold for {name}", p.name))?
                    .threshold;
                per_profile[i] += score_file(&scores, &series.windows, th, p).score;
            }
        }
        detectors.push(DetectorRow {
            name: name.clone(),
            standard: normalized(per_profile[0], windows, &PROFILES[0]),
            reward_low_fp_rate: normalized(per_profile[1], windows, &PROFILES[1]),
            reward_low_fn_rate: normalized(per_profile[2], windows, &PROFILES[2]),
            threshold: None,
        });
    }
    detectors.sort_by(|a, b| b.standard.total_cmp(&a.standard));
    Ok(Report {
        files: corpus.series.len(),
        windows,
        detectors,
    })
}

/// The report as a text table; with `profile`, only that column (and rows ordered by it).
pub fn table(r: &Report, profile: Option<&str>) -> String {
    let mut s = format!(
        "NAB scores on {} files, {} windows (peers at their published thresholds)\n\n",
        r.files, r.windows
    );
    let cols: Vec<usize> = match profile {
        Some(p) => PROFILES.iter().position(|x| x.name == p).into_iter().collect(),
        None => vec![0, 1, 2],
    };
    let mut rows: Vec<&DetectorRow> = r.detectors.iter().collect();
    if let Some(&c) = cols.first() {
        rows.sort_by(|a, b| b.score(c).total_cmp(&a.score(c)));
    }
    s.push_str(&format!("{:<20}", "detector"));
    for &c in &cols {
        s.push_str(&format!(" {:>19}", PROFILES[c].name));
    }
    s.push('\n');
    for d in rows {
        s.push_str(&format!("{:<20}", d.name));
        for &c in &cols {
            s.push_str(&format!(" {:>19.2}", d.score(c)));
        }
        s.push('\n');
    }
    s
}

/// Where the scores come from, file by file, for one profile: for Homeostat (its emitted scores,
/// `ours`, at `level`) and for the peer `peer` (at its published threshold), the windows detected,
/// the detections outside every window (rows at or above the threshold after probation) and the
/// series' raw score; then the totals.
pub fn per_file(
    dir: &Path,
    corpus: &Corpus,
    ours: &[Vec<f64>],
    level: f64,
    peer: &str,
    profile: &str,
) -> anyhow::Result<String> {
    let p = PROFILES
        .iter()
        .find(|p| p.name == profile)
        .with_context(|| format!("no profile {profile}"))?;
    let th = thresholds(dir)?
        .get(peer)
        .and_then(|t| t.get(profile))
        .map(|t| t.threshold)
        .with_context(|| {
            format!(
                "no {profile} threshold for {peer} in {}",
                dir.join("config/thresholds.json").display()
            )
        })?;
    let cell = |f: &super::FileScore| {
        format!(
            "{:>3}/{:<3} {:>4} fp {:>7.2}",
            f.windows - f.missed_windows,
            f.windows,
            f.fp_rows,
            f.score
        )
    };
    let width = corpus.series.iter().map(|s| s.key.len()).max().unwrap_or(4).max(12);
    let mut out = format!(
        "{profile} profile, file by file: windows detected, detections outside windows, raw score\n{:<width$}  {:<24}  {}\n",
        "file", "homeostat", peer
    );
    let (mut a, mut b) = (super::FileScore::default(), super::FileScore::default());
    for (s, ours) in corpus.series.iter().zip(ours) {
        let theirs = read_scores(&dir.join("peers").join(peer).join(&s.key), s)?;
        let (x, y) = (
            score_file(ours, &s.windows, level, p),
            score_file(&theirs, &s.windows, th, p),
        );
        out.push_str(&format!("{:<width$}  {}  {}\n", s.key, cell(&x), cell(&y)));
        for (total, f) in [(&mut a, &x), (&mut b, &y)] {
            total.windows += f.windows;
            total.missed_windows += f.missed_windows;
            total.fp_rows += f.fp_rows;
            total.tp_rows += f.tp_rows;
            total.score += f.score;
        }
    }
    let all = format!("all {} files", corpus.series.len());
    out.push_str(&format!("{all:<width$}  {}  {}\n", cell(&a), cell(&b)));
    Ok(out)
}

/// The profile names, for argument checking.
pub fn profile_names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}
