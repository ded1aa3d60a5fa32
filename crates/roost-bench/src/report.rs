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
    for key in [
        "ratio_to_baseline",
        "server_cpu_us",
        "writer_cpu_us",
        "generator_cpu_us",
        "cores_used",
        "rss_mb",
        "rss_idle_mb",
        "cold_start_ms",
        "errors",
    ] {
        if let Some(v) = get(key) {
            line.push_str(&format!("  {key}={v:.2}"));
        }
    }
    println!("{line}");
}

/// CPU time a process has used so far (user + system), from `/proc/<pid>/stat` (Linux; `None`
/// elsewhere or when the process is gone). The kernel reports it in USER_HZ, 100 per second.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    stat_cpu_seconds(&path)
}

/// CPU time the SQLite writer thread of server `pid` (the thread named `roost-writer`) has used
/// so far; `None` without one (PostgreSQL, the baseline) or off Linux.
pub fn writer_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let tasks = format!("/proc/{}/task", pid?);
    std::fs::read_dir(&tasks).ok()?.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        (comm.trim() == "roost-writer")
            .then(|| stat_cpu_seconds(&task.path().join("stat").to_string_lossy()))?
    })
}

/// User + system CPU seconds from a `stat` file of /proc.
fn stat_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// CPU spent by the server and by the load generator (this process) over the rounds of one load.
#[derive(Debug, Default)]
pub struct CpuShare {
    server: f64,
    generator: f64,
    /// The server's SQLite writer thread, when it has one.
    writer: Option<f64>,
    known: bool,
}

impl CpuShare {
    /// Runs `round` and adds the CPU both processes used meanwhile.
    pub async fn measure<T>(
        &mut self,
        server: Option<u32>,
        round: impl std::future::Future<Output = T>,
    ) -> T {
        let before = (cpu_seconds(server), cpu_seconds(None));
        let writer_before = writer_cpu_seconds(server);
        let out = round.await;
        if let ((Some(s0), Some(g0)), Some(s1), Some(g1)) = (before, cpu_seconds(server), cpu_seconds(None)) {
            self.server += s1 - s0;
            self.generator += g1 - g0;
            self.known = true;
        }
        if let (Some(w0), Some(w1)) = (writer_before, writer_cpu_seconds(server)) {
            *self.writer.get_or_insert(0.0) += w1 - w0;
        }
        out
    }

    /// Adds the figures per request to a scenario's summary: `server_cpu_us`, `writer_cpu_us` (the
    /// SQLite writer thread's share), `generator_cpu_us` (CPU microseconds per request) and
    /// `cores_used` (both processes together, over the load's time).
    pub fn annotate(&self, summary: &mut Value) {
        let count = summary.get("count").and_then(Value::as_f64).unwrap_or(0.0);
        let seconds = summary.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
        if !self.known || count < 1.0 || seconds <= 0.0 {
            return;
        }
        summary["server_cpu_us"] = json!(self.server * 1e6 / count);
        summary["generator_cpu_us"] = json!(self.generator * 1e6 / count);
        summary["cores_used"] = json!((self.server + self.generator) / seconds);
        if let Some(writer) = self.writer {
            summary["writer_cpu_us"] = json!(writer * 1e6 / count);
        }
    }
}
