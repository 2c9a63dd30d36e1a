//! Energy and carbon accounting for siagen.
//!
//! siagen measures energy where the hardware allows and estimates it honestly
//! where it does not, and every figure says which:
//!
//! - [`rapl::RaplMeter`]: CPU packages from Linux powercap (Intel and AMD);
//! - [`nvml::NvmlMeter`]: NVIDIA GPUs from NVML, loaded at run time;
//! - [`estimate`]: CPU time × TDP/cores and GPU TDP × utilisation × time;
//! - [`accountant::Accountant`]: shares measured energy among overlapping
//!   requests in proportion to tokens processed;
//! - [`carbon::CarbonConfig`]: gCO2e = kWh × PUE × grid intensity (France by
//!   default, ADEME);
//! - [`prom::Registry`]: Prometheus text exposition for `/metrics`.
//!
//! ```no_run
//! use siagen_energy::{Accountant, CarbonConfig, Meter, MeterConfig};
//! let meter = Meter::probe(&MeterConfig::default());
//! for s in meter.statuses() { eprintln!("energy: {}: {}", s.source, s.message); }
//! let acc = Accountant::new(meter, CarbonConfig::default());
//! let _ticker = acc.spawn_ticker(std::time::Duration::from_secs(1));
//! let span = acc.begin("mistral-7b");
//! span.add_work(120); // prompt tokens, after prefill
//! span.add_work(1);   // each generated token
//! let rec = span.finish();
//! println!("{:.3} Wh, {:.4} gCO2e, {}", rec.wh, rec.co2e_g, rec.method.kind());
//! ```

pub mod accountant;
pub mod carbon;
pub mod error;
pub mod estimate;
pub mod meter;
pub mod nvml;
pub mod prom;
pub mod rapl;

pub use accountant::{Accountant, EnergyRecord, KeyTotals, Span, Ticker, Totals};
pub use carbon::{CarbonConfig, FRANCE_GRID_G_PER_KWH, FRANCE_GRID_SOURCE};
pub use error::{EnergyError, Result};
pub use estimate::{CpuPowerModel, GpuTdpEstimate, ProcessCpuEstimate};
pub use meter::{EnergySource, Meter, MeterConfig, MeterStatus, Method};
pub use nvml::NvmlMeter;
pub use prom::{Registry, SiagenMetrics};
pub use rapl::{RaplMeter, SysfsReader};
