//! A small dense autoencoder in Candle over per-service normalized feature vectors. It learns what
//! normal windows look like across the fleet; a window it cannot reconstruct is unusual, and the
//! features it reconstructs worst explain why.
//!
//! Candle runs on the CPU, one thread (the detector scores in batches; more threads only add
//! contention with the other stages on the same machine). Candle trains the network; scoring
//! runs the same weights compiled into AVX-512 or AVX2 kernels (`compiled`), which agree with
//! Candle's forward pass to within 10⁻⁵ and run four to five times faster (see the benchmark);
//! Candle scores where the processor has neither.

mod compiled;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap, linear};

/// Run Candle (and anything else using rayon in this process) on one thread. Called before the
/// first network is built; later calls do nothing.
pub fn pin_one_thread() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if a global pool already exists, in which case that one is used.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(1).build_global();
    });
}

/// Errors from Candle.
pub type Result<T> = std::result::Result<T, candle_core::Error>;

/// The network's variables, by name.
pub(crate) fn vars(
    varmap: &VarMap,
) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<String, candle_core::Var>>> {
    varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("poisoned".into()))
}

/// The values of the variable `name`, flattened (weights copied out of Candle).
pub(crate) fn values(vars: &std::collections::HashMap<String, candle_core::Var>, name: &str) -> Result<Vec<f32>> {
    vars.get(name)
        .ok_or_else(|| candle_core::Error::Msg(format!("no variable {name}")))?
        .as_tensor()
        .flatten_all()?
        .to_vec1::<f32>()
}

/// Draw every variable uniformly in ±`bound(name, dims)` from `seed`, in name order (Candle
/// cannot seed its CPU generator, and a detector should be reproducible).
pub(crate) fn init_weights(
    varmap: &VarMap,
    seed: u64,
    device: &Device,
    bound: impl Fn(&str, &[usize]) -> f64,
) -> Result<()> {
    let vars = vars(varmap)?;
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut rng = crate::iforest::Rng::new(seed);
    for name in names {
        let var = &vars[name];
        let dims = var.dims().to_vec();
        let b = bound(name, &dims);
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n).map(|_| ((rng.unit() * 2.0 - 1.0) * b) as f32).collect();
        var.set(&Tensor::from_vec(values, dims, device)?)?;
    }
    Ok(())
}

/// Mini-batch training: `epochs` passes (at least one) over `rows` rows, `batch_rows` at a time
/// in order, one AdamW step on each batch's `loss(start, end)` (rows `start..end`). Returns the
/// last pass's mean loss and the steps taken.
pub(crate) fn fit(
    opt: &mut AdamW,
    rows: usize,
    epochs: usize,
    batch_rows: usize,
    mut loss: impl FnMut(usize, usize) -> Result<Tensor>,
) -> Result<(f32, u64)> {
    if rows == 0 {
        return Ok((0.0, 0));
    }
    let batch_rows = batch_rows.clamp(1, rows);
    let (mut last, mut steps) = (0.0, 0);
    for _ in 0..epochs.max(1) {
        let (mut sum, mut n) = (0.0, 0);
        for start in (0..rows).step_by(batch_rows) {
            let l = loss(start, (start + batch_rows).min(rows))?;
            opt.backward_step(&l)?;
            sum += l.to_scalar::<f32>()?;
            n += 1;
        }
        steps += n;
        last = sum / n.max(1) as f32;
    }
    Ok((last, steps))
}

/// AdamW over every variable, with a small weight decay.
pub(crate) fn adamw(varmap: &VarMap, lr: f64) -> Result<AdamW> {
    AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr,
            weight_decay: 1e-4,
            ..ParamsAdamW::default()
        },
    )
}

/// The network's layers applied to a batch: tanh between them, none after the last.
fn reconstruct(layers: &[Linear; 4], x: &Tensor) -> Result<Tensor> {
    let h = layers[0].forward(x)?.tanh()?;
    let z = layers[1].forward(&h)?.tanh()?;
    let h = layers[2].forward(&z)?.tanh()?;
    layers[3].forward(&h)
}

/// The network: dim → hidden → code → hidden → dim, tanh between layers.
pub struct Autoencoder {
    /// Input width.
    pub dim: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Code width.
    pub code: usize,
    varmap: VarMap,
    layers: [Linear; 4],
    opt: AdamW,
    device: Device,
    /// The weights as of the last training or load, compiled for scoring.
    compiled: compiled::Compiled,
    /// Optimizer steps taken.
    pub steps: u64,
}

impl Autoencoder {
    /// A fresh network, its weights drawn uniformly in ±1/√fan-in from `seed` (Candle cannot
    /// seed its CPU generator, and a detector should be reproducible).
    pub fn new(dim: usize, hidden: usize, code: usize, lr: f64, seed: u64) -> Result<Self> {
        pin_one_thread();
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let layers = [
            linear(dim, hidden, vb.pp("enc1"))?,
            linear(hidden, code, vb.pp("enc2"))?,
            linear(code, hidden, vb.pp("dec1"))?,
            linear(hidden, dim, vb.pp("dec2"))?,
        ];
        init_weights(&varmap, seed, &device, |name, dims| {
            let fan_in = *dims.last().unwrap_or(&1) as f64;
            if name.ends_with("weight") {
                1.0 / fan_in.sqrt()
            } else {
                0.1 / fan_in.sqrt()
            }
        })?;
        let opt = adamw(&varmap, lr)?;
        let mut ae = Self {
            dim,
            hidden,
            code,
            varmap,
            layers,
            opt,
            device,
            compiled: compiled::Compiled::default(),
            steps: 0,
        };
        ae.compile()?;
        Ok(ae)
    }

    /// Copy the weights out of Candle into the scoring kernels.
    fn compile(&mut self) -> Result<()> {
        let vars = vars(&self.varmap)?;
        let get = |name: &str| values(&vars, name);
        let (d, h, c) = (self.dim, self.hidden, self.code);
        let mut layers = Vec::with_capacity(4);
        for (name, inputs, outputs) in [("enc1", d, h), ("enc2", h, c), ("dec1", c, h), ("dec2", h, d)] {
            layers.push((
                get(&format!("{name}.weight"))?,
                get(&format!("{name}.bias"))?,
                inputs,
                outputs,
            ));
        }
        drop(vars);
        self.compiled = compiled::Compiled::new(&layers);
        Ok(())
    }

    /// The compiled kernels this processor can run, fastest first ("avx512", "avx2" with FMA),
    /// for benchmarks and tests.
    pub fn kernels() -> Vec<&'static str> {
        compiled::Kernel::available_all()
            .into_iter()
            .map(compiled::Kernel::name)
            .collect()
    }

    /// How [`Autoencoder::errors`] and [`Autoencoder::row_errors`] score here: the fastest of
    /// [`Autoencoder::kernels`], or "candle" on a processor with neither AVX-512 nor AVX2.
    pub fn kernel() -> &'static str {
        compiled::Kernel::best().map_or("candle", compiled::Kernel::name)
    }

    /// Reconstruction of a batch `(rows, dim)`, by Candle.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        reconstruct(&self.layers, x)
    }

    /// A batch tensor from rows of length `dim`.
    pub fn batch(&self, data: &[f32]) -> Result<Tensor> {
        Tensor::from_slice(data, (data.len() / self.dim, self.dim), &self.device)
    }

    /// Per-element squared reconstruction errors of rows of length `dim` (same layout).
    pub fn errors(&self, data: &[f32]) -> Result<Vec<f32>> {
        self.errors_with(compiled::Kernel::best(), data, true)
    }

    /// Mean squared reconstruction error of each row.
    pub fn row_errors(&self, data: &[f32]) -> Result<Vec<f32>> {
        self.errors_with(compiled::Kernel::best(), data, false)
    }

    /// [`Autoencoder::row_errors`] the way named (one of [`Autoencoder::kernels`]; "candle", or
    /// any other name, scores with Candle).
    pub fn row_errors_named(&self, kernel: &str, data: &[f32]) -> Result<Vec<f32>> {
        let k = compiled::Kernel::available_all()
            .into_iter()
            .find(|k| k.name() == kernel);
        self.errors_with(k, data, false)
    }

    /// With the compiled `kernel`, or with Candle when there is none.
    fn errors_with(&self, kernel: Option<compiled::Kernel>, data: &[f32], per_element: bool) -> Result<Vec<f32>> {
        let Some(k) = kernel else {
            return self.candle_errors(data, per_element);
        };
        let mut out = Vec::new();
        self.compiled.errors(k, data, per_element, &mut out);
        Ok(out)
    }

    /// Squared reconstruction errors computed by Candle, per element or as each row's mean
    /// (the reference the compiled kernels are checked against).
    fn candle_errors(&self, data: &[f32], per_element: bool) -> Result<Vec<f32>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.batch(data)?;
        let sq = (self.forward(&x)? - &x)?.sqr()?;
        if per_element {
            sq.flatten_all()?.to_vec1::<f32>()
        } else {
            sq.mean(1)?.to_vec1::<f32>()
        }
    }

    /// `epochs` passes of mini-batch AdamW over rows of length `dim`; the last epoch's mean loss.
    pub fn train(&mut self, data: &[f32], epochs: usize, batch_rows: usize) -> Result<f32> {
        let (dim, layers, device) = (self.dim, &self.layers, &self.device);
        let (last, steps) = fit(&mut self.opt, data.len() / dim, epochs, batch_rows, |a, b| {
            let x = Tensor::from_slice(&data[a * dim..b * dim], (b - a, dim), device)?;
            candle_nn::loss::mse(&reconstruct(layers, &x)?, &x)
        })?;
        self.steps += steps;
        self.compile()?;
        Ok(last)
    }

    /// Write the weights as safetensors.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        self.varmap.save(path)
    }

    /// Load weights written by [`Autoencoder::save`] for the same shape.
    pub fn load(&mut self, path: &std::path::Path) -> Result<()> {
        self.varmap.load(path)?;
        self.compile()
    }

    /// Copy of this network's weights into a new one (a candidate trained beside the current).
    pub fn try_clone(&self, lr: f64) -> Result<Self> {
        let mut n = Self::new(self.dim, self.hidden, self.code, lr, 0)?;
        let src = vars(&self.varmap)?;
        let dst = vars(&n.varmap)?;
        for (name, var) in dst.iter() {
            if let Some(s) = src.get(name) {
                var.set(&s.as_tensor().copy()?)?;
            }
        }
        drop(dst);
        n.steps = self.steps;
        n.compile()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iforest::Rng;

    fn normal_rows(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
        // Two latent factors drive all features: structure an autoencoder can learn.
        let mut r = Rng::new(seed);
        let mut out = Vec::with_capacity(rows * dim);
        for _ in 0..rows {
            let (a, b) = (r.unit() as f32 - 0.5, r.unit() as f32 - 0.5);
            for k in 0..dim {
                let w = (k as f32 / dim as f32) * 2.0 - 1.0;
                out.push(a * w + b * (1.0 - w.abs()) + 0.02 * (r.unit() as f32 - 0.5));
            }
        }
        out
    }

    #[test]
    fn learns_normal_structure_and_flags_a_broken_row() -> Result<()> {
        let dim = 12;
        let mut ae = Autoencoder::new(dim, 16, 4, 1e-2, 1)?;
        let data = normal_rows(2000, dim, 1);
        let before = ae.train(&data, 1, 64)?;
        let after = ae.train(&data, 30, 64)?;
        assert!(after < before * 0.5, "loss {before} → {after}");
        let test = normal_rows(50, dim, 2);
        let normal = ae.row_errors(&test)?;
        let mut broken = test[..dim].to_vec();
        broken[5] += 1.5;
        let e = ae.errors(&broken)?;
        let worst = e.iter().enumerate().fold(0, |b, (i, x)| if *x > e[b] { i } else { b });
        assert_eq!(worst, 5, "errors {e:?}");
        let broken_err = e.iter().sum::<f32>() / dim as f32;
        let max_normal = normal.iter().fold(0.0f32, |a, b| a.max(*b));
        assert!(broken_err > 3.0 * max_normal, "{broken_err} vs {max_normal}");
        Ok(())
    }

    #[test]
    fn every_compiled_kernel_agrees_with_candle() -> Result<()> {
        // The detector's shape, trained a little so the weights are not the initial draw; rows
        // both typical and far outside the training range (tanh saturating).
        let dim = 47;
        let mut ae = Autoencoder::new(dim, 24, 8, 1e-2, 3)?;
        ae.train(&normal_rows(512, dim, 5), 5, 64)?;
        let mut rows = normal_rows(300, dim, 6);
        for (i, v) in rows.iter_mut().enumerate().skip(200 * dim) {
            *v *= 1.0 + (i % 7) as f32 * 20.0;
        }
        let reference = ae.candle_errors(&rows, false)?;
        assert_eq!(ae.row_errors_named("candle", &rows)?, reference);
        for kernel in Autoencoder::kernels() {
            let got = ae.row_errors_named(kernel, &rows)?;
            assert_eq!(got.len(), reference.len());
            for (g, r) in got.iter().zip(&reference) {
                assert!((g - r).abs() <= 1e-5 * r.abs().max(1.0), "{kernel}: {g} vs Candle {r}");
            }
        }
        // Per element, the same errors again; and they follow training and loading.
        let per = ae.errors(&rows)?;
        for (row, r) in per.chunks_exact(dim).zip(&reference) {
            let m = row.iter().sum::<f32>() / dim as f32;
            assert!((m - r).abs() <= 1e-5 * r.abs().max(1.0));
        }
        let before = ae.row_errors(&rows[..dim])?;
        ae.train(&normal_rows(512, dim, 7), 3, 64)?;
        assert_ne!(ae.row_errors(&rows[..dim])?, before, "training recompiles the kernels");
        let r = ae.candle_errors(&rows[..dim], false)?[0];
        assert!((ae.row_errors(&rows[..dim])?[0] - r).abs() <= 1e-5 * r.abs().max(1.0));
        assert!(ae.row_errors(&[])?.is_empty());
        Ok(())
    }

    #[test]
    fn save_and_load_round_trip() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("homeostat-ae-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("ae.safetensors");
        let mut a = Autoencoder::new(6, 8, 3, 1e-2, 1)?;
        a.train(&normal_rows(200, 6, 3), 3, 32)?;
        a.save(&path)?;
        let mut b = Autoencoder::new(6, 8, 3, 1e-2, 2)?;
        let x = normal_rows(5, 6, 4);
        assert_ne!(a.errors(&x)?, b.errors(&x)?);
        b.load(&path)?;
        assert_eq!(a.errors(&x)?, b.errors(&x)?);
        let c = a.try_clone(1e-2)?;
        assert_eq!(a.errors(&x)?, c.errors(&x)?);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
