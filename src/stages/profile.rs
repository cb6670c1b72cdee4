//! Profiles: TOML files that configure every stage, one section per stage. `quick` and `paper`
//! are built in; any other value of `--profile` is read as a path to a TOML file. Unknown keys are
//! rejected when parsing; values are checked when the stages are built ([`super::registry`]).

use crate::pipeline::ConfigError;
use crate::stages;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A complete configuration of the pipeline.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name shown in the report (default: the file's stem).
    #[serde(default)]
    pub name: String,
    /// One line on what the profile is for.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub identities: stages::identities::Config,
    #[serde(default)]
    pub dynamics: stages::dynamics::Config,
    #[serde(default)]
    pub simulations: stages::simulations::Config,
    #[serde(default)]
    pub training: stages::training::Config,
    #[serde(default)]
    pub prediction: stages::prediction::Config,
    /// Appendix B: measured throughput (not a chapter).
    #[serde(default)]
    pub performance: stages::performance::Config,
    /// Where the profile came from (built-in name or file path), for error messages.
    #[serde(skip)]
    pub origin: String,
}

/// The built-in profiles: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] =
    &[("quick", include_str!("../profiles/quick.toml")), ("paper", include_str!("../profiles/paper.toml"))];

/// Error loading a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile '{name}' (valid: quick, paper, or a path to a .toml file)")]
    Unknown { name: String },
    #[error("cannot read profile file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid profile {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("invalid profile {origin}: {source}")]
    Invalid { origin: String, source: ConfigError },
}

impl Profile {
    /// `quick`, `paper`, or a path to a TOML file.
    pub fn load(spec: &str) -> Result<Self, ProfileError> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
            return Self::parse(text, &format!("'{spec}' (built in)"));
        }
        let path = Path::new(spec);
        if path.extension().and_then(|e| e.to_str()) == Some("toml") || path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ProfileError::Io { path: path.to_path_buf(), source })?;
            let mut p = Self::parse(&text, &path.display().to_string())?;
            if p.name.is_empty() {
                p.name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            }
            return Ok(p);
        }
        Err(ProfileError::Unknown { name: spec.to_string() })
    }

    /// Parses TOML text; `origin` names it in errors (the TOML error carries line and column).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let mut p: Self = toml::from_str(text)
            .map_err(|e| ProfileError::Parse { origin: origin.to_string(), message: e.to_string() })?;
        p.origin = origin.to_string();
        Ok(p)
    }

    /// Attributes a configuration error to this profile.
    pub fn invalid(&self, source: ConfigError) -> ProfileError {
        ProfileError::Invalid { origin: self.origin.clone(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The benchmark profiles under `benches/` load and pass every stage's checks; the scaling
    /// profile has 64 points of one shape (so that 1, 2, 4, 8 and 16 jobs divide it evenly).
    #[test]
    fn bench_profiles_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
        for file in ["grid.toml", "scaling.toml"] {
            let p = Profile::load(&dir.join(file).to_string_lossy()).unwrap();
            crate::stages::registry(&p).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        let p = Profile::load(&dir.join("scaling.toml").to_string_lossy()).unwrap();
        let points = p.training.points(&[0.01]);
        assert_eq!(points.len(), 64);
        assert!(points.iter().all(|(_, c)| c.depth == points[0].1.depth && c.arch == points[0].1.arch));
    }

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let p = Profile::load(name).unwrap();
            assert_eq!(&p.name, name);
        }
    }

    /// `quick.toml` spells out exactly the code defaults of every section, so the file a user copies
    /// is the profile that runs; `paper.toml` passes every section's validation.
    #[test]
    fn quick_file_is_the_code_defaults_and_paper_is_valid() {
        let q = Profile::load("quick").unwrap();
        assert_eq!(q.identities, stages::identities::Config::default());
        assert_eq!(q.dynamics, stages::dynamics::Config::default());
        assert_eq!(q.simulations, stages::simulations::Config::default());
        assert_eq!(q.training, stages::training::Config::default());
        assert_eq!(q.prediction, stages::prediction::Config::default());
        assert_eq!(q.performance, stages::performance::Config::default());
        // Every section and key is written out: the file's own tables hold every key a section serializes.
        let text: toml::Table = toml::from_str(BUILTIN[0].1).unwrap();
        for (section, value) in [
            ("identities", toml::Value::try_from(&q.identities).unwrap()),
            ("dynamics", toml::Value::try_from(&q.dynamics).unwrap()),
            ("simulations", toml::Value::try_from(&q.simulations).unwrap()),
            ("training", toml::Value::try_from(&q.training).unwrap()),
            ("performance", toml::Value::try_from(&q.performance).unwrap()),
        ] {
            let written = text[section].as_table().unwrap();
            for key in value.as_table().unwrap().keys() {
                assert!(written.contains_key(key), "quick.toml lacks [{section}] {key}");
            }
        }
        let p = Profile::load("paper").unwrap();
        crate::stages::registry(&p).unwrap_or_else(|e| panic!("paper: {e}"));
        crate::stages::registry(&q).unwrap();
    }

    /// A custom profile's `name` defaults to its file stem.
    #[test]
    fn custom_profile_name_defaults_to_the_file_stem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my-grid.toml");
        std::fs::write(&path, "[training]\nepochs = 2\n").unwrap();
        let p = Profile::load(path.to_str().unwrap()).unwrap();
        assert_eq!((p.name.as_str(), p.training.epochs), ("my-grid", 2));
        std::fs::write(&path, "name = \"mine\"\n").unwrap();
        assert_eq!(Profile::load(path.to_str().unwrap()).unwrap().name, "mine");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_line() {
        let err = Profile::parse("name = \"x\"\nbogus = 1\n", "test").unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = Profile::load("fast").unwrap_err().to_string();
        assert!(err.contains("'fast'") && err.contains("quick, paper"), "{err}");
    }
}
