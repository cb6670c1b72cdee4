//! One module per stage (chapter of the report). [`all`] is the registry in pipeline order.

pub mod dynamics;
pub mod identities;
pub mod performance;
pub mod prediction;
pub mod simulations;
pub mod training;

use crate::pipeline::Stage;

/// The chapters of the report in order: (stage name, section title). A chapter whose stage is not
/// in [`all`] yet is rendered as "not built yet".
pub const CHAPTERS: &[(&str, &str)] = &[
    ("identities", "Identities"),
    ("dynamics", "Dynamics"),
    ("simulations", "Simulations"),
    ("training", "Training"),
    ("prediction", "Prediction"),
];

/// Every stage that is implemented, in pipeline order.
pub fn all() -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(identities::IdentitiesStage),
        Box::new(dynamics::Dynamics),
        Box::new(training::TrainingStage),
        Box::new(prediction::PredictionStage),
        Box::new(performance::PerformanceStage),
    ]
}
