//! Stage "training" (not built yet).

use serde::{Deserialize, Serialize};

/// The profile section `[training]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {}
