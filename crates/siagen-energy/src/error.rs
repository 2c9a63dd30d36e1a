//! Typed errors of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while metering, attributing or exposing energy.
///
/// Metering errors are values, never panics: a platform without RAPL or NVML
/// is normal and must degrade to an estimate, not crash a generation.
#[derive(Debug, thiserror::Error)]
pub enum EnergyError {
    /// No powercap tree (no RAPL driver, a VM or a container without /sys).
    #[error("no RAPL package domain under {root}")]
    RaplAbsent { root: PathBuf },

    /// A sysfs file exists but cannot be read; `hint` says how to fix it.
    #[error("cannot read {path}: {source}; {hint}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: String,
    },

    /// A sysfs file had content that is not a non-negative integer.
    #[error("unexpected content in {path}: {content:?}")]
    Parse { path: PathBuf, content: String },

    /// The NVML shared library could not be loaded or lacks a symbol.
    #[error("NVML not available: {0}")]
    NvmlUnavailable(String),

    /// An NVML call returned a non-success code.
    #[error("NVML call {call} failed with code {code} ({})", nvml_code_name(*.code))]
    Nvml { call: &'static str, code: i32 },

    /// A Prometheus metric or label name is not valid, or labels do not match.
    #[error("invalid metric: {0}")]
    InvalidMetric(String),

    /// A configuration value is out of range (negative watts, PUE below 1...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, EnergyError>;

/// Meaning of the NVML return codes an operator is likely to meet (nvml.h).
pub fn nvml_code_name(code: i32) -> &'static str {
    match code {
        1 => "NVML not initialised",
        2 => "invalid argument",
        3 => "not supported: the energy counter needs a Volta or newer GPU",
        4 => "no permission",
        9 => "driver not loaded",
        12 => "library function not found: driver too old",
        15 => "GPU is lost",
        18 => "driver/library version mismatch: reboot or reload the driver",
        _ => "see nvml.h",
    }
}
