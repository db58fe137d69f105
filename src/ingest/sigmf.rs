//! SigMF recordings with the `radar` extension (formats.md §1).
