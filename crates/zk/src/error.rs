//! Error type shared by every zkgroup operation of this crate.

/// Why a zkgroup operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkError {
    /// Input bytes do not encode the named structure (wrong length, version byte, non-canonical
    /// scalar, invalid point, trailing bytes...).
    #[error("cannot deserialize {0}")]
    Deserialization(&'static str),
    /// A proof, presentation, token or request did not verify, or a time check failed.
    #[error("zkgroup verification failed")]
    Verification,
    /// An argument is outside what the operation accepts (empty member list, unaligned time...).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A string is not a valid `nickname.discriminator` username (libsignal's reasons).
    #[error("invalid username: {0}")]
    Username(#[from] crate::username::UsernameError),
    /// A proof we produced did not verify against itself; indicates inconsistent keys.
    #[error("internal proof construction failure")]
    ProofCreation,
}

/// Result alias for this crate.
pub type ZkResult<T> = Result<T, ZkError>;
