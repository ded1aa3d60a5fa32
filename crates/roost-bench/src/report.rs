//! Latency samples and the report.

use std::time::Duration;

use serde_json::{Value, json};

/// Latencies of one measurement, in microseconds.
#[derive(Default, Debug)]
pub struct Samples {
    pub micros: Vec<u32>,
    pub errors: u64,
}

impl Samples {
    pub fn record(&mut self, latency: Duration) {
        self.micros.push(latency.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        f64::from(sorted[index.min(sorted.len() - 1)]) / 1000.0
    }

    /// Count, rate over `elapsed`, and percentiles in milliseconds.
    pub fn summary(mut self, elapsed: Duration) -> Value {
        self.micros.sort_unstable();
        let count = self.micros.len();
        json!({
            "count": count,
            "errors": self.errors,
            "seconds": elapsed.as_secs_f64(),
            "per_second": count as f64 / elapsed.as_secs_f64().max(1e-9),
            "p50_ms": Self::percentile(&self.micros, 0.50),
            "p99_ms": Self::percentile(&self.micros, 0.99),
            "p999_ms": Self::percentile(&self.micros, 0.999),
            "max_ms": Self::percentile(&self.micros, 1.0),
        })
    }
}

/// Prints one row of the readable table.
pub fn print_row(name: &str, value: &Value) {
    let get = |k: &str| value.get(k).and_then(Value::as_f64);
    let mut line = format!("{name:<28}");
    if let Some(rate) = get("per_second") {
        line.push_str(&format!(" {rate:>12.0}/s"));
    }
    for key in ["p50_ms", "p99_ms", "p999_ms"] {
        if let Some(ms) = get(key) {
            line.push_str(&format!("  {}={ms:.2}ms", key.trim_end_matches("_ms")));
        }
    }
    for key in ["ratio_to_baseline", "rss_mb", "rss_idle_mb", "cold_start_ms", "errors"] {
        if let Some(v) = get(key) {
            line.push_str(&format!("  {key}={v:.2}"));
        }
    }
    println!("{line}");
}
