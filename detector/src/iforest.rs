//! An isolation forest: random axis-aligned splits isolate unusual vectors in fewer steps than
//! usual ones. The trees are stored flat (one array per field), so the forest is a handful of
//! tensors in a checkpoint, and compiled for scoring into complete trees in heap order whose
//! walk has no branches: sixteen rows at a time with AVX-512 gathers and permutes, or eight with
//! AVX2, where the processor has them (the one place the workspace allows `unsafe`), eight in
//! lockstep elsewhere.

mod compiled;

use compiled::{Heap, Kernel, feature_bits, pack};

/// Deterministic xorshift generator (the forest must be reproducible from its seed).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points.
pub fn c(n: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        2.0 * ((n - 1.0).ln() + 0.577_215_664_9) - 2.0 * (n - 1.0) / n
    }
}

/// One node: a split (feature, value, children) or a leaf (`feature == LEAF`, value = c(size)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// Split feature, or `LEAF`.
    pub feature: u32,
    /// Split value (internal) or path-length adjustment c(size) (leaf).
    pub value: f32,
    /// Left child (values below the split).
    pub left: u32,
    /// Right child.
    pub right: u32,
}

/// A trained forest. The nodes of all trees sit in one array, 16 bytes each, each tree's in
/// depth-first order; a tree of 256 points fits in the L1 cache, and batch scoring walks one tree
/// over the whole batch before the next.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    /// Vector length.
    pub dim: usize,
    /// Points each tree was grown on.
    pub sample: usize,
    /// Index of each tree's root in `nodes`.
    pub roots: Vec<u32>,
    /// All nodes. A leaf's children are the leaf itself.
    pub nodes: Vec<Node>,
    /// Depth of the deepest leaf.
    pub depth: usize,
    /// The trees compiled for scoring (see [`Heap`]); `None` only for forests too deep or too wide
    /// for it, which are walked node by node.
    heap: Option<Heap>,
}

/// The split feature of a leaf.
pub const LEAF: u32 = u32::MAX;

impl IsolationForest {
    /// Grow `trees` trees on `data` (rows of length `dim`), each on `sample` rows drawn without
    /// replacement, to depth ⌈log2 sample⌉.
    pub fn fit(data: &[f32], dim: usize, trees: usize, sample: usize, seed: u64) -> Option<Self> {
        if dim == 0 || data.len() < dim * 2 || !data.len().is_multiple_of(dim) {
            return None;
        }
        let rows = data.len() / dim;
        let sample = sample.min(rows).max(2);
        let max_depth = (sample as f64).log2().ceil() as usize;
        let mut f = Self {
            dim,
            sample,
            roots: Vec::with_capacity(trees),
            nodes: Vec::new(),
            depth: 0,
            heap: None,
        };
        let mut rng = Rng::new(seed);
        let mut idx: Vec<usize> = (0..rows).collect();
        for _ in 0..trees {
            // Partial Fisher–Yates: the first `sample` indices are the tree's points.
            for i in 0..sample {
                let j = i + rng.below(rows - i);
                idx.swap(i, j);
            }
            let mut pts: Vec<usize> = idx[..sample].to_vec();
            let root = f.grow(data, &mut pts, 0, max_depth, &mut rng);
            f.roots.push(root);
        }
        f.depth = f.max_depth();
        f.heap = Heap::compile(&f);
        Some(f)
    }

    fn leaf(&mut self, size: usize) -> u32 {
        let me = self.nodes.len() as u32;
        self.nodes.push(Node {
            feature: LEAF,
            value: c(size as f64) as f32,
            left: me,
            right: me,
        });
        me
    }

    fn max_depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack: Vec<(u32, usize)> = self.roots.iter().map(|r| (*r, 0)).collect();
        while let Some((n, d)) = stack.pop() {
            let nd = self.nodes[n as usize];
            if nd.feature == LEAF {
                deepest = deepest.max(d);
            } else {
                stack.push((nd.left, d + 1));
                stack.push((nd.right, d + 1));
            }
        }
        deepest
    }

    fn grow(&mut self, data: &[f32], pts: &mut [usize], depth: usize, max_depth: usize, rng: &mut Rng) -> u32 {
        if pts.len() <= 1 || depth >= max_depth {
            return self.leaf(pts.len());
        }
        // Pick a feature that varies among the points (a few tries), then a split inside its range.
        let mut chosen = None;
        for _ in 0..8 {
            let k = rng.below(self.dim);
            let (lo, hi) = pts.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &p| {
                let v = data[p * self.dim + k];
                (a.min(v), b.max(v))
            });
            if hi > lo {
                chosen = Some((k, lo, hi));
                break;
            }
        }
        let Some((k, lo, hi)) = chosen else {
            return self.leaf(pts.len());
        };
        let split = lo + (hi - lo) * rng.unit() as f32;
        let split = if split <= lo { (lo + hi) * 0.5 } else { split };
        // The split as the compiled trees hold it (the feature in its lowest mantissa bits), so
        // that training partitions the points exactly as scoring will.
        let split = match feature_bits(self.dim) {
            Some(bits) => pack(split, k as u32, bits),
            None => split,
        };
        let mut m = 0;
        for i in 0..pts.len() {
            if data[pts[i] * self.dim + k] < split {
                pts.swap(i, m);
                m += 1;
            }
        }
        let node = self.nodes.len();
        self.nodes.push(Node {
            feature: k as u32,
            value: split,
            left: LEAF,
            right: LEAF,
        });
        let (l, r) = pts.split_at_mut(m);
        let li = self.grow(data, l, depth + 1, max_depth, rng);
        let ri = self.grow(data, r, depth + 1, max_depth, rng);
        self.nodes[node].left = li;
        self.nodes[node].right = ri;
        node as u32
    }

    /// Path length of `x` in the tree rooted at `root`, with the leaf's adjustment.
    #[inline]
    fn path(&self, root: u32, x: &[f32]) -> f32 {
        let mut n = self.nodes[root as usize];
        let mut depth = 0.0f32;
        while n.feature != LEAF {
            let next = if x[n.feature as usize] < n.value {
                n.left
            } else {
                n.right
            };
            n = self.nodes[next as usize];
            depth += 1.0;
        }
        depth + n.value
    }

    /// Mean path length of `x` over the trees.
    pub fn path_length(&self, x: &[f32]) -> f64 {
        let total: f32 = match &self.heap {
            Some(h) => (0..self.roots.len()).map(|t| h.path(t, x)).sum(),
            None => self.roots.iter().map(|r| self.path(*r, x)).sum(),
        };
        total as f64 / self.roots.len().max(1) as f64
    }

    fn to_score(&self, mean_path: f64) -> f64 {
        (2.0f64).powf(-mean_path / c(self.sample as f64))
    }

    /// Anomaly score 2^(−E\[h\]/c(ψ)) in (0, 1]: about 0.5 for ordinary points, near 1 for isolated ones.
    pub fn score(&self, x: &[f32]) -> f64 {
        self.to_score(self.path_length(x))
    }

    /// Scores of many rows of length `dim`, tree by tree over the whole batch, with the fastest
    /// kernel this processor has (see [`IsolationForest::kernel`]).
    pub fn score_batch(&self, data: &[f32], out: &mut Vec<f64>) {
        self.score_batch_with(Kernel::best(), data, out);
    }

    /// The scoring kernels this processor can run, fastest first (for benchmarks).
    pub fn kernels(&self) -> Vec<&'static str> {
        match &self.heap {
            None => vec!["nodes"],
            Some(_) => Kernel::ALL
                .into_iter()
                .filter(|k| k.available())
                .map(Kernel::name)
                .collect(),
        }
    }

    /// [`IsolationForest::score_batch`] with the kernel named (one of
    /// [`IsolationForest::kernels`]; any other name scores with the fastest), for benchmarks.
    pub fn score_batch_named(&self, kernel: &str, data: &[f32], out: &mut Vec<f64>) {
        let k = Kernel::ALL
            .into_iter()
            .find(|k| k.name() == kernel)
            .unwrap_or_else(Kernel::best);
        self.score_batch_with(k, data, out);
    }

    fn score_batch_with(&self, kernel: Kernel, data: &[f32], out: &mut Vec<f64>) {
        let dim = self.dim.max(1);
        let rows = data.len() / dim;
        let data = &data[..rows * dim];
        let mut total = vec![0.0f32; rows];
        match &self.heap {
            Some(h) => h.sum_paths_with(kernel, data, dim, &mut total),
            None => self.sum_paths_nodes(data, dim, &mut total),
        }
        let trees = self.roots.len().max(1) as f64;
        out.clear();
        out.extend(total.iter().map(|t| self.to_score(*t as f64 / trees)));
    }

    /// Which scoring kernel [`IsolationForest::score_batch`] uses on this processor: "avx512"
    /// (sixteen rows at a time), "avx2" (eight, with gathers), "lockstep" (eight, portable) or
    /// "nodes" (a forest too deep or too wide to compile).
    pub fn kernel(&self) -> &'static str {
        match &self.heap {
            None => "nodes",
            Some(_) => Kernel::best().name(),
        }
    }

    /// Sum of path lengths per row, walking the node array: eight rows go down a tree in
    /// lockstep for exactly the tree's depth, without branches (a row at a leaf stays there).
    fn sum_paths_nodes(&self, data: &[f32], dim: usize, total: &mut [f32]) {
        const LANES: usize = 8;
        for &root in &self.roots {
            for (block, sums) in data.chunks(LANES * dim).zip(total.chunks_mut(LANES)) {
                let lanes = sums.len();
                let mut cur = [root; LANES];
                let mut depth = [0u32; LANES];
                for _ in 0..self.depth {
                    for l in 0..lanes {
                        let n = self.nodes[cur[l] as usize];
                        let inner = n.feature != LEAF;
                        let f = if inner { n.feature as usize } else { 0 };
                        cur[l] = if block[l * dim + f] < n.value { n.left } else { n.right };
                        depth[l] += u32::from(inner);
                    }
                }
                for l in 0..lanes {
                    sums[l] += depth[l] as f32 + self.nodes[cur[l] as usize].value;
                }
            }
        }
    }

    /// The nodes as four arrays (feature, value, left, right), for checkpoints.
    pub fn arrays(&self) -> (Vec<u32>, Vec<f32>, Vec<u32>, Vec<u32>) {
        (
            self.nodes.iter().map(|n| n.feature).collect(),
            self.nodes.iter().map(|n| n.value).collect(),
            self.nodes.iter().map(|n| n.left).collect(),
            self.nodes.iter().map(|n| n.right).collect(),
        )
    }

    /// Rebuild from [`IsolationForest::arrays`]; `None` if they do not describe valid trees.
    pub fn from_arrays(
        dim: usize,
        sample: usize,
        roots: Vec<u32>,
        (feature, value, left, right): (Vec<u32>, Vec<f32>, Vec<u32>, Vec<u32>),
    ) -> Option<Self> {
        let n = feature.len();
        if value.len() != n || left.len() != n || right.len() != n {
            return None;
        }
        let nodes: Vec<Node> = (0..n)
            .map(|i| {
                let leaf = feature[i] == LEAF;
                Node {
                    feature: feature[i],
                    value: value[i],
                    left: if leaf { i as u32 } else { left[i] },
                    right: if leaf { i as u32 } else { right[i] },
                }
            })
            .collect();
        let ok_child = |c: u32| (c as usize) < n;
        let valid = roots.iter().all(|r| ok_child(*r))
            && nodes.iter().enumerate().all(|(i, nd)| {
                nd.feature == LEAF
                    || ((nd.feature as usize) < dim
                        && ok_child(nd.left)
                        && ok_child(nd.right)
                        && nd.left as usize > i
                        && nd.right as usize > i)
            });
        if !valid {
            return None;
        }
        let mut f = Self {
            dim,
            sample,
            roots,
            nodes,
            depth: 0,
            heap: None,
        };
        f.depth = f.max_depth();
        f.heap = Heap::compile(&f);
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outliers_score_higher_than_inliers() {
        let mut rng = Rng::new(1);
        let dim = 4;
        let data: Vec<f32> = (0..2000 * dim).map(|_| (rng.unit() - 0.5) as f32).collect();
        let f = IsolationForest::fit(&data, dim, 100, 256, 7).expect("fit");
        let inlier = f.score(&[0.0, 0.0, 0.1, -0.1]);
        // Outside the training range in every feature: on the outer side of every split.
        let outlier = f.score(&[4.0, -4.0, 4.0, 4.0]);
        // Outside in one feature only: as isolated as the most extreme training points there.
        let one = f.score(&[0.0, 0.0, 4.0, 0.0]);
        assert!(inlier < 0.5, "inlier {inlier}");
        assert!(outlier > 0.6, "outlier {outlier}");
        assert!(one > inlier + 0.03, "one-feature outlier {one}, inlier {inlier}");
        let mut out = Vec::new();
        f.score_batch(&[0.0, 0.0, 0.1, -0.1, 4.0, -4.0, 4.0, 4.0], &mut out);
        assert_eq!(out.len(), 2);
        assert!(
            (out[0] - inlier).abs() < 1e-6 && (out[1] - outlier).abs() < 1e-6,
            "{out:?}"
        );
        // Batches of any length agree with row-by-row scoring.
        let rows: Vec<f32> = (0..13 * dim).map(|_| (rng.unit() - 0.5) as f32 * 3.0).collect();
        f.score_batch(&rows, &mut out);
        for (k, x) in rows.chunks_exact(dim).enumerate() {
            assert!((out[k] - f.score(x)).abs() < 1e-6);
        }
        let (fe, va, le, ri) = f.arrays();
        let g = IsolationForest::from_arrays(dim, f.sample, f.roots.clone(), (fe, va, le, ri)).expect("valid");
        assert_eq!(g, f);
    }

    #[test]
    fn the_same_seed_grows_the_same_forest() {
        let mut rng = Rng::new(2);
        let data: Vec<f32> = (0..600).map(|_| rng.unit() as f32).collect();
        assert_eq!(
            IsolationForest::fit(&data, 3, 10, 64, 9),
            IsolationForest::fit(&data, 3, 10, 64, 9)
        );
        assert!(IsolationForest::fit(&data[..3], 3, 10, 64, 9).is_none());
    }

    #[test]
    fn c_matches_its_definition() {
        assert_eq!(c(1.0), 0.0);
        assert_eq!(c(2.0), 1.0);
        // c(256) ≈ 10.24 (2·H(255) − 2·255/256).
        assert!((c(256.0) - 10.24).abs() < 0.01);
    }
}
