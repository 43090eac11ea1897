//! The window features as DataFusion SQL over the window's Arrow batches, one query per table
//! for all services at once (GROUP BY service).

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::{Array, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use homeostat_schemas::{FeatureId as F, Timestamp};

use crate::window::WindowData;

pub type Values = BTreeMap<String, f64>;

/// Runs the feature queries.
pub struct Engine {
    ctx: SessionContext,
    slo_latency_ms: f64,
}

fn failure(col: &str) -> String {
    format!("CASE WHEN ({col} >= 500 AND {col} <= 599) OR {col} = 0 THEN 1.0 ELSE 0.0 END")
}

fn share(cond: &str) -> String {
    format!("avg(CASE WHEN {cond} THEN 1.0 ELSE 0.0 END)")
}

impl Engine {
    /// A new engine.
    pub fn new(slo_latency_ms: f64) -> Self {
        let cfg = datafusion::prelude::SessionConfig::new().with_target_partitions(1);
        Self {
            ctx: SessionContext::new_with_config(cfg),
            slo_latency_ms,
        }
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, DataFusionError> {
        self.ctx.sql(sql).await?.collect().await
    }

    fn register(&self, name: &str, batch: RecordBatch) -> Result<(), DataFusionError> {
        self.ctx.deregister_table(name)?;
        self.ctx.register_batch(name, batch)?;
        Ok(())
    }

    /// Compute the window features of every service present in `data`.
    pub async fn compute(&self, data: &WindowData) -> Result<HashMap<String, Values>, DataFusionError> {
        self.register("requests", data.requests()?)?;
        self.register("resources", data.resources()?)?;
        let window_s = (data.end - data.start) as f64 / 1000.0;
        let half = window_s / 2.0;
        let slo = self.slo_latency_ms;
        let fail = failure("status");
        let req_sql = format!(
            "SELECT service,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) AS \"{p50}\",
                percentile_cont(0.9) WITHIN GROUP (ORDER BY latency) AS \"{p90}\",
                percentile_cont(0.95) WITHIN GROUP (ORDER BY latency) AS \"{p95}\",
                percentile_cont(0.99) WITHIN GROUP (ORDER BY latency) AS \"{p99}\",
                percentile_cont(0.999) WITHIN GROUP (ORDER BY latency) AS \"{p999}\",
                avg(latency) AS \"{mean}\",
                max(latency) AS \"{max}\",
                stddev_pop(latency) AS \"{sd}\",
                {slow} AS \"{slow_n}\",
                {e5} AS \"{e5_n}\",
                {e4} AS \"{e4_n}\",
                {eto} AS \"{eto_n}\",
                {eth} AS \"{eth_n}\",
                {eun} AS \"{eun_n}\",
                avg({fail}) AS \"{err_n}\",
                CAST(count(*) AS DOUBLE) AS \"{cnt}\",
                CAST(count(*) AS DOUBLE) / {window_s} AS \"{rate}\",
                CAST(sum(bytes) AS DOUBLE) / {window_s} AS \"{bytes}\",
                CAST(count(DISTINCT route) AS DOUBLE) AS \"{routes}\",
                regr_slope(latency, t) AS \"{lat_slope}\",
                regr_slope({fail}, t) AS \"{err_slope}\",
                (CAST(sum(CASE WHEN t >= {half} THEN 1 ELSE 0 END) AS DOUBLE) - CAST(sum(CASE WHEN t < {half} THEN 1 ELSE 0 END) AS DOUBLE)) / {half} / {half} AS \"{rate_slope}\",
                max(t) AS last_t
             FROM requests GROUP BY service",
            p50 = F::LatencyP50.name(),
            p90 = F::LatencyP90.name(),
            p95 = F::LatencyP95.name(),
            p99 = F::LatencyP99.name(),
            p999 = F::LatencyP999.name(),
            mean = F::LatencyMean.name(),
            max = F::LatencyMax.name(),
            sd = F::LatencyStddev.name(),
            slow = share(&format!("latency > {slo:?}")),
            slow_n = F::SlowRequestRatio.name(),
            e5 = share("status >= 500 AND status <= 599"),
            e5_n = F::ErrorRate5xx.name(),
            e4 = share("status >= 400 AND status <= 499"),
            e4_n = F::ErrorRate4xx.name(),
            eto = share("status = 408 OR status = 504"),
            eto_n = F::ErrorRateTimeout.name(),
            eth = share("status = 429"),
            eth_n = F::ErrorRateThrottled.name(),
            eun = share("status = 502 OR status = 503 OR status = 0"),
            eun_n = F::ErrorRateUnavailable.name(),
            err_n = F::ErrorRate.name(),
            cnt = F::RequestCount.name(),
            rate = F::RequestRate.name(),
            bytes = F::BytesOutRate.name(),
            routes = F::DistinctRoutes.name(),
            lat_slope = F::LatencySlope.name(),
            err_slope = F::ErrorRateSlope.name(),
            rate_slope = F::RequestRateSlope.name(),
        );
        let res_sql = format!(
            "SELECT service,
                avg(cpu) AS \"{cpu_mean}\", max(cpu) AS \"{cpu_max}\",
                avg(mem) AS \"{mem_mean}\", max(mem) AS \"{mem_max}\",
                CAST(max(mem_bytes) AS DOUBLE) AS \"{mem_bytes}\",
                avg(conns) AS \"{conns}\", max(util) AS \"{util}\",
                CAST(count(*) AS DOUBLE) AS \"{samples}\",
                regr_slope(mem, t) AS \"{mem_slope}\", regr_slope(cpu, t) AS \"{cpu_slope}\",
                regr_slope(conns, t) AS \"{conn_slope}\",
                max(t) AS last_t
             FROM resources GROUP BY service",
            cpu_mean = F::CpuMean.name(),
            cpu_max = F::CpuMax.name(),
            mem_mean = F::MemoryMean.name(),
            mem_max = F::MemoryMax.name(),
            mem_bytes = F::MemoryMaxBytes.name(),
            conns = F::ConnectionsMean.name(),
            util = F::ConnectionUtilizationMax.name(),
            samples = F::ResourceSampleCount.name(),
            mem_slope = F::MemorySlope.name(),
            cpu_slope = F::CpuSlope.name(),
            conn_slope = F::ConnectionsSlope.name(),
        );
        let inst_sql = format!(
            "SELECT service, CAST(count(DISTINCT instance) AS DOUBLE) AS \"{}\" FROM
               (SELECT service, instance FROM requests UNION ALL SELECT service, instance FROM resources) GROUP BY service",
            F::ActiveInstances.name()
        );
        let mut out: HashMap<String, Values> = HashMap::new();
        for sql in [req_sql, res_sql, inst_sql] {
            for batch in self.query(&sql).await? {
                collect(&batch, &mut out)?;
            }
        }
        for v in out.values_mut() {
            derive(v);
        }
        Ok(out)
    }
}

/// Read every numeric column of a `service, …` result into per-service maps (nulls are skipped).
fn collect(batch: &RecordBatch, out: &mut HashMap<String, Values>) -> Result<(), DataFusionError> {
    let svc = cast(batch.column(0), &DataType::Utf8)?;
    let svc = svc
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| DataFusionError::Internal("service column is not a string".into()))?;
    let schema = batch.schema();
    for (i, field) in schema.fields().iter().enumerate().skip(1) {
        let col = cast(batch.column(i), &DataType::Float64)?;
        let col = col
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| DataFusionError::Internal("numeric column did not cast".into()))?;
        for row in 0..batch.num_rows() {
            if col.is_null(row) || !col.value(row).is_finite() {
                continue;
            }
            let entry = out.entry(svc.value(row).to_owned()).or_default();
            if field.name() == "last_t" {
                let prev = entry.get("last_t").copied().unwrap_or(f64::MIN);
                entry.insert("last_t".into(), prev.max(col.value(row)));
            } else {
                entry.insert(field.name().clone(), col.value(row));
            }
        }
    }
    Ok(())
}

fn ratio(v: &Values, num: F, den: F) -> Option<f64> {
    let (n, d) = (v.get(num.name())?, v.get(den.name())?);
    (*d != 0.0).then(|| n / d)
}

/// Features derived from other window features.
fn derive(v: &mut Values) {
    if let Some(x) = ratio(v, F::LatencyStddev, F::LatencyMean) {
        v.insert(F::LatencyCv.name().into(), x);
    }
    if let Some(x) = ratio(v, F::LatencyP99, F::LatencyP50) {
        v.insert(F::LatencyTailRatio.name().into(), x);
    }
    if let Some(x) = ratio(v, F::RequestRate, F::ActiveInstances) {
        v.insert(F::RequestsPerInstance.name().into(), x);
    }
}

/// Fill the features that are defined on an empty window (counts and rates 0, staleness) and
/// turn `last_t` into `staleness_s`.
pub fn fill_empty(v: &mut Values, window_s: f64, end: Timestamp, data: &WindowData, svc: &str) {
    v.remove("last_t");
    for f in [
        F::RequestCount,
        F::RequestRate,
        F::BytesOutRate,
        F::DistinctRoutes,
        F::ResourceSampleCount,
        F::ActiveInstances,
    ] {
        v.entry(f.name().into()).or_insert(0.0);
    }
    let staleness = data.last_event(svc).map_or(window_s, |t| (end - t) as f64 / 1000.0);
    v.insert(F::Staleness.name().into(), staleness);
}
