//! edge-of-chaos: reproduces, checks and extends "Mean Field Residual Networks: On the Edge of
//! Chaos" (Yang & Schoenholz, NeurIPS 2017) as a literate, reproducible report.
//!
//! See ARCHITECTURE.md for the map from each stage and concept to its module.

pub mod activation;
pub mod analysis;
pub mod architecture;
pub mod error;
pub mod math;
pub mod meanfield;
pub mod nn;
pub mod pipeline;
pub mod plot;
pub mod report;
pub mod stages;

pub use activation::{ActName, Activation};
pub use architecture::Architecture;
