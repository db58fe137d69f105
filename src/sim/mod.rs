//! Simulator: scenario -> SigMF recording following formats.md signal model.
