//! An isolation forest: random axis-aligned splits isolate unusual vectors in fewer steps than
//! usual ones. The trees are stored flat (one array per field), so scoring is a tight loop and the
//! forest is a handful of tensors in a checkpoint.

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

/// A trained forest.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    /// Vector length.
    pub dim: usize,
    /// Points each tree was grown on.
    pub sample: usize,
    /// Index of each tree's root in the node arrays.
    pub roots: Vec<u32>,
    /// Split feature of each node (`u32::MAX` for a leaf).
    pub feature: Vec<u32>,
    /// Split value (internal) or path-length adjustment c(size) (leaf).
    pub value: Vec<f32>,
    /// Left child (values below the split).
    pub left: Vec<u32>,
    /// Right child.
    pub right: Vec<u32>,
}

const LEAF: u32 = u32::MAX;

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
            feature: Vec::new(),
            value: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
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
        Some(f)
    }

    fn leaf(&mut self, size: usize) -> u32 {
        self.feature.push(LEAF);
        self.value.push(c(size as f64) as f32);
        self.left.push(LEAF);
        self.right.push(LEAF);
        (self.feature.len() - 1) as u32
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
        let mut m = 0;
        for i in 0..pts.len() {
            if data[pts[i] * self.dim + k] < split {
                pts.swap(i, m);
                m += 1;
            }
        }
        let node = self.feature.len();
        self.feature.push(k as u32);
        self.value.push(split);
        self.left.push(LEAF);
        self.right.push(LEAF);
        let (l, r) = pts.split_at_mut(m);
        let li = self.grow(data, l, depth + 1, max_depth, rng);
        let ri = self.grow(data, r, depth + 1, max_depth, rng);
        self.left[node] = li;
        self.right[node] = ri;
        node as u32
    }

    /// Mean path length of `x` over the trees.
    pub fn path_length(&self, x: &[f32]) -> f64 {
        let mut total = 0.0f32;
        for &root in &self.roots {
            let mut n = root as usize;
            let mut depth = 0.0f32;
            while self.feature[n] != LEAF {
                n = if x[self.feature[n] as usize] < self.value[n] {
                    self.left[n] as usize
                } else {
                    self.right[n] as usize
                };
                depth += 1.0;
            }
            total += depth + self.value[n];
        }
        total as f64 / self.roots.len().max(1) as f64
    }

    /// Anomaly score 2^(−E[h]/c(ψ)) in (0, 1]: about 0.5 for ordinary points, near 1 for isolated ones.
    pub fn score(&self, x: &[f32]) -> f64 {
        (2.0f64).powf(-self.path_length(x) / c(self.sample as f64))
    }

    /// Scores of many rows of length `dim`.
    pub fn score_batch(&self, data: &[f32], out: &mut Vec<f64>) {
        out.clear();
        out.extend(data.chunks_exact(self.dim).map(|x| self.score(x)));
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
        assert_eq!(out, vec![inlier, outlier]);
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
