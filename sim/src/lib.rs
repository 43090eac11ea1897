//! A simulated fleet behind a gateway: services × instances producing realistic `telemetry.raw`
//! records — a daily traffic cycle, Poisson arrivals, per-route lognormal latency, resource samples
//! — with injectable, labelled faults: a memory leak that ends in a crash, latency creep, and an
//! error burst. Deterministic for a given seed.

mod fleet;
mod rng;

pub use fleet::{Fault, FaultKind, FaultLabel, Fleet, FleetConfig, RouteSpec, ServiceSpec};
pub use rng::Rng;

/// Parse a fault spec `KIND:SERVICE@START[+DURATION]`, times in minutes of simulated time, e.g.
/// `memory_leak:payments@4` or `error_burst:checkout@30+5`.
pub fn parse_fault(spec: &str) -> Result<Fault, String> {
    let (kind, rest) = spec
        .split_once(':')
        .ok_or_else(|| format!("fault {spec:?}: expected KIND:SERVICE@START[+DURATION]"))?;
    let (service, times) = rest
        .split_once('@')
        .ok_or_else(|| format!("fault {spec:?}: missing @START (minutes)"))?;
    let (start, dur) = match times.split_once('+') {
        Some((s, d)) => (s, Some(d)),
        None => (times, None),
    };
    let num = |s: &str, what: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("fault {spec:?}: {what} {s:?} is not a number of minutes"))
    };
    let start_min = num(start, "start")?;
    let duration_min = match dur {
        Some(d) => num(d, "duration")?,
        None => 1e6,
    };
    let kind = match kind.trim() {
        "memory_leak" => FaultKind::MemoryLeak { ratio_per_min: 0.05 },
        "latency_creep" => FaultKind::LatencyCreep { factor_per_min: 0.4 },
        "error_burst" => FaultKind::ErrorBurst { error_probability: 0.3 },
        other => {
            return Err(format!(
                "fault kind {other:?}: use memory_leak, latency_creep or error_burst"
            ));
        }
    };
    Ok(Fault {
        service: service.trim().to_owned(),
        kind,
        start_s: start_min * 60.0,
        duration_s: duration_min * 60.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_specs() {
        let f = parse_fault("error_burst:checkout@30+5").expect("parse");
        assert_eq!(f.service, "checkout");
        assert_eq!(f.start_s, 1800.0);
        assert_eq!(f.duration_s, 300.0);
        assert!(parse_fault("melt:x@1").is_err());
        assert!(parse_fault("memory_leak:x").is_err());
    }
}
