//! Range-Doppler map as a PNG picture.
