//! Mean-field recurrences, asymptotic laws and exponent fitting (docs/theory.md §2, §3, §5).
//!
//! - [`expectations`]: the Gaussian expectations $V\phi(q)$, $W\phi(q, \lambda)$ and $V\phi'(q)$
//!   behind the recurrences ([`Kernel`]), closed forms where they exist and quadrature otherwise.
//! - [`recurrence`]: the forward $(p, q, \gamma, \lambda, e, c, s)$ and backward
//!   $(\chi, \chi_w, \chi_v, \chi_b, \chi_a)$ recurrences of vanilla, reduced and full residual
//!   networks, in log space so that depth $10^6$ neither overflows nor loses accuracy.
//! - [`laws`]: the theoretical asymptotic laws of docs/theory.md §5, computed in code.
//! - [`fit`]: local log-log slopes and the continuum (log-depth) extension of the recurrences.
//! - [`init`]: the depth-dependent initialization recommender (the `init` command).
//! - [`table`]: the layer table of one network (the `meanfield` command).

pub mod expectations;
pub mod fit;
pub mod init;
pub mod laws;
pub mod recurrence;
pub mod table;

pub use expectations::{kernel_for, Corr, Kernel, KernelValues, Numeric, Parity};
pub use recurrence::{
    gradient_moments, trajectory, trajectory_with, BlockValues, Blocks, GradMoments, Layer, Recurrence, Sampling, Spec,
    Trajectory, Variances,
};

/// Error of a mean-field computation.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum MeanFieldError {
    /// A parameter outside its domain (the message names the valid range).
    #[error("{name} = {value} is out of range (valid: {valid})")]
    BadParameter { name: &'static str, value: f64, valid: &'static str },
    /// A quantity left the range of `f64` even in log space (e.g. $\ln p^l$ of an
    /// $\alpha$-ReLU net with $\alpha > 1$, which grows geometrically).
    #[error("overflow at layer {layer}: {what} is beyond the floating-point range even in log space")]
    Overflow { layer: usize, what: &'static str },
    /// The kernel cannot be evaluated at this variance (a numerical activation at $q > 10^{300}$).
    #[error("the Gaussian expectations of {kernel} cannot be evaluated at q = exp({ln_q:.4})")]
    OutOfRange { kernel: String, ln_q: f64 },
    /// A special function failed (domain or convergence), see `math::MathError`.
    #[error("{0}")]
    Math(String),
}
