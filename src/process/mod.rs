//! Processing backends: a CPI in, a range-Doppler map and detections out.
