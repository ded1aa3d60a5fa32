//! Logging a repeated failure now and then instead of every time.
//!
//! A full disk fails every write, a lost descriptor limit every accept: logged each time, one
//! cause floods the log (and, on a full disk, the log's own disk). A [`NowAndThen`] lets one line
//! through per period and counts the ones it held back, for the next line to report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// At most one log line per period; see the module documentation.
#[derive(Debug)]
pub struct NowAndThen {
    period: Duration,
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl NowAndThen {
    pub const fn new(period: Duration) -> Self {
        NowAndThen { period, last: Mutex::new(None), held_back: AtomicU64::new(0) }
    }

    /// `Some(n)` when this occurrence should be logged, `n` being how many were held back since
    /// the last one logged; `None` when it should not be.
    pub fn check(&self) -> Option<u64> {
        let now = Instant::now();
        let Ok(mut last) = self.last.lock() else { return Some(0) };
        match *last {
            Some(at) if now.saturating_duration_since(at) < self.period => {
                self.held_back.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.held_back.swap(0, Ordering::Relaxed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_and_a_count_of_the_rest() {
        let log = NowAndThen::new(Duration::from_millis(200));
        assert_eq!(log.check(), Some(0));
        assert_eq!(log.check(), None);
        assert_eq!(log.check(), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(log.check(), Some(2));
        assert_eq!(log.check(), None);
    }
}
