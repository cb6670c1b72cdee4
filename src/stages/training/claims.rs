//! The training chapter decides none of the paper's claims: it measures accuracy over the grids,
//! and the prediction chapter ([`crate::stages::prediction`]) states the claims about it.

use crate::pipeline::Claim;

/// No claims (see the module documentation).
pub fn claims() -> Vec<Claim> {
    Vec::new()
}
