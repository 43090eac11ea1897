//! Homeostat's own row: the detector's univariate path run over every series of a NAB directory,
//! in time order, one pass, never looking ahead; scored by the same code as the peers.
//!
//! The alert levels (one per profile) and the detector's parameters come from a checked-in file,
//! `config/nab-homeostat.json`, so that they can be frozen and then run on series the code has
//! never seen. `--tune` searches the levels on the given directory instead, and says so.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use homeostat_detector::univariate::{Step, Univariate, UnivariateConfig, holdoff};
use serde::{Deserialize, Serialize};

use super::{Corpus, PROFILES, Series, normalized, score_file};

/// The frozen settings: detector parameters and an alert level per profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frozen {
    /// Where the levels came from.
    pub note: String,
    /// The univariate detector's parameters.
    pub detector: UnivariateConfig,
    /// Alert level per profile name.
    pub thresholds: BTreeMap<String, f64>,
}

/// The checked-in settings.
pub const FROZEN: &str = include_str!("../../../config/nab-homeostat.json");

impl Frozen {
    /// The checked-in settings, or those of `path`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let (text, from) = match path {
            Some(p) => (
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
                p.display().to_string(),
            ),
            None => (FROZEN.to_owned(), "config/nab-homeostat.json".to_owned()),
        };
        let f: Frozen = serde_json::from_str(&text).with_context(|| format!("parsing {from}"))?;
        for p in PROFILES {
            let t = f
                .thresholds
                .get(p.name)
                .with_context(|| format!("{from}: no threshold for profile {}", p.name))?;
            anyhow::ensure!(
                (0.0..=1.0).contains(t),
                "{from}: threshold {t} for {} is outside [0, 1]",
                p.name
            );
        }
        Ok(f)
    }
}

/// The detector's output on one series.
#[derive(Debug, Clone)]
pub struct SeriesRun {
    /// Raw per-row steps.
    pub steps: Vec<Step>,
}

impl SeriesRun {
    /// Raw scores.
    pub fn scores(&self) -> Vec<f64> {
        self.steps.iter().map(|s| s.score).collect()
    }
}

fn unix_seconds(ts: &str) -> anyhow::Result<i64> {
    let t = chrono::NaiveDateTime::parse_from_str(&ts[..ts.len().min(19)], "%Y-%m-%d %H:%M:%S")
        .with_context(|| format!("timestamp {ts:?} is not YYYY-MM-DD HH:MM:SS"))?;
    Ok(t.and_utc().timestamp())
}

/// Run the detector over one series.
pub fn run_series(s: &Series, cfg: &UnivariateConfig) -> anyhow::Result<SeriesRun> {
    let mut d = Univariate::new(cfg.clone());
    let mut steps = Vec::with_capacity(s.values.len());
    for (ts, v) in s.timestamps.iter().zip(&s.values) {
        let t = unix_seconds(ts).with_context(|| s.key.clone())?;
        steps.push(d.step(t, *v));
    }
    Ok(SeriesRun { steps })
}

/// A progress bar on stderr (a line per tenth when stderr is not a terminal).
pub struct Progress {
    total: usize,
    done: AtomicUsize,
    tty: bool,
    out: Mutex<()>,
    label: String,
}

impl Progress {
    /// A bar for `total` items.
    pub fn new(label: &str, total: usize) -> Self {
        Self {
            total,
            done: AtomicUsize::new(0),
            tty: std::io::stderr().is_terminal(),
            out: Mutex::new(()),
            label: label.to_owned(),
        }
    }

    /// One more item done.
    pub fn tick(&self, what: &str) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let _g = self.out.lock();
        let width = 30;
        let filled = n * width / self.total.max(1);
        let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
        let mut e = std::io::stderr();
        if self.tty {
            let _ = write!(e, "\r\x1b[2K{} {bar} {n}/{} {what}", self.label, self.total);
            if n == self.total {
                let _ = writeln!(e);
            }
        } else if n == self.total || n * 10 / self.total.max(1) != (n - 1) * 10 / self.total.max(1) {
            let _ = writeln!(e, "{} {bar} {n}/{}", self.label, self.total);
        }
    }
}

/// Run the detector over every series, on all cores, with a progress bar.
pub fn run_all(corpus: &Corpus, cfg: &UnivariateConfig, progress: bool) -> anyhow::Result<Vec<SeriesRun>> {
    let n = corpus.series.len();
    let bar = Progress::new("homeostat", n);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<SeriesRun>>>> = Mutex::new((0..n).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map_or(2, |p| p.get())
        .min(n.max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let r = run_series(&corpus.series[i], cfg);
                    if let Ok(mut g) = results.lock() {
                        g[i] = Some(r);
                    }
                    if progress {
                        bar.tick(&corpus.series[i].key);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a series was not run"))))
        .collect()
}

/// The scores as the detector emits them at alert level `level`: with its alert hysteresis.
pub fn held(raw: &[f64], level: f64, cfg: &UnivariateConfig) -> Vec<f64> {
    holdoff(raw, level, cfg.holdoff_rows, cfg.resolve, cfg.escalate)
}

/// Raw NAB score of all series at `level` for profile `p`.
fn raw_score(corpus: &Corpus, raws: &[Vec<f64>], level: f64, cfg: &UnivariateConfig, p: usize) -> f64 {
    corpus
        .series
        .iter()
        .zip(raws)
        .map(|(s, r)| score_file(&held(r, level, cfg), &s.windows, level, &PROFILES[p]).score)
        .sum()
}

/// The best level per profile on this corpus (a grid from 0.05 to 0.995).
pub fn tune(corpus: &Corpus, raws: &[Vec<f64>], cfg: &UnivariateConfig) -> BTreeMap<String, f64> {
    let grid: Vec<f64> = (10..=199).map(|k| k as f64 * 0.005).collect();
    let mut best = BTreeMap::new();
    for (i, p) in PROFILES.iter().enumerate() {
        let (mut bl, mut bs) = (grid[0], f64::NEG_INFINITY);
        for &l in &grid {
            let s = raw_score(corpus, raws, l, cfg, i);
            if s > bs {
                (bl, bs) = (l, s);
            }
        }
        best.insert(p.name.to_owned(), bl);
    }
    best
}

/// Normalized scores at the given levels.
pub fn evaluate(
    corpus: &Corpus,
    raws: &[Vec<f64>],
    levels: &BTreeMap<String, f64>,
    cfg: &UnivariateConfig,
) -> [f64; 3] {
    let windows: usize = corpus.series.iter().map(|s| s.windows.len()).sum();
    let mut out = [0.0; 3];
    for (i, p) in PROFILES.iter().enumerate() {
        let level = levels.get(p.name).copied().unwrap_or(0.5);
        out[i] = normalized(raw_score(corpus, raws, level, cfg, i), windows, p);
    }
    out
}

/// One series row by row as CSV: timestamp, value, the baseline it was compared with, the raw
/// score, the score emitted at alert level `level` (after the hold-off), and each signal's
/// surprise (`−log10` of its tail probability; a column for each signal switched on).
pub fn trace(s: &Series, run: &SeriesRun, level: f64, cfg: &UnivariateConfig) -> String {
    let signals = homeostat_detector::univariate::SIGNALS;
    let on = |i: usize| cfg.signals & (1 << i) != 0;
    let mut out = String::from("timestamp,value,baseline,raw_score,score");
    for (i, name) in signals.iter().enumerate() {
        if on(i) {
            out.push_str(&format!(",{name}"));
        }
    }
    out.push('\n');
    let emitted = held(&run.scores(), level, cfg);
    for (k, st) in run.steps.iter().enumerate() {
        out.push_str(&format!(
            "{},{},{},{:.6},{:.6}",
            s.timestamps[k], s.values[k], st.baseline, st.score, emitted[k]
        ));
        for (i, x) in st.surprise.iter().enumerate() {
            if on(i) {
                out.push_str(&format!(",{x:.3}"));
            }
        }
        out.push('\n');
    }
    out
}

/// Write per-row scores (after the hold-off at `level`) in the peers layout under `dir`.
pub fn write_scores(
    dir: &Path,
    corpus: &Corpus,
    raws: &[Vec<f64>],
    level: f64,
    cfg: &UnivariateConfig,
) -> anyhow::Result<()> {
    for (s, r) in corpus.series.iter().zip(raws) {
        let path = dir.join(&s.key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut text = String::from("timestamp,anomaly_score\n");
        for (ts, x) in s.timestamps.iter().zip(held(r, level, cfg)) {
            text.push_str(&format!("{ts},{x:.6}\n"));
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_settings_parse() {
        let f = Frozen::load(None).expect("config/nab-homeostat.json");
        assert_eq!(f.thresholds.len(), 3);
    }

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(unix_seconds("1970-01-02 00:00:00").ok(), Some(86_400));
        assert!(unix_seconds("yesterday").is_err());
    }
}
