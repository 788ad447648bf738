//! WebSocket sub-protocol helpers: decoding and classifying binary frames, building requests
//! and responses, and reading `name:value` headers the way the official server does.

use std::collections::HashMap;

use prost::Message;

use crate::proto::websocket::{
    web_socket_message::Type, WebSocketMessage, WebSocketRequestMessage, WebSocketResponseMessage,
};

/// Close code for a frame that does not decode or lacks required fields.
pub const CLOSE_BADLY_FORMATTED: u16 = 1007;
/// Close reason sent with [`CLOSE_BADLY_FORMATTED`].
pub const CLOSE_BADLY_FORMATTED_REASON: &str = "Badly formatted";

/// Why a frame was rejected; every variant means "close with 1007".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not a `WebSocketMessage`.
    #[error("frame is not a WebSocketMessage: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The type is neither REQUEST nor RESPONSE, or the matching body is missing.
    #[error("unknown frame type")]
    UnknownType,
    /// A request without `verb` or `path`.
    #[error("request lacks verb or path")]
    IncompleteRequest,
    /// A response without `id`, `status` or `message`.
    #[error("response lacks id, status or message")]
    IncompleteResponse,
}

/// A validated frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request; `verb` and `path` are present.
    Request(WebSocketRequestMessage),
    /// A response; `id`, `status` and `message` are present.
    Response(WebSocketResponseMessage),
}

/// Decodes and validates a binary frame. Any error means the connection should be closed with
/// [`CLOSE_BADLY_FORMATTED`].
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    classify(WebSocketMessage::decode(bytes)?)
}

/// Validates an already decoded message: the type must match a present body, a request needs
/// `verb` and `path`, a response needs `id`, `status` and `message`.
pub fn classify(message: WebSocketMessage) -> Result<Frame, FrameError> {
    match (
        Type::try_from(message.r#type.unwrap_or(0)),
        message.request,
        message.response,
    ) {
        (Ok(Type::Request), Some(req), _) => {
            if req.verb.is_none() || req.path.is_none() {
                return Err(FrameError::IncompleteRequest);
            }
            Ok(Frame::Request(req))
        }
        (Ok(Type::Response), _, Some(resp)) => {
            if resp.id.is_none() || resp.status.is_none() || resp.message.is_none() {
                return Err(FrameError::IncompleteResponse);
            }
            Ok(Frame::Response(resp))
        }
        _ => Err(FrameError::UnknownType),
    }
}

/// Encodes a request frame.
pub fn encode_request(request: WebSocketRequestMessage) -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(Type::Request as i32),
        request: Some(request),
        response: None,
    }
    .encode_to_vec()
}

/// Encodes a response frame.
pub fn encode_response(response: WebSocketResponseMessage) -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(Type::Response as i32),
        request: None,
        response: Some(response),
    }
    .encode_to_vec()
}

/// Encodes a [`Frame`].
pub fn encode_frame(frame: Frame) -> Vec<u8> {
    match frame {
        Frame::Request(r) => encode_request(r),
        Frame::Response(r) => encode_response(r),
    }
}

/// Builds a request with an id, e.g. the server's `PUT /api/v1/message`.
pub fn request(
    id: u64,
    verb: &str,
    path: &str,
    headers: Vec<String>,
    body: Option<Vec<u8>>,
) -> WebSocketRequestMessage {
    WebSocketRequestMessage {
        verb: Some(verb.to_owned()),
        path: Some(path.to_owned()),
        body,
        id: Some(id),
        headers,
    }
}

/// Builds a response to request `id`.
pub fn response(
    id: u64,
    status: u16,
    message: &str,
    headers: Vec<String>,
    body: Option<Vec<u8>>,
) -> WebSocketResponseMessage {
    WebSocketResponseMessage {
        id: Some(id),
        status: Some(u32::from(status)),
        message: Some(message.to_owned()),
        body,
        headers,
    }
}

/// Formats a header entry as `name:value`.
pub fn header(name: &str, value: &str) -> String {
    format!("{name}:{value}")
}

/// Java's `String.trim`: strips code points at or below U+0020 from both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Parses one `name:value` entry like the official server: split on every `:`, drop trailing
/// empty pieces (Java `split` semantics), and keep the entry only if exactly two pieces remain.
/// So `a:b:c` and `a:` are dropped, `a:b:` is kept as (`a`, `b`). The name is trimmed and
/// lower-cased, the value trimmed.
pub fn parse_header(entry: &str) -> Option<(String, String)> {
    let mut pieces: Vec<&str> = entry.split(':').collect();
    while pieces.len() > 1 && pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    match pieces.as_slice() {
        [name, value] => Some((java_trim(name).to_lowercase(), java_trim(value).to_owned())),
        _ => None,
    }
}

/// Parses a header list into a map; a later entry with the same name replaces an earlier one.
pub fn parse_headers<S: AsRef<str>>(entries: &[S]) -> HashMap<String, String> {
    entries
        .iter()
        .filter_map(|e| parse_header(e.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_rules() {
        assert_eq!(
            parse_header("Content-Type: application/json"),
            Some(("content-type".into(), "application/json".into()))
        );
        assert_eq!(
            parse_header("X-Signal-Timestamp:123"),
            Some(("x-signal-timestamp".into(), "123".into()))
        );
        assert_eq!(parse_header("host:example.org:443"), None);
        assert_eq!(parse_header("empty:"), None);
        assert_eq!(parse_header("noColon"), None);
        assert_eq!(parse_header("a:b:"), Some(("a".into(), "b".into())));
        assert_eq!(parse_header(":v"), Some(("".into(), "v".into())));
        let map = parse_headers(&["A:1", "a:2", "bad"]);
        assert_eq!(map.len(), 1);
        assert_eq!(map["a"], "2");
    }

    #[test]
    fn validation() {
        let ok = encode_request(request(1, "GET", "/v1/keepalive", vec![], None));
        assert!(matches!(decode_frame(&ok), Ok(Frame::Request(_))));
        let no_path = encode_request(WebSocketRequestMessage {
            verb: Some("GET".into()),
            ..Default::default()
        });
        assert_eq!(decode_frame(&no_path), Err(FrameError::IncompleteRequest));
        let ok = encode_response(response(1, 200, "OK", vec![], None));
        assert!(matches!(decode_frame(&ok), Ok(Frame::Response(_))));
        let no_message = encode_response(WebSocketResponseMessage {
            id: Some(1),
            status: Some(200),
            ..Default::default()
        });
        assert_eq!(
            decode_frame(&no_message),
            Err(FrameError::IncompleteResponse)
        );
        let mismatched = WebSocketMessage {
            r#type: Some(Type::Request as i32),
            request: None,
            response: Some(Default::default()),
        };
        assert_eq!(
            decode_frame(&mismatched.encode_to_vec()),
            Err(FrameError::UnknownType)
        );
        assert_eq!(decode_frame(&[]), Err(FrameError::UnknownType));
        assert!(matches!(decode_frame(&[0xff]), Err(FrameError::Decode(_))));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_frame(&data);
        }

        #[test]
        fn header_never_panics(s in ".*") {
            let _ = parse_header(&s);
        }

        #[test]
        fn request_roundtrip(id in any::<u64>(), verb in "[A-Z]{1,7}", path in "/[a-z0-9/]{0,30}", body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)), headers in proptest::collection::vec("[a-z-]{1,10}:[a-z0-9 ]{1,10}", 0..4)) {
            let req = request(id, &verb, &path, headers, body);
            prop_assert_eq!(decode_frame(&encode_request(req.clone())), Ok(Frame::Request(req)));
        }

        #[test]
        fn response_roundtrip(id in any::<u64>(), status in 100u16..600, msg in "[A-Za-z ]{0,20}", body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))) {
            let resp = response(id, status, &msg, vec![], body);
            prop_assert_eq!(decode_frame(&encode_response(resp.clone())), Ok(Frame::Response(resp)));
        }
    }
}
