//! The meter: a set of energy sources read together, each saying whether it
//! measures or estimates.

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How a quantity of energy was obtained.
///
/// Reports must never pass an estimate off as a measurement, so every reading
/// and every record carries this tag and a human-readable description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Read from a hardware energy counter (RAPL, NVML).
    Measured { source: String },
    /// Computed from a model (CPU time × per-core power, TDP × utilisation × time).
    Estimated { basis: String },
}

impl Method {
    /// `"measured"` or `"estimated"`, e.g. for a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Method::Measured { .. } => "measured",
            Method::Estimated { .. } => "estimated",
        }
    }

    /// The source or basis string.
    pub fn detail(&self) -> &str {
        match self {
            Method::Measured { source } => source,
            Method::Estimated { basis } => basis,
        }
    }

    /// True for hardware measurements.
    pub fn is_measured(&self) -> bool {
        matches!(self, Method::Measured { .. })
    }

    /// Combines the methods of several sources: the total is measured only if
    /// every part is, because one estimated term makes the sum an estimate.
    pub fn combine<'a>(methods: impl IntoIterator<Item = &'a Method>) -> Method {
        let methods: Vec<&Method> = methods.into_iter().collect();
        if methods.is_empty() {
            return Method::Estimated {
                basis: "no energy source".to_string(),
            };
        }
        if methods.iter().all(|m| m.is_measured()) {
            let sources: Vec<&str> = methods.iter().map(|m| m.detail()).collect();
            Method::Measured {
                source: sources.join(" + "),
            }
        } else {
            let parts: Vec<String> = methods
                .iter()
                .map(|m| format!("{} {}", m.kind(), m.detail()))
                .collect();
            Method::Estimated {
                basis: parts.join(" + "),
            }
        }
    }
}

/// A source of cumulative energy: a counter that only grows.
///
/// `read` returns joules accumulated since the source was created; sources
/// handle their own wrap-around, so callers may subtract two readings.
pub trait EnergySource: Send {
    /// Short name, e.g. `"rapl"` or `"nvml"`.
    fn name(&self) -> &str;
    /// How this source obtains its energy.
    fn method(&self) -> Method;
    /// Cumulative joules since creation. Cheap: a few file reads or a library call.
    fn read_joules(&mut self) -> Result<f64>;
}

/// Availability of one probed source, meant to be logged once at start-up and
/// shown on an admin page, so an unreadable counter is never silently zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterStatus {
    /// Source name (`"rapl"`, `"nvml"`, `"cpu-estimate"`, ...).
    pub source: String,
    /// Whether the source is in use.
    pub available: bool,
    /// What happened and, when unavailable, how to fix it.
    pub message: String,
}

/// Several sources summed into one cumulative total.
pub struct Meter {
    sources: Vec<Box<dyn EnergySource>>,
    last: Vec<f64>,
    statuses: Vec<MeterStatus>,
    method: Method,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("method", &self.method)
            .field("statuses", &self.statuses)
            .finish()
    }
}

impl Meter {
    /// A meter over the given sources. `statuses` records the probe results
    /// (including sources that were not available).
    pub fn new(sources: Vec<Box<dyn EnergySource>>, statuses: Vec<MeterStatus>) -> Meter {
        let methods: Vec<Method> = sources.iter().map(|s| s.method()).collect();
        let method = Method::combine(methods.iter());
        let last = vec![0.0; sources.len()];
        Meter {
            sources,
            last,
            statuses,
            method,
        }
    }

    /// How the total is obtained.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Probe results and later read failures (each failure recorded once).
    pub fn statuses(&self) -> &[MeterStatus] {
        &self.statuses
    }

    /// Cumulative joules over all sources.
    ///
    /// A source that fails to read keeps its last value (it adds nothing until
    /// a read succeeds; RAPL and NVML then catch up, since their counters are
    /// cumulative) and the failure is recorded once in `statuses`, rather than
    /// failing every request.
    pub fn read_joules(&mut self) -> f64 {
        let mut total = 0.0;
        for (i, src) in self.sources.iter_mut().enumerate() {
            match src.read_joules() {
                Ok(j) => self.last[i] = j,
                Err(e) => {
                    let name = src.name().to_string();
                    let message = format!(
                        "read failed (this source adds nothing until a read succeeds): {e}"
                    );
                    if !self
                        .statuses
                        .iter()
                        .any(|s| s.source == name && s.message == message)
                    {
                        self.statuses.push(MeterStatus {
                            source: name,
                            available: false,
                            message,
                        });
                    }
                }
            }
            total += self.last[i];
        }
        total
    }
}

/// What [`Meter::probe`] tries, with the fallbacks to use.
#[derive(Debug, Clone)]
pub struct MeterConfig {
    /// Powercap root (default `/sys/class/powercap`).
    pub powercap_root: std::path::PathBuf,
    /// NVML library name or path (default `libnvidia-ml.so.1`); `None` skips NVML.
    pub nvml_library: Option<std::path::PathBuf>,
    /// NVML indices of the GPUs serving siagen; `None` meters all of them.
    pub gpu_indices: Option<Vec<u32>>,
    /// CPU estimate used when RAPL is not readable.
    pub cpu_model: crate::estimate::CpuPowerModel,
    /// GPU estimate `(TDP W, utilisation, GPUs)` used when NVML is not
    /// available; `None` means "no GPU" (CPU-only inference).
    pub gpu_estimate: Option<(f64, f64, u32)>,
}

impl Default for MeterConfig {
    fn default() -> Self {
        MeterConfig {
            powercap_root: crate::rapl::DEFAULT_POWERCAP_ROOT.into(),
            nvml_library: Some(crate::nvml::NVML_LIBRARY.into()),
            gpu_indices: None,
            cpu_model: crate::estimate::CpuPowerModel::default_for_host(),
            gpu_estimate: None,
        }
    }
}

impl Meter {
    /// Measures where the hardware allows and estimates where it does not:
    /// RAPL else CPU-time estimate; NVML else the configured GPU estimate.
    /// Every decision is recorded in [`Meter::statuses`].
    pub fn probe(config: &MeterConfig) -> Meter {
        Meter::probe_with_reader(config, Box::new(crate::rapl::FsReader))
    }

    /// [`Meter::probe`] with an injected sysfs reader (tests).
    pub fn probe_with_reader(
        config: &MeterConfig,
        reader: Box<dyn crate::rapl::SysfsReader>,
    ) -> Meter {
        let mut sources: Vec<Box<dyn EnergySource>> = Vec::new();
        let mut statuses = Vec::new();

        match crate::rapl::RaplMeter::probe(&config.powercap_root, reader) {
            Ok(rapl) => {
                let mut message = format!("measuring {}", rapl.package_names().join(", "));
                if !rapl.skipped_zones().is_empty() {
                    message.push_str(&format!(
                        "; not summed (would double count): {}",
                        rapl.skipped_zones().join(", ")
                    ));
                }
                statuses.push(MeterStatus {
                    source: "rapl".into(),
                    available: true,
                    message,
                });
                sources.push(Box::new(rapl));
            }
            Err(e) => {
                statuses.push(MeterStatus {
                    source: "rapl".into(),
                    available: false,
                    message: e.to_string(),
                });
                let est = crate::estimate::ProcessCpuEstimate::new(config.cpu_model);
                statuses.push(MeterStatus {
                    source: "cpu-estimate".into(),
                    available: true,
                    message: format!("CPU energy estimated: {}", est.method().detail()),
                });
                sources.push(Box::new(est));
            }
        }

        let nvml = match &config.nvml_library {
            Some(lib) => crate::nvml::NvmlMeter::open_with(lib, config.gpu_indices.as_deref()),
            None => Err(crate::error::EnergyError::NvmlUnavailable(
                "disabled by configuration".into(),
            )),
        };
        match nvml {
            Ok(n) => {
                statuses.push(MeterStatus {
                    source: "nvml".into(),
                    available: true,
                    message: format!("measuring GPU {:?}", n.device_indices()),
                });
                sources.push(Box::new(n));
            }
            Err(e) => {
                statuses.push(MeterStatus {
                    source: "nvml".into(),
                    available: false,
                    message: e.to_string(),
                });
                if let Some((tdp, util, n)) = config.gpu_estimate {
                    match crate::estimate::GpuTdpEstimate::new(tdp, util, n) {
                        Ok(g) => {
                            statuses.push(MeterStatus {
                                source: "gpu-estimate".into(),
                                available: true,
                                message: format!("GPU energy estimated: {}", g.method().detail()),
                            });
                            sources.push(Box::new(g));
                        }
                        Err(e) => statuses.push(MeterStatus {
                            source: "gpu-estimate".into(),
                            available: false,
                            message: e.to_string(),
                        }),
                    }
                }
            }
        }
        Meter::new(sources, statuses)
    }
}
