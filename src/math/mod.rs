//! Special functions, quadrature rules, Gaussian expectations and the alpha-ReLU kernels.
//!
//! - [`special`]: $\Gamma$, $\ln\Gamma$, the Gauss hypergeometric function ${}_2F_1$, the modified
//!   Bessel function $K_0$.
//! - [`quadrature`]: Gauss-Legendre and Gauss-Hermite rules, a globally adaptive Gauss-Kronrod
//!   (7, 15) integrator with breakpoints and infinite ranges, double-exponential rules (tanh-sinh,
//!   exp-sinh) for endpoint singularities, and an adaptive Gaussian expectation for spiky integrands.
//! - [`kernels`]: the alpha-ReLU kernels $c_\alpha$, $W_\alpha(c)$, $J_\alpha(c)$ and the
//!   arc-cosine kernels.
//!
//! Library functions return [`MathError`] for arguments outside their domain instead of panicking.

pub mod kernels;
pub mod quadrature;
pub mod special;

/// Error of a special function, kernel or quadrature.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MathError {
    /// An argument outside the function's domain.
    #[error("{func}: {arg} = {value} is out of its domain ({valid})")]
    Domain { func: &'static str, arg: &'static str, value: f64, valid: &'static str },
    /// An iterative method did not reach its tolerance.
    #[error("{func}: no convergence ({detail})")]
    NoConvergence { func: &'static str, detail: String },
    /// An adaptive quadrature hit its evaluation limit; `value` is the best estimate and
    /// `error` its estimated absolute error.
    #[error("quadrature did not reach the tolerance: value {value:e}, estimated error {error:e}, {evals} evaluations")]
    Quadrature { value: f64, error: f64, evals: usize },
    /// The integrand returned NaN or an infinity.
    #[error("integrand is not finite at x = {x}")]
    NonFinite { x: f64 },
}

/// Returns `Err(MathError::Domain)` unless `ok`.
pub(crate) fn check(
    ok: bool,
    func: &'static str,
    arg: &'static str,
    value: f64,
    valid: &'static str,
) -> Result<(), MathError> {
    if ok {
        Ok(())
    } else {
        Err(MathError::Domain { func, arg, value, valid })
    }
}
