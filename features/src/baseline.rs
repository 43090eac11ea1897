//! Per-service baselines behind the `baseline` features: exponentially weighted mean and
//! variance over the service's previous windows, and a per-hour-of-day profile.

use std::collections::BTreeMap;

use homeostat_schemas::{FeatureId as F, Timestamp};

/// An exponentially weighted mean and variance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ewm {
    mean: f64,
    var: f64,
    n: u64,
}

impl Ewm {
    /// Mean so far, if any value was seen.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }
    /// Standard deviation, if positive.
    pub fn sd(&self) -> Option<f64> {
        (self.n > 1 && self.var > 0.0).then(|| self.var.sqrt())
    }
    /// Fold in a value.
    pub fn update(&mut self, x: f64, alpha: f64) {
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            self.mean += alpha * d;
            self.var = (1.0 - alpha) * (self.var + alpha * d * d);
        }
        self.n += 1;
    }
}

/// One service's baselines.
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    p99: Ewm,
    error_rate: Ewm,
    rate: Ewm,
    cpu: Ewm,
    latency_var: Ewm,
    seasonal_rate: BTreeMap<u32, Ewm>,
    seasonal_p50: BTreeMap<u32, Ewm>,
}

fn set(v: &mut BTreeMap<String, f64>, f: F, x: Option<f64>) {
    if let Some(x) = x.filter(|x| x.is_finite()) {
        v.insert(f.name().into(), x);
    }
}

fn div(a: f64, b: Option<f64>) -> Option<f64> {
    b.filter(|b| *b != 0.0).map(|b| a / b)
}

impl Baselines {
    /// Add the baseline features to a window's values (comparing with previous windows only),
    /// then fold this window into the baselines.
    pub fn apply(&mut self, v: &mut BTreeMap<String, f64>, end: Timestamp, alpha: f64) {
        let get = |v: &BTreeMap<String, f64>, f: F| v.get(f.name()).copied();
        let hour = ((end.div_euclid(3_600_000)) % 24) as u32;
        if let Some(p99) = get(v, F::LatencyP99) {
            set(v, F::LatencyP99BaselineRatio, div(p99, self.p99.mean()));
            set(
                v,
                F::LatencyP99Zscore,
                self.p99.mean().zip(self.p99.sd()).map(|(m, s)| (p99 - m) / s),
            );
            self.p99.update(p99, alpha);
        }
        if let Some(e) = get(v, F::ErrorRate) {
            set(v, F::ErrorRateBaselineDelta, self.error_rate.mean().map(|m| e - m));
            self.error_rate.update(e, alpha);
        }
        if let Some(r) = get(v, F::RequestRate) {
            set(v, F::RequestRateBaselineRatio, div(r, self.rate.mean()));
            set(
                v,
                F::RequestRateZscore,
                self.rate.mean().zip(self.rate.sd()).map(|(m, s)| (r - m) / s),
            );
            self.rate.update(r, alpha);
            let slot = self.seasonal_rate.entry(hour).or_default();
            set(v, F::RequestRateSeasonalRatio, div(r, slot.mean()));
            slot.update(r, alpha);
        }
        if let Some(c) = get(v, F::CpuMean) {
            set(v, F::CpuBaselineRatio, div(c, self.cpu.mean()));
            self.cpu.update(c, alpha);
        }
        if let Some(sd) = get(v, F::LatencyStddev) {
            let var = sd * sd;
            set(v, F::LatencyVarianceRatio, div(var, self.latency_var.mean()));
            self.latency_var.update(var, alpha);
        }
        if let Some(p50) = get(v, F::LatencyP50) {
            let slot = self.seasonal_p50.entry(hour).or_default();
            set(v, F::LatencyP50SeasonalRatio, div(p50, slot.mean()));
            slot.update(p50, alpha);
        }
    }
}
