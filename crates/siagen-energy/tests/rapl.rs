//! RAPL meter against a fake powercap tree written into a temp dir.

use std::io;
use std::path::{Path, PathBuf};

use siagen_energy::meter::{EnergySource, Meter, MeterConfig};
use siagen_energy::rapl::{FsReader, RaplMeter, SysfsReader, RAPL_PERMISSION_HINT};
use siagen_energy::EnergyError;

fn zone(root: &Path, dir: &str, name: &str, energy: u64, max: u64) -> PathBuf {
    let z = root.join(dir);
    std::fs::create_dir_all(&z).unwrap();
    std::fs::write(z.join("name"), format!("{name}\n")).unwrap();
    std::fs::write(z.join("energy_uj"), format!("{energy}\n")).unwrap();
    std::fs::write(z.join("max_energy_range_uj"), format!("{max}\n")).unwrap();
    z
}

fn set_energy(root: &Path, dir: &str, energy: u64) {
    std::fs::write(root.join(dir).join("energy_uj"), format!("{energy}\n")).unwrap();
}

/// Two sockets, each with core/dram subzones, plus psys and the control dir.
fn two_socket_tree(root: &Path) {
    std::fs::create_dir_all(root.join("intel-rapl")).unwrap(); // control type, no counter
    zone(root, "intel-rapl:0", "package-0", 1_000_000, 10_000_000);
    zone(root, "intel-rapl:0:0", "core", 500_000, 10_000_000);
    zone(root, "intel-rapl:0:1", "dram", 300_000, 10_000_000);
    zone(root, "intel-rapl:1", "package-1", 2_000_000, 20_000_000);
    zone(root, "intel-rapl:1:0", "core", 700_000, 20_000_000);
    zone(root, "intel-rapl:2", "psys", 9_000_000, 30_000_000);
    zone(
        root,
        "intel-rapl-mmio:0",
        "package-0",
        1_000_000,
        10_000_000,
    );
}

#[test]
fn sums_packages_only_no_double_counting() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    two_socket_tree(root);
    let mut m = RaplMeter::probe(root, Box::new(FsReader)).unwrap();
    assert_eq!(m.package_names(), vec!["package-0", "package-1"]);
    assert_eq!(m.skipped_zones(), ["intel-rapl:2 (psys)"]);
    assert_eq!(m.read_uj().unwrap(), 0, "first read is the baseline");

    // Packages advance by 1 J and 2 J; subzones, psys and mmio advance too
    // but must not be added.
    set_energy(root, "intel-rapl:0", 2_000_000);
    set_energy(root, "intel-rapl:1", 4_000_000);
    set_energy(root, "intel-rapl:0:0", 1_400_000);
    set_energy(root, "intel-rapl:0:1", 800_000);
    set_energy(root, "intel-rapl:2", 15_000_000);
    set_energy(root, "intel-rapl-mmio:0", 2_000_000);
    assert_eq!(m.read_uj().unwrap(), 3_000_000);
    assert!((m.read_joules().unwrap() - 3.0).abs() < 1e-12);
}

#[test]
fn wrap_around_uses_max_energy_range() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    zone(root, "intel-rapl:0", "package-0", 9_000_000, 10_000_000);
    let mut m = RaplMeter::probe(root, Box::new(FsReader)).unwrap();
    set_energy(root, "intel-rapl:0", 9_500_000);
    assert_eq!(m.read_uj().unwrap(), 500_000);
    // Wraps: 9.5 J -> range end 10 J (0.5 J) then 0 -> 0.25 J.
    set_energy(root, "intel-rapl:0", 250_000);
    assert_eq!(m.read_uj().unwrap(), 500_000 + 500_000 + 250_000);
    // Keeps accumulating after the wrap, across several wraps.
    set_energy(root, "intel-rapl:0", 9_999_999);
    assert_eq!(m.read_uj().unwrap(), 1_250_000 + 9_749_999);
    set_energy(root, "intel-rapl:0", 1);
    assert_eq!(m.read_uj().unwrap(), 10_999_999 + 1 + 1);
}

#[test]
fn absent_tree_is_an_error_not_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let err = RaplMeter::probe(&tmp.path().join("nope"), Box::new(FsReader)).unwrap_err();
    assert!(matches!(err, EnergyError::RaplAbsent { .. }), "{err}");
    // A tree with only psys (a laptop without package zone) is absent too.
    zone(tmp.path(), "intel-rapl:0", "psys", 1, 10);
    let err = RaplMeter::probe(tmp.path(), Box::new(FsReader)).unwrap_err();
    assert!(matches!(err, EnergyError::RaplAbsent { .. }), "{err}");
}

#[test]
fn garbage_content_is_a_parse_error() {
    let tmp = tempfile::tempdir().unwrap();
    let z = zone(tmp.path(), "intel-rapl:0", "package-0", 1, 10);
    std::fs::write(z.join("energy_uj"), "not a number").unwrap();
    let err = RaplMeter::probe(tmp.path(), Box::new(FsReader)).unwrap_err();
    assert!(matches!(err, EnergyError::Parse { .. }), "{err}");
}

/// Denies reading `energy_uj`, as the kernel does for non-root since 5.10.
/// Needed because tests often run as root, where `chmod 000` changes nothing.
struct DenyEnergy;

impl SysfsReader for DenyEnergy {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        if path.file_name().is_some_and(|n| n == "energy_uj") {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        std::fs::read_to_string(path)
    }
}

fn assert_permission_status(meter: &Meter) {
    let rapl = meter
        .statuses()
        .iter()
        .find(|s| s.source == "rapl")
        .unwrap();
    assert!(!rapl.available);
    assert!(
        rapl.message.contains("readable by root only"),
        "{}",
        rapl.message
    );
    assert!(rapl.message.contains("chmod o+r"), "{}", rapl.message);
    assert!(rapl.message.contains("udev"), "{}", rapl.message);
    // Falls back to an estimate, and says so.
    assert!(!meter.method().is_measured());
    assert!(meter
        .statuses()
        .iter()
        .any(|s| s.source == "cpu-estimate" && s.available));
}

#[test]
fn permission_denied_reports_the_fix_injected_reader() {
    let tmp = tempfile::tempdir().unwrap();
    two_socket_tree(tmp.path());
    let err = RaplMeter::probe(tmp.path(), Box::new(DenyEnergy)).unwrap_err();
    match &err {
        EnergyError::Unreadable { hint, .. } => assert_eq!(hint, RAPL_PERMISSION_HINT),
        other => panic!("unexpected {other}"),
    }
    let cfg = MeterConfig {
        powercap_root: tmp.path().to_path_buf(),
        nvml_library: None,
        ..MeterConfig::default()
    };
    let meter = Meter::probe_with_reader(&cfg, Box::new(DenyEnergy));
    assert_permission_status(&meter);
}

#[test]
fn chmod_000_with_the_real_file_system() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let z = zone(tmp.path(), "intel-rapl:0", "package-0", 1, 10);
    let f = z.join("energy_uj");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_to_string(&f).is_ok() {
        // Root (CAP_DAC_OVERRIDE) reads anyway: chmod cannot make the file
        // unreadable; the injected-reader test above covers this path.
        eprintln!("running privileged: chmod 000 does not deny reads, covered by DenyEnergy");
        return;
    }
    let cfg = MeterConfig {
        powercap_root: tmp.path().to_path_buf(),
        nvml_library: None,
        ..MeterConfig::default()
    };
    assert_permission_status(&Meter::probe(&cfg));
}

#[test]
fn directory_in_place_of_counter_is_unreadable_not_zero() {
    // Works as root too: reading a directory fails for everyone.
    let tmp = tempfile::tempdir().unwrap();
    let z = zone(tmp.path(), "intel-rapl:0", "package-0", 1, 10);
    std::fs::remove_file(z.join("energy_uj")).unwrap();
    std::fs::create_dir(z.join("energy_uj")).unwrap();
    let err = RaplMeter::probe(tmp.path(), Box::new(FsReader)).unwrap_err();
    assert!(matches!(err, EnergyError::Unreadable { .. }), "{err}");
    let cfg = MeterConfig {
        powercap_root: tmp.path().to_path_buf(),
        nvml_library: None,
        ..MeterConfig::default()
    };
    let meter = Meter::probe(&cfg);
    let rapl = meter
        .statuses()
        .iter()
        .find(|s| s.source == "rapl")
        .unwrap();
    assert!(!rapl.available && rapl.message.contains("energy_uj"));
    assert!(!meter.method().is_measured());
}

#[test]
fn read_failure_after_probe_is_recorded_once() {
    let tmp = tempfile::tempdir().unwrap();
    zone(
        tmp.path(),
        "intel-rapl:0",
        "package-0",
        1_000_000,
        10_000_000,
    );
    let cfg = MeterConfig {
        powercap_root: tmp.path().to_path_buf(),
        nvml_library: None,
        ..MeterConfig::default()
    };
    let mut meter = Meter::probe(&cfg);
    assert!(meter.method().is_measured(), "{:?}", meter.method());
    set_energy(tmp.path(), "intel-rapl:0", 3_000_000);
    assert!((meter.read_joules() - 2.0).abs() < 1e-12);
    std::fs::remove_file(tmp.path().join("intel-rapl:0/energy_uj")).unwrap();
    for _ in 0..3 {
        assert!(
            (meter.read_joules() - 2.0).abs() < 1e-12,
            "keeps last value"
        );
    }
    let failures = meter
        .statuses()
        .iter()
        .filter(|s| s.source == "rapl" && !s.available)
        .count();
    assert_eq!(failures, 1);
}
