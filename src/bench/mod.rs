//! Benchmarks: measured runs of ganforge that print tables (never part of the tests).

pub mod modes;
