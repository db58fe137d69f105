//! Outputs: plot reports as JSON lines.
