//! Stage "identities" (chapter 2): derives and checks the kernel identities I1-I7 of docs/theory.md
//! section 4, each by independent methods (closed forms, quadrature, Monte Carlo, finite
//! differences, asymptotics), against stated tolerances.
//!
//! - I1: $c_\alpha = \mathbb E[\phi_\alpha(z)^2] = 2^{\alpha-1}\Gamma(\alpha+\frac12)/\sqrt\pi$;
//! - I2, I3: the hypergeometric closed form of $W_\alpha(c) = \mathbb E[\phi_\alpha(z)\phi_\alpha(z')]$ and
//!   its arc-cosine forms for $\alpha = 0, 1, 2$;
//! - I4: $\frac{d}{dc}W_\alpha = \alpha^2 W_{\alpha-1}$;
//! - I5: the Bessel representation of $W_\alpha$ and the closed forms of $\int_0^\infty y^\alpha e^{cy}K_0(y)\,dy$;
//! - I6: the ReLU kernel near $c = 1$, $J_1(1-\epsilon) = 1 - \epsilon + \frac{2\sqrt2}{3\pi}\epsilon^{3/2} + O(\epsilon^{5/2})$;
//! - I7: the large-$q$ limits of the tanh Gaussian integrals.
//!
//! The chapter decides claims C5a-C5d ([`claims`]). Files: [`config`] (the profile section),
//! [`compute`] (the checks, one step per identity), [`claims`], [`figures`].

pub mod claims;
pub mod compute;
pub mod config;
pub mod figures;
#[cfg(test)]
mod tests;

pub use compute::{compute, Criterion, Results, Row};
pub use config::Config;

use crate::pipeline::{Artifact, Chapter, DataTable, Stage, StageContext, StageError};

/// Version of the stage's computation (part of its cache key).
pub const VERSION: u32 = 3;

/// Builds the artifact from the results: the table of rows, the $W_\alpha$ table, the figures and
/// the claims.
pub fn artifact(res: &Results) -> Result<Artifact, StageError> {
    let rows_json: Vec<serde_json::Value> = res.rows.iter().map(|r| serde_json::json!(r)).collect();
    let tables = vec![
        DataTable { name: "identities".into(), rows: rows_json, json_key: None, extra: Default::default() },
        DataTable {
            name: "identities-wa".into(),
            rows: res.w_table.clone(),
            json_key: None,
            extra: Default::default(),
        },
    ];
    let figures = figures::figures(res)?;
    let claims = claims::claims(&res.rows);
    Ok(Artifact { summary: res.summary.clone(), tables, figures, claims })
}

/// The identities stage.
pub struct IdentitiesStage {
    cfg: Config,
}

impl IdentitiesStage {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, crate::pipeline::ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
}

impl Stage for IdentitiesStage {
    fn name(&self) -> &'static str {
        "identities"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> serde_json::Value {
        crate::pipeline::key_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<Chapter> {
        Some(Chapter { title: "Identities", template: include_str!("../../../templates/chapters/identities.md.j2") })
    }
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let bar = ctx.progress.bar(2, "identities");
        let res = compute(&self.cfg)?;
        bar.inc(1);
        let art = artifact(&res)?;
        bar.inc(1);
        bar.finish();
        Ok(art)
    }
}
