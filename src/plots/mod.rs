//! Detections to plots.
