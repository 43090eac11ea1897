//! The Numenta Anomaly Benchmark: its data layout and its scoring rules, written from the rules as
//! `../shared/datasets/nab/README.md` states them (probation, scaled sigmoid, cost profiles,
//! normalization against the null and perfect detectors).
//!
//! `homeostat eval nab` runs Homeostat's univariate detector over the corpus ([`homeostat`]) and
//! scores it beside the published peers with the same code.

mod corpus;
pub mod eval;
pub mod homeostat;
pub mod plot;
mod score;

pub use corpus::{Corpus, Series, read_scores};
pub use score::{FileScore, PROFILES, Profile, normalized, probation, score_file};
