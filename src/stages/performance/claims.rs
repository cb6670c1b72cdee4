//! The paper's claims this stage decides: none. Appendix B measures throughput on the machine
//! that ran the report; its targets (the issues' time limits) are marked met or not in its table,
//! not in the claims ledger.

use crate::pipeline::Claim;

/// No claims: an empty list (the documented empty case of the stage layout).
pub fn claims() -> Vec<Claim> {
    Vec::new()
}
