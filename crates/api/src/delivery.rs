//! Message delivery on an authenticated chat socket: pushes queued envelopes as
//! `PUT /api/v1/message` requests in queue order with a bounded number in flight, deletes each
//! one only when the client answers 2xx, and sends `PUT /api/v1/queue/empty` once the stored
//! backlog has been pushed (without waiting for its answer, which libsignal never sends).
//!
//! The socket reads the store in batches: after acknowledgements it refills only once a whole
//! batch fits and the last read left messages behind; new messages arriving for the device wake
//! it up through the bus. So a drained backlog costs one queue read per [`BATCH`] messages, not
//! one per acknowledgement.

use std::collections::{HashMap, HashSet};

use prost::Message as _;

use heliograph_protocol::proto::websocket::{
    web_socket_message, WebSocketMessage, WebSocketRequestMessage,
};
use heliograph_types::{Aci, DeviceId, MessageGuid};

use crate::state::AppState;
use crate::timestamp::now_ms;

/// Pushes in flight per socket.
pub const MAX_IN_FLIGHT: usize = 256;
/// Messages pushed per refill at most; acknowledgements refill once this many slots are free.
pub const BATCH: usize = 64;

enum Pending {
    Stored(MessageGuid),
    Ephemeral,
    QueueEmpty,
}

/// Delivery state of one socket.
pub struct Delivery {
    aci: Aci,
    device: DeviceId,
    receive_stories: bool,
    next_id: u64,
    in_flight: HashMap<u64, Pending>,
    pushed: HashSet<MessageGuid>,
    queue_empty_sent: bool,
    /// The last read stopped before the end of the queue (or failed): there is more to push
    /// once room frees up. When it is false, only a wake-up from the bus refills.
    more_stored: bool,
}

fn request(id: u64, path: &str, body: Option<Vec<u8>>) -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some("PUT".into()),
            path: Some(path.into()),
            body,
            id: Some(id),
            headers: vec![format!("X-Signal-Timestamp:{}", now_ms())],
        }),
        response: None,
    }
    .encode_to_vec()
}

impl Delivery {
    /// Delivery for a device's socket.
    pub fn new(aci: Aci, device: DeviceId, receive_stories: bool) -> Self {
        Self {
            aci,
            device,
            receive_stories,
            next_id: 1,
            in_flight: HashMap::new(),
            pushed: HashSet::new(),
            queue_empty_sent: false,
            more_stored: true,
        }
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Reads what is queued and not yet pushed, and returns the frames to send. The queue is
    /// read from its head, skipping messages already pushed on this socket, so a message that
    /// committed late (concurrent writers) is never skipped over.
    pub async fn refill(&mut self, state: &AppState) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        loop {
            let room = MAX_IN_FLIGHT.saturating_sub(self.in_flight.len());
            if room == 0 {
                return frames;
            }
            let want = room.min(BATCH);
            let limit = (self.pushed.len() + want).min(u32::MAX as usize) as u32;
            let batch = match state
                .messages
                .read(self.aci, self.device, None, limit)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the message queue");
                    self.more_stored = true;
                    return frames;
                }
            };
            let exhausted = batch.len() < limit as usize;
            self.more_stored = !exhausted;
            let mut added = 0;
            for msg in batch {
                if self.pushed.contains(&msg.guid) {
                    continue;
                }
                self.pushed.insert(msg.guid);
                if msg.story && !self.receive_stories {
                    // Stories are withheld from sockets that did not ask for them, and
                    // acknowledged silently. Once deleted it no longer counts among the rows
                    // a read has to skip.
                    if state
                        .deps
                        .stores
                        .messages
                        .delete(self.aci, self.device, msg.guid)
                        .await
                        .is_ok()
                    {
                        self.pushed.remove(&msg.guid);
                    }
                    continue;
                }
                let id = self.next_id();
                self.in_flight.insert(id, Pending::Stored(msg.guid));
                frames.push(request(id, "/api/v1/message", Some(msg.envelope)));
                added += 1;
            }
            if exhausted {
                if !self.queue_empty_sent {
                    self.queue_empty_sent = true;
                    let id = self.next_id();
                    self.in_flight.insert(id, Pending::QueueEmpty);
                    frames.push(request(id, "/api/v1/queue/empty", None));
                }
                return frames;
            }
            if added == 0 && self.in_flight.len() >= MAX_IN_FLIGHT {
                return frames;
            }
        }
    }

    /// An ephemeral envelope to push now.
    pub fn ephemeral(&mut self, envelope: Vec<u8>) -> Vec<u8> {
        let id = self.next_id();
        self.in_flight.insert(id, Pending::Ephemeral);
        request(id, "/api/v1/message", Some(envelope))
    }

    /// The client answered a push. A 2xx deletes the message (and sends the delivery
    /// receipt); anything else leaves it queued for the next connection. Returns whether the
    /// socket should refill: when messages are left in the store and a whole batch fits.
    pub async fn on_response(&mut self, state: &AppState, id: u64, status: u32) -> bool {
        match self.in_flight.remove(&id) {
            Some(Pending::Stored(guid)) => {
                if (200..300).contains(&status) {
                    if let Err(e) = state
                        .messages
                        .acknowledge(self.aci, self.device, guid)
                        .await
                    {
                        tracing::warn!(error = %e, "cannot acknowledge a message");
                    }
                    self.pushed.remove(&guid);
                }
                self.more_stored && self.in_flight.len() + BATCH <= MAX_IN_FLIGHT
            }
            // QueueEmpty answers are not expected but harmless; ephemeral ones need nothing.
            Some(Pending::Ephemeral) | Some(Pending::QueueEmpty) | None => false,
        }
    }
}
