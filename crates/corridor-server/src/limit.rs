//! A token bucket per client address for the public endpoints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    /// `rate` requests per second per address, bursts of twice that.
    pub fn new(rate: f64) -> Limiter {
        Limiter { rate, burst: (rate * 2.0).max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request's token for `ip`; `Err(seconds)` says when to retry.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), f64> {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 100_000 {
            // Forget idle addresses rather than grow without bound.
            b.retain(|_, (tokens, at)| *tokens < self.burst && now.duration_since(*at).as_secs_f64() * self.rate < self.burst);
        }
        let (tokens, at) = b.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let l = Limiter::new(10.0);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t = Instant::now();
        assert!((0..20).all(|_| l.take(ip, t).is_ok()));
        assert!(l.take(ip, t).is_err());
        assert!(l.take(ip, t + Duration::from_millis(110)).is_ok());
        // Another address has its own bucket.
        assert!(l.take("10.0.0.1".parse().unwrap(), t).is_ok());
    }
}
