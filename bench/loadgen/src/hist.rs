//! Log-linear latency histogram (about 1.6 % relative precision).

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS; // 64 sub-buckets per power of two
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB; // covers all u64

/// A histogram of nanosecond values.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < (2 * SUB) as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let shift = msb - SUB_BITS;
    let mantissa = (v >> shift) as usize; // in [SUB, 2*SUB)
    shift as usize * SUB + mantissa
}

/// Lower bound and width of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    if i < 2 * SUB {
        return (i as u64, 1);
    }
    let shift = (i / SUB - 1) as u32;
    let mantissa = (i - shift as usize * SUB) as u64;
    (mantissa << shift, 1u64 << shift)
}

impl Histogram {
    /// Records one value (ns).
    pub fn record(&mut self, v: u64) {
        self.counts[index(v).min(BUCKETS - 1)] += 1;
        self.total += 1;
        self.sum += v as u128;
        self.max = self.max.max(v);
    }

    /// Adds all values of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += *b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0..=1), in ns (bucket midpoint).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, w) = bounds(i);
                return (lo + w / 2).min(self.max);
            }
        }
        self.max
    }

    /// Summary in microseconds as a JSON object.
    pub fn summary_us(&self) -> serde_json::Value {
        let us = |ns: u64| (ns as f64 / 1000.0 * 10.0).round() / 10.0;
        let mean = if self.total == 0 {
            0
        } else {
            (self.sum / self.total as u128) as u64
        };
        serde_json::json!({
            "count": self.total,
            "mean": us(mean),
            "p50": us(self.quantile(0.50)),
            "p90": us(self.quantile(0.90)),
            "p99": us(self.quantile(0.99)),
            "p999": us(self.quantile(0.999)),
            "max": us(self.max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous() {
        for v in [0u64, 1, 127, 128, 129, 1000, 123_456, 9_999_999_999] {
            let (lo, w) = bounds(index(v));
            assert!(lo <= v && v < lo + w, "v={v} lo={lo} w={w}");
        }
        for i in 0..BUCKETS - 1 {
            let (lo, w) = bounds(i);
            assert_eq!(lo + w, bounds(i + 1).0, "i={i}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 50_000_000.0).abs() / 50_000_000.0 < 0.02, "{p50}");
        let p99 = h.quantile(0.99) as f64;
        assert!((p99 - 99_000_000.0).abs() / 99_000_000.0 < 0.02, "{p99}");
    }
}
