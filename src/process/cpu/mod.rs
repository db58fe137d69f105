//! The CPU processing chain, one file per stage.
