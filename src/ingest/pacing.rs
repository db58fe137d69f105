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

use crate::cpi::{Cpi, add_seconds_checked};
use std::time::{Duration, Instant};

/// Slowest `--cpi-rate` accepted: one CPI every 1000 s.
pub const MIN_CPI_RATE_HZ: f64 = 1e-3;
/// Fastest `--cpi-rate` accepted, CPIs per second.
pub const MAX_CPI_RATE_HZ: f64 = 1e6;

/// Pacing that cannot be done: a CPI time past the calendar or a rate out
/// of bounds. One line naming the option.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PacingError(pub String);

impl From<PacingError> for String {
    fn from(e: PacingError) -> String {
        e.0
    }
}

/// How to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Passes over the recording (1: once).
    pub passes: u64,
    /// CPIs released per second; `None`: as fast as they are read.
    pub cpi_rate_hz: Option<f64>,
}

impl Pacing {
    /// Checks, before anything is processed, that the rate is within
    /// [`MIN_CPI_RATE_HZ`]..=[`MAX_CPI_RATE_HZ`] and that the last CPI of the
    /// last pass (the pass's last CPI at `last_cpi_time_utc`, shifted by
    /// `passes - 1` passes of `pass_duration_s`) is still a time tews can
    /// write (years 0000-9999).
    pub fn check(
        &self,
        last_cpi_time_utc: time::OffsetDateTime,
        pass_duration_s: f64,
    ) -> Result<(), PacingError> {
        if let Some(rate) = self.cpi_rate_hz
            && !(MIN_CPI_RATE_HZ..=MAX_CPI_RATE_HZ).contains(&rate)
        {
            return Err(PacingError(format!(
                "--cpi-rate {rate:?}: not a number of CPIs per second from {MIN_CPI_RATE_HZ} to {MAX_CPI_RATE_HZ}"
            )));
        }
        let shift_s = self.passes.saturating_sub(1) as f64 * pass_duration_s;
        if add_seconds_checked(last_cpi_time_utc, shift_s).is_none() {
            return Err(PacingError(format!(
                "--repeat {}: the last pass would put the recording's last CPI ({last_cpi_time_utc} plus {shift_s} s) after 9999-12-31T23:59:59Z",
                self.passes
            )));
        }
        Ok(())
    }
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
    pass_duration_s: f64,
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
    E: From<PacingError>,
{
    /// `open` starts one pass; a pass has `cpis_per_pass` CPIs lasting
    /// `pass_duration_s`.
    pub fn new(open: F, cpis_per_pass: u64, pass_duration_s: f64, pacing: Pacing) -> Self {
        Paced {
            open,
            pacing,
            cpis_per_pass,
            pass_duration_s,
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
    E: From<PacingError>,
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
                    if p > 0 {
                        let shift_s = self.pass_duration_s * p as f64;
                        let Some(t) = add_seconds_checked(cpi.meta.time_utc, shift_s) else {
                            self.done = true;
                            return Some(Err(PacingError(format!(
                                "--repeat: pass {} puts CPI {} ({} plus {shift_s} s) after 9999-12-31T23:59:59Z",
                                p + 1,
                                cpi.meta.index,
                                cpi.meta.time_utc
                            ))
                            .into()));
                        };
                        cpi.meta.time_utc = t;
                    }
                    if let Some(rate) = self.pacing.cpi_rate_hz {
                        let start = *self.start.get_or_insert_with(Instant::now);
                        let due = Duration::try_from_secs_f64(self.released as f64 / rate)
                            .ok()
                            .and_then(|d| start.checked_add(d));
                        let Some(due) = due else {
                            self.done = true;
                            return Some(Err(PacingError(format!(
                                "--cpi-rate {rate}: CPI {} would be released {} s after the first, too late to wait for",
                                self.released,
                                self.released as f64 / rate
                            ))
                            .into()));
                        };
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
