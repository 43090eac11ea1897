//! The Numenta Anomaly Benchmark: its data layout and its scoring rules, written from the rules as
//! `../shared/datasets/nab/README.md` states them (probation, scaled sigmoid, cost profiles,
//! normalization against the null and perfect detectors).
//!
//! `homeostat eval nab` scores the published peers with it; running Homeostat's own detector over
//! the corpus is still to come (issue 3).

mod corpus;
pub mod eval;
mod score;

pub use corpus::{Corpus, Series, read_scores};
pub use score::{FileScore, PROFILES, Profile, normalized, probation, score_file};
