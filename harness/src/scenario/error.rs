//! What is wrong with a scenario file, and the collector validation reports it to.
//!
//! Validation does not stop at the first problem: every section is checked and each problem is
//! pushed to a [`Checker`], so one pass over a file reports all of them. Each [`FieldError`]
//! names the file, the field path and what is allowed; the checker's helpers (durations, integer
//! ranges) word those messages the same way everywhere.

use std::fmt;
use std::time::Duration;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub file: String,
    pub line: Option<usize>,
    /// Dotted field path, e.g. `publish.max_in_flight`; empty for the whole file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one scenario file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ScenarioError {
    pub errors: Vec<FieldError>,
}

impl ScenarioError {
    /// A single problem (the file cannot be read or parsed, so nothing else can be checked).
    pub(crate) fn one(file: &str, line: Option<usize>, field: String, message: String) -> Self {
        ScenarioError {
            errors: vec![FieldError {
                file: file.to_string(),
                line,
                field,
                message,
            }],
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Collects field errors while validating. Its helpers return a usable default after a
/// problem, so validation can go on and find the next one.
pub(crate) struct Checker<'a> {
    file: &'a str,
    errors: Vec<FieldError>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(file: &'a str) -> Self {
        Checker {
            file,
            errors: Vec::new(),
        }
    }

    /// Everything found, or `Ok(value)` when nothing was.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ScenarioError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ScenarioError {
                errors: self.errors,
            })
        }
    }

    pub(crate) fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            file: self.file.to_string(),
            line: None,
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// A duration greater than zero ("500ms", "10s").
    pub(crate) fn duration(
        &mut self,
        field: &str,
        value: Option<&str>,
        default: Duration,
    ) -> Duration {
        let errors = self.errors.len();
        let d = self.duration0(field, value, default);
        // Zero only when it was written so (not already an error).
        if value.is_some() && self.errors.len() == errors && d.is_zero() {
            self.err(field, "must be greater than zero");
            return default;
        }
        d
    }

    /// A duration that may be zero ("0s").
    pub(crate) fn duration0(
        &mut self,
        field: &str,
        value: Option<&str>,
        default: Duration,
    ) -> Duration {
        let Some(s) = value else { return default };
        match humantime::parse_duration(s) {
            Ok(d) => d,
            Err(e) => {
                self.err(
                    field,
                    format!("{s:?} is not a duration ({e}); write e.g. \"0s\", \"500ms\", \"2s\""),
                );
                default
            }
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn range(
        &mut self,
        field: &str,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> i64 {
        match value {
            None => default,
            Some(v) if v < min || v > max => {
                self.err(field, format!("must be between {min} and {max} (got {v})"));
                default
            }
            Some(v) => v,
        }
    }
}
