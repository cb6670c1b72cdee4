//! The claims of the paper this chapter decides (C5a-C5d, the kernel identities):
//! each is reproduced when every row of the identities it rests on passes.

use super::compute::{Row, TOL_FD, TOL_QUAD, TOL_SIGMA};
use crate::pipeline::{Claim, ClaimStatus};
use crate::report::format::tex_sci;

/// The rows of the table, looked up by identity id.
struct Rows<'a>(&'a [Row]);

impl Rows<'_> {
    fn get(&self, id: &str) -> Option<&Row> {
        self.0.iter().find(|r| r.id == id)
    }

    /// Reproduced when all the rows `ids` exist and pass.
    fn status(&self, ids: &[&str]) -> ClaimStatus {
        if ids.iter().all(|id| self.get(id).is_some_and(|r| r.pass)) {
            ClaimStatus::Reproduced
        } else {
            ClaimStatus::NotReproduced
        }
    }

    /// `id: max rel. err. x` for each of `ids`.
    fn rel(&self, ids: &[&str]) -> String {
        ids.iter()
            .filter_map(|id| self.get(id).map(|r| format!("{id}: max rel. err. ${}$", tex_sci(r.max_rel_err, 2))))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn claim(id: &str, claim: &str, criterion: String, measured: String, status: ClaimStatus) -> Claim {
    Claim { id: id.into(), chapter: "identities".into(), claim: claim.into(), criterion, measured, status }
}

/// C5a: the Bessel representation of $W_\alpha$ (row I5a).
fn c5a(rows: &Rows) -> Claim {
    claim(
        "C5a",
        "Bessel representation of the $\\alpha$-ReLU kernel: $W_\\alpha(c) = \\frac{(1-c^2)^{\\alpha+1/2}}{2\\pi}\\int_0^\\infty y^\\alpha e^{cy}K_0(y)dy$",
        format!("quadrature of the $K_0$ integral matches the closed form $W_\\alpha$ to relative error $\\le {}$ for $|c| \\le 0.999$", tex_sci(TOL_QUAD, 1)),
        rows.rel(&["I5a"]),
        rows.status(&["I5a"]),
    )
}

/// C5b: closed forms of the $K_0$ moments (rows I5b, I5c).
fn c5b(rows: &Rows) -> Claim {
    claim(
        "C5b",
        "Closed forms of $\\int_0^\\infty y^n e^{cy}K_0(y)dy$ for $n = 0, 1, 2$ (and a hypergeometric one for real $\\alpha$), from the arc-cosine kernels",
        format!("match quadrature to relative error $\\le {}$", tex_sci(TOL_QUAD, 1)),
        rows.rel(&["I5b", "I5c"]),
        rows.status(&["I5b", "I5c"]),
    )
}

/// C5c: the hypergeometric closed form of $W_\alpha$ (rows I2a, I2c, I3a, I3b).
fn c5c(rows: &Rows) -> Claim {
    let mc =
        rows.get("I2c").map(|r| format!("; MC max {:.2} s.e.", r.max_sigma.unwrap_or(f64::NAN))).unwrap_or_default();
    claim(
        "C5c",
        "Hypergeometric closed form of $W_\\alpha(c)$, reducing to the arc-cosine kernels for $\\alpha = 0, 1, 2$",
        format!(
            "matches 2-D quadrature to relative error $\\le {}$ and Monte Carlo within {TOL_SIGMA} standard errors",
            tex_sci(TOL_QUAD, 1)
        ),
        rows.rel(&["I2a", "I3a", "I3b"]) + &mc,
        rows.status(&["I2a", "I2c", "I3a", "I3b"]),
    )
}

/// C5d: the derivative identity (rows I4a, I4b).
fn c5d(rows: &Rows) -> Claim {
    claim(
        "C5d",
        "Derivative identity $\\frac{d}{dc}W_\\alpha = \\alpha^2 W_{\\alpha-1}$ ($\\alpha > 1/2$)",
        format!(
            "integrated form to relative error $\\le {}$; finite differences to $\\le {}$",
            tex_sci(TOL_QUAD, 1),
            tex_sci(TOL_FD, 1)
        ),
        rows.rel(&["I4a", "I4b"]),
        rows.status(&["I4a", "I4b"]),
    )
}

/// The claims decided by the identities table.
pub fn claims(rows: &[Row]) -> Vec<Claim> {
    let rows = Rows(rows);
    vec![c5a(&rows), c5b(&rows), c5c(&rows), c5d(&rows)]
}
