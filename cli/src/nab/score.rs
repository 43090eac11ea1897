//! NAB scoring of one series: detections at or above a threshold after probation, the earliest
//! detection in each window rewarded by a scaled sigmoid of its position, missed windows charged,
//! detections outside windows charged less the closer they follow a window.

/// A cost profile.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Name.
    pub name: &'static str,
    /// Reward for a detected window (at its left edge).
    pub tp_weight: f64,
    /// Cost of a missed window.
    pub fn_weight: f64,
    /// Cost of a false detection far from any window.
    pub fp_weight: f64,
}

/// The three NAB profiles.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp_weight: 1.0,
        fn_weight: 1.0,
        fp_weight: 0.11,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp_weight: 1.0,
        fn_weight: 1.0,
        fp_weight: 0.22,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp_weight: 1.0,
        fn_weight: 2.0,
        fp_weight: 0.11,
    },
];

/// σ(y) = 2/(1+e^{5y}) − 1.
fn sigmoid(y: f64) -> f64 {
    2.0 / (1.0 + (5.0 * y).exp()) - 1.0
}

/// Rows at the start of a series that are never scored: 15 % of them, at most 750.
pub fn probation(rows: usize) -> usize {
    ((0.15 * rows as f64).floor() as usize).min(750)
}

/// The outcome on one series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileScore {
    /// Raw score S of this series.
    pub score: f64,
    /// Detections (rows at or above the threshold after probation) inside windows.
    pub tp_rows: usize,
    /// Detections outside every window.
    pub fp_rows: usize,
    /// Windows with no detection.
    pub missed_windows: usize,
    /// Windows.
    pub windows: usize,
}

/// Score one series. `windows` are inclusive row-index ranges in time order.
pub fn score_file(scores: &[f64], windows: &[(usize, usize)], threshold: f64, p: &Profile) -> FileScore {
    let start = probation(scores.len());
    let mut out = FileScore {
        windows: windows.len(),
        ..FileScore::default()
    };
    let mut detected = vec![false; windows.len()];
    let max_tp = sigmoid(-1.0);
    let mut w = 0; // next window not yet passed
    for (i, s) in scores.iter().enumerate() {
        while w < windows.len() && i > windows[w].1 {
            w += 1;
        }
        if i < start || *s < threshold {
            continue;
        }
        match windows.get(w) {
            Some(&(l, r)) if i >= l => {
                out.tp_rows += 1;
                if !detected[w] {
                    detected[w] = true;
                    let width = (r - l + 1) as f64;
                    let y = -((r - i + 1) as f64) / width;
                    out.score += p.tp_weight * sigmoid(y) / max_tp;
                }
            }
            _ => {
                out.fp_rows += 1;
                out.score += match w.checked_sub(1).map(|k| windows[k]) {
                    None => -p.fp_weight,
                    Some((l, r)) => {
                        let width = (r - l + 1) as f64;
                        let d = (i - r) as f64 / (width - 1.0).max(1.0);
                        p.fp_weight * sigmoid(d)
                    }
                };
            }
        }
    }
    out.missed_windows = detected.iter().filter(|d| !**d).count();
    out.score -= p.fn_weight * out.missed_windows as f64;
    out
}

/// Normalized score: 100·(S − S_null)/(S_perfect − S_null) over `windows` windows.
pub fn normalized(raw: f64, windows: usize, p: &Profile) -> f64 {
    let null = -p.fn_weight * windows as f64;
    let perfect = p.tp_weight * windows as f64;
    100.0 * (raw - null) / (perfect - null)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD: Profile = PROFILES[0];

    #[test]
    fn probation_is_15_percent_capped_at_750() {
        assert_eq!(probation(1000), 150);
        assert_eq!(probation(10_000), 750);
    }

    #[test]
    fn earliest_detection_in_a_window_earns_the_reward_once() {
        let mut s = vec![0.0; 100];
        s[50] = 1.0; // left edge of window 50..=59
        s[55] = 1.0; // a second detection in the same window adds nothing
        let f = score_file(&s, &[(50, 59)], 0.5, &STD);
        assert!((f.score - 1.0).abs() < 1e-12, "{f:?}");
        assert_eq!((f.tp_rows, f.fp_rows, f.missed_windows), (2, 0, 0));
    }

    #[test]
    fn missed_windows_and_early_false_positives_cost() {
        let mut s = vec![0.0; 100];
        s[30] = 1.0; // before any window: −fp
        let f = score_file(&s, &[(50, 59)], 0.5, &STD);
        assert!((f.score - (-0.11 - 1.0)).abs() < 1e-12, "{f:?}");
    }

    #[test]
    fn a_false_positive_right_after_a_window_is_nearly_free() {
        let mut s = vec![0.0; 200];
        s[60] = 1.0;
        let f = score_file(&s, &[(50, 59)], 0.5, &STD);
        // Missed window −1, plus 0.11·σ(1/9).
        assert!((f.score - (-1.0 + 0.11 * sigmoid(1.0 / 9.0))).abs() < 1e-12);
        assert!(f.score > -1.06);
    }

    #[test]
    fn normalization_matches_the_published_example() {
        // ARTime standard: S = 57.66 over 116 windows is 74.85.
        assert!((normalized(57.66075157860638, 116, &STD) - 74.853).abs() < 1e-3);
    }
}
