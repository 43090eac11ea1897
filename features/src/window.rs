//! The events of one window, as Arrow record batches for DataFusion.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use homeostat_schemas::Timestamp;

/// A request event kept in a window.
#[derive(Debug, Clone)]
pub struct Req {
    /// Event time.
    pub t: Timestamp,
    /// Instance.
    pub instance: String,
    /// Route.
    pub route: String,
    /// Status.
    pub status: u16,
    /// Latency, ms.
    pub latency_ms: f64,
    /// Response bytes.
    pub bytes_out: u64,
}

/// A resource sample kept in a window.
#[derive(Debug, Clone)]
pub struct Res {
    /// Event time.
    pub t: Timestamp,
    /// Instance.
    pub instance: String,
    /// CPU ratio.
    pub cpu_ratio: f64,
    /// Memory ratio.
    pub memory_ratio: f64,
    /// Memory bytes.
    pub memory_bytes: u64,
    /// Connections.
    pub connections: u32,
    /// Connection limit (0 unknown).
    pub connection_limit: u32,
}

/// Column vectors of every service's events in one window.
#[derive(Debug, Default)]
pub struct WindowData {
    /// Window start.
    pub start: Timestamp,
    /// Window end.
    pub end: Timestamp,
    q_service: Vec<String>,
    q_instance: Vec<String>,
    q_route: Vec<String>,
    q_status: Vec<i64>,
    q_latency: Vec<f64>,
    q_bytes: Vec<u64>,
    q_t: Vec<f64>,
    r_service: Vec<String>,
    r_instance: Vec<String>,
    r_cpu: Vec<f64>,
    r_mem: Vec<f64>,
    r_mem_bytes: Vec<u64>,
    r_conns: Vec<f64>,
    r_util: Vec<Option<f64>>,
    r_t: Vec<f64>,
    counts: BTreeMap<String, (u64, Option<Timestamp>)>,
}

impl WindowData {
    /// An empty window.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        Self {
            start,
            end,
            ..Default::default()
        }
    }

    /// Add one service's events (already filtered to the window).
    pub fn add_service<'a>(
        &mut self,
        svc: &str,
        reqs: impl Iterator<Item = &'a Req>,
        res: impl Iterator<Item = &'a Res>,
    ) {
        let mut n = 0u64;
        let mut last: Option<Timestamp> = None;
        for r in reqs {
            n += 1;
            last = Some(last.map_or(r.t, |l| l.max(r.t)));
            self.q_service.push(svc.to_owned());
            self.q_instance.push(r.instance.clone());
            self.q_route.push(r.route.clone());
            self.q_status.push(i64::from(r.status));
            self.q_latency.push(r.latency_ms);
            self.q_bytes.push(r.bytes_out);
            self.q_t.push((r.t - self.start) as f64 / 1000.0);
        }
        for r in res {
            n += 1;
            last = Some(last.map_or(r.t, |l| l.max(r.t)));
            self.r_service.push(svc.to_owned());
            self.r_instance.push(r.instance.clone());
            self.r_cpu.push(r.cpu_ratio);
            self.r_mem.push(r.memory_ratio);
            self.r_mem_bytes.push(r.memory_bytes);
            self.r_conns.push(f64::from(r.connections));
            self.r_util
                .push((r.connection_limit > 0).then(|| f64::from(r.connections) / f64::from(r.connection_limit)));
            self.r_t.push((r.t - self.start) as f64 / 1000.0);
        }
        self.counts.insert(svc.to_owned(), (n, last));
    }

    /// Events of a service in the window.
    pub fn event_count(&self, svc: &str) -> u64 {
        self.counts.get(svc).map_or(0, |c| c.0)
    }

    /// Latest event time of a service in the window.
    pub fn last_event(&self, svc: &str) -> Option<Timestamp> {
        self.counts.get(svc).and_then(|c| c.1)
    }

    /// The request batch: service, instance, route, status, latency, bytes, t (s from window start).
    pub fn requests(&self) -> Result<RecordBatch, ArrowError> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("service", DataType::Utf8, false),
            Field::new("instance", DataType::Utf8, false),
            Field::new("route", DataType::Utf8, false),
            Field::new("status", DataType::Int64, false),
            Field::new("latency", DataType::Float64, false),
            Field::new("bytes", DataType::UInt64, false),
            Field::new("t", DataType::Float64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.q_service.clone())),
            Arc::new(StringArray::from(self.q_instance.clone())),
            Arc::new(StringArray::from(self.q_route.clone())),
            Arc::new(Int64Array::from(self.q_status.clone())),
            Arc::new(Float64Array::from(self.q_latency.clone())),
            Arc::new(UInt64Array::from(self.q_bytes.clone())),
            Arc::new(Float64Array::from(self.q_t.clone())),
        ];
        RecordBatch::try_new(schema, cols)
    }

    /// The resource batch: service, instance, cpu, mem, mem_bytes, conns, util, t.
    pub fn resources(&self) -> Result<RecordBatch, ArrowError> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("service", DataType::Utf8, false),
            Field::new("instance", DataType::Utf8, false),
            Field::new("cpu", DataType::Float64, false),
            Field::new("mem", DataType::Float64, false),
            Field::new("mem_bytes", DataType::UInt64, false),
            Field::new("conns", DataType::Float64, false),
            Field::new("util", DataType::Float64, true),
            Field::new("t", DataType::Float64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.r_service.clone())),
            Arc::new(StringArray::from(self.r_instance.clone())),
            Arc::new(Float64Array::from(self.r_cpu.clone())),
            Arc::new(Float64Array::from(self.r_mem.clone())),
            Arc::new(UInt64Array::from(self.r_mem_bytes.clone())),
            Arc::new(Float64Array::from(self.r_conns.clone())),
            Arc::new(Float64Array::from(self.r_util.clone())),
            Arc::new(Float64Array::from(self.r_t.clone())),
        ];
        RecordBatch::try_new(schema, cols)
    }
}
