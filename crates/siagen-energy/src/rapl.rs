//! CPU package energy from Linux powercap / RAPL.
//!
//! Layout read (`/sys/class/powercap` by default, configurable so tests can
//! use a fake tree):
//!
//! ```text
//! intel-rapl:0/name                 "package-0"
//! intel-rapl:0/energy_uj            cumulative µJ, wraps at max_energy_range_uj
//! intel-rapl:0/max_energy_range_uj
//! intel-rapl:0:0/...                "core", "uncore", "dram": subzones
//! intel-rapl:1/name                 "package-1" (second socket) or "psys"
//! ```
//!
//! Only top-level `intel-rapl:N` zones named `package-*` are summed: subzones
//! (`intel-rapl:N:M`, e.g. core or dram) are parts of, or beside, the package
//! and adding them would count the same joules twice; `psys` (platform, on
//! laptops) already contains the packages. AMD Zen CPUs expose the same
//! `intel-rapl` names through the same driver.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{EnergyError, Result};
use crate::meter::{EnergySource, Method};

/// Default powercap root.
pub const DEFAULT_POWERCAP_ROOT: &str = "/sys/class/powercap";

/// How to make `energy_uj` readable, shown to operators when it is not.
///
/// Since Linux 5.10 (the "Platypus" side channel, CVE-2020-8694) the file is
/// mode 0400 root.
pub const RAPL_PERMISSION_HINT: &str = "energy_uj is readable by root only since Linux 5.10 \
(CVE-2020-8694): run siagen as root, or `chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj` \
after each boot, or install a udev rule such as \
ACTION==\"add\", SUBSYSTEM==\"powercap\", RUN+=\"/bin/chmod o+r /sys%p/energy_uj\"";

/// Reads small sysfs files. Injectable so tests can simulate unreadable files
/// even when they run as root (where `chmod 000` does not prevent reading).
pub trait SysfsReader: Send + Sync {
    /// Whole content of a file.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsReader;

impl SysfsReader for FsReader {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// One top-level RAPL package being tracked.
#[derive(Debug, Clone)]
struct Package {
    name: String,
    energy_path: PathBuf,
    /// Counter range in µJ: the value after which `energy_uj` restarts at 0.
    max_range_uj: u64,
    last_raw_uj: u64,
    /// Accumulated µJ since the meter was created, wrap-around included.
    acc_uj: u128,
}

/// Sum of the RAPL package counters, with wrap-around handling.
///
/// Wrap-around is detected by a reading lower than the previous one, so the
/// meter must be read at least once per wrap period (`max_energy_range_uj` /
/// package power: typically 15 to 60 minutes at full load, much less on old
/// 32-bit counters); the accountant's ticker does that.
pub struct RaplMeter {
    packages: Vec<Package>,
    reader: Box<dyn SysfsReader>,
    skipped: Vec<String>,
}

impl std::fmt::Debug for RaplMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaplMeter")
            .field("packages", &self.packages)
            .field("skipped", &self.skipped)
            .finish()
    }
}

fn read_u64(reader: &dyn SysfsReader, path: &Path) -> Result<u64> {
    let content = reader.read_to_string(path).map_err(|source| {
        let hint = if source.kind() == io::ErrorKind::PermissionDenied {
            RAPL_PERMISSION_HINT.to_string()
        } else {
            "check that the powercap driver (intel_rapl_common) is loaded".to_string()
        };
        EnergyError::Unreadable {
            path: path.to_path_buf(),
            source,
            hint,
        }
    })?;
    content
        .trim()
        .parse::<u64>()
        .map_err(|_| EnergyError::Parse {
            path: path.to_path_buf(),
            content: content.chars().take(64).collect(),
        })
}

/// True for `intel-rapl:N` (a top-level zone), false for `intel-rapl:N:M`,
/// `intel-rapl` (the control type) and `intel-rapl-mmio:N` (an MMIO alias of
/// the package limits on some Intel client parts).
fn is_top_level_zone(dir_name: &str) -> bool {
    match dir_name.strip_prefix("intel-rapl:") {
        Some(rest) => !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

impl RaplMeter {
    /// Probes the default root with the real file system.
    pub fn probe_default() -> Result<RaplMeter> {
        RaplMeter::probe(Path::new(DEFAULT_POWERCAP_ROOT), Box::new(FsReader))
    }

    /// Probes `root` for package zones and takes a first reading of each.
    ///
    /// Fails if there is no package zone or if any package's counter cannot be
    /// read: a partial sum would silently under-report a multi-socket server.
    pub fn probe(root: &Path, reader: Box<dyn SysfsReader>) -> Result<RaplMeter> {
        let absent = || EnergyError::RaplAbsent {
            root: root.to_path_buf(),
        };
        let entries = std::fs::read_dir(root).map_err(|_| absent())?;
        let mut dirs: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_top_level_zone(n))
            .collect();
        // Numeric order so package-0 comes first, whatever readdir returns.
        dirs.sort_by_key(|n| n["intel-rapl:".len()..].parse::<u64>().unwrap_or(u64::MAX));

        let mut packages = Vec::new();
        let mut skipped = Vec::new();
        for dir in dirs {
            let zone = root.join(&dir);
            let name = reader
                .read_to_string(&zone.join("name"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            if !name.starts_with("package") {
                // psys contains the packages; an unnamed zone is unknown.
                skipped.push(format!("{dir} ({name})"));
                continue;
            }
            let max_range_uj = read_u64(reader.as_ref(), &zone.join("max_energy_range_uj"))?;
            let energy_path = zone.join("energy_uj");
            let last_raw_uj = read_u64(reader.as_ref(), &energy_path)?;
            packages.push(Package {
                name,
                energy_path,
                max_range_uj,
                last_raw_uj,
                acc_uj: 0,
            });
        }
        if packages.is_empty() {
            return Err(absent());
        }
        Ok(RaplMeter {
            packages,
            reader,
            skipped,
        })
    }

    /// Names of the summed packages, e.g. `["package-0", "package-1"]`.
    pub fn package_names(&self) -> Vec<String> {
        self.packages.iter().map(|p| p.name.clone()).collect()
    }

    /// Top-level zones deliberately not summed (e.g. `psys`).
    pub fn skipped_zones(&self) -> &[String] {
        &self.skipped
    }

    /// Cumulative µJ since the probe, all packages, wrap-around included.
    pub fn read_uj(&mut self) -> Result<u128> {
        // Read every package before updating any, so one failure leaves the
        // state consistent.
        let mut raws = Vec::with_capacity(self.packages.len());
        for p in &self.packages {
            raws.push(read_u64(self.reader.as_ref(), &p.energy_path)?);
        }
        let mut total = 0u128;
        for (p, raw) in self.packages.iter_mut().zip(raws) {
            let delta = if raw >= p.last_raw_uj {
                raw - p.last_raw_uj
            } else {
                // Wrapped once: up to the range end, then from zero.
                p.max_range_uj.saturating_sub(p.last_raw_uj) + raw
            };
            p.last_raw_uj = raw;
            p.acc_uj += u128::from(delta);
            total += p.acc_uj;
        }
        Ok(total)
    }
}

impl EnergySource for RaplMeter {
    fn name(&self) -> &str {
        "rapl"
    }

    fn method(&self) -> Method {
        Method::Measured {
            source: format!("RAPL {}", self.package_names().join("+")),
        }
    }

    fn read_joules(&mut self) -> Result<f64> {
        Ok(self.read_uj()? as f64 / 1e6)
    }
}
