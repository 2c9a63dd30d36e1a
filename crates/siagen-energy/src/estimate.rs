//! Estimates used when no hardware counter is readable.
//!
//! They are labelled `Estimated` everywhere they appear. They are deliberately
//! simple, documented formulas: an operator can check and tune them, which is
//! worth more than a sophisticated model nobody can audit.

use std::time::{Duration, Instant};

use crate::error::{EnergyError, Result};
use crate::meter::{EnergySource, Method};

/// Default CPU TDP when none is configured, in watts.
///
/// 85 W is a mid-range server/desktop package TDP (many Xeon E/Silver and Ryzen
/// parts sit between 65 and 125 W); it is a placeholder, so set the real value
/// from the CPU's datasheet with `SIAGEN_CPU_TDP_W`.
pub const DEFAULT_CPU_TDP_W: f64 = 85.0;

/// Environment variable overriding the CPU TDP (watts, whole package).
pub const ENV_CPU_TDP_W: &str = "SIAGEN_CPU_TDP_W";
/// Environment variable overriding the core count the TDP is spread over.
pub const ENV_CPU_CORES: &str = "SIAGEN_CPU_CORES";

/// Power of one busy core: TDP / cores.
///
/// Energy of a piece of work = CPU time × TDP / cores. CPU time counts one
/// second per core-second busy, so a process keeping all cores busy is
/// charged the full TDP; an idle process is charged nothing (idle power is out
/// of scope of a per-request estimate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuPowerModel {
    /// Package TDP in watts (sum over sockets for multi-socket machines).
    pub tdp_w: f64,
    /// Logical CPUs the TDP is spread over.
    pub cores: u32,
}

impl CpuPowerModel {
    /// Validated model.
    pub fn new(tdp_w: f64, cores: u32) -> Result<CpuPowerModel> {
        if !(tdp_w.is_finite() && tdp_w > 0.0) || cores == 0 {
            return Err(EnergyError::InvalidConfig(format!(
                "CPU power model needs TDP > 0 W and cores > 0, got {tdp_w} W / {cores}"
            )));
        }
        Ok(CpuPowerModel { tdp_w, cores })
    }

    /// [`DEFAULT_CPU_TDP_W`] over the logical CPUs of this machine.
    pub fn default_for_host() -> CpuPowerModel {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        CpuPowerModel {
            tdp_w: DEFAULT_CPU_TDP_W,
            cores,
        }
    }

    /// Host default, overridden by `SIAGEN_CPU_TDP_W` / `SIAGEN_CPU_CORES`.
    pub fn from_env() -> Result<CpuPowerModel> {
        let mut m = CpuPowerModel::default_for_host();
        if let Ok(v) = std::env::var(ENV_CPU_TDP_W) {
            m.tdp_w = v
                .trim()
                .parse()
                .map_err(|_| EnergyError::InvalidConfig(format!("{ENV_CPU_TDP_W}={v:?}")))?;
        }
        if let Ok(v) = std::env::var(ENV_CPU_CORES) {
            m.cores = v
                .trim()
                .parse()
                .map_err(|_| EnergyError::InvalidConfig(format!("{ENV_CPU_CORES}={v:?}")))?;
        }
        CpuPowerModel::new(m.tdp_w, m.cores)
    }

    /// Watts charged per busy core.
    pub fn watts_per_core(&self) -> f64 {
        self.tdp_w / f64::from(self.cores)
    }

    /// Estimated joules for `cpu_time` of work (e.g. measured by the caller
    /// around one request's CPU-bound section).
    pub fn joules_for_cpu_time(&self, cpu_time: Duration) -> f64 {
        cpu_time.as_secs_f64() * self.watts_per_core()
    }

    fn basis(&self) -> String {
        format!(
            "process CPU time x {:.2} W/core (TDP {} W / {} cores)",
            self.watts_per_core(),
            self.tdp_w,
            self.cores
        )
    }
}

/// CPU time consumed by this process so far (all threads).
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and out-pointer; cannot fail for this clock on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Estimated CPU energy of this process: CPU time × W/core.
#[derive(Debug)]
pub struct ProcessCpuEstimate {
    model: CpuPowerModel,
    start: Duration,
}

impl ProcessCpuEstimate {
    /// Starts counting from now.
    pub fn new(model: CpuPowerModel) -> ProcessCpuEstimate {
        ProcessCpuEstimate {
            model,
            start: process_cpu_time(),
        }
    }
}

impl EnergySource for ProcessCpuEstimate {
    fn name(&self) -> &str {
        "cpu-estimate"
    }

    fn method(&self) -> Method {
        Method::Estimated {
            basis: self.model.basis(),
        }
    }

    fn read_joules(&mut self) -> Result<f64> {
        let used = process_cpu_time().saturating_sub(self.start);
        Ok(self.model.joules_for_cpu_time(used))
    }
}

/// GPU estimate: E = TDP × utilisation × GPUs × wall time.
///
/// Used for a GPU without readable energy counter. `utilisation` is the
/// assumed average fraction of TDP drawn (default 1.0: an upper bound, since
/// an overestimate is the honest error for an environmental report). Wall time
/// when no request runs ends up in the accountant's idle energy, not in any
/// request.
#[derive(Debug)]
pub struct GpuTdpEstimate {
    tdp_w: f64,
    utilisation: f64,
    gpus: u32,
    start: Instant,
}

impl GpuTdpEstimate {
    /// Validated estimate; `utilisation` in 0..=1.
    pub fn new(tdp_w: f64, utilisation: f64, gpus: u32) -> Result<GpuTdpEstimate> {
        let valid = tdp_w.is_finite() && tdp_w > 0.0 && (0.0..=1.0).contains(&utilisation);
        if !valid || gpus == 0 {
            return Err(EnergyError::InvalidConfig(format!(
                "GPU estimate needs TDP > 0, utilisation in [0,1], GPUs > 0; got {tdp_w} W, {utilisation}, {gpus}"
            )));
        }
        Ok(GpuTdpEstimate {
            tdp_w,
            utilisation,
            gpus,
            start: Instant::now(),
        })
    }

    /// Joules for a wall-clock duration under this model.
    pub fn joules_for(&self, wall: Duration) -> f64 {
        self.tdp_w * self.utilisation * f64::from(self.gpus) * wall.as_secs_f64()
    }
}

impl EnergySource for GpuTdpEstimate {
    fn name(&self) -> &str {
        "gpu-estimate"
    }

    fn method(&self) -> Method {
        Method::Estimated {
            basis: format!(
                "GPU TDP {} W x utilisation {} x {} GPU x wall time",
                self.tdp_w, self.utilisation, self.gpus
            ),
        }
    }

    fn read_joules(&mut self) -> Result<f64> {
        Ok(self.joules_for(self.start.elapsed()))
    }
}
