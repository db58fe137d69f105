//! Ingest: recorded IQ (SigMF) today; live VITA 49.2 next.
pub mod sigmf;
