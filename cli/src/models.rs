//! `homeostat models`: what the detector's current checkpoint holds — the models' version,
//! training span and hold-out metrics, and each service's baseline and alert state — and what the
//! last promotion changed against the checkpoint before it.

use std::fmt::Write as _;
use std::path::Path;

use homeostat_detector::DetectorConfig;
use homeostat_detector::checkpoint::Manifest;

use crate::incidents::time;

/// A duration in ms as a short human reading ("42 s", "17 min", "3.5 h", "2.1 d").
pub fn span(ms: i64) -> String {
    let s = ms.max(0) as f64 / 1000.0;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

/// Render a checkpoint's manifest for people. `cfg` is the detector's configuration (a service
/// with fewer than `warmup_windows` learned windows is still warming up; services with their own
/// alert rules are marked); `now_ms` is the wall clock.
pub fn summary(path: &Path, m: &Manifest, cfg: &DetectorConfig, now_ms: i64) -> String {
    let warmup = cfg.warmup_windows;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "checkpoint {} (sequence {}), written {} ({} ago)",
        path.display(),
        m.sequence,
        time(m.written_at_ms),
        span(now_ms - m.written_at_ms)
    );
    if m.version == 0 {
        let _ = writeln!(
            s,
            "models: none trained yet; services are scored by their robust baselines alone ({} normal windows collected towards the first training)",
            m.since_train
        );
    } else {
        let [from, to] = m.training_span_ms;
        let _ = writeln!(
            s,
            "models: version {}, trained on {} windows from {} to {} ({}); {} normal windows since",
            m.version,
            m.trained_on,
            time(from),
            time(to),
            span(to - from),
            m.since_train
        );
        let mut shapes = Vec::new();
        if let Some([hidden, code]) = m.autoencoder {
            shapes.push(format!("autoencoder {} → {hidden} → {code} → {}", m.dim, m.dim));
        }
        if let Some([trees, sample]) = m.forest {
            shapes.push(format!("isolation forest of {trees} trees on samples of {sample}"));
        }
        if !shapes.is_empty() {
            let _ = writeln!(s, "  {}", shapes.join("; "));
        }
        let x = &m.metrics;
        let _ = writeln!(
            s,
            "  on held-out windows: reconstruction error {:.3e}, isolation score {:.3}; last training loss {:.3e}; {} candidate{} rejected for replaying worse",
            x.ae_holdout_mse,
            x.forest_holdout_score,
            x.ae_train_loss,
            x.rejected,
            if x.rejected == 1 { "" } else { "s" }
        );
    }
    if m.services.is_empty() {
        let _ = writeln!(s, "services: none seen yet");
        return s;
    }
    let _ = writeln!(s, "services ({}):", m.services.len());
    let width = m
        .services
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("service".len());
    // The baseline learns only windows judged normal, so a failing service's count stands still.
    let _ = writeln!(s, "  {:<width$}  {:>15}  alert", "service", "windows learned");
    for (k, svc) in m.services.iter().enumerate() {
        let windows = m.baseline_windows.get(k).copied().unwrap_or(0);
        let alert = match m.alerts.get(svc) {
            Some(a) if a.firing => {
                let since = a
                    .firing_since
                    .map(|t| format!(" since {}", time(t)))
                    .unwrap_or_default();
                // Kept while the service's alerts are off: announced if they are turned back on.
                let silent = if a.announced {
                    ""
                } else {
                    " (not announced: its alerts were off)"
                };
                format!("FIRING{since}{silent}")
            }
            Some(a) if a.adopted => "quiet; its last alert's level was taken as its new normal".to_owned(),
            _ => "quiet".to_owned(),
        };
        let warming = if windows < warmup {
            format!(" (warming up: {windows} of {warmup} windows)")
        } else {
            String::new()
        };
        let rules = match cfg.own_rules(svc) {
            None => "",
            Some(r) if r.alerts == Some(false) => " [alerts off: detector.services]",
            Some(_) => " [own alert rules: detector.services]",
        };
        let _ = writeln!(s, "  {svc:<width$}  {windows:>15}  {alert}{warming}{rules}");
    }
    s
}

/// One line on the checkpoint written before the current one: whether the models changed since,
/// and if a promotion replaced them, how their hold-out metrics moved.
pub fn compared(path: &Path, before: &Manifest, now: &Manifest, now_ms: i64) -> String {
    let name = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let head = format!(
        "previous checkpoint {name}, written {} ({} ago):",
        time(before.written_at_ms),
        span(now_ms - before.written_at_ms)
    );
    if before.version == now.version {
        return format!("{head} the same models (version {})", now.version);
    }
    if before.version == 0 {
        return format!("{head} no models yet; version {} is the first trained", now.version);
    }
    let (b, n) = (&before.metrics, &now.metrics);
    format!(
        "{head} models version {}, replaced by {}: held-out reconstruction error {:.3e} → {:.3e}, isolation score {:.3} → {:.3}",
        before.version, now.version, b.ae_holdout_mse, n.ae_holdout_mse, b.forest_holdout_score, n.forest_holdout_score
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_sensible_units() {
        assert_eq!(span(42_000), "42 s");
        assert_eq!(span(17 * 60_000), "17 min");
        assert_eq!(span(3 * 3_600_000 + 1_800_000), "3.5 h");
        assert_eq!(span(50 * 3_600_000), "2.1 d");
        assert_eq!(span(-5), "0 s");
    }

    fn manifest(version: u64, mse: f64, written_at_ms: i64) -> Manifest {
        let metrics = homeostat_detector::learned::ModelMetrics {
            ae_holdout_mse: mse,
            forest_holdout_score: 0.4,
            ..Default::default()
        };
        serde_json::from_value(serde_json::json!({
            "format": 1, "version": version, "sequence": 1, "written_at_ms": written_at_ms,
            "training_span_ms": [0, 0], "trained_on": 0, "metrics": metrics, "dim": 47,
            "autoencoder": null, "forest": null, "services": [], "baseline_windows": [],
            "since_train": 0
        }))
        .expect("manifest")
    }

    #[test]
    fn the_previous_checkpoint_says_what_the_promotion_changed() {
        let p = Path::new("/state/detector/ckpt-000007");
        let now = manifest(3, 0.01, 7_200_000);
        let line = compared(p, &manifest(3, 0.01, 3_600_000), &now, 7_200_000);
        assert!(
            line.starts_with("previous checkpoint ckpt-000007, written 1970-01-01T01:00:00")
                && line.ends_with("(60 min ago): the same models (version 3)"),
            "{line}"
        );
        let line = compared(p, &manifest(2, 0.02, 0), &now, 7_200_000);
        assert!(
            line.ends_with(
                "models version 2, replaced by 3: held-out reconstruction error 2.000e-2 → 1.000e-2, isolation score 0.400 → 0.400"
            ),
            "{line}"
        );
        let line = compared(p, &manifest(0, 0.0, 0), &now, 7_200_000);
        assert!(
            line.ends_with("no models yet; version 3 is the first trained"),
            "{line}"
        );
    }
}
