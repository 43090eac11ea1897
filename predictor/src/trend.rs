//! Least-squares line fit with prediction intervals.

/// A fitted line `y = intercept + slope·x` with its residual spread.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    /// Slope per unit x.
    pub slope: f64,
    /// Value at x = 0.
    pub intercept: f64,
    sigma: f64,
    n: f64,
    mean_x: f64,
    sxx: f64,
}

/// Standard normal cumulative distribution (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

impl Fit {
    /// Fit points `(x, y)`; `None` with fewer than 3 points or no spread in x.
    pub fn new(pts: &[(f64, f64)]) -> Option<Self> {
        let n = pts.len() as f64;
        if pts.len() < 3 {
            return None;
        }
        let mean_x = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let sxy: f64 = pts.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        let slope = sxy / sxx;
        let intercept = mean_y - slope * mean_x;
        let sse: f64 = pts.iter().map(|p| (p.1 - intercept - slope * p.0).powi(2)).sum();
        let sigma = (sse / (n - 2.0)).sqrt();
        Some(Self {
            slope,
            intercept,
            sigma,
            n,
            mean_x,
            sxx,
        })
    }

    /// Fitted value at x.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// Standard error of a new observation predicted at x.
    pub fn prediction_se(&self, x: f64) -> f64 {
        self.sigma * (1.0 + 1.0 / self.n + (x - self.mean_x).powi(2) / self.sxx).sqrt()
    }

    /// Probability that the value at x is at or above `threshold`.
    pub fn exceed_probability(&self, x: f64, threshold: f64) -> f64 {
        let se = self.prediction_se(x).max(1e-12);
        normal_cdf((self.at(x) - threshold) / se)
    }

    /// x > 0 where the fitted line reaches `threshold`, if it rises toward it.
    pub fn crossing_after(&self, threshold: f64) -> Option<f64> {
        if self.slope <= 0.0 {
            return None;
        }
        let x = (threshold - self.intercept) / self.slope;
        (x > 0.0).then_some(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }

    #[test]
    fn exact_line() {
        let f = Fit::new(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).expect("fit");
        assert!((f.slope - 2.0).abs() < 1e-12 && (f.intercept - 1.0).abs() < 1e-12);
        assert_eq!(f.crossing_after(11.0), Some(5.0));
    }
}
