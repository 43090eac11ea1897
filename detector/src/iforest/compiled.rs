//! The isolation forest compiled for scoring: complete trees in heap order with packed splits,
//! and the kernels that walk them — AVX-512 (sixteen rows at a time) and AVX2 (eight) where the
//! processor has them, eight rows in lockstep elsewhere. These kernels are the one place the
//! workspace allows `unsafe`: the gathers take raw pointers.

use super::{IsolationForest, LEAF};

/// Whether `x` goes to the right of a split at `v`: not below it (a NaN goes right, as in
/// [`IsolationForest::path`]).
#[inline]
pub(super) fn goes_right(x: f32, v: f32) -> bool {
    !matches!(x.partial_cmp(&v), Some(std::cmp::Ordering::Less))
}

/// A way of walking the compiled trees, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kernel {
    /// Sixteen rows at a time with AVX-512 gathers and permutes.
    Avx512,
    /// Eight rows at a time with AVX2 gathers and permutes.
    Avx2,
    /// Eight rows in lockstep, portable.
    Lockstep,
}

impl Kernel {
    pub(super) const ALL: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2, Kernel::Lockstep];

    /// Whether this processor can run it (checked at run time).
    pub(super) fn available(self) -> bool {
        match self {
            Kernel::Lockstep => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest one this processor can run.
    pub(super) fn best() -> Self {
        Self::ALL
            .into_iter()
            .find(|k| k.available())
            .unwrap_or(Kernel::Lockstep)
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
            Kernel::Lockstep => "lockstep",
        }
    }

    /// Rows it takes at a time.
    fn lanes(self) -> usize {
        match self {
            Kernel::Avx512 => 16,
            Kernel::Avx2 | Kernel::Lockstep => 8,
        }
    }
}

/// Rows of `dim` values in blocks of `width` rows, each block transposed (feature-major: feature
/// f of the block's row l at width·f + l), so that where all the block's rows need the same
/// feature, as at a tree's root, one load fetches it. A last partial block is left out.
fn transposed(data: &[f32], dim: usize, width: usize) -> Vec<f32> {
    let mut cols = vec![0.0f32; data.len()];
    for (rows, out) in data.chunks_exact(width * dim).zip(cols.chunks_exact_mut(width * dim)) {
        for (l, row) in rows.chunks_exact(dim).enumerate() {
            for (f, v) in row.iter().enumerate() {
                out[width * f + l] = *v;
            }
        }
    }
    cols
}

/// Deepest trees compiled for scoring: 2^12 leaves, 16 KiB of leaves per tree.
const HEAP_MAX_DEPTH: usize = 12;

/// Low mantissa bits that hold a split's feature for vectors of length `dim`; `None` above 256
/// features (more bits would coarsen the split values noticeably).
pub(super) fn feature_bits(dim: usize) -> Option<u32> {
    (dim <= 256).then(|| dim.max(1).next_power_of_two().trailing_zeros())
}

/// `value` with its lowest `bits` mantissa bits replaced by `feature`: a split value moved by at
/// most 2^(bits−23) of itself (3·10⁻⁵ for 256 features), which for a split drawn uniformly
/// inside a range is as good a split, and which carries its feature along.
pub(super) fn pack(value: f32, feature: u32, bits: u32) -> f32 {
    let mask = (1u32 << bits) - 1;
    f32::from_bits((value.to_bits() & !mask) | (feature & mask))
}

/// The trees compiled for scoring: each a complete binary tree of the forest's depth in heap
/// order (node `i`'s children are `2i+1` and `2i+2`), its splits packed into one 32-bit word (the
/// split value with the feature in its lowest mantissa bits, see [`pack`]) and the path length
/// of every leaf position precomputed. A leaf above the full depth is spread over the positions
/// below it, so every row takes exactly `depth` steps: `i ← 2i + 1 + (x[f] ≥ v)`, no branches,
/// no test for leaves. 100 trees of depth 8 take 200 KiB.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Heap {
    trees: usize,
    depth: usize,
    /// Splits per tree, 2^depth − 1.
    inner: usize,
    bits: u32,
    /// `inner` packed splits per tree.
    splits: Vec<u32>,
    /// `inner + 1` path lengths (depth plus c(size)) per tree.
    leaves: Vec<f32>,
}

impl Heap {
    pub(super) fn compile(f: &IsolationForest) -> Option<Self> {
        let bits = feature_bits(f.dim)?;
        if f.depth > HEAP_MAX_DEPTH {
            return None;
        }
        let inner = (1usize << f.depth) - 1;
        let mut h = Self {
            trees: f.roots.len(),
            depth: f.depth,
            inner,
            bits,
            splits: vec![0; inner * f.roots.len()],
            leaves: vec![0.0; (inner + 1) * f.roots.len()],
        };
        for (t, root) in f.roots.iter().enumerate() {
            // (node, heap position, depth)
            let mut stack = vec![(*root, 0usize, 0usize)];
            while let Some((n, pos, d)) = stack.pop() {
                let node = f.nodes[n as usize];
                if node.feature == LEAF {
                    let span = 1usize << (f.depth - d);
                    let first = (pos + 1) * span - 1 - inner;
                    let at = t * (inner + 1) + first;
                    h.leaves[at..at + span].fill(d as f32 + node.value);
                } else {
                    h.splits[t * inner + pos] = pack(node.value, node.feature, bits).to_bits();
                    stack.push((node.left, 2 * pos + 1, d + 1));
                    stack.push((node.right, 2 * pos + 2, d + 1));
                }
            }
        }
        Some(h)
    }

    /// Path length of `x` in tree `t`.
    #[inline]
    pub(super) fn path(&self, t: usize, x: &[f32]) -> f32 {
        let splits = &self.splits[t * self.inner..(t + 1) * self.inner];
        let mask = (1u32 << self.bits) - 1;
        let mut i = 0usize;
        for _ in 0..self.depth {
            let s = splits[i];
            let right = goes_right(x[(s & mask) as usize], f32::from_bits(s));
            i = 2 * i + 1 + usize::from(right);
        }
        self.leaves[t * (self.inner + 1) + i - self.inner]
    }

    /// Adds each row's path length over all trees to `total` (one entry per row of `data`) with
    /// `kernel` (the lockstep one if this processor cannot run it). The vector kernels take whole
    /// blocks of their width; the rows left over go in lockstep.
    pub(super) fn sum_paths_with(&self, kernel: Kernel, data: &[f32], dim: usize, total: &mut [f32]) {
        let kernel = if kernel.available() { kernel } else { Kernel::Lockstep };
        let whole = total.len() / kernel.lanes() * kernel.lanes();
        let (head, rest) = (&data[..whole * dim], &data[whole * dim..]);
        let (sums, rest_sums) = total.split_at_mut(whole);
        match kernel {
            Kernel::Lockstep => return self.sum_paths_lockstep(data, dim, total),
            // SAFETY (both): the processor has the kernel's instructions (checked above); `head`
            // is `whole` complete rows of `dim` values, `whole` a multiple of the kernel's width,
            // and every split's feature is below `dim` (checked when the forest was built).
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            Kernel::Avx512 => unsafe { self.sum_paths_avx512(head, dim, sums) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            Kernel::Avx2 => unsafe { self.sum_paths_avx2(head, dim, sums) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => {
                let _ = (head, sums);
                unreachable!("no vector kernel is available off x86-64")
            }
        }
        self.sum_paths_lockstep(rest, dim, rest_sums);
    }

    /// Eight rows at a time, in lockstep.
    fn sum_paths_lockstep(&self, data: &[f32], dim: usize, total: &mut [f32]) {
        const LANES: usize = 8;
        let mask = (1u32 << self.bits) - 1;
        for t in 0..self.trees {
            let splits = &self.splits[t * self.inner..(t + 1) * self.inner];
            let leaves = &self.leaves[t * (self.inner + 1)..(t + 1) * (self.inner + 1)];
            for (block, sums) in data.chunks(LANES * dim).zip(total.chunks_mut(LANES)) {
                let lanes = sums.len();
                let mut cur = [0usize; LANES];
                for _ in 0..self.depth {
                    for (l, i) in cur.iter_mut().enumerate().take(lanes) {
                        let s = splits[*i];
                        let right = goes_right(block[l * dim + (s & mask) as usize], f32::from_bits(s));
                        *i = 2 * *i + 1 + usize::from(right);
                    }
                }
                for (sum, i) in sums.iter_mut().zip(cur) {
                    *sum += leaves[i - self.inner];
                }
            }
        }
    }

    /// Sixteen rows at a time. A row's split at each of the top eight levels is looked up in
    /// registers with permutes; its value at the split's feature is loaded at the top three levels
    /// (seven splits, so at most seven features, for all sixteen rows: loads and blends) and
    /// gathered below them.
    ///
    /// # Safety
    /// The processor must have AVX-512F; `data` must hold `total.len()` rows of `dim` values,
    /// `total.len()` a multiple of 16, and every packed feature must be below `dim`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    unsafe fn sum_paths_avx512(&self, data: &[f32], dim: usize, total: &mut [f32]) {
        use std::arch::x86_64::*;
        debug_assert!(total.len().is_multiple_of(16) && data.len() >= total.len() * dim);
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let cols = transposed(data, dim, 16);
        let data = &cols[..];
        let mask = _mm512_set1_epi32(((1u32 << self.bits) - 1) as i32);
        let one = _mm512_set1_epi32(1);
        let inner = _mm512_set1_epi32(self.inner as i32);
        // Sixteen groups of sixteen rows go down a tree together, so that one group's gathers
        // overlap another's. On 100 trees of depth 8 and 1 024 rows, two, four, eight and
        // sixteen groups gave medians of 1.81, 2.76, 2.87 and 3.17 million vectors/s over seven
        // alternating runs on a 2-core Xeon (on another host, earlier: 2.4, 3.6 and 3.2 million
        // vectors/s with two, four and eight groups).
        const WAYS: usize = 16;
        let group = 16 * WAYS;
        let whole = total.len() / group * group;
        for t in 0..self.trees {
            let splits = self.splits.as_ptr().wrapping_add(t * self.inner) as *const i32;
            let leaves = self.leaves.as_ptr().wrapping_add(t * (self.inner + 1));
            // The top eight levels' 255 splits fit sixteen registers: permutes, not gathers.
            let mut top = [0u32; 256];
            let n = self.inner.min(255);
            top[..n].copy_from_slice(&self.splits[t * self.inner..t * self.inner + n]);
            let regs: [__m512i; 16] = std::array::from_fn(|r| unsafe {
                _mm512_loadu_si512(top.as_ptr().add(16 * r - usize::from(r > 0)) as *const _)
            });
            let off = [15, 31, 63, 127].map(|o| _mm512_set1_epi32(o));
            let bit5 = _mm512_set1_epi32(32);
            let bit6 = _mm512_set1_epi32(64);
            let pair = |r: usize, rel: __m512i| _mm512_permutex2var_epi32(regs[r], rel, regs[r + 1]);
            // The features of the top three levels' seven splits, as offsets into a block.
            let feat: [usize; 7] = std::array::from_fn(|p| 16 * (top[p] & ((1u32 << self.bits) - 1)) as usize);
            let walk = |b: usize, ways: usize, total: &mut [f32]| {
                // SAFETY (all pointer uses): positions stay below `inner` before the last level
                // and below 2·inner + 1 after it; rows b..b+16·ways are inside `data`.
                unsafe {
                    let mut i = [_mm512_setzero_si512(); WAYS];
                    let mut went = [[0 as __mmask16; 2]; WAYS];
                    for level in 0..self.depth {
                        for (w, i) in i.iter_mut().enumerate().take(ways) {
                            // Levels 0–3 sit in register 0, level 4 in 1, level 5 in 2–3,
                            // level 6 in 4–7 and level 7 in 8–15; deeper levels are gathered.
                            let s = match level {
                                0..=3 => _mm512_permutexvar_epi32(*i, regs[0]),
                                4 => _mm512_permutexvar_epi32(_mm512_sub_epi32(*i, off[0]), regs[1]),
                                5 => pair(2, _mm512_sub_epi32(*i, off[1])),
                                6 => {
                                    let rel = _mm512_sub_epi32(*i, off[2]);
                                    let hi = _mm512_test_epi32_mask(rel, bit5);
                                    _mm512_mask_blend_epi32(hi, pair(4, rel), pair(6, rel))
                                }
                                7 => {
                                    let rel = _mm512_sub_epi32(*i, off[3]);
                                    let hi5 = _mm512_test_epi32_mask(rel, bit5);
                                    let hi6 = _mm512_test_epi32_mask(rel, bit6);
                                    let lo = _mm512_mask_blend_epi32(hi5, pair(8, rel), pair(10, rel));
                                    let hi = _mm512_mask_blend_epi32(hi5, pair(12, rel), pair(14, rel));
                                    _mm512_mask_blend_epi32(hi6, lo, hi)
                                }
                                _ => _mm512_i32gather_epi32::<4>(*i, splits),
                            };
                            let block = data.as_ptr().add((b + 16 * w) * dim);
                            let at = |p: usize| _mm512_loadu_ps(block.add(feat[p]));
                            let k = went[w];
                            let x = match level {
                                0 => at(0),
                                1 => _mm512_mask_blend_ps(k[0], at(1), at(2)),
                                2 => _mm512_mask_blend_ps(
                                    k[0],
                                    _mm512_mask_blend_ps(k[1], at(3), at(4)),
                                    _mm512_mask_blend_ps(k[1], at(5), at(6)),
                                ),
                                _ => _mm512_i32gather_ps::<4>(
                                    _mm512_add_epi32(lane, _mm512_slli_epi32::<4>(_mm512_and_si512(s, mask))),
                                    block,
                                ),
                            };
                            let right = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, _mm512_castsi512_ps(s));
                            if level < 2 {
                                went[w][level] = right;
                            }
                            let next = _mm512_add_epi32(_mm512_add_epi32(*i, *i), one);
                            *i = _mm512_mask_add_epi32(next, right, next, one);
                        }
                    }
                    for (w, i) in i.iter().enumerate().take(ways) {
                        let leaf = _mm512_i32gather_ps::<4>(_mm512_sub_epi32(*i, inner), leaves);
                        let sum = total.as_mut_ptr().add(b + 16 * w);
                        _mm512_storeu_ps(sum, _mm512_add_ps(_mm512_loadu_ps(sum), leaf));
                    }
                }
            };
            for b in (0..whole).step_by(group) {
                walk(b, WAYS, total);
            }
            if whole < total.len() {
                walk(whole, (total.len() - whole) / 16, total);
            }
        }
    }
    /// Eight rows at a time with AVX2, as [`Heap::sum_paths_avx512`] does sixteen: the top four
    /// levels' fifteen splits are looked up in two registers with permutes, the rows' values at
    /// the top three levels are loaded from transposed blocks, the rest is gathered.
    ///
    /// # Safety
    /// The processor must have AVX2; `data` must hold `total.len()` rows of `dim` values,
    /// `total.len()` a multiple of 8, and every packed feature must be below `dim`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn sum_paths_avx2(&self, data: &[f32], dim: usize, total: &mut [f32]) {
        use std::arch::x86_64::*;
        debug_assert!(total.len().is_multiple_of(8) && data.len() >= total.len() * dim);
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let cols = transposed(data, dim, 8);
        let data = &cols[..];
        let mask = _mm256_set1_epi32(((1u32 << self.bits) - 1) as i32);
        let one = _mm256_set1_epi32(1);
        let seven = _mm256_set1_epi32(7);
        let inner = _mm256_set1_epi32(self.inner as i32);
        // Sixteen blocks of eight rows in flight, so that the gathers of one overlap another's
        // (on a 2-core Xeon, 1 024 rows, 100 trees of depth 8, medians of seven alternating
        // runs: 1.09, 1.33 and 1.50 million vectors/s with four, eight and sixteen blocks).
        // Looking up levels 4 to 6's splits with permutes instead of gathers, or loading the
        // rows' values at level 3, was not clearly faster there (within the host's noise).
        const WAYS: usize = 16;
        let group = 8 * WAYS;
        let whole = total.len() / group * group;
        for t in 0..self.trees {
            let splits = self.splits.as_ptr().wrapping_add(t * self.inner) as *const i32;
            let leaves = self.leaves.as_ptr().wrapping_add(t * (self.inner + 1));
            let mut top = [0u32; 16];
            let n = self.inner.min(15);
            top[..n].copy_from_slice(&self.splits[t * self.inner..t * self.inner + n]);
            // Levels 0–2 (positions 0–6) in register 0, level 3 (positions 7–14) in register 1.
            // SAFETY: both loads read eight of `top`'s sixteen words.
            let regs: [__m256i; 2] =
                [0, 7].map(|o| unsafe { _mm256_loadu_si256(top.as_ptr().add(o) as *const __m256i) });
            let feat: [usize; 7] = std::array::from_fn(|p| 8 * (top[p] & ((1u32 << self.bits) - 1)) as usize);
            let walk = |b: usize, ways: usize, total: &mut [f32]| {
                // SAFETY (all pointer uses): positions stay below `inner` before the last level
                // and below 2·inner + 1 after it; rows b..b+8·ways are inside `data`; a
                // feature's eight values 8·f..8·f+8 are inside its block.
                unsafe {
                    let mut i = [_mm256_setzero_si256(); WAYS];
                    let mut went = [[_mm256_setzero_ps(); 2]; WAYS];
                    for level in 0..self.depth {
                        for (w, i) in i.iter_mut().enumerate().take(ways) {
                            let s = match level {
                                0..=2 => _mm256_permutevar8x32_epi32(regs[0], *i),
                                3 => _mm256_permutevar8x32_epi32(regs[1], _mm256_sub_epi32(*i, seven)),
                                _ => _mm256_i32gather_epi32::<4>(splits, *i),
                            };
                            let block = data.as_ptr().add((b + 8 * w) * dim);
                            let at = |p: usize| _mm256_loadu_ps(block.add(feat[p]));
                            let k = went[w];
                            let x = match level {
                                0 => at(0),
                                1 => _mm256_blendv_ps(at(1), at(2), k[0]),
                                2 => _mm256_blendv_ps(
                                    _mm256_blendv_ps(at(3), at(4), k[1]),
                                    _mm256_blendv_ps(at(5), at(6), k[1]),
                                    k[0],
                                ),
                                _ => _mm256_i32gather_ps::<4>(
                                    block,
                                    _mm256_add_epi32(lane, _mm256_slli_epi32::<3>(_mm256_and_si256(s, mask))),
                                ),
                            };
                            // All ones where the row goes right: i ← 2i + 1 − (−1).
                            let right = _mm256_cmp_ps::<_CMP_NLT_UQ>(x, _mm256_castsi256_ps(s));
                            if level < 2 {
                                went[w][level] = right;
                            }
                            let next = _mm256_add_epi32(_mm256_add_epi32(*i, *i), one);
                            *i = _mm256_sub_epi32(next, _mm256_castps_si256(right));
                        }
                    }
                    for (w, i) in i.iter().enumerate().take(ways) {
                        let leaf = _mm256_i32gather_ps::<4>(leaves, _mm256_sub_epi32(*i, inner));
                        let sum = total.as_mut_ptr().add(b + 8 * w);
                        _mm256_storeu_ps(sum, _mm256_add_ps(_mm256_loadu_ps(sum), leaf));
                    }
                }
            };
            for b in (0..whole).step_by(group) {
                walk(b, WAYS, total);
            }
            if whole < total.len() {
                walk(whole, (total.len() - whole) / 8, total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iforest::Rng;

    #[test]
    fn every_scoring_path_agrees_with_the_node_walk() {
        let mut rng = Rng::new(3);
        // Depths 1, 4, 6, 8, 8 and 10, and one forest too deep to compile (13).
        for (sample, dim, trees) in [
            (2, 3, 7),
            (16, 5, 9),
            (64, 47, 20),
            (200, 47, 30),
            (256, 8, 25),
            (1024, 47, 6),
            (8192, 2, 3),
        ] {
            let data: Vec<f32> = (0..sample * dim).map(|_| (rng.unit() - 0.5) as f32).collect();
            let f = IsolationForest::fit(&data, dim, trees, sample, 11).expect("fit");
            for rows in [5usize, 77, 100, 256] {
                let mut x: Vec<f32> = (0..rows * dim).map(|_| (rng.unit() - 0.5) as f32 * 1.5).collect();
                x[0] = f32::NAN;
                x[dim] = f32::INFINITY;
                x[2 * dim + dim - 1] = f32::NEG_INFINITY;
                let mut nodes = vec![0.0f32; rows];
                f.sum_paths_nodes(&x, dim, &mut nodes);
                // Every kernel the processor can run, by name, scores as the default one does.
                let (mut default, mut named) = (Vec::new(), Vec::new());
                f.score_batch(&x, &mut default);
                assert_eq!(f.kernels()[0], f.kernel());
                for k in f.kernels() {
                    f.score_batch_named(k, &x, &mut named);
                    assert_eq!(default, named, "{k}");
                }
                let Some(h) = f.heap.as_ref() else {
                    assert!(f.depth > HEAP_MAX_DEPTH, "depth {} not compiled", f.depth);
                    assert_eq!(f.kernel(), "nodes");
                    continue;
                };
                assert_eq!(h.depth, f.depth);
                assert_ne!(f.kernel(), "nodes");
                // Eight rows in lockstep, and the fastest path this processor has (sixteen rows
                // with AVX-512 where present), add exactly what the node walk adds.
                let mut lockstep = vec![0.0f32; rows];
                h.sum_paths_lockstep(&x, dim, &mut lockstep);
                assert_eq!(nodes, lockstep, "sample {sample}, dim {dim}, rows {rows}");
                for kernel in Kernel::ALL.into_iter().filter(|k| k.available()) {
                    let mut fast = vec![0.0f32; rows];
                    h.sum_paths_with(kernel, &x, dim, &mut fast);
                    assert_eq!(nodes, fast, "{kernel:?}: sample {sample}, dim {dim}, rows {rows}");
                }
                for (k, row) in x.chunks_exact(dim).enumerate() {
                    let one: f32 = (0..trees).map(|t| h.path(t, row)).sum();
                    assert_eq!(one, nodes[k]);
                }
            }
        }
    }

    #[test]
    fn packing_keeps_the_feature_and_nearly_the_value() {
        for (v, k, bits) in [(0.3f32, 46u32, 6u32), (-12.5, 3, 6), (1e-3, 255, 8), (7.0, 0, 0)] {
            let p = pack(v, k, bits);
            assert_eq!(p.to_bits() & ((1 << bits) - 1), k);
            assert!(((p - v) / v).abs() <= 2f32.powi(bits as i32 - 23), "{v} → {p}");
        }
        assert_eq!(feature_bits(47), Some(6));
        assert_eq!(feature_bits(1), Some(0));
        assert_eq!(feature_bits(257), None);
    }
}
