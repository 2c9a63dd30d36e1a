//! Roles are a small fixed set; one person may hold several.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::StoreError;

/// One role of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages accounts, tokens and configuration.
    Admin,
    /// Creates and edits drafts.
    Clinician,
    /// Validates or rejects documents under review.
    Validator,
    /// Reads and verifies the audit trail.
    Auditor,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Clinician, Role::Validator, Role::Auditor];

    fn bit(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::Clinician => 2,
            Role::Validator => 4,
            Role::Auditor => 8,
        }
    }

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clinician => "clinician",
            Role::Validator => "validator",
            Role::Auditor => "auditor",
        }
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s.trim() {
            "admin" => Ok(Role::Admin),
            "clinician" => Ok(Role::Clinician),
            "validator" => Ok(Role::Validator),
            "auditor" => Ok(Role::Auditor),
            other => Err(StoreError::Invalid(format!(
                "unknown role '{other}' (expected admin, clinician, validator or auditor)"
            ))),
        }
    }
}

/// A set of roles, stored as a small bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// The empty set.
    pub const NONE: Roles = Roles(0);

    /// Does the set hold `role`?
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub fn with(self, role: Role) -> Roles {
        Roles(self.0 | role.bit())
    }

    /// True when no role is held.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Clinician or validator: the people who read and work on clinical content.
    pub fn clinical(self) -> bool {
        self.has(Role::Clinician) || self.has(Role::Validator)
    }

    /// The roles held, in display order.
    pub fn list(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.has(*r)).collect()
    }

    pub(crate) fn bits(self) -> i64 {
        self.0 as i64
    }

    pub(crate) fn from_bits(bits: i64) -> Roles {
        Roles((bits & 0x0f) as u8)
    }

    /// Parses a comma-separated list such as `clinician,validator`.
    pub fn parse_list(s: &str) -> Result<Roles, StoreError> {
        let mut roles = Roles::NONE;
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            roles = roles.with(part.parse()?);
        }
        if roles.is_empty() {
            return Err(StoreError::Invalid(
                "at least one role is needed (admin, clinician, validator, auditor)".into(),
            ));
        }
        Ok(roles)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.list().into_iter().map(Role::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Role>::deserialize(d)?;
        Ok(list.into_iter().fold(Roles::NONE, Roles::with))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let r = Roles::parse_list("validator, clinician").unwrap();
        assert!(r.has(Role::Clinician) && r.has(Role::Validator) && !r.has(Role::Admin));
        assert_eq!(r.to_string(), "clinician,validator");
        assert!(Roles::parse_list("nurse").is_err());
        assert!(Roles::parse_list("").is_err());
    }
}
