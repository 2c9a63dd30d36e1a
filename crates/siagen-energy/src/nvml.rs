//! NVIDIA GPU energy from NVML's total-energy counter, loaded at run time.
//!
//! `libnvidia-ml.so.1` ships with the driver, not with CUDA, and is opened
//! with `dlopen` (libloading) so that siagen builds and runs on machines
//! without any NVIDIA software: there the meter reports "NVML not available".
//! `nvmlDeviceGetTotalEnergyConsumption` (Volta and later) returns millijoules
//! since the driver was loaded, for the whole board.

use std::ffi::{c_int, c_uint, c_ulonglong, c_void};
use std::path::Path;

use crate::error::{EnergyError, Result};
use crate::meter::{EnergySource, Method};

/// Library name as installed by the NVIDIA driver.
pub const NVML_LIBRARY: &str = "libnvidia-ml.so.1";

type NvmlReturn = c_int;
type NvmlDevice = *mut c_void;
const NVML_SUCCESS: NvmlReturn = 0;

type InitFn = unsafe extern "C" fn() -> NvmlReturn;
type ShutdownFn = unsafe extern "C" fn() -> NvmlReturn;
type CountFn = unsafe extern "C" fn(*mut c_uint) -> NvmlReturn;
type HandleFn = unsafe extern "C" fn(c_uint, *mut NvmlDevice) -> NvmlReturn;
type EnergyFn = unsafe extern "C" fn(NvmlDevice, *mut c_ulonglong) -> NvmlReturn;

/// Summed total-energy counters of the selected GPUs.
pub struct NvmlMeter {
    // Function pointers below point into this library: it must outlive them,
    // hence kept in the same struct and never exposed.
    _lib: libloading::Library,
    shutdown: ShutdownFn,
    energy: EnergyFn,
    devices: Vec<(u32, NvmlDevice)>,
    baseline_mj: Vec<u64>,
    last_mj: Vec<u64>,
}

// SAFETY: NVML is documented as thread-safe; device handles are opaque
// pointers owned by the library, valid until nvmlShutdown (called in Drop).
unsafe impl Send for NvmlMeter {}

impl std::fmt::Debug for NvmlMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idx: Vec<u32> = self.devices.iter().map(|d| d.0).collect();
        f.debug_struct("NvmlMeter").field("devices", &idx).finish()
    }
}

fn check(call: &'static str, code: NvmlReturn) -> Result<()> {
    if code == NVML_SUCCESS {
        Ok(())
    } else {
        Err(EnergyError::Nvml { call, code })
    }
}

impl NvmlMeter {
    /// Opens the driver's NVML and meters every visible GPU.
    pub fn open() -> Result<NvmlMeter> {
        NvmlMeter::open_with(Path::new(NVML_LIBRARY), None)
    }

    /// Opens NVML from `library` (a name searched by the dynamic loader, or a
    /// path) and meters the GPUs whose NVML indices are in `only`, or all.
    ///
    /// Never panics: a missing library, a missing symbol, a failed init or a
    /// GPU without energy counter (pre-Volta) all return an error.
    pub fn open_with(library: &Path, only: Option<&[u32]>) -> Result<NvmlMeter> {
        let unavailable = |what: String| EnergyError::NvmlUnavailable(what);
        // SAFETY: loading the NVIDIA library runs its initialisers, which is
        // what every NVML client does; no Rust invariant depends on them.
        let lib = unsafe { libloading::Library::new(library.as_os_str()) }
            .map_err(|e| unavailable(format!("cannot load {}: {e}", library.display())))?;
        // SAFETY: the symbol types match the NVML C API (nvml.h).
        let (init, shutdown, count, handle, energy) = unsafe {
            let sym = |name: &str| unavailable(format!("symbol {name} missing"));
            (
                *lib.get::<InitFn>(b"nvmlInit_v2\0")
                    .map_err(|_| sym("nvmlInit_v2"))?,
                *lib.get::<ShutdownFn>(b"nvmlShutdown\0")
                    .map_err(|_| sym("nvmlShutdown"))?,
                *lib.get::<CountFn>(b"nvmlDeviceGetCount_v2\0")
                    .map_err(|_| sym("nvmlDeviceGetCount_v2"))?,
                *lib.get::<HandleFn>(b"nvmlDeviceGetHandleByIndex_v2\0")
                    .map_err(|_| sym("nvmlDeviceGetHandleByIndex_v2"))?,
                *lib.get::<EnergyFn>(b"nvmlDeviceGetTotalEnergyConsumption\0")
                    .map_err(|_| sym("nvmlDeviceGetTotalEnergyConsumption"))?,
            )
        };
        // SAFETY: plain C calls with valid out-pointers.
        unsafe { check("nvmlInit_v2", init())? };
        let mut meter = NvmlMeter {
            _lib: lib,
            shutdown,
            energy,
            devices: Vec::new(),
            baseline_mj: Vec::new(),
            last_mj: Vec::new(),
        };
        let mut n: c_uint = 0;
        // SAFETY: valid out-pointer.
        unsafe { check("nvmlDeviceGetCount_v2", count(&mut n))? };
        for i in 0..n {
            if only.is_some_and(|o| !o.contains(&i)) {
                continue;
            }
            let mut dev: NvmlDevice = std::ptr::null_mut();
            // SAFETY: valid index and out-pointer.
            unsafe { check("nvmlDeviceGetHandleByIndex_v2", handle(i, &mut dev))? };
            meter.devices.push((i, dev));
        }
        if meter.devices.is_empty() {
            return Err(unavailable("no GPU selected or visible".to_string()));
        }
        meter.baseline_mj = meter.read_raw()?;
        meter.last_mj = meter.baseline_mj.clone();
        Ok(meter)
    }

    /// NVML indices of the metered GPUs.
    pub fn device_indices(&self) -> Vec<u32> {
        self.devices.iter().map(|d| d.0).collect()
    }

    fn read_raw(&self) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(self.devices.len());
        for &(_, dev) in &self.devices {
            let mut mj: c_ulonglong = 0;
            // SAFETY: handle obtained from this NVML instance, still initialised.
            unsafe {
                check(
                    "nvmlDeviceGetTotalEnergyConsumption",
                    (self.energy)(dev, &mut mj),
                )?
            };
            out.push(mj);
        }
        Ok(out)
    }
}

impl EnergySource for NvmlMeter {
    fn name(&self) -> &str {
        "nvml"
    }

    fn method(&self) -> Method {
        let idx: Vec<String> = self.devices.iter().map(|d| d.0.to_string()).collect();
        Method::Measured {
            source: format!("NVML total energy GPU {}", idx.join(",")),
        }
    }

    fn read_joules(&mut self) -> Result<f64> {
        let raw = self.read_raw()?;
        let mut total_mj = 0u64;
        for (i, mj) in raw.into_iter().enumerate() {
            // The counter restarts only when the driver reloads; never go back.
            let mj = mj.max(self.last_mj[i]);
            self.last_mj[i] = mj;
            total_mj += mj - self.baseline_mj[i];
        }
        Ok(total_mj as f64 / 1e3)
    }
}

impl Drop for NvmlMeter {
    fn drop(&mut self) {
        // SAFETY: balances the successful nvmlInit_v2 of open_with.
        unsafe {
            (self.shutdown)();
        }
    }
}
