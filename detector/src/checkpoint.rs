//! Checkpoints of the detector's models and thresholds: safetensors files plus a small JSON
//! manifest (version, training span, metrics), one directory per checkpoint under `models_dir`,
//! and a `CURRENT` file naming the latest complete one (replaced atomically, so a crash while
//! writing leaves the previous checkpoint in force).
//!
//! ```text
//! models_dir/
//!   CURRENT                      → "ckpt-000042"
//!   ckpt-000042/
//!     manifest.json              version, training span, metrics, shapes, services, alert states
//!     autoencoder.safetensors    the Candle autoencoder's weights
//!     forest.safetensors         the isolation forest's node arrays
//!     state.safetensors          per-service medians history, tails, baselines; training buffer
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use homeostat_schemas::Timestamp;
use serde::{Deserialize, Serialize};

use crate::autoencoder::Autoencoder;
use crate::baseline::RobustBaseline;
use crate::iforest::IsolationForest;
use crate::learned::{DIM, Learned, ModelMetrics, Normalizer, ServiceState};
use crate::state::AlertState;

/// The manifest of one checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Layout version of the checkpoint format.
    pub format: u32,
    /// Model version (bumped on each promotion).
    pub version: u64,
    /// Sequence number of this checkpoint.
    pub sequence: u64,
    /// When it was written (ms since the epoch, wall clock).
    pub written_at_ms: i64,
    /// Event-time span of the windows the models were trained on (ms).
    pub training_span_ms: [Timestamp; 2],
    /// Vectors the models were trained on.
    pub trained_on: usize,
    /// Hold-out metrics of the current models.
    pub metrics: ModelMetrics,
    /// Feature vector width.
    pub dim: usize,
    /// Autoencoder shape: [hidden, code].
    pub autoencoder: Option<[usize; 2]>,
    /// Forest: [trees, sample].
    pub forest: Option<[usize; 2]>,
    /// Services in `state.safetensors`, by index.
    pub services: Vec<String>,
    /// Baseline windows counted per service (same order).
    pub baseline_windows: Vec<usize>,
    /// Normal windows learned since the last training run.
    pub since_train: usize,
    /// Each service's alert state when written (absent from checkpoints before it was kept).
    #[serde(default)]
    pub alerts: std::collections::BTreeMap<String, AlertState>,
}

/// Errors while checkpointing.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// Tensors.
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
    /// Manifest.
    #[error("manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// Content does not fit this detector.
    #[error("{0}")]
    Mismatch(String),
}

fn io<T>(p: &Path, r: std::io::Result<T>) -> Result<T, CheckpointError> {
    r.map_err(|e| CheckpointError::Io(p.to_owned(), e))
}

fn f64s(v: Vec<f64>) -> Result<Tensor, candle_core::Error> {
    let n = v.len();
    Tensor::from_vec(v, n, &Device::Cpu)
}

fn rows(v: Vec<f32>) -> Result<Tensor, candle_core::Error> {
    let n = v.len() / DIM;
    Tensor::from_vec(v, (n, DIM), &Device::Cpu)
}

fn u32s(v: &[u32]) -> Result<Tensor, candle_core::Error> {
    Tensor::from_slice(v, v.len(), &Device::Cpu)
}

/// Write a checkpoint of `learned` and `baseline`; returns its directory.
pub fn save(
    dir: &Path,
    sequence: u64,
    learned: &Learned,
    baseline: &RobustBaseline,
    alerts: &HashMap<String, AlertState>,
) -> Result<PathBuf, CheckpointError> {
    io(dir, std::fs::create_dir_all(dir))?;
    let name = format!("ckpt-{sequence:06}");
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    io(&tmp, std::fs::create_dir_all(&tmp))?;
    if let Some(ae) = &learned.ae {
        ae.save(&tmp.join("autoencoder.safetensors"))?;
    }
    if let Some(f) = &learned.forest {
        let (feature, value, left, right) = f.arrays();
        let t: HashMap<String, Tensor> = HashMap::from([
            ("roots".to_owned(), u32s(&f.roots)?),
            ("feature".to_owned(), u32s(&feature)?),
            (
                "value".to_owned(),
                Tensor::from_slice(&value, value.len(), &Device::Cpu)?,
            ),
            ("left".to_owned(), u32s(&left)?),
            ("right".to_owned(), u32s(&right)?),
        ]);
        candle_core::safetensors::save(&t, tmp.join("forest.safetensors"))?;
    }
    let mut state: HashMap<String, Tensor> = HashMap::new();
    let mut services: Vec<String> = learned.services.keys().cloned().collect();
    for s in baseline.service_ids() {
        if !services.contains(&s) {
            services.push(s);
        }
    }
    services.sort();
    let mut baseline_windows = Vec::new();
    for (i, id) in services.iter().enumerate() {
        if let Some(st) = learned.services.get(id) {
            let h: Vec<f32> = st.norm.history.iter().flat_map(|r| r.iter().copied()).collect();
            if !h.is_empty() {
                state.insert(format!("svc{i}.norm"), rows(h)?);
            }
            for (m, tail) in st.tails.iter().enumerate() {
                let v: Vec<f64> = tail.history().collect();
                if !v.is_empty() {
                    state.insert(format!("svc{i}.tail{m}"), f64s(v)?);
                }
            }
        }
        let (windows, features) = baseline.export(id);
        baseline_windows.push(windows);
        for (f, v) in features {
            if !v.is_empty() {
                state.insert(format!("svc{i}.baseline.{f}"), f64s(v)?);
            }
        }
    }
    for (m, tail) in learned.fleet_tails.iter().enumerate() {
        let v: Vec<f64> = tail.history().collect();
        if !v.is_empty() {
            state.insert(format!("fleet.tail{m}"), f64s(v)?);
        }
    }
    if !learned.buffer.is_empty() {
        let b: Vec<f32> = learned.buffer.iter().flat_map(|(_, r)| r.iter().copied()).collect();
        state.insert("buffer".into(), rows(b)?);
        let t: Vec<i64> = learned.buffer.iter().map(|(t, _)| *t).collect();
        let n = t.len();
        state.insert("buffer_time".into(), Tensor::from_vec(t, n, &Device::Cpu)?);
    }
    if !state.is_empty() {
        candle_core::safetensors::save(&state, tmp.join("state.safetensors"))?;
    }
    let manifest = Manifest {
        format: 1,
        version: learned.version,
        sequence,
        written_at_ms: chrono::Utc::now().timestamp_millis(),
        training_span_ms: [learned.span.0, learned.span.1],
        trained_on: learned.trained_on,
        metrics: learned.metrics.clone(),
        dim: DIM,
        autoencoder: learned.ae.as_ref().map(|a| [a.hidden, a.code]),
        forest: learned.forest.as_ref().map(|f| [f.roots.len(), f.sample]),
        services,
        baseline_windows,
        since_train: learned.since_train,
        alerts: alerts.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let mpath = tmp.join("manifest.json");
    io(&mpath, std::fs::write(&mpath, serde_json::to_vec_pretty(&manifest)?))?;
    let fin = dir.join(&name);
    let _ = std::fs::remove_dir_all(&fin);
    io(&fin, std::fs::rename(&tmp, &fin))?;
    let cur_tmp = dir.join(".CURRENT.tmp");
    io(&cur_tmp, std::fs::write(&cur_tmp, &name))?;
    io(&dir.join("CURRENT"), std::fs::rename(&cur_tmp, dir.join("CURRENT")))?;
    // Keep the newest two checkpoints.
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut old: Vec<String> = rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| n.starts_with("ckpt-") && *n != name)
            .collect();
        old.sort();
        let keep = old.len().saturating_sub(1);
        for n in &old[..keep] {
            let _ = std::fs::remove_dir_all(dir.join(n));
        }
    }
    Ok(fin)
}

/// The manifest of the current checkpoint under `dir`, if there is one.
pub fn current(dir: &Path) -> Result<Option<(PathBuf, Manifest)>, CheckpointError> {
    let cur = dir.join("CURRENT");
    if !cur.exists() {
        return Ok(None);
    }
    let name = io(&cur, std::fs::read_to_string(&cur))?;
    read_manifest(dir.join(name.trim())).map(Some)
}

/// The checkpoint written before `current` (a path [`current`] returned; the detector keeps one
/// before it), if there is one.
pub fn previous(dir: &Path, current: &Path) -> Result<Option<(PathBuf, Manifest)>, CheckpointError> {
    let current = current.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let rd = io(dir, std::fs::read_dir(dir))?;
    let before = rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.starts_with("ckpt-") && n.as_str() < current)
        .max();
    before.map(|n| read_manifest(dir.join(n))).transpose()
}

fn read_manifest(ck: PathBuf) -> Result<(PathBuf, Manifest), CheckpointError> {
    let mpath = ck.join("manifest.json");
    let m: Manifest = serde_json::from_slice(&io(&mpath, std::fs::read(&mpath))?)?;
    if m.format != 1 || m.dim != DIM {
        return Err(CheckpointError::Mismatch(format!(
            "{}: format {} with {} features; this detector reads format 1 with {DIM}",
            ck.display(),
            m.format,
            m.dim
        )));
    }
    Ok((ck, m))
}

fn vec_f64(t: &Tensor) -> Result<Vec<f64>, candle_core::Error> {
    t.to_dtype(DType::F64)?.to_vec1::<f64>()
}

fn vec_rows(t: &Tensor) -> Result<Vec<Vec<f32>>, candle_core::Error> {
    t.to_vec2::<f32>()
}

/// Restore `learned` and `baseline` from the current checkpoint under `dir`; returns its manifest,
/// or `None` when there is no checkpoint yet.
pub fn restore(
    dir: &Path,
    learned: &mut Learned,
    baseline: &mut RobustBaseline,
) -> Result<Option<Manifest>, CheckpointError> {
    let Some((ck, m)) = current(dir)? else {
        return Ok(None);
    };
    if let Some([hidden, code]) = m.autoencoder {
        let mut ae = Autoencoder::new(DIM, hidden, code, learned.cfg.learning_rate, 0)?;
        ae.load(&ck.join("autoencoder.safetensors"))?;
        learned.ae = Some(ae);
    }
    if let Some([_, sample]) = m.forest {
        let t = candle_core::safetensors::load(ck.join("forest.safetensors"), &Device::Cpu)?;
        let get = |k: &str| {
            t.get(k)
                .cloned()
                .ok_or_else(|| CheckpointError::Mismatch(format!("forest.safetensors has no {k}")))
        };
        let arrays = (
            get("feature")?.to_vec1::<u32>()?,
            get("value")?.to_vec1::<f32>()?,
            get("left")?.to_vec1::<u32>()?,
            get("right")?.to_vec1::<u32>()?,
        );
        learned.forest = Some(
            IsolationForest::from_arrays(DIM, sample, get("roots")?.to_vec1::<u32>()?, arrays).ok_or_else(|| {
                CheckpointError::Mismatch(format!("{}: forest.safetensors is not a valid forest", ck.display()))
            })?,
        );
    }
    let spath = ck.join("state.safetensors");
    let state = if spath.exists() {
        candle_core::safetensors::load(&spath, &Device::Cpu)?
    } else {
        HashMap::new()
    };
    for (i, id) in m.services.iter().enumerate() {
        let mut st = ServiceState {
            norm: Normalizer::default(),
            tails: crate::learned::tails(),
        };
        if let Some(t) = state.get(&format!("svc{i}.norm")) {
            st.norm.history = vec_rows(t)?.into();
            st.norm.refresh();
        }
        for (k, tail) in st.tails.iter_mut().enumerate() {
            if let Some(t) = state.get(&format!("svc{i}.tail{k}")) {
                tail.restore(vec_f64(t)?);
            }
        }
        learned.services.insert(id.clone(), st);
        let prefix = format!("svc{i}.baseline.");
        let mut features = Vec::new();
        for (k, t) in &state {
            if let Some(f) = k.strip_prefix(&prefix) {
                features.push((f.to_owned(), vec_f64(t)?));
            }
        }
        baseline.import(id, m.baseline_windows.get(i).copied().unwrap_or(0), features);
    }
    for (k, tail) in learned.fleet_tails.iter_mut().enumerate() {
        if let Some(t) = state.get(&format!("fleet.tail{k}")) {
            tail.restore(vec_f64(t)?);
        }
    }
    if let (Some(b), Some(t)) = (state.get("buffer"), state.get("buffer_time")) {
        let times = t.to_vec1::<i64>()?;
        learned.buffer = times.into_iter().zip(vec_rows(b)?).collect();
    }
    learned.version = m.version;
    learned.span = (m.training_span_ms[0], m.training_span_ms[1]);
    learned.trained_on = m.trained_on;
    learned.metrics = m.metrics.clone();
    learned.since_train = m.since_train;
    Ok(Some(m))
}
