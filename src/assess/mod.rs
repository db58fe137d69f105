//! Assessment of ballistic tracks (placeholder, filled in below).
