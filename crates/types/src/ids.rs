//! Account, device and message identifiers with their string and binary wire forms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why an identifier could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text is not a UUID (or `PNI:` + UUID for a PNI service id).
    #[error("not a valid service id")]
    ServiceId,
    /// The binary service id has the wrong length or type byte.
    #[error("not a valid binary service id")]
    BinaryServiceId,
    /// Device ids run from 1 to 127.
    #[error("device id must be in 1..=127")]
    DeviceId,
    /// Registration ids run from 1 to 0x3FFF.
    #[error("registration id must be in 1..=16383")]
    RegistrationId,
    /// Phone numbers are `+` followed by 2 to 15 digits, the first not zero.
    #[error("not an E.164 phone number")]
    E164,
}

macro_rules! uuid_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// A fresh random (v4) identifier.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The underlying UUID.
            pub const fn uuid(&self) -> Uuid {
                self.0
            }

            /// The 16 raw bytes of the UUID.
            pub fn to_bytes(&self) -> [u8; 16] {
                *self.0.as_bytes()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

uuid_newtype!(
    /// An account identifier (ACI). Written on the wire as a plain UUID string.
    Aci
);
uuid_newtype!(
    /// A phone number identity (PNI). As a service id it is written `PNI:<uuid>`; fields that
    /// are known to hold a PNI (such as `pni` in the whoami response) carry the bare UUID.
    Pni
);
uuid_newtype!(
    /// The server-assigned GUID of a queued message.
    MessageGuid
);

impl fmt::Display for Aci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Display for Pni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Display for MessageGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

macro_rules! uuid_serde {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| IdError::ServiceId)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_serde!(Aci);
uuid_serde!(Pni);
uuid_serde!(MessageGuid);

/// Either identity of an account: its ACI or its PNI.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceId {
    /// The account identity.
    Aci(Aci),
    /// The phone-number identity.
    Pni(Pni),
}

impl ServiceId {
    /// The UUID of either kind.
    pub fn uuid(&self) -> Uuid {
        match self {
            ServiceId::Aci(a) => a.uuid(),
            ServiceId::Pni(p) => p.uuid(),
        }
    }

    /// The compact binary form used in protobuf fields: 16 bytes for an ACI, `0x01` + 16 bytes
    /// for a PNI.
    pub fn to_binary(&self) -> Vec<u8> {
        match self {
            ServiceId::Aci(a) => a.to_bytes().to_vec(),
            ServiceId::Pni(p) => {
                let mut out = Vec::with_capacity(17);
                out.push(0x01);
                out.extend_from_slice(&p.to_bytes());
                out
            }
        }
    }

    /// The fixed-width binary form: a type byte (`0x00` ACI, `0x01` PNI) + 16 bytes.
    pub fn to_fixed_width(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        match self {
            ServiceId::Aci(a) => out[1..].copy_from_slice(&a.to_bytes()),
            ServiceId::Pni(p) => {
                out[0] = 0x01;
                out[1..].copy_from_slice(&p.to_bytes());
            }
        }
        out
    }

    /// Parses either binary form (compact or fixed width).
    pub fn from_binary(bytes: &[u8]) -> Result<Self, IdError> {
        match bytes.len() {
            16 => Ok(ServiceId::Aci(Aci(uuid_from(bytes)))),
            17 => match bytes[0] {
                0x00 => Ok(ServiceId::Aci(Aci(uuid_from(&bytes[1..])))),
                0x01 => Ok(ServiceId::Pni(Pni(uuid_from(&bytes[1..])))),
                _ => Err(IdError::BinaryServiceId),
            },
            _ => Err(IdError::BinaryServiceId),
        }
    }

    /// The ACI, if this is one.
    pub fn aci(&self) -> Option<Aci> {
        match self {
            ServiceId::Aci(a) => Some(*a),
            ServiceId::Pni(_) => None,
        }
    }
}

fn uuid_from(bytes: &[u8]) -> Uuid {
    let mut raw = [0u8; 16];
    raw.copy_from_slice(bytes);
    Uuid::from_bytes(raw)
}

impl From<Aci> for ServiceId {
    fn from(a: Aci) -> Self {
        ServiceId::Aci(a)
    }
}

impl From<Pni> for ServiceId {
    fn from(p: Pni) -> Self {
        ServiceId::Pni(p)
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceId::Aci(a) => a.fmt(f),
            ServiceId::Pni(p) => write!(f, "PNI:{p}"),
        }
    }
}

impl fmt::Debug for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceId({self})")
    }
}

impl FromStr for ServiceId {
    type Err = IdError;

    /// A plain UUID is an ACI; a PNI needs the `PNI:` prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("PNI:") {
            return rest.parse().map(ServiceId::Pni);
        }
        if let Some(rest) = s.strip_prefix("ACI:") {
            return rest.parse().map(ServiceId::Aci);
        }
        s.parse().map(ServiceId::Aci)
    }
}

impl Serialize for ServiceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ServiceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A device of an account, 1 (the primary) to 127.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeviceId(u8);

impl DeviceId {
    /// The primary device.
    pub const PRIMARY: DeviceId = DeviceId(1);
    /// The largest device id the protocol allows.
    pub const MAX: u8 = 127;

    /// Checks the range.
    pub fn new(id: u32) -> Result<Self, IdError> {
        if (1..=u32::from(Self::MAX)).contains(&id) {
            Ok(Self(id as u8))
        } else {
            Err(IdError::DeviceId)
        }
    }

    /// The numeric id.
    pub const fn get(&self) -> u8 {
        self.0
    }

    /// True for device 1.
    pub fn is_primary(&self) -> bool {
        self.0 == 1
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.0)
    }
}

impl FromStr for DeviceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: u32 = s.parse().map_err(|_| IdError::DeviceId)?;
        DeviceId::new(n)
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u32::try_from(n)
            .map_err(|_| IdError::DeviceId)
            .and_then(DeviceId::new)
            .map_err(serde::de::Error::custom)
    }
}

/// A registration id chosen by the client, 1 to 0x3FFF.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct RegistrationId(u16);

impl RegistrationId {
    /// The largest value clients generate (14 bits).
    pub const MAX: u32 = 0x3FFF;

    /// Checks the range.
    pub fn new(id: u32) -> Result<Self, IdError> {
        if (1..=Self::MAX).contains(&id) {
            Ok(Self(id as u16))
        } else {
            Err(IdError::RegistrationId)
        }
    }

    /// The numeric id.
    pub const fn get(&self) -> u32 {
        self.0 as u32
    }
}

impl<'de> Deserialize<'de> for RegistrationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u32::try_from(n)
            .map_err(|_| IdError::RegistrationId)
            .and_then(RegistrationId::new)
            .map_err(serde::de::Error::custom)
    }
}

/// A phone number in E.164 form (`+` and 2 to 15 digits). `Debug` never shows the digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// Validates the shape of a number. Validation here is syntactic only: the number's
    /// country plan is not checked.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = s.strip_prefix('+').ok_or(IdError::E164)?;
        let ok = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::E164)
        }
    }

    /// The number as text, `+` included. Never log this.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("E164(<redacted>)")
    }
}

impl FromStr for E164 {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        E164::parse(s)
    }
}

impl<'de> Deserialize<'de> for E164 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        E164::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn service_id_string_forms() {
        let u = "9d0652a3-dcc3-4d11-975f-74d61598733f";
        let aci: ServiceId = u.parse().unwrap();
        assert!(matches!(aci, ServiceId::Aci(_)));
        assert_eq!(aci.to_string(), u);
        let pni: ServiceId = format!("PNI:{u}").parse().unwrap();
        assert!(matches!(pni, ServiceId::Pni(_)));
        assert_eq!(pni.to_string(), format!("PNI:{u}"));
        assert!("PNI:nope".parse::<ServiceId>().is_err());
        assert!("".parse::<ServiceId>().is_err());
    }

    #[test]
    fn service_id_binary_forms() {
        let aci = ServiceId::Aci(Aci::random());
        let pni = ServiceId::Pni(Pni::random());
        assert_eq!(aci.to_binary().len(), 16);
        assert_eq!(pni.to_binary()[0], 1);
        assert_eq!(ServiceId::from_binary(&aci.to_binary()).unwrap(), aci);
        assert_eq!(ServiceId::from_binary(&pni.to_binary()).unwrap(), pni);
        assert_eq!(ServiceId::from_binary(&aci.to_fixed_width()).unwrap(), aci);
        assert_eq!(ServiceId::from_binary(&pni.to_fixed_width()).unwrap(), pni);
        let mut bad = pni.to_fixed_width();
        bad[0] = 7;
        assert!(ServiceId::from_binary(&bad).is_err());
        assert!(ServiceId::from_binary(&[1, 2, 3]).is_err());
    }

    #[test]
    fn ranges() {
        assert!(DeviceId::new(0).is_err());
        assert!(DeviceId::new(1).unwrap().is_primary());
        assert!(DeviceId::new(127).is_ok());
        assert!(DeviceId::new(128).is_err());
        assert!(RegistrationId::new(0).is_err());
        assert!(RegistrationId::new(0x3FFF).is_ok());
        assert!(RegistrationId::new(0x4000).is_err());
        assert!(serde_json::from_str::<DeviceId>("-1").is_err());
    }

    #[test]
    fn e164_shape_and_privacy() {
        let n = E164::parse("+15551234567").unwrap();
        assert_eq!(format!("{n:?}"), "E164(<redacted>)");
        for bad in ["15551234567", "+0123", "+1", "+1234567890123456", "+1a23"] {
            assert!(E164::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn binary_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = ServiceId::from_binary(&bytes);
        }

        #[test]
        fn string_parse_never_panics(s in ".{0,60}") {
            let _ = s.parse::<ServiceId>();
            let _ = E164::parse(&s);
        }
    }
}
