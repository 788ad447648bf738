//! The expiry pass: unfinished uploads past `Upload-Expires` (and stray upload objects) are
//! removed, finished attachments older than the retention are deleted, uploads whose bytes
//! are all there but were never composed are finished. Avatars never expire by age.

use std::collections::BTreeMap;

use crate::keys::AttachmentKey;
use crate::store::{BlobError, BlobMeta};
use crate::uploads::UploadInfo;
use crate::Cdn;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Unfinished (or orphaned) uploads removed.
    pub expired_uploads: usize,
    /// Finished attachments deleted after the retention period.
    pub deleted_attachments: usize,
    /// Uploads finished on behalf of a node that stopped while composing.
    pub recovered_uploads: usize,
}

impl SweepReport {
    /// Whether the pass changed nothing.
    pub fn is_empty(&self) -> bool {
        *self == SweepReport::default()
    }
}

pub(crate) async fn sweep(cdn: &Cdn) -> Result<SweepReport, BlobError> {
    let now = cdn.0.clock.now_ms();
    let mut report = SweepReport::default();

    let mut uploads: BTreeMap<String, Vec<BlobMeta>> = BTreeMap::new();
    for meta in cdn.0.store.list("tus").await? {
        if let Some(key) = meta.path.split('/').nth(1) {
            uploads.entry(key.to_owned()).or_default().push(meta);
        }
    }
    for (name, objects) in uploads {
        let Ok(key) = AttachmentKey::parse(&name) else {
            for o in &objects {
                cdn.0.store.delete(&o.path).await?;
            }
            continue;
        };
        let info_path = format!("{}/info", key.upload_dir());
        let info = match cdn.0.store.get(&info_path).await? {
            Some(raw) => serde_json::from_slice::<UploadInfo>(&raw).ok(),
            None => None,
        };
        let expired = match info {
            Some(info) => now >= info.expires_ms,
            // No (readable) info: leftovers of a discarded upload, or a creation in flight.
            // Leave them until they are as old as an upload may get.
            None => objects.iter().all(|o| {
                o.last_modified_ms
                    .saturating_add(cdn.0.config.incomplete_upload_ttl_ms)
                    <= now
            }),
        };
        if expired {
            cdn.0.uploads.discard(&key).await?;
            report.expired_uploads += 1;
        } else if info.is_some() && cdn.0.uploads.recover(&key).await? {
            report.recovered_uploads += 1;
        }
    }

    let retention = cdn.0.config.attachment_retention_ms;
    for meta in cdn.0.store.list("attachments").await? {
        if meta.last_modified_ms.saturating_add(retention) <= now {
            cdn.0.store.delete(&meta.path).await?;
            report.deleted_attachments += 1;
        }
    }
    Ok(report)
}
