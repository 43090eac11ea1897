//! The Numenta Anomaly Benchmark: its data layout and its scoring rules, written from the rules as
//! `../shared/datasets/nab/README.md` states them (probation, scaled sigmoid, cost profiles,
//! normalization against the null and perfect detectors).
//!
//! This is the scorer only; `homeostat eval nab` (detector over the corpus, side-by-side table)
//! is still to come.

mod corpus;
mod score;

pub use corpus::{Corpus, Series, read_scores};
pub use score::{FileScore, PROFILES, Profile, normalized, probation, score_file};
