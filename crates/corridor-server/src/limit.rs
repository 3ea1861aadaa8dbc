//! A token bucket per client address for the public endpoints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Addresses kept before idle ones are first forgotten.
const SWEEP_FROM: usize = 100_000;

pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    /// Tokens left and when they were counted, by address.
    map: HashMap<IpAddr, (f64, Instant)>,
    /// The size at which idle buckets are next forgotten: twice what the
    /// last sweep kept (at least [`SWEEP_FROM`]), so that many busy
    /// addresses cost an occasional sweep, not one per request.
    sweep_at: usize,
}

impl Limiter {
    /// `rate` requests per second per address, bursts of twice that.
    pub fn new(rate: f64) -> Limiter {
        Limiter { rate, burst: (rate * 2.0).max(1.0), buckets: Mutex::new(Buckets { map: HashMap::new(), sweep_at: SWEEP_FROM }) }
    }

    /// Takes one request's token for `ip`; `Err(seconds)` says when to retry.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), f64> {
        let mut guard = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = &mut *guard;
        if b.map.len() > b.sweep_at {
            // Forget the addresses whose bucket has refilled: they are as
            // if never seen.
            let (rate, burst) = (self.rate, self.burst);
            b.map.retain(|_, (tokens, at)| *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst);
            b.sweep_at = (b.map.len() * 2).max(SWEEP_FROM);
        }
        let (tokens, at) = b.map.entry(ip).or_insert((self.burst, now));
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

    fn addr(i: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i))
    }

    /// Past 100,000 addresses, those whose bucket has refilled are
    /// forgotten (they were kept when one token had been taken and refilled
    /// since); a bucket still short of tokens is kept, and with many busy
    /// addresses the next sweep waits until their number has doubled.
    #[test]
    fn refilled_buckets_are_forgotten_and_sweeps_are_occasional() {
        let l = Limiter::new(10.0);
        let t = Instant::now();
        for i in 0..=SWEEP_FROM as u32 {
            l.take(addr(i), t).unwrap();
        }
        // 0.2 s later every one of those buckets is full again; one address
        // has just emptied its bucket.
        let later = t + Duration::from_millis(200);
        let busy: IpAddr = "192.168.0.1".parse().unwrap();
        while l.take(busy, later).is_ok() {}
        l.take("192.168.0.2".parse().unwrap(), later).unwrap();
        let b = l.buckets.lock().unwrap();
        assert!(b.map.len() <= 2, "refilled buckets were kept: {} addresses", b.map.len());
        assert!(b.map.contains_key(&busy), "a bucket still short of tokens is kept");
        drop(b);

        // 150,000 addresses all busy at once: one sweep, then none until
        // their number has doubled.
        let l = Limiter::new(1.0);
        for i in 0..150_000 {
            l.take(addr(i), t).unwrap();
        }
        let b = l.buckets.lock().unwrap();
        assert_eq!(b.map.len(), 150_000, "busy buckets are kept");
        assert!(b.sweep_at >= 200_000, "the next sweep waits: {}", b.sweep_at);
    }
}
