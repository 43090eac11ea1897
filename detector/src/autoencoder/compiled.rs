//! The autoencoder compiled for scoring: its weights copied out of Candle after every training
//! or load, transposed and padded so that each layer is a run of fused multiply-adds over
//! sixteen-wide blocks, and tanh computed in a form the compiler vectorizes. Candle stays the
//! trainer and the reference: a test checks the two agree.
//!
//! A layer is `out = b + Σᵢ x[i]·Wᵀ[i]`: each input broadcast against a row of the transposed
//! weights, sixteen outputs at a time for four rows at a time, the sums held in registers; the
//! output is padded to a multiple of sixteen with zero weights (so the padding stays zero through
//! tanh and the next layer never reads it). There are two kernels, AVX-512 and AVX2 with FMA,
//! chosen at run time; on a processor with neither, the autoencoder is scored by Candle (a
//! portable version of these loops, left to the compiler to vectorize, ran at 0.7 million rows/s,
//! well below Candle's 1.7 million). They are the second place the workspace allows `unsafe`: a
//! function compiled for a processor feature may only be called once the feature has been
//! detected, and the loads and stores take raw pointers.

// Elsewhere than x86-64 there is no kernel, and the autoencoder is scored by Candle.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// Output blocks: sixteen f32 (one AVX-512 register, two AVX2 ones).
const BLOCK: usize = 16;

/// Rows run through the network together: each weight block loaded once serves them all, and
/// their accumulators are independent chains of multiply-adds the processor overlaps.
const GROUP: usize = 4;

/// One dense layer, transposed and padded, in blocks of [`BLOCK`] outputs.
#[derive(Debug, Clone, Default, PartialEq)]
struct Dense {
    inputs: usize,
    outputs: usize,
    /// `outputs` rounded up to a multiple of [`BLOCK`].
    width: usize,
    /// Block after block of outputs, each `inputs` rows of [`BLOCK`] weights: input `i`'s
    /// weights to the block's outputs (zero in the padding).
    wt: Vec<[f32; BLOCK]>,
    /// Each block's biases (zero in the padding).
    b: Vec<[f32; BLOCK]>,
}

impl Dense {
    /// From Candle's layout: `weight` is `outputs × inputs`, row-major.
    fn new(weight: &[f32], bias: &[f32], inputs: usize, outputs: usize) -> Self {
        let blocks = outputs.div_ceil(BLOCK).max(1);
        let mut wt = vec![[0.0; BLOCK]; blocks * inputs];
        let mut b = vec![[0.0; BLOCK]; blocks];
        for o in 0..outputs {
            for i in 0..inputs {
                wt[(o / BLOCK) * inputs + i][o % BLOCK] = weight[o * inputs + i];
            }
            b[o / BLOCK][o % BLOCK] = bias[o];
        }
        Self {
            inputs,
            outputs,
            width: blocks * BLOCK,
            wt,
            b,
        }
    }

    /// For each of `R` rows (row `r` of the input at `x[r·xs..]`, of the output at `out[r·os..]`):
    /// `out = b + Σᵢ x[i]·Wᵀ[i]` over all `width` outputs, then tanh if `squash`. `K` is a
    /// [`Kernel`] as a number; the caller has checked the processor can run it.
    #[inline(always)]
    fn apply<const K: u8, const R: usize>(&self, x: &[f32], xs: usize, out: &mut [f32], os: usize, squash: bool) {
        if self.inputs == 0 {
            return;
        }
        match K {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Compiled::errors` runs the AVX kernels only where `Kernel::available`.
            #[allow(unsafe_code)]
            AVX512 => unsafe { self.sums_avx512::<R>(x, xs, out, os) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            AVX2 => unsafe { self.sums_avx2::<R>(x, xs, out, os) },
            // No other kernel exists (`Compiled::errors` runs only available ones).
            _ => {}
        }
        if squash {
            for r in 0..R {
                for v in &mut out[r * os..][..self.width] {
                    *v = tanh(*v);
                }
            }
        }
    }

    /// The sums with one AVX-512 register per block of sixteen outputs and row, all `R` rows'
    /// registers live at once.
    ///
    /// # Safety
    /// The processor must have AVX-512F and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    #[allow(unsafe_code)]
    unsafe fn sums_avx512<const R: usize>(&self, x: &[f32], xs: usize, out: &mut [f32], os: usize) {
        use std::arch::x86_64::*;
        for (blk, (ws, b)) in self.wt.chunks_exact(self.inputs).zip(&self.b).enumerate() {
            // SAFETY (every load and store here): each reads a `[f32; 16]` or writes a slice
            // just cut to 16 values, unaligned accesses of exactly one register.
            let mut acc = [unsafe { _mm512_loadu_ps(b.as_ptr()) }; R];
            for (i, w) in ws.iter().enumerate() {
                let w = unsafe { _mm512_loadu_ps(w.as_ptr()) };
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(x[r * xs + i]), w, *a);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                let o = &mut out[r * os + blk * BLOCK..][..BLOCK];
                unsafe { _mm512_storeu_ps(o.as_mut_ptr(), *a) };
            }
        }
    }

    /// The sums with two AVX2 registers per block of sixteen outputs and row.
    ///
    /// # Safety
    /// The processor must have AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(unsafe_code)]
    unsafe fn sums_avx2<const R: usize>(&self, x: &[f32], xs: usize, out: &mut [f32], os: usize) {
        use std::arch::x86_64::*;
        const HALF: usize = BLOCK / 2;
        for (blk, (ws, b)) in self.wt.chunks_exact(self.inputs).zip(&self.b).enumerate() {
            // SAFETY (every load and store here): each reads or writes eight values inside a
            // `[f32; 16]` or a slice just cut to 16 values.
            let bias = unsafe { [_mm256_loadu_ps(b.as_ptr()), _mm256_loadu_ps(b.as_ptr().add(HALF))] };
            let mut acc = [bias; R];
            for (i, w) in ws.iter().enumerate() {
                let w = unsafe { [_mm256_loadu_ps(w.as_ptr()), _mm256_loadu_ps(w.as_ptr().add(HALF))] };
                for (r, a) in acc.iter_mut().enumerate() {
                    let xi = _mm256_set1_ps(x[r * xs + i]);
                    a[0] = _mm256_fmadd_ps(xi, w[0], a[0]);
                    a[1] = _mm256_fmadd_ps(xi, w[1], a[1]);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                let o = &mut out[r * os + blk * BLOCK..][..BLOCK];
                unsafe {
                    _mm256_storeu_ps(o.as_mut_ptr(), a[0]);
                    _mm256_storeu_ps(o.as_mut_ptr().add(HALF), a[1]);
                }
            }
        }
    }
}

/// [`Kernel`]s as numbers, for const generics.
const AVX512: u8 = Kernel::Avx512 as u8;
const AVX2: u8 = Kernel::Avx2 as u8;

/// e^y for |y| ≤ 18, to about one part in 10⁷: y = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its
/// Taylor series to r⁷, 2ⁿ built in the exponent bits. No branches, no calls: it vectorizes.
#[inline(always)]
fn exp_small(y: f32) -> f32 {
    // Adding 1.5·2²³ rounds to an integer, which lands in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let t = y * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    let k = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    p * f32::from_bits(((k + 127) as u32) << 23)
}

/// tanh x = (e²ˣ − 1)/(e²ˣ + 1), within 2·10⁻⁷ of the exact value; ±1 beyond |x| = 9, where f32
/// cannot tell them apart.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = exp_small(2.0 * x.clamp(-9.0, 9.0));
    (e - 1.0) / (e + 1.0)
}

/// The four layers: dim → hidden → code → hidden → dim, tanh between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Compiled {
    layers: Vec<Dense>,
}

/// A way of running the compiled network, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Kernel {
    Avx512,
    Avx2,
}

impl Kernel {
    pub(super) const ALL: [Kernel; 2] = [Kernel::Avx512, Kernel::Avx2];

    /// Whether this processor can run it (checked at run time).
    fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
        }
    }

    /// The ones this processor can run, fastest first.
    pub(super) fn available_all() -> Vec<Kernel> {
        Self::ALL.into_iter().filter(|k| k.available()).collect()
    }

    /// The fastest one this processor can run, if any (detected once).
    pub(super) fn best() -> Option<Kernel> {
        static BEST: std::sync::OnceLock<Option<Kernel>> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Self::available_all().first().copied())
    }
}

impl Compiled {
    /// From Candle's layers in order, each `(weight outputs × inputs, bias, inputs, outputs)`.
    pub(super) fn new(layers: &[(Vec<f32>, Vec<f32>, usize, usize)]) -> Self {
        Self {
            layers: layers.iter().map(|(w, b, i, o)| Dense::new(w, b, *i, *o)).collect(),
        }
    }

    fn dim(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }

    /// Squared reconstruction errors of rows of `dim` values: per element if `per_element`
    /// (same layout as the rows), else the mean of each row. A last partial row is left out.
    /// Nothing is written if this processor cannot run `kernel`.
    pub(super) fn errors(&self, kernel: Kernel, data: &[f32], per_element: bool, out: &mut Vec<f32>) {
        out.clear();
        if !kernel.available() {
            return;
        }
        let dim = self.dim();
        if dim == 0 || self.layers.last().is_none_or(|l| l.outputs != dim) {
            return;
        }
        let rows = data.len() / dim;
        out.reserve(if per_element { rows * dim } else { rows });
        match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the processor has the kernel's features (checked above).
            #[allow(unsafe_code)]
            Kernel::Avx512 => unsafe { self.errors_avx512(data, per_element, out) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            Kernel::Avx2 => unsafe { self.errors_avx2(data, per_element, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => {}
        }
    }

    /// # Safety
    /// The processor must have AVX-512F and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    #[allow(unsafe_code)]
    unsafe fn errors_avx512(&self, data: &[f32], per_element: bool, out: &mut Vec<f32>) {
        self.errors_with::<AVX512>(data, per_element, out)
    }

    /// # Safety
    /// The processor must have AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(unsafe_code)]
    unsafe fn errors_avx2(&self, data: &[f32], per_element: bool, out: &mut Vec<f32>) {
        self.errors_with::<AVX2>(data, per_element, out)
    }

    /// The kernels' one body, inlined into each so it is compiled for that kernel's features:
    /// rows [`GROUP`] at a time, the rest one by one.
    #[inline(always)]
    fn errors_with<const K: u8>(&self, data: &[f32], per_element: bool, out: &mut Vec<f32>) {
        let dim = self.dim();
        let widest = self.layers.iter().map(|l| l.width).max().unwrap_or(0);
        let mut buf = Buffers {
            a: vec![0.0; GROUP * widest],
            b: vec![0.0; GROUP * widest],
            sq: vec![0.0; dim],
            stride: widest,
        };
        let mut groups = data.chunks_exact(GROUP * dim);
        for rows in &mut groups {
            self.rows::<K, GROUP>(rows, &mut buf, per_element, out);
        }
        for row in groups.remainder().chunks_exact(dim) {
            self.rows::<K, 1>(row, &mut buf, per_element, out);
        }
    }

    /// `R` rows through every layer, then their squared errors.
    #[inline(always)]
    fn rows<const K: u8, const R: usize>(
        &self,
        rows: &[f32],
        buf: &mut Buffers,
        per_element: bool,
        out: &mut Vec<f32>,
    ) {
        let (dim, s) = (self.dim(), buf.stride);
        let last = self.layers.len() - 1;
        self.layers[0].apply::<K, R>(rows, dim, &mut buf.a, s, last > 0);
        for (i, layer) in self.layers.iter().enumerate().skip(1) {
            layer.apply::<K, R>(&buf.a, s, &mut buf.b, s, i < last);
            std::mem::swap(&mut buf.a, &mut buf.b);
        }
        for (r, row) in rows.chunks_exact(dim).enumerate() {
            let rec = &buf.a[r * s..][..dim];
            for (d, (y, x)) in buf.sq.iter_mut().zip(rec.iter().zip(row)) {
                *d = (y - x) * (y - x);
            }
            if per_element {
                out.extend_from_slice(&buf.sq);
            } else {
                out.push(sum(&buf.sq) / dim as f32);
            }
        }
    }
}

/// Activations of a group of rows (row `r` at `r·stride`), and one row's squared errors.
struct Buffers {
    a: Vec<f32>,
    b: Vec<f32>,
    sq: Vec<f32>,
    stride: usize,
}

/// Sum in eight interleaved partial sums (a single running sum is one long chain of dependent
/// additions, which the compiler may not reorder).
#[inline(always)]
fn sum(v: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut blocks = v.chunks_exact(8);
    for b in &mut blocks {
        for (l, x) in lanes.iter_mut().zip(b) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + blocks.remainder().iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_is_within_two_parts_in_ten_million() {
        let mut worst = 0.0f64;
        for i in -20_000..=20_000 {
            let x = i as f32 * 1e-3;
            worst = worst.max((tanh(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst < 2e-7, "worst {worst:e}");
        assert_eq!(tanh(50.0), 1.0);
        assert_eq!(tanh(-50.0), -1.0);
        assert!(tanh(f32::NAN).is_nan());
    }

    #[test]
    fn a_layer_pads_and_transposes() {
        // 2 inputs → 3 outputs: weight rows are outputs.
        let d = Dense::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[0.5, -0.5, 0.0], 2, 3);
        assert_eq!(d.width, BLOCK);
        assert_eq!(d.wt.len(), 2);
        assert_eq!(&d.wt[0][..4], &[1.0, 3.0, 5.0, 0.0]);
        assert_eq!(&d.wt[1][..4], &[2.0, 4.0, 6.0, 0.0]);
        assert_eq!(&d.b[0][..4], &[0.5, -0.5, 0.0, 0.0]);
        // One layer 2 → 2, no tanh after the last layer: errors of (Wx + b − x)², by each kernel
        // this processor has, for a group of four rows and one row left over.
        let net = Compiled::new(&[(vec![1.0, 2.0, 3.0, 4.0], vec![0.5, -0.5], 2, 2)]);
        let rows = [1.0, 10.0, 0.0, 0.0, 1.0, 1.0, -1.0, 2.0, 2.0, -2.0];
        let want: Vec<f32> = rows
            .chunks_exact(2)
            .flat_map(|x| {
                let y: [f32; 2] = [x[0] + 2.0 * x[1] + 0.5, 3.0 * x[0] + 4.0 * x[1] - 0.5];
                [(y[0] - x[0]).powi(2), (y[1] - x[1]).powi(2)]
            })
            .collect();
        for k in Kernel::available_all() {
            let mut got = Vec::new();
            net.errors(k, &rows, true, &mut got);
            assert_eq!(got, want, "{}", k.name());
            net.errors(k, &rows, false, &mut got);
            assert_eq!(
                got,
                want.chunks_exact(2).map(|e| (e[0] + e[1]) / 2.0).collect::<Vec<_>>()
            );
        }
    }
}
