//! Device-set checks for sends: every device of the recipient must be addressed exactly once,
//! with its current registration id.

use std::collections::BTreeSet;

use heliograph_storage::Account;
use heliograph_types::DeviceId;

/// How the sender's device list differs from the recipient's devices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceMismatch {
    /// Devices the recipient has that the sender left out (409).
    pub missing: Vec<DeviceId>,
    /// Devices the sender addressed that the recipient does not have (409).
    pub extra: Vec<DeviceId>,
    /// Devices whose registration id changed (410).
    pub stale: Vec<DeviceId>,
}

impl DeviceMismatch {
    /// Whether the device set is wrong (409).
    pub fn is_mismatched(&self) -> bool {
        !self.missing.is_empty() || !self.extra.is_empty()
    }

    /// Whether some registration ids are stale (410).
    pub fn is_stale(&self) -> bool {
        !self.stale.is_empty()
    }

    /// Whether everything matches.
    pub fn is_empty(&self) -> bool {
        !self.is_mismatched() && !self.is_stale()
    }
}

/// Compares `addressed` (device id, registration id) with the account's devices, leaving out
/// `exclude` (the sending device, for sync messages). `use_pni_ids` compares PNI registration
/// ids, for sends to a PNI.
pub fn compare(
    account: &Account,
    addressed: &[(DeviceId, u32)],
    exclude: Option<DeviceId>,
    use_pni_ids: bool,
) -> DeviceMismatch {
    let expected: BTreeSet<DeviceId> = account
        .devices
        .iter()
        .map(|d| d.id)
        .filter(|id| Some(*id) != exclude)
        .collect();
    let given: BTreeSet<DeviceId> = addressed.iter().map(|(id, _)| *id).collect();
    let mut stale = Vec::new();
    for (id, reg) in addressed {
        if let Some(device) = account.device(*id) {
            if Some(*id) == exclude {
                continue;
            }
            let current = if use_pni_ids {
                device.pni_registration_id
            } else {
                device.registration_id
            };
            if current != *reg {
                stale.push(*id);
            }
        }
    }
    stale.sort();
    stale.dedup();
    DeviceMismatch {
        missing: expected.difference(&given).copied().collect(),
        extra: given.difference(&expected).copied().collect(),
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heliograph_storage::{Device, SaltedHash};
    use heliograph_types::{Aci, Pni, E164};

    fn account(devices: &[(u32, u32)]) -> Account {
        Account {
            aci: Aci::random(),
            pni: Pni::random(),
            e164: E164::parse("+15550001111").unwrap(),
            aci_identity_key: vec![],
            pni_identity_key: vec![],
            unidentified_access_key: None,
            unrestricted_unidentified_access: false,
            discoverable_by_phone_number: true,
            registration_lock: None,
            recovery_password: None,
            devices: devices
                .iter()
                .map(|(id, reg)| Device {
                    id: DeviceId::new(*id).unwrap(),
                    name: None,
                    password: SaltedHash {
                        hash: String::new(),
                        salt: String::new(),
                    },
                    registration_id: *reg,
                    pni_registration_id: reg + 1000,
                    capabilities: vec![],
                    fetches_messages: false,
                    apn_token: None,
                    gcm_token: None,
                    user_agent: None,
                    created_at_ms: 0,
                    last_seen_ms: 0,
                })
                .collect(),
            created_at_ms: 0,
            current_profile_version: None,
            reserved_username_hash: None,
            version: 0,
            extra: Default::default(),
        }
    }

    fn d(n: u32) -> DeviceId {
        DeviceId::new(n).unwrap()
    }

    #[test]
    fn exact_match() {
        let a = account(&[(1, 11), (2, 22)]);
        assert!(compare(&a, &[(d(1), 11), (d(2), 22)], None, false).is_empty());
        assert!(compare(&a, &[(d(1), 1011), (d(2), 1022)], None, true).is_empty());
    }

    #[test]
    fn missing_extra_and_stale() {
        let a = account(&[(1, 11), (2, 22)]);
        let m = compare(&a, &[(d(1), 11), (d(3), 33)], None, false);
        assert_eq!(m.missing, vec![d(2)]);
        assert_eq!(m.extra, vec![d(3)]);
        assert!(m.stale.is_empty());
        let m = compare(&a, &[(d(1), 12), (d(2), 22)], None, false);
        assert_eq!(m.stale, vec![d(1)]);
        assert!(!m.is_mismatched());
    }

    #[test]
    fn sync_excludes_the_sender() {
        let a = account(&[(1, 11), (2, 22), (3, 33)]);
        assert!(compare(&a, &[(d(2), 22), (d(3), 33)], Some(d(1)), false).is_empty());
        let m = compare(&a, &[(d(1), 11), (d(2), 22), (d(3), 33)], Some(d(1)), false);
        assert_eq!(
            m.extra,
            vec![d(1)],
            "addressing yourself in a sync message is extra"
        );
    }
}
