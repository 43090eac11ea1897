//! The univariate path's memories of a series: robust baselines (median and scale) and seasonal
//! memories (the past values at each time of the day or week).

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Robust {
    pub(super) median: f64,
    pub(super) scale: f64,
}

pub(super) fn robust(values: &VecDeque<f64>, floor: f64) -> Robust {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Robust {
            median: 0.0,
            scale: floor.max(1e-12),
        };
    }
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = dev[dev.len() / 2] * 1.4826;
    // A near-constant series still has a scale: its mean absolute deviation, or the floor.
    let mean_abs = dev.iter().sum::<f64>() / dev.len() as f64;
    Robust {
        median,
        scale: mad.max(mean_abs * 0.5).max(floor).max(1e-12),
    }
}

pub(super) fn push<T>(q: &mut VecDeque<T>, x: T, cap: usize) {
    q.push_back(x);
    while q.len() > cap {
        q.pop_front();
    }
}

/// A seasonal memory: the last `depth` values at each slot of a period.
#[derive(Debug, Clone)]
pub(super) struct Season {
    period_s: i64,
    step_s: i64,
    depth: usize,
    /// Each slot's past (time, value) pairs, oldest first.
    slots: Vec<VecDeque<(i64, f64)>>,
    pub(super) residuals: VecDeque<f64>,
    pub(super) fit: Robust,
}

impl Season {
    pub(super) fn new(period_s: i64, step_s: i64, depth: usize) -> Option<Self> {
        if step_s <= 0 || period_s % step_s != 0 || period_s / step_s > 20_000 {
            return None;
        }
        Some(Self {
            period_s,
            step_s,
            depth,
            slots: vec![VecDeque::new(); (period_s / step_s) as usize],
            residuals: VecDeque::new(),
            fit: Robust::default(),
        })
    }
    /// The slots in a span of `seconds` (none for a negative span).
    pub(super) fn slots_in(&self, seconds: i64) -> usize {
        (seconds.max(0) / self.step_s.max(1)) as usize
    }
    fn slot(&self, t: i64) -> usize {
        (t.rem_euclid(self.period_s) / self.step_s) as usize
    }
    /// The value seen near this time of the period (within `tol` slots) on past periods that is
    /// closest to `v`: recurring events that drift by a few minutes are still expected.
    pub(super) fn expect(&self, t: i64, v: f64, tol: usize) -> Option<f64> {
        if self.slots[self.slot(t)].len() < 2 {
            return None;
        }
        let mut best: Option<f64> = None;
        for &(_, x) in self.near(t, tol) {
            if best.is_none_or(|b| (x - v).abs() < (b - v).abs()) {
                best = Some(x);
            }
        }
        best
    }
    /// The (time, value) pairs remembered within `tol` slots of this time of the period.
    fn near(&self, t: i64, tol: usize) -> impl Iterator<Item = &(i64, f64)> {
        let n = self.slots.len();
        let (k, tol) = (self.slot(t), tol.min(n / 2));
        (0..=2 * tol).flat_map(move |d| &self.slots[(k + n + d - tol) % n])
    }
    /// On how many past periods (not the current one) a value within `within` of `v` was seen
    /// within `tol` slots of this time.
    pub(super) fn recurrences(&self, t: i64, v: f64, tol: usize, within: f64) -> usize {
        let mut periods: Vec<i64> = Vec::new();
        for &(tx, x) in self.near(t, tol) {
            // Periods ago, rounded: values from the current period (0) do not count.
            let ago = (t - tx + self.period_s / 2).div_euclid(self.period_s);
            if ago >= 1 && (x - v).abs() <= within && !periods.contains(&ago) {
                periods.push(ago);
            }
        }
        periods.len()
    }
    pub(super) fn learn(&mut self, t: i64, v: f64, history: usize, tol: usize) {
        let depth = self.depth;
        if let Some(e) = self.expect(t, v, tol) {
            push(&mut self.residuals, v - e, history);
        }
        let k = self.slot(t);
        push(&mut self.slots[k], (t, v), depth);
    }
}
