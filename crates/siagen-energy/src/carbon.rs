//! Carbon footprint of electricity: CO2e = kWh × PUE × grid intensity.

use serde::{Deserialize, Serialize};

use crate::error::{EnergyError, Result};

/// Default grid intensity for France, gCO2e per kWh consumed.
///
/// ADEME Base Empreinte, "Électricité - 2022 - mix moyen - consommation"
/// (France continentale): 52 gCO2e/kWh. ADEME's life-cycle "mix moyen" factor
/// is the one French regulation asks for in a Bilan GES (greenhouse-gas
/// report), which is what a hospital or a practice will fill in; it includes
/// upstream fuel, plant construction, imports and grid losses. RTE eCO2mix
/// annual figures are lower (direct combustion emissions of production only,
/// roughly 20-35 g in 2023-2024) and suit real-time dashboards rather than a
/// footprint. Override per site with [`CarbonConfig::new`] (the `grid_g_per_kwh` and `pue`
/// configuration keys) when a newer ADEME year or another grid applies.
pub const FRANCE_GRID_G_PER_KWH: f64 = 52.0;

/// Where [`FRANCE_GRID_G_PER_KWH`] comes from, for reports.
pub const FRANCE_GRID_SOURCE: &str =
    "ADEME Base Empreinte, Electricite 2022 mix moyen consommation, France continentale";

/// Joules per kWh.
pub const JOULES_PER_KWH: f64 = 3.6e6;

/// Per-site carbon parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarbonConfig {
    /// Grid intensity, gCO2e per kWh.
    pub grid_g_per_kwh: f64,
    /// Power usage effectiveness of the room: facility energy / IT energy
    /// (1.0 = count IT only; typical data centres 1.2-1.6, a server closet
    /// often higher).
    pub pue: f64,
    /// Source of the intensity figure, shown next to results.
    pub source: String,
}

impl Default for CarbonConfig {
    fn default() -> Self {
        CarbonConfig {
            grid_g_per_kwh: FRANCE_GRID_G_PER_KWH,
            pue: 1.0,
            source: FRANCE_GRID_SOURCE.to_string(),
        }
    }
}

impl CarbonConfig {
    /// Validated configuration: intensity ≥ 0, PUE ≥ 1.
    pub fn new(grid_g_per_kwh: f64, pue: f64, source: impl Into<String>) -> Result<CarbonConfig> {
        if !(grid_g_per_kwh.is_finite() && grid_g_per_kwh >= 0.0) {
            return Err(EnergyError::InvalidConfig(format!(
                "grid intensity must be >= 0 gCO2e/kWh, got {grid_g_per_kwh}"
            )));
        }
        if !(pue.is_finite() && pue >= 1.0) {
            return Err(EnergyError::InvalidConfig(format!(
                "PUE must be >= 1, got {pue}"
            )));
        }
        Ok(CarbonConfig {
            grid_g_per_kwh,
            pue,
            source: source.into(),
        })
    }

    /// Facility energy (IT energy × PUE), joules.
    pub fn facility_joules(&self, it_joules: f64) -> f64 {
        it_joules * self.pue
    }

    /// gCO2e of `it_joules` of IT energy: kWh × PUE × intensity.
    pub fn co2e_g(&self, it_joules: f64) -> f64 {
        self.facility_joules(it_joules) / JOULES_PER_KWH * self.grid_g_per_kwh
    }
}
