//! gRPC messages and tonic server/client stubs of the `org.signal.chat.*` services.
//!
//! Each module holds the generated messages plus `<service>_server` (a trait and a tower
//! service, every method defaulting to `UNIMPLEMENTED`) and `<service>_client` (used by tests).
//! Paths match the official server, e.g. `/org.signal.chat.keys.Keys/GetPreKeyCount`.

pub use crate::generated::org::signal::chat::{
    account, attachments, common, device, errors, keys, messages,
};

use heliograph_types::{Aci, Pni, ServiceId};

/// Why a gRPC `ServiceIdentifier` could not be turned into a [`ServiceId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceIdentifierError {
    /// `identity_type` is unspecified or unknown.
    #[error("identity type not specified")]
    IdentityType,
    /// `uuid` is not 16 bytes.
    #[error("uuid must be 16 bytes")]
    Uuid,
}

impl From<ServiceId> for common::ServiceIdentifier {
    fn from(id: ServiceId) -> Self {
        let identity_type = match id {
            ServiceId::Aci(_) => common::IdentityType::Aci,
            ServiceId::Pni(_) => common::IdentityType::Pni,
        };
        common::ServiceIdentifier {
            identity_type: identity_type as i32,
            uuid: id.uuid().as_bytes().to_vec(),
        }
    }
}

impl TryFrom<&common::ServiceIdentifier> for ServiceId {
    type Error = ServiceIdentifierError;

    fn try_from(id: &common::ServiceIdentifier) -> Result<Self, Self::Error> {
        let uuid = uuid::Uuid::from_slice(&id.uuid).map_err(|_| ServiceIdentifierError::Uuid)?;
        match common::IdentityType::try_from(id.identity_type) {
            Ok(common::IdentityType::Aci) => Ok(ServiceId::Aci(Aci::from_uuid(uuid))),
            Ok(common::IdentityType::Pni) => Ok(ServiceId::Pni(Pni::from_uuid(uuid))),
            _ => Err(ServiceIdentifierError::IdentityType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_identifier_roundtrip() {
        let pni = ServiceId::Pni(Pni::from_uuid(uuid::Uuid::from_u128(5)));
        let wire = common::ServiceIdentifier::from(pni);
        assert_eq!(wire.identity_type, 2);
        assert_eq!(ServiceId::try_from(&wire), Ok(pni));
        let bad = common::ServiceIdentifier {
            identity_type: 0,
            uuid: vec![0; 16],
        };
        assert_eq!(
            ServiceId::try_from(&bad),
            Err(ServiceIdentifierError::IdentityType)
        );
        let short = common::ServiceIdentifier {
            identity_type: 1,
            uuid: vec![0; 3],
        };
        assert_eq!(
            ServiceId::try_from(&short),
            Err(ServiceIdentifierError::Uuid)
        );
    }
}
