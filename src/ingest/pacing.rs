//! Pacing a recording as a live sensor would deliver it: `tews run
//! --repeat N` plays it N times back to back, `--cpi-rate HZ` releases CPIs
//! at a fixed rate instead of as fast as they can be read.
//!
//! Used to exercise the sharing outputs for longer than a recording lasts
//! (load benchmarks, restarting a NATS server mid-run). Pass `p` (0-based)
//! shifts every CPI's index by `p x num_cpis` and its time by `p x` the
//! recording's duration (`num_cpis x pulses_per_cpi x pri_s`), so plots stay
//! distinct and in time order. With a rate, CPI `k` is released no earlier
//! than `k / rate` seconds after the first, and its `received_at` (the start
//! of output latency) is the moment of release, as for a live CPI.

use crate::cpi::Cpi;
use std::time::{Duration, Instant};

/// How to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Passes over the recording (1: once).
    pub passes: u64,
    /// CPIs released per second; `None`: as fast as they are read.
    pub cpi_rate_hz: Option<f64>,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            passes: 1,
            cpi_rate_hz: None,
        }
    }
}

/// The CPIs of `passes` passes, paced (see the module docs).
pub struct Paced<F, I> {
    open: F,
    pacing: Pacing,
    cpis_per_pass: u64,
    pass_duration: time::Duration,
    pass: u64,
    current: Option<I>,
    released: u64,
    start: Option<Instant>,
    done: bool,
}

impl<F, I, E> Paced<F, I>
where
    F: FnMut() -> Result<I, E>,
    I: Iterator<Item = Result<Cpi, E>>,
{
    /// `open` starts one pass; a pass has `cpis_per_pass` CPIs lasting
    /// `pass_duration_s`.
    pub fn new(open: F, cpis_per_pass: u64, pass_duration_s: f64, pacing: Pacing) -> Self {
        Paced {
            open,
            pacing,
            cpis_per_pass,
            pass_duration: time::Duration::seconds_f64(pass_duration_s),
            pass: 0,
            current: None,
            released: 0,
            start: None,
            done: false,
        }
    }
}

impl<F, I, E> Iterator for Paced<F, I>
where
    F: FnMut() -> Result<I, E>,
    I: Iterator<Item = Result<Cpi, E>>,
{
    type Item = Result<Cpi, E>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done || self.pass >= self.pacing.passes {
                return None;
            }
            if self.current.is_none() {
                match (self.open)() {
                    Ok(it) => self.current = Some(it),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            match self.current.as_mut().and_then(Iterator::next) {
                None => {
                    self.current = None;
                    self.pass += 1;
                    if self.cpis_per_pass == 0 {
                        return None;
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(mut cpi)) => {
                    let p = self.pass;
                    cpi.meta.index += p * self.cpis_per_pass;
                    cpi.meta.time_utc += self.pass_duration * (p as f64);
                    if let Some(rate) = self.pacing.cpi_rate_hz {
                        let start = *self.start.get_or_insert_with(Instant::now);
                        let due = start + Duration::from_secs_f64(self.released as f64 / rate);
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        cpi.meta.received_at = Some(Instant::now());
                    }
                    self.released += 1;
                    return Some(Ok(cpi));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpi::CpiMeta;

    fn cpi(index: u64) -> Cpi {
        Cpi::new(
            CpiMeta {
                index,
                time_utc: time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(index as i64),
                carrier_hz: 1e9,
                azimuth_deg: 0.0,
                elevation_deg: 0.0,
                simulated: true,
                received_at: None,
            },
            ndarray::Array3::zeros((1, 1, 1)),
        )
    }

    #[test]
    fn passes_continue_index_and_time_and_the_rate_is_kept() {
        let open = || Ok::<_, String>((0..3).map(|k| Ok(cpi(k))));
        let pacing = Pacing {
            passes: 3,
            cpi_rate_hz: Some(200.0),
        };
        let t0 = Instant::now();
        let got: Vec<Cpi> = Paced::new(open, 3, 3.0, pacing)
            .collect::<Result<_, _>>()
            .unwrap();
        // 9 CPIs at 200/s: the last is released >= 8/200 s after the first.
        assert!(t0.elapsed() >= Duration::from_millis(40));
        let idx: Vec<u64> = got.iter().map(|c| c.meta.index).collect();
        assert_eq!(idx, (0..9).collect::<Vec<_>>());
        for c in &got {
            let want =
                time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(c.meta.index as i64);
            assert_eq!(c.meta.time_utc, want);
            assert!(c.meta.received_at.is_some());
        }
    }

    #[test]
    fn an_error_ends_the_replay() {
        let open = || Ok::<_, String>(vec![Ok(cpi(0)), Err("bad".to_string())].into_iter());
        let pacing = Pacing {
            passes: 5,
            cpi_rate_hz: None,
        };
        let got: Vec<_> = Paced::new(open, 2, 1.0, pacing).collect();
        assert_eq!(got.len(), 2);
        assert!(got[1].is_err());
    }
}
