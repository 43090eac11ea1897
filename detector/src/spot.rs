//! Extreme-value thresholds in the manner of SPOT/DSPOT (peaks over threshold): a signal's recent
//! history sets an initial high quantile `u`; the excesses over `u` are fitted with a generalized
//! Pareto distribution (probability-weighted moments), which gives the tail probability of any new
//! value far beyond what the history holds. Values judged anomalous are not learned (DSPOT's rule),
//! so an incident does not raise its own threshold.

use std::collections::VecDeque;

/// A fitted tail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tail {
    /// The initial threshold (a high quantile of the history).
    pub u: f64,
    /// Fraction of the history above `u`.
    pub rate: f64,
    /// GPD shape.
    pub gamma: f64,
    /// GPD scale.
    pub sigma: f64,
    /// Fraction of the history at or above `u`. It exceeds `rate` when many values equal `u`, as
    /// in a metric that mostly sits at one value: such a value is not rare, however few lie
    /// strictly above it.
    pub rate_at_u: f64,
    /// The history below `u` as [`BELOW`] + 1 values at evenly spaced ranks, from the smallest to
    /// `u`. Below `u` the surprise is read off them: the share of the history at or above the
    /// value, so that a value the series commonly takes is not surprising at all.
    pub below: [f64; BELOW + 1],
}

/// Segments of the empirical distribution kept below a tail's threshold (see [`Tail::below`]).
pub const BELOW: usize = 16;

impl Tail {
    /// True when at least half the history sat at the threshold `u` (a signal that never varied
    /// while the tail was fitted): the fit then has no spread to calibrate a departure with, and
    /// any departure gets the largest surprise.
    pub fn is_degenerate(&self) -> bool {
        self.rate_at_u >= 0.5
    }

    /// Probability that a value at least `x` occurs: 10^−[`Tail::surprise`], in [10⁻³⁰⁰, 1].
    pub fn prob(&self, x: f64) -> f64 {
        10f64.powf(-self.surprise(x))
    }

    /// `−log10` of the probability that a value at least `x` occurs, in [0, 300]: the surprise
    /// the fused scores are made of. Above `u` the fitted GPD (rate · (1 + γy/σ)^(−1/γ), or
    /// rate · e^(−y/σ) for γ ≈ 0); at `u` the share at or above `u`; below it the share of the
    /// history at or above `x` (see [`Tail::below`]), never more surprising than `u` itself.
    /// Computed in the log domain: two logarithms at most.
    pub fn surprise(&self, x: f64) -> f64 {
        const MAX: f64 = 300.0; // prob's floor, 1e-300
        if !x.is_finite() {
            return if x > 0.0 { MAX } else { 0.0 };
        }
        let y = x - self.u;
        if y <= 0.0 {
            let at_u = -self.rate.max(self.rate_at_u).log10();
            return (-self.share_below_u(x).log10()).clamp(0.0, at_u);
        }
        let base = -self.rate.log10();
        let sigma = self.sigma.max(1e-12);
        let tail = if self.gamma.abs() < 1e-6 {
            y / (sigma * std::f64::consts::LN_10)
        } else {
            let b = 1.0 + self.gamma * y / sigma;
            if b <= 0.0 {
                return MAX;
            }
            b.log10() / self.gamma
        };
        (base + tail).min(MAX)
    }

    /// The share of the history at or above `x`, for `x` at or below `u`, read off
    /// [`Tail::below`]: its values lie at ranks 0, 1/[`BELOW`], …, 1 of the way to the first
    /// value equal to `u`, which is a share `1 − rate_at_u` of the way through the sorted history
    /// (so at `u` this is `rate_at_u`). Linear between them; where several are equal (ties), the
    /// share at the first, so that a tied value counts all of its copies.
    fn share_below_u(&self, x: f64) -> f64 {
        let knots = &self.below;
        if x <= knots[0] {
            return 1.0;
        }
        // The first knot at or above x; x lies in (knots[j - 1], knots[j]].
        let j = knots.partition_point(|k| *k < x).clamp(1, BELOW);
        let (lo, hi) = (knots[j - 1], knots[j]);
        let within = if hi > lo {
            ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let rank = (j as f64 - 1.0 + within) / BELOW as f64;
        (1.0 - (1.0 - self.rate_at_u) * rank).clamp(0.0, 1.0)
    }
}

/// Fit a GPD to excesses by probability-weighted moments (Hosking & Wallis); `None` when there
/// are too few or they are all equal.
pub fn fit_gpd(excesses: &mut [f64]) -> Option<(f64, f64)> {
    let n = excesses.len();
    if n < 5 {
        return None;
    }
    excesses.sort_by(f64::total_cmp);
    let a0 = excesses.iter().sum::<f64>() / n as f64;
    // a1 = E[X (1 − F(X))], with plotting positions (i − 0.35)/n.
    let a1 = excesses
        .iter()
        .enumerate()
        .map(|(i, x)| x * (1.0 - (i as f64 + 0.65) / n as f64))
        .sum::<f64>()
        / n as f64;
    let d = a0 - 2.0 * a1;
    if a0 <= 0.0 || d <= 1e-12 {
        return None;
    }
    let k = a0 / d - 2.0; // Hosking's shape; γ = −k
    let sigma = 2.0 * a0 * a1 / d;
    Some(((-k).clamp(0.0, 0.9), sigma))
}

/// A streaming peaks-over-threshold estimator for one nonnegative signal.
#[derive(Debug, Clone)]
pub struct Spot {
    q: f64,
    capacity: usize,
    refit_every: usize,
    history: VecDeque<f64>,
    since_fit: usize,
    tail: Option<Tail>,
    fallback_gamma: f64,
}

impl Spot {
    /// `q`: the quantile that sets `u` (e.g. 0.98); `capacity`: values of history kept;
    /// `refit_every`: values learned between refits.
    pub fn new(q: f64, capacity: usize, refit_every: usize) -> Self {
        Self {
            q,
            capacity: capacity.max(10),
            refit_every: refit_every.max(1),
            history: VecDeque::new(),
            since_fit: 0,
            tail: None,
            fallback_gamma: 0.0,
        }
    }

    /// The shape used when the excesses are too few to fit (default 0, exponential). A heavier
    /// tail (e.g. 0.5) keeps a short history from giving confident alarms.
    pub fn with_fallback_shape(mut self, gamma: f64) -> Self {
        self.fallback_gamma = gamma.clamp(0.0, 0.9);
        self
    }

    /// The current tail, once enough history has been seen.
    pub fn tail(&self) -> Option<Tail> {
        self.tail
    }

    /// Values learned so far (bounded by the capacity).
    pub fn len(&self) -> usize {
        self.history.len()
    }

    /// True before anything was learned.
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Tail probability of `x` under the current fit (1 while there is none).
    pub fn prob(&self, x: f64) -> f64 {
        self.tail.map_or(1.0, |t| t.prob(x))
    }

    /// `−log10` of [`Spot::prob`] (0 while there is no fit).
    pub fn surprise(&self, x: f64) -> f64 {
        self.tail.map_or(0.0, |t| t.surprise(x))
    }

    /// The value whose tail probability is `p` (the alarm threshold at risk `p`).
    pub fn quantile(&self, p: f64) -> Option<f64> {
        let t = self.tail?;
        if p >= t.rate {
            return Some(t.u);
        }
        let r = t.rate / p;
        Some(if t.gamma.abs() < 1e-6 {
            t.u + t.sigma * r.ln()
        } else {
            t.u + t.sigma / t.gamma * (r.powf(t.gamma) - 1.0)
        })
    }

    /// Learn a value judged normal.
    pub fn learn(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.history.push_back(x);
        while self.history.len() > self.capacity {
            self.history.pop_front();
        }
        self.since_fit += 1;
        if self.tail.is_none() || self.since_fit >= self.refit_every {
            self.refit();
        }
    }

    /// Refit `u` and the GPD from the history.
    pub fn refit(&mut self) {
        self.since_fit = 0;
        let n = self.history.len();
        if n < 50 {
            return;
        }
        let mut v: Vec<f64> = self.history.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let k = ((self.q * n as f64) as usize).min(n - 1);
        let u = v[k];
        let mut ex: Vec<f64> = v[k..].iter().map(|x| x - u).filter(|e| *e > 0.0).collect();
        let above = ex.len();
        let fallback = self.fallback_gamma;
        let (gamma, sigma) = fit_gpd(&mut ex).unwrap_or_else(|| {
            // Too few distinct peaks to fit: a tail of the fallback shape scaled by the spread of
            // the upper half.
            let half = &v[n / 2..];
            let spread = (half[half.len() - 1] - half[0]).max(1e-9);
            if fallback > 0.0 {
                (fallback, spread / 2.0)
            } else {
                (0.0, spread / 4.0)
            }
        });
        let first_u = v.partition_point(|x| *x < u);
        let at_u = n - first_u;
        // Ranks up to first_u, whose value is u itself (first_u < n: u is one of the values).
        let below = std::array::from_fn(|j| v[j * first_u / BELOW]);
        self.tail = Some(Tail {
            u,
            rate: (above.max(1) as f64 / n as f64).min(1.0 - self.q).max(1.0 / n as f64),
            gamma,
            sigma: sigma.max(1e-12),
            rate_at_u: at_u as f64 / n as f64,
            below,
        });
    }

    /// The learned history, oldest first (for checkpoints).
    pub fn history(&self) -> impl Iterator<Item = f64> + '_ {
        self.history.iter().copied()
    }

    /// Rebuild from a checkpointed history.
    pub fn restore(&mut self, values: impl IntoIterator<Item = f64>) {
        self.history.clear();
        for v in values {
            self.history.push_back(v);
        }
        while self.history.len() > self.capacity {
            self.history.pop_front();
        }
        self.refit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_a_series_mostly_sits_at_is_not_rare() {
        // 99 % of the values are exactly 0 (a disk that mostly writes nothing): the 98 % quantile
        // is 0 itself, and a 0 is as common as it gets, however few values lie above it.
        let mut spot = Spot::new(0.98, 10_000, 10);
        for i in 0..1000 {
            spot.learn(if i % 100 == 0 { 1.0 + (i / 100) as f64 } else { 0.0 });
        }
        let t = spot.tail().expect("fitted");
        assert_eq!(t.u, 0.0);
        assert!((t.rate - 0.01).abs() < 1e-12 && t.rate_at_u == 1.0, "{t:?}");
        assert_eq!(spot.prob(0.0), 1.0);
        assert_eq!(spot.surprise(0.0), 0.0);
        // Above it, the few peaks set the tail as before: a value as high as the peaks is rare.
        assert!(spot.surprise(5.0) >= 2.0, "{}", spot.surprise(5.0));
    }

    #[test]
    fn below_the_threshold_the_surprise_is_the_share_of_the_history_at_or_above_the_value() {
        // 90 % zeros and 10 % exponential values (a metric that is mostly quiet): a zero is the
        // commonest value and not surprising at all, and a value halfway up the nonzero ones is as
        // rare as the share of the history at or above it says.
        let mut s = 13;
        let mut spot = Spot::new(0.98, 20_000, 1000);
        for i in 0..20_000 {
            spot.learn(if i % 10 == 0 { -(1.0 - lcg(&mut s)).ln() } else { 0.0 });
        }
        let t = spot.tail().expect("fitted");
        assert!(t.u > 1.0, "{t:?}");
        assert_eq!(spot.surprise(0.0), 0.0);
        // P(X ≥ x) = 0.1 · e^(−x) for x > 0: 0.1 · e^(−0.7) ≈ 0.0497, a surprise of about 1.3.
        let x: f64 = 0.7;
        let want = -(0.1 * (-x).exp()).log10();
        assert!((spot.surprise(x) - want).abs() < 0.1, "{} vs {want}", spot.surprise(x));
        // Monotone up to u and beyond.
        let mut last = 0.0;
        for i in 0..100 {
            let x = t.u * 1.5 * i as f64 / 100.0;
            let sx = spot.surprise(x);
            assert!(sx >= last - 1e-12, "x {x}: {sx} < {last}");
            last = sx;
        }
        // Most of an exponential signal's values: its median is an even chance.
        let mut e = Spot::new(0.98, 20_000, 1000);
        for _ in 0..20_000 {
            e.learn(-(1.0 - lcg(&mut s)).ln());
        }
        let median = 2f64.ln();
        assert!(
            (e.surprise(median) - 2f64.log10()).abs() < 0.03,
            "{}",
            e.surprise(median)
        );
    }

    #[test]
    fn surprise_is_minus_log10_of_the_tail_probability() {
        for (gamma, sigma, rate_at_u) in [(0.0, 0.7, 0.0), (0.3, 1.5, 0.02), (-0.2, 2.0, 0.5), (0.9, 0.1, 1.0)] {
            let t = Tail {
                u: 3.0,
                rate: 0.02,
                gamma,
                sigma,
                rate_at_u,
                below: [
                    -1.0, 0.0, 0.5, 1.0, 1.2, 1.5, 1.8, 2.0, 2.2, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 2.95, 3.0,
                ],
            };
            for x in [
                -50.0,
                0.0,
                2.9,
                3.0,
                3.1,
                5.0,
                9.0,
                12.0,
                40.0,
                1e6,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
            ] {
                let want = -t.prob(x).log10();
                let got = t.surprise(x);
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "γ {gamma}, x {x}: {got} vs {want}"
                );
            }
        }
        assert_eq!(Spot::new(0.98, 100, 10).surprise(5.0), 0.0);
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64) / ((1u64 << 53) as f64)
    }

    #[test]
    fn pwm_recovers_an_exponential_tail() {
        let mut s = 7;
        let mut ex: Vec<f64> = (0..20_000).map(|_| -(1.0 - lcg(&mut s)).ln() * 2.0).collect();
        let (g, sigma) = fit_gpd(&mut ex).expect("fit");
        assert!(g.abs() < 0.05, "shape {g}");
        assert!((sigma - 2.0).abs() < 0.1, "scale {sigma}");
    }

    #[test]
    fn pwm_recovers_a_heavy_tail() {
        // GPD(γ = 0.3, σ = 1) by inversion: x = σ/γ ((1−U)^−γ − 1).
        let mut s = 11;
        let mut ex: Vec<f64> = (0..20_000)
            .map(|_| ((1.0 - lcg(&mut s)).powf(-0.3) - 1.0) / 0.3)
            .collect();
        let (g, sigma) = fit_gpd(&mut ex).expect("fit");
        assert!((g - 0.3).abs() < 0.06, "shape {g}");
        assert!((sigma - 1.0).abs() < 0.08, "scale {sigma}");
    }

    #[test]
    fn tail_probability_matches_the_empirical_one() {
        // Exponential(1) values: P(X ≥ 6) = e^-6 ≈ 0.00248.
        let mut s = 3;
        let mut spot = Spot::new(0.98, 50_000, 1000);
        for _ in 0..50_000 {
            spot.learn(-(1.0 - lcg(&mut s)).ln());
        }
        let p = spot.prob(6.0);
        assert!((p / (-6.0f64).exp() - 1.0).abs() < 0.25, "p {p}");
        let q = spot.quantile(1e-3).expect("fitted");
        assert!((q - 1e3f64.ln()).abs() < 0.4, "quantile {q}");
        // Monotone and continuous across u.
        let t = spot.tail().expect("tail");
        assert!(spot.prob(t.u - 1e-9) >= spot.prob(t.u + 1e-9));
        assert!(spot.prob(1.0) > spot.prob(3.0) && spot.prob(3.0) > spot.prob(9.0));
    }

    #[test]
    fn restore_reproduces_the_fit() {
        let mut s = 5;
        let mut a = Spot::new(0.98, 1000, 10);
        for _ in 0..3000 {
            a.learn(lcg(&mut s));
        }
        a.refit();
        let mut b = Spot::new(0.98, 1000, 10);
        b.restore(a.history());
        assert_eq!(a.tail(), b.tail());
    }
}
