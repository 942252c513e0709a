//! Stored rows to wire types. The sealing rule lives here: a sealed capsule's note,
//! recipients and photos are never put on the wire.

use protocol::{Capsule, Photo, RecipientDelivery};

use crate::access::contents_visible;
use crate::clock::from_ms;
use crate::db::capsules::CapsuleRow;
use crate::db::deliveries::DeliveryRow;
use crate::db::photos::PhotoRow;

/// A capsule as the API shows it; `photos` is included only when given and visible.
pub fn capsule(row: CapsuleRow, photos: Option<&[PhotoRow]>) -> Capsule {
    let state = row.state;
    let visible = contents_visible(state);
    let lock = row.lock();
    let refused_photos = row
        .refused_photos
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    Capsule {
        lock,
        refused_photos,
        id: row.id,
        title: row.title,
        state,
        open_at: row.open_at.map(from_ms),
        time_zone: row.time_zone,
        version: row.version,
        photo_count: u32::try_from(row.photo_count).unwrap_or(u32::MAX),
        created_at: from_ms(row.created_at),
        updated_at: from_ms(row.updated_at),
        sealed_at: row.sealed_at.map(from_ms),
        opened_at: row.opened_at.map(from_ms),
        note: visible.then_some(row.note),
        recipients: visible.then_some(row.recipients.0),
        photos: match photos {
            Some(p) if visible => Some(p.iter().map(photo).collect()),
            _ => None,
        },
        deliveries: None,
    }
}

/// A recipient's delivery as the owner sees it.
pub fn delivery(row: &DeliveryRow) -> RecipientDelivery {
    RecipientDelivery {
        recipient: row.recipient.clone(),
        status: row.status,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        last_error: row.last_error.clone(),
        sent_at: row.sent_at.map(from_ms),
    }
}

/// A photo as the API shows it.
pub fn photo(row: &PhotoRow) -> Photo {
    Photo {
        id: row.id,
        capsule_id: row.capsule_id,
        sha256: row.sha256.clone(),
        size: u64::try_from(row.size).unwrap_or(0),
        content_type: row.content_type.clone(),
        file_name: row.file_name.clone(),
        taken_at: row.taken_at.map(from_ms),
        state: row.state,
        width: row.width.and_then(|w| u32::try_from(w).ok()),
        height: row.height.and_then(|h| u32::try_from(h).ok()),
        thumbnails: row.thumbnails,
        created_at: from_ms(row.created_at),
    }
}
