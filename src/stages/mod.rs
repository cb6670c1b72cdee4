//! The stages: one module per chapter of the report (plus the performance appendix), and the
//! registry that builds them from a [`Profile`].
//!
//! To add a chapter: write a module `stages/NAME/` whose stage type implements
//! [`crate::pipeline::Stage`] (built from its own `Config` section, which it validates), add its
//! section to [`Profile`] and one line to [`registry`], and write its template
//! `templates/chapters/NAME.md.j2` (returned by [`crate::pipeline::Stage::chapter`]).

pub mod dynamics;
pub mod identities;
pub mod performance;
pub mod prediction;
mod profile;
pub mod simulations;
pub mod training;

pub use profile::{Profile, ProfileError, BUILTIN};

use crate::pipeline::Stage;

/// Every stage in pipeline order, built from the profile's sections. Every value of every
/// section is checked here, before any stage runs; the first invalid one is returned.
pub fn registry(profile: &Profile) -> Result<Vec<Box<dyn Stage>>, ProfileError> {
    let build = || -> Result<Vec<Box<dyn Stage>>, crate::pipeline::ConfigError> {
        Ok(vec![
            Box::new(identities::IdentitiesStage::new(profile.identities.clone())?),
            Box::new(dynamics::Dynamics::new(profile.dynamics.clone())?),
            Box::new(simulations::Simulations::new(profile.simulations.clone())?),
            Box::new(training::TrainingStage::new(profile.training.clone())?),
            Box::new(prediction::PredictionStage::new(profile.prediction.clone())?),
            Box::new(performance::PerformanceStage::new(profile.performance.clone())?),
        ])
    };
    build().map_err(|e| profile.invalid(e))
}
