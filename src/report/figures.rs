//! Former home of the figure code, now the chart library [`crate::plot`]: this re-export is kept
//! only until the stages import `crate::plot` directly.
pub use crate::plot::*;
