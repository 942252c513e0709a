//! Sending a failed or bounced email of an opened capsule again, to the same address or a
//! corrected one.

use protocol::{Capsule, CapsuleState, ErrorCode, ResendRequest};
use uuid::Uuid;

use crate::access;
use crate::auth::AuthUser;
use crate::db::capsules;
use crate::db::deliveries;
use crate::db::users::reserve_seq;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;

/// Queues the email to `req.recipient` again (to `req.to` when given) with a new link, in
/// one transaction; answers the capsule with its deliveries as they now stand. Each failed
/// email is sent again at most once: a second request for it, from this device or another,
/// is refused rather than sending twice.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn resend(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    req: &ResendRequest,
) -> ApiResult<Capsule> {
    let now = state.now_ms();
    let old_address = req.recipient.trim().to_lowercase();
    let new_address = match &req.to {
        Some(to) => protocol::validate::email(to).map_err(ApiError::invalid)?,
        None => old_address.clone(),
    };
    let mut tx = state.db.begin().await?;
    // Taken first, as every write of the user's does: it also queues this request behind
    // another one for the same capsule.
    let seq = reserve_seq(&mut tx, auth.user_id, 1).await?;
    let row = access::owned_capsule(&mut tx, auth, id).await?;
    if row.state != CapsuleState::Opened {
        return Err(ApiError::new(
            ErrorCode::CapsuleNotOpened,
            "This capsule has not opened yet; its emails go out on its open date.",
        ));
    }
    let current = deliveries::current_deliveries(&mut tx, id).await?;
    let Some(old) = current.iter().find(|d| d.recipient == old_address) else {
        return Err(ApiError::not_found("delivery"));
    };
    if !old.status.can_resend() {
        return Err(ApiError::new(
            ErrorCode::DeliveryNotResendable,
            "Only an email that failed or bounced can be sent again; this one has not.",
        ));
    }
    let readdressed = new_address != old_address;
    if readdressed {
        if !row.recipients.0.contains(&old_address) {
            return Err(ApiError::invalid(
                "Your own copy goes to your account's address; it can be sent again, not elsewhere.",
            ));
        }
        if current.iter().any(|d| d.recipient == new_address) {
            return Err(ApiError::new(
                ErrorCode::RecipientExists,
                format!("{new_address} already gets this capsule."),
            ));
        }
    }
    let delivery = crate::delivery::new_delivery(state, new_address.clone(), now);
    if !deliveries::queue_resend(&mut tx, id, old.id, &delivery, now).await? {
        return Err(ApiError::new(
            ErrorCode::DeliveryNotResendable,
            "This email is being sent again already.",
        ));
    }
    let row = if readdressed {
        let mut recipients = row.recipients.clone();
        for r in &mut recipients.0 {
            if *r == old_address {
                r.clone_from(&new_address);
            }
        }
        capsules::set_opened_recipients(&mut tx, id, &recipients, now).await?;
        crate::capsules::changed(&mut tx, auth.user_id, id, seq).await?
    } else {
        row
    };
    let rows = deliveries::current_deliveries(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(capsule_id = %id, readdressed, "email queued again");
    let photos = state.db.photos_of(id).await?;
    let mut capsule = views::capsule(row, Some(&photos));
    capsule.deliveries = Some(rows.iter().map(views::delivery).collect());
    Ok(capsule)
}
