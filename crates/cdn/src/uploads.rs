//! Resumable uploads kept entirely in the blob store, so any node sharing the store can serve
//! any request of an upload and a restart loses only the chunk in flight.
//!
//! Layout for attachment key `K`:
//! - `tus/K/info`: `{length, createdMs, expiresMs}`, written at creation;
//! - `tus/K/data/<offset>-<uuid>`: the bytes of one PATCH (or creation body), staged;
//! - `tus/K/parts/<offset>`: `{len, data}`, naming the staged object that holds the bytes from
//!   `offset`. It is written with put-if-absent: of two requests at the same offset only one can
//!   commit, the other gets 409 and its staged bytes are removed;
//! - `attachments/K`: the finished attachment, composed from the parts in order once they reach
//!   `length`; the `tus/K/` objects are then removed.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::keys::AttachmentKey;
use crate::store::{BlobError, BlobStore};

/// Settings of an upload fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadInfo {
    /// Declared `Upload-Length`.
    pub length: u64,
    /// Creation time (ms since the epoch).
    pub created_ms: i64,
    /// When the unfinished upload is discarded (`Upload-Expires`).
    pub expires_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartRecord {
    len: u64,
    data: String,
}

/// One committed chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Where it starts in the upload.
    pub offset: u64,
    /// How many bytes it holds.
    pub len: u64,
    /// The staged object holding them.
    pub data: String,
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadState {
    /// Neither an unfinished upload nor a finished attachment.
    Missing,
    /// The attachment is finished and has `size` bytes.
    Complete {
        /// Size of the attachment.
        size: u64,
    },
    /// Unfinished: `offset` bytes of `info.length` are stored.
    Partial {
        /// Creation settings.
        info: UploadInfo,
        /// Bytes stored so far.
        offset: u64,
        /// The committed chunks in order.
        parts: Vec<Part>,
    },
}

/// Why an upload request cannot proceed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No such upload (404).
    #[error("no such upload")]
    NotFound,
    /// The unfinished upload expired (410).
    #[error("the upload expired")]
    Expired,
    /// The upload already exists, or the offset is not the current one (409).
    #[error("conflict: the upload offset is {current}")]
    Conflict {
        /// The offset the request should have used.
        current: u64,
    },
    /// More bytes than the upload's length (413).
    #[error("more bytes than the declared upload length")]
    TooLarge,
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] BlobError),
}

/// The result of appending one request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The upload offset after this request.
    pub offset: u64,
    /// The body ended early (client gone); what arrived is kept.
    pub interrupted: bool,
    /// The upload is finished and the attachment is readable.
    pub complete: bool,
}

/// Upload bookkeeping over a [`BlobStore`].
#[derive(Clone, Debug)]
pub struct Uploads {
    store: BlobStore,
}

fn info_path(key: &AttachmentKey) -> String {
    format!("{}/info", key.upload_dir())
}

fn part_path(key: &AttachmentKey, offset: u64) -> String {
    format!("{}/parts/{offset:020}", key.upload_dir())
}

impl Uploads {
    /// Bookkeeping in `store`.
    pub fn new(store: BlobStore) -> Self {
        Uploads { store }
    }

    /// Reads where `key` stands. A finished attachment wins over leftover upload state.
    pub async fn state(&self, key: &AttachmentKey) -> Result<UploadState, BlobError> {
        if let Some(meta) = self.store.head(&key.object_path()).await? {
            return Ok(UploadState::Complete { size: meta.size });
        }
        let Some(raw) = self.store.get(&info_path(key)).await? else {
            return Ok(UploadState::Missing);
        };
        let Ok(info) = serde_json::from_slice::<UploadInfo>(&raw) else {
            tracing::warn!("unreadable upload info; treating the upload as missing");
            return Ok(UploadState::Missing);
        };
        let prefix = format!("{}/parts", key.upload_dir());
        let mut parts = Vec::new();
        let mut offset = 0u64;
        for meta in self.store.list(&prefix).await? {
            let Some(name) = meta.path.rsplit('/').next() else {
                continue;
            };
            let Ok(at) = name.parse::<u64>() else {
                continue;
            };
            if at != offset {
                // Names sort by offset and commits only happen at the current offset, so a
                // gap means a concurrent cleanup; stop at the contiguous prefix.
                break;
            }
            let Some(raw) = self.store.get(&meta.path).await? else {
                break;
            };
            let Ok(record) = serde_json::from_slice::<PartRecord>(&raw) else {
                break;
            };
            offset += record.len;
            parts.push(Part {
                offset: at,
                len: record.len,
                data: record.data,
            });
        }
        Ok(UploadState::Partial {
            info,
            offset,
            parts,
        })
    }

    /// Starts an upload of `length` bytes. An existing attachment, or an unfinished upload that
    /// already holds bytes, is a conflict; an empty unfinished one is started afresh.
    pub async fn create(
        &self,
        key: &AttachmentKey,
        length: u64,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<UploadInfo, UploadError> {
        match self.state(key).await? {
            UploadState::Complete { size } => return Err(UploadError::Conflict { current: size }),
            UploadState::Partial { offset, .. } if offset > 0 => {
                return Err(UploadError::Conflict { current: offset })
            }
            _ => {}
        }
        let info = UploadInfo {
            length,
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        let json =
            serde_json::to_vec(&info).unwrap_or_else(|_| unreachable!("plain struct serializes"));
        self.store.put(&info_path(key), Bytes::from(json)).await?;
        Ok(info)
    }

    /// Appends `body` at `offset`. The bytes are staged first and committed with one
    /// put-if-absent, so concurrent requests at the same offset cannot interleave. If the body
    /// fails midway (the client went away), what arrived is committed and `interrupted` is set.
    /// When the upload reaches its length the attachment is composed.
    pub async fn append<S, E>(
        &self,
        key: &AttachmentKey,
        offset: u64,
        body: S,
        now_ms: i64,
    ) -> Result<Appended, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (info, current, parts) = match self.state(key).await? {
            UploadState::Missing => return Err(UploadError::NotFound),
            UploadState::Complete { size } => {
                return Self::append_to_complete(size, offset, body).await
            }
            UploadState::Partial {
                info,
                offset,
                parts,
            } => (info, offset, parts),
        };
        if now_ms >= info.expires_ms {
            return Err(UploadError::Expired);
        }
        if offset != current {
            return Err(UploadError::Conflict { current });
        }
        if current == info.length {
            // Every byte is there but the composing node stopped: finish its work.
            self.compose(key, &parts).await?;
            return Self::append_to_complete(current, offset, body).await;
        }
        let remaining = info.length - current.min(info.length);
        let data_path = format!(
            "{}/data/{current:020}-{}",
            key.upload_dir(),
            uuid::Uuid::new_v4().simple()
        );
        let mut writer = self.store.writer(&data_path)?;
        let mut body = body;
        let mut interrupted = false;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    if writer.written() + bytes.len() as u64 > remaining {
                        writer.abort().await;
                        return Err(UploadError::TooLarge);
                    }
                    if let Err(e) = writer.write(&bytes).await {
                        writer.abort().await;
                        return Err(e.into());
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "upload body ended early; keeping what arrived");
                    interrupted = true;
                    break;
                }
            }
        }
        let received = writer.written();
        if received == 0 {
            writer.abort().await;
            return Ok(Appended {
                offset: current,
                interrupted,
                complete: false,
            });
        }
        writer.finish().await?;
        let record = PartRecord {
            len: received,
            data: data_path.clone(),
        };
        let json =
            serde_json::to_vec(&record).unwrap_or_else(|_| unreachable!("plain struct serializes"));
        if !self
            .store
            .put_if_absent(&part_path(key, current), Bytes::from(json))
            .await?
        {
            // Another request committed at this offset first.
            self.store.delete(&data_path).await?;
            let now = match self.state(key).await? {
                UploadState::Partial { offset, .. } => offset,
                UploadState::Complete { size } => size,
                UploadState::Missing => current,
            };
            return Err(UploadError::Conflict { current: now });
        }
        // A writer that won this offset may already have composed the attachment and
        // discarded the upload state, markers included, so our marker went into an empty
        // directory. The attachment exists only after that writer's compose finished, so
        // seeing it here means we lost.
        if let Some(meta) = self.store.head(&key.object_path()).await? {
            self.store.delete(&part_path(key, current)).await?;
            self.store.delete(&data_path).await?;
            return Err(UploadError::Conflict { current: meta.size });
        }
        let offset = current + received;
        let mut complete = false;
        if offset == info.length {
            let mut parts = parts;
            parts.push(Part {
                offset: current,
                len: received,
                data: data_path,
            });
            self.compose(key, &parts).await?;
            complete = true;
        }
        Ok(Appended {
            offset,
            interrupted,
            complete,
        })
    }

    /// A request against a finished upload: only an empty body at its end is acceptable.
    async fn append_to_complete<S, E>(
        size: u64,
        offset: u64,
        mut body: S,
    ) -> Result<Appended, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        if offset != size {
            return Err(UploadError::Conflict { current: size });
        }
        while let Some(chunk) = body.next().await {
            if chunk.map(|b| !b.is_empty()).unwrap_or(false) {
                return Err(UploadError::TooLarge);
            }
        }
        Ok(Appended {
            offset: size,
            interrupted: false,
            complete: true,
        })
    }

    /// Writes `attachments/K` from the parts in order, then removes the upload state. Safe to
    /// repeat (a node that died mid-way leaves the parts, and the next reader composes again).
    pub async fn compose(&self, key: &AttachmentKey, parts: &[Part]) -> Result<(), BlobError> {
        let mut writer = self.store.writer(&key.object_path())?;
        for part in parts {
            let Some((_, mut stream)) = self.store.read(&part.data, None).await? else {
                writer.abort().await;
                if self.store.head(&key.object_path()).await?.is_some() {
                    // A concurrent compose finished and cleaned up first.
                    return Ok(());
                }
                return Err(BlobError::Missing(part.data.clone()));
            };
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) => writer.write(&bytes).await?,
                    Err(e) => {
                        writer.abort().await;
                        return Err(e);
                    }
                }
            }
        }
        writer.finish().await?;
        self.discard(key).await
    }

    /// Finishes an upload whose parts are all there but whose attachment is missing (the
    /// composing node stopped). Returns whether it did.
    pub async fn recover(&self, key: &AttachmentKey) -> Result<bool, BlobError> {
        if let UploadState::Partial {
            info,
            offset,
            parts,
        } = self.state(key).await?
        {
            if offset == info.length && info.length > 0 {
                self.compose(key, &parts).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes every `tus/K/` object (the attachment itself stays).
    pub async fn discard(&self, key: &AttachmentKey) -> Result<(), BlobError> {
        for meta in self.store.list(&key.upload_dir()).await? {
            self.store.delete(&meta.path).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: &'static [u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(vec![Ok(Bytes::from_static(bytes))])
    }

    /// A node committed the last part and stopped before composing: the next reader (HEAD,
    /// GET, PATCH or the sweeper) composes the attachment from the parts.
    #[tokio::test]
    async fn a_complete_but_uncomposed_upload_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let uploads = Uploads::new(store.clone());
        let key = AttachmentKey::random();
        uploads.create(&key, 6, 0, 1_000_000).await.unwrap();
        let first = uploads.append(&key, 0, body(b"abc"), 1).await.unwrap();
        assert_eq!((first.offset, first.complete), (3, false));

        // What the stopped node left: the staged bytes and the committed marker of part 2.
        let data = format!("{}/data/{:020}-crashed", key.upload_dir(), 3);
        store.put(&data, Bytes::from_static(b"def")).await.unwrap();
        let record = serde_json::to_vec(&PartRecord { len: 3, data }).unwrap();
        assert!(store
            .put_if_absent(&part_path(&key, 3), Bytes::from(record))
            .await
            .unwrap());
        assert!(matches!(
            uploads.state(&key).await.unwrap(),
            UploadState::Partial { offset: 6, .. }
        ));

        assert!(uploads.recover(&key).await.unwrap());
        assert_eq!(
            store.get(&key.object_path()).await.unwrap().as_deref(),
            Some(&b"abcdef"[..])
        );
        assert_eq!(
            uploads.state(&key).await.unwrap(),
            UploadState::Complete { size: 6 }
        );
        assert!(store.list(&key.upload_dir()).await.unwrap().is_empty());
        assert!(!uploads.recover(&key).await.unwrap(), "nothing left to do");
    }

    #[tokio::test]
    async fn unreadable_info_reads_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let uploads = Uploads::new(store.clone());
        let key = AttachmentKey::random();
        store
            .put(&info_path(&key), Bytes::from_static(b"{not json"))
            .await
            .unwrap();
        assert_eq!(uploads.state(&key).await.unwrap(), UploadState::Missing);
        assert!(matches!(
            uploads.append(&key, 0, body(b"x"), 0).await,
            Err(UploadError::NotFound)
        ));
    }
}
