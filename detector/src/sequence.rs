//! A sequence model in Candle: a GRU that forecasts the next value of a stream from the last
//! `context` values, trained online with AdamW on the stream's recent normal stretches. The
//! univariate path uses its forecast error as the `sequence` signal: a value the GRU did not see
//! coming, given the shape of what led up to it, is surprising.
//!
//! Training runs in Candle. Scoring takes one forecast per value, one value at a time, which in
//! Candle would be about 300 tensor operations on a batch of one; so after each training the
//! weights are copied out and the same GRU equations run in plain Rust (a test checks that both
//! forecast the same to 1e-5).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::rnn::{GRU, GRUConfig, RNN, gru};
use candle_nn::{AdamW, Linear, VarBuilder, VarMap, linear};

use crate::autoencoder::{Result, adamw, fit, init_weights, pin_one_thread, values, vars};

/// A GRU forecaster: `context` values in, the next value out.
pub struct Forecaster {
    /// Values of context per forecast.
    pub context: usize,
    /// GRU state width.
    pub hidden: usize,
    varmap: VarMap,
    gru: GRU,
    head: Linear,
    opt: AdamW,
    device: Device,
    plain: Plain,
    /// Optimizer steps taken.
    pub steps: u64,
}

impl std::fmt::Debug for Forecaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forecaster")
            .field("context", &self.context)
            .field("hidden", &self.hidden)
            .field("steps", &self.steps)
            .finish()
    }
}

/// The weights, copied out of Candle for one-at-a-time forecasts.
#[derive(Debug, Clone, Default)]
struct Plain {
    /// (3H) input weights (one input).
    w_ih: Vec<f32>,
    /// (3H × H) recurrent weights, row-major.
    w_hh: Vec<f32>,
    b_ih: Vec<f32>,
    b_hh: Vec<f32>,
    head_w: Vec<f32>,
    head_b: f32,
}

/// Forecasts of a batch of contexts `(rows, context, 1)`, in Candle: `(rows, 1)`.
fn forecast(gru: &GRU, head: &Linear, x: &Tensor) -> Result<Tensor> {
    let states = gru.seq(x)?;
    let last = states
        .last()
        .ok_or_else(|| candle_core::Error::Msg("empty context".into()))?;
    head.forward(last.h())
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Forecaster {
    /// A fresh network, its weights drawn uniformly in ±1/√hidden from `seed` (reproducible).
    pub fn new(context: usize, hidden: usize, lr: f64, seed: u64) -> Result<Self> {
        pin_one_thread();
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let gru = gru(1, hidden, GRUConfig::default(), vb.pp("gru"))?;
        let head = linear(hidden, 1, vb.pp("head"))?;
        let bound = 1.0 / (hidden as f64).sqrt();
        init_weights(&varmap, seed, &device, |_, _| bound)?;
        let opt = adamw(&varmap, lr)?;
        let mut f = Self {
            context: context.max(1),
            hidden,
            varmap,
            gru,
            head,
            opt,
            device,
            plain: Plain::default(),
            steps: 0,
        };
        f.copy_out()?;
        Ok(f)
    }

    /// Forecasts of contexts laid end to end (`context` values each), computed in Candle.
    pub fn forecast_batch(&self, contexts: &[f32]) -> Result<Vec<f32>> {
        let n = contexts.len() / self.context;
        if n == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_slice(&contexts[..n * self.context], (n, self.context, 1), &self.device)?;
        forecast(&self.gru, &self.head, &x)?.flatten_all()?.to_vec1::<f32>()
    }

    /// `epochs` passes of mini-batch AdamW over `(context, target)` pairs: contexts laid end to
    /// end, one target each. Returns the last epoch's mean squared error.
    pub fn train(&mut self, contexts: &[f32], targets: &[f32], epochs: usize, batch_rows: usize) -> Result<f32> {
        let rows = (contexts.len() / self.context).min(targets.len());
        let (c, gru, head, device) = (self.context, &self.gru, &self.head, &self.device);
        let (last, steps) = fit(&mut self.opt, rows, epochs, batch_rows, |a, b| {
            let x = Tensor::from_slice(&contexts[a * c..b * c], (b - a, c, 1), device)?;
            let y = Tensor::from_slice(&targets[a..b], (b - a, 1), device)?;
            candle_nn::loss::mse(&forecast(gru, head, &x)?, &y)
        })?;
        self.steps += steps;
        if rows > 0 {
            self.copy_out()?;
        }
        Ok(last)
    }

    fn copy_out(&mut self) -> Result<()> {
        let vars = vars(&self.varmap)?;
        let get = |name: &str| values(&vars, name);
        self.plain = Plain {
            w_ih: get("gru.weight_ih_l0")?,
            w_hh: get("gru.weight_hh_l0")?,
            b_ih: get("gru.bias_ih_l0")?,
            b_hh: get("gru.bias_hh_l0")?,
            head_w: get("head.weight")?,
            head_b: get("head.bias")?.first().copied().unwrap_or(0.0),
        };
        Ok(())
    }

    /// The forecast after `context` (its last `self.context` values are used), computed with the
    /// GRU's equations in plain Rust from the weights of the last training.
    pub fn forecast(&self, context: &[f32]) -> f32 {
        let h_n = self.hidden;
        let p = &self.plain;
        let mut h = vec![0f32; h_n];
        let mut next = vec![0f32; h_n];
        let mut gh = vec![0f32; 3 * h_n];
        let start = context.len().saturating_sub(self.context);
        for &x in &context[start..] {
            for (k, g) in gh.iter_mut().enumerate() {
                let row = &p.w_hh[k * h_n..(k + 1) * h_n];
                *g = row.iter().zip(&h).map(|(w, v)| w * v).sum::<f32>() + p.b_hh[k];
            }
            for j in 0..h_n {
                let gi = |k: usize| p.w_ih[k] * x + p.b_ih[k];
                let r = sigmoid(gi(j) + gh[j]);
                let z = sigmoid(gi(h_n + j) + gh[h_n + j]);
                let n = (gi(2 * h_n + j) + r * gh[2 * h_n + j]).tanh();
                next[j] = z * h[j] + (1.0 - z) * n;
            }
            std::mem::swap(&mut h, &mut next);
        }
        h.iter().zip(&p.head_w).map(|(a, b)| a * b).sum::<f32>() + p.head_b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, period: f32, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 + phase) / period * std::f32::consts::TAU).sin())
            .collect()
    }

    fn pairs(series: &[f32], context: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut c, mut t) = (Vec::new(), Vec::new());
        for i in context..series.len() {
            c.extend_from_slice(&series[i - context..i]);
            t.push(series[i]);
        }
        (c, t)
    }

    #[test]
    fn learns_to_forecast_a_rhythm_and_plain_rust_agrees_with_candle() -> Result<()> {
        let context = 12;
        let mut f = Forecaster::new(context, 8, 1e-2, 1)?;
        let (c, t) = pairs(&sine(600, 17.0, 0.0), context);
        let before = f.train(&c, &t, 1, 64)?;
        let after = f.train(&c, &t, 40, 64)?;
        assert!(after < before * 0.2 && after < 0.02, "loss {before} → {after}");

        // The plain-Rust forecast is Candle's, to float rounding.
        let (c, t) = pairs(&sine(60, 17.0, 5.0), context);
        let candle = f.forecast_batch(&c)?;
        for (i, want) in candle.iter().enumerate() {
            let got = f.forecast(&c[i * context..(i + 1) * context]);
            assert!((got - want).abs() < 1e-5, "row {i}: plain {got}, candle {want}");
        }
        // An unseen phase of the same rhythm is forecast well.
        let err: f32 = candle.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum::<f32>() / t.len() as f32;
        assert!(err < 0.15, "mean error on unseen phase {err}");
        Ok(())
    }
}
