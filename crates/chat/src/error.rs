//! The domain error type. The API layer owns the one table that maps it to HTTP and gRPC
//! statuses; nothing here knows about status codes.

use heliograph_storage::StoreError;

use crate::registration::SessionView;

/// Why a verification-session action was refused; the session travels with the error because
/// clients read it from the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRejection {
    /// The captcha or push challenge answer was wrong.
    WrongAnswer,
    /// The session is already verified, or information is still outstanding, or no code was
    /// sent yet.
    Conflict,
    /// Not allowed right now (too many attempts or requests).
    NotAllowed,
    /// The requested transport (sms/voice) is not available.
    TransportNotAllowed,
}

/// Everything a domain service can refuse.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Missing or wrong credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// Authenticated, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// The target does not exist.
    #[error("not found")]
    NotFound,
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request is well-formed but invalid (bad signature, bad field values).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// A conflict with the current state that carries no body (e.g. key digest mismatch,
    /// device transfer required).
    #[error("conflict")]
    Conflict,
    /// The resource existed but is gone for good (e.g. a username taken after its
    /// reservation lapsed).
    #[error("gone")]
    Gone,
    /// The account's state forbids this request form (e.g. REST profile writes for accounts
    /// on gRPC profiles).
    #[error("precondition failed")]
    PreconditionFailed,
    /// A verification session refused the action.
    #[error("verification session refused: {0:?}")]
    Session(SessionRejection, Box<SessionView>),
    /// A registration lock protects the account.
    #[error("registration lock")]
    RegistrationLocked {
        /// Milliseconds until the lock expires.
        time_remaining_ms: i64,
    },
    /// A capability every device must have is missing.
    #[error("missing required capability")]
    MissingCapability,
    /// The device limit is reached.
    #[error("device limit")]
    DeviceLimit {
        /// Devices the account has.
        current: usize,
        /// The limit.
        max: usize,
    },
    /// The code provider could not send.
    #[error("code provider failure")]
    CodeDelivery {
        /// `providerUnavailable`, `providerRejected` or `illegalArgument`.
        reason: &'static str,
        /// Whether retrying can help.
        permanent: bool,
    },
    /// The payload is too large.
    #[error("payload too large")]
    TooLarge,
    /// A send addressed the wrong set of devices (409).
    #[error("mismatched devices")]
    MismatchedDevices {
        /// Devices the recipient has that were not addressed.
        missing: Vec<u8>,
        /// Devices addressed that the recipient does not have.
        extra: Vec<u8>,
    },
    /// A send used outdated registration ids (410).
    #[error("stale devices")]
    StaleDevices {
        /// Devices whose registration id changed.
        stale: Vec<u8>,
    },
    /// A multi-recipient send addressed wrong device sets (409), per recipient.
    #[error("mismatched devices (multi-recipient)")]
    MultiMismatched(Vec<(heliograph_types::ServiceId, Vec<u8>, Vec<u8>)>),
    /// A multi-recipient send used outdated registration ids (410), per recipient.
    #[error("stale devices (multi-recipient)")]
    MultiStale(Vec<(heliograph_types::ServiceId, Vec<u8>)>),
    /// Rate limited; retry after this many seconds.
    #[error("rate limited")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// A bug or a failing dependency; the text is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        ChatError::Internal(e.to_string())
    }
}

/// Result alias for domain calls.
pub type ChatResult<T> = Result<T, ChatError>;
