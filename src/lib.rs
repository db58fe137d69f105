//! tews: the radar signal-processing front end of a missile-warning sensor site.
//!
//! The pipeline reads in folder order: [`ingest`] (recordings, live packets)
//! -> [`cpi`] (the unit of work) -> [`process`] (CPU backend; GPU to come)
//! -> [`plots`] (detections to plot reports) -> [`output`] (JSON lines, ...).
//! [`dsp`] holds the pure math both backends share; [`sim`] writes recordings
//! that follow the signal model of formats.md; [`view`] draws a range-Doppler map.

pub mod assess;
pub mod bench;
pub mod cpi;
pub mod demo;
pub mod dsp;
pub mod geo;
pub mod ingest;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod plots;
pub mod process;
pub mod radar;
pub mod replay;
pub mod sim;
pub mod site;
pub mod track;
pub mod tracking;
pub mod view;
