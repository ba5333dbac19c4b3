//! Benchmarks: measured runs of ganforge that print tables (never part of the tests).

pub mod cycle;
pub mod modes;
pub mod ops;
pub mod train;
