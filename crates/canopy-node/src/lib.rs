//! Canopy node runtime (under construction).
