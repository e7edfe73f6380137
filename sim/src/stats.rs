//! Latency samples and their percentiles.

use std::time::Duration;

/// Request latencies in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples_ms: Vec<f64>,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.samples_ms.push(latency.as_secs_f64() * 1000.0);
    }

    pub fn merge(&mut self, other: &Latencies) {
        self.samples_ms.extend_from_slice(&other.samples_ms);
    }

    /// Returns the nearest-rank percentile `p` (0 to 100) in milliseconds, 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.samples_ms.is_empty() {
            return 0.0;
        }
        let mut sorted = self.samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// Returns the arithmetic mean in milliseconds, 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.samples_ms.is_empty() {
            return 0.0;
        }
        self.samples_ms.iter().sum::<f64>() / self.samples_ms.len() as f64
    }

    /// Returns the sample variance (divided by n − 1) in square milliseconds, 0 for fewer
    /// than two samples.
    pub fn variance(&self) -> f64 {
        let count = self.samples_ms.len();
        if count < 2 {
            return 0.0;
        }
        let mean = self.mean();
        let squares: f64 = self.samples_ms.iter().map(|ms| (ms - mean).powi(2)).sum();
        squares / (count - 1) as f64
    }

    /// Returns the samples in milliseconds, in the order they were recorded.
    pub fn samples_ms(&self) -> &[f64] {
        &self.samples_ms
    }
}

/// Returns the median of `values`, 0 when empty. An even count takes the mean of the two
/// middle values.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_nearest_rank() {
        let mut latencies = Latencies::default();
        for ms in 1..=100 {
            latencies.record(Duration::from_millis(ms));
        }

        assert_eq!(latencies.percentile(50.0), 50.0);
        assert_eq!(latencies.percentile(99.0), 99.0);
        assert_eq!(latencies.percentile(100.0), 100.0);
        assert_eq!(Latencies::default().percentile(50.0), 0.0);
    }

    #[test]
    fn mean_and_variance_of_samples() {
        let mut latencies = Latencies::default();
        for ms in [2, 4, 4, 4, 5, 5, 7, 9] {
            latencies.record(Duration::from_millis(ms));
        }

        assert_eq!(latencies.mean(), 5.0);
        assert!((latencies.variance() - 32.0 / 7.0).abs() < 1e-9);
        assert_eq!(latencies.samples_ms().len(), 8);
        assert_eq!(Latencies::default().mean(), 0.0);
        assert_eq!(Latencies::default().variance(), 0.0);
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[]), 0.0);
    }
}
