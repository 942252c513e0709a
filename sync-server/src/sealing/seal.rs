//! Sealing a draft with the files a device made: every file checked to be held as
//! declared, the round checked to be the one at the open date on this server's chain, then
//! in one transaction the capsule keeps only ciphertext (its note and recipients emptied,
//! its draft photos' rows deleted and announced), and afterwards the plaintext bytes it held
//! while it was a draft are purged from the store, older object versions included.

use std::collections::BTreeSet;

use protocol::{Capsule, CapsuleState, ErrorCode, PhotoState, Reminders, SealRequest, SealedName};
use uuid::Uuid;

use crate::access;
use crate::auth::AuthUser;
use crate::blob::keys;
use crate::clock::to_ms;
use crate::db::changes;
use crate::db::deliveries::owner_emails;
use crate::db::sealing::{self, DeviceSeal, SealedFileRow};
use crate::db::users::reserve_seq;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, message)
}

/// Checks the request against this server's chain and escrow; answers the number of
/// photos its files hold.
fn check_request(state: &AppState, req: &SealRequest) -> ApiResult<(i64, Option<Reminders>)> {
    let s = &state.settings.seal;
    let reminders = req
        .reminders
        .as_ref()
        .map(Reminders::checked)
        .transpose()
        .map_err(refused)?
        .filter(|r| !r.is_empty());
    if !req.chain_hash.eq_ignore_ascii_case(&s.chain.hash_hex()) {
        return Err(refused(
            "These files are time-locked to another drand chain than this server's.",
        ));
    }
    if req.escrow && s.escrow.is_none() {
        return Err(refused(
            "This server keeps no escrow key: seal with the time lock only.",
        ));
    }
    let mut names = BTreeSet::new();
    for item in &req.items {
        let name = super::files::name(&item.name)?;
        if !names.insert(name) {
            return Err(refused(format!("{} is listed twice.", item.name)));
        }
    }
    if !names.contains(&SealedName::Index) {
        return Err(refused("A sealed capsule needs its index.age."));
    }
    for n in &names {
        if let SealedName::Grid(id) | SealedName::Preview(id) = n
            && !names.contains(&SealedName::Original(*id))
        {
            return Err(refused(format!(
                "{} is a thumbnail of a photo that is not in the capsule.",
                n.file_name()
            )));
        }
    }
    let photos = names
        .iter()
        .filter(|n| matches!(n, SealedName::Original(_)))
        .count();
    Ok((i64::try_from(photos).unwrap_or(i64::MAX), reminders))
}

/// Makes sure the store holds every listed file as it was declared.
async fn check_files(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    req: &SealRequest,
) -> ApiResult<Vec<SealedFileRow>> {
    let declared = state.db.sealed_files(id).await?;
    for item in &req.items {
        let Some(d) = declared.iter().find(|d| d.name == item.name) else {
            return Err(ApiError::new(
                ErrorCode::UploadIncomplete,
                format!(
                    "{} was not declared; declare and send it, then seal.",
                    item.name
                ),
            ));
        };
        let sha = item.sha256.to_ascii_lowercase();
        if d.sha256 != sha || u64::try_from(d.size).ok() != Some(item.size) {
            return Err(refused(format!(
                "{} differs from the file declared; send it again.",
                item.name
            )));
        }
        if d.received != 0 {
            continue;
        }
        // Sent straight to the store, which checked the pinned length and SHA-256.
        let key = keys::sealed(auth.user_id, id, &item.name);
        match state.blobs.head(&key).await? {
            Some((len, verified))
                if len == item.size && verified.as_deref().is_none_or(|v| v == sha) =>
            {
                state.db.sealed_file_received(id, &item.name).await?;
            }
            _ => {
                return Err(ApiError::new(
                    ErrorCode::UploadIncomplete,
                    format!("{} has not arrived; send it, then seal.", item.name),
                ));
            }
        }
    }
    Ok(declared)
}

/// Seals a draft with its sealed files. Sealing a capsule already sealed this way (a
/// retry) answers it.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn seal(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    if_match: Option<i64>,
    req: &SealRequest,
) -> ApiResult<Capsule> {
    let (photo_count, reminders) = check_request(state, req)?;
    let row = access::owned(state.db.capsule(id).await?, auth)?;
    if row.state != CapsuleState::Draft {
        let same = row
            .lock()
            .is_some_and(|l| l.round == req.round && l.chain_hash == req.chain_hash);
        return if same {
            Ok(views::capsule(row, None))
        } else {
            Err(ApiError::sealed())
        };
    }
    let now = state.clock.now();
    let open_at = crate::capsules::sealable_open_at(state, &row, now)?;
    let chain = &state.settings.seal.chain;
    let due = chain.round_at(crate::clock::from_ms(open_at));
    if req.round != due {
        return Err(refused(format!(
            "These files are locked to round {} but the open date falls at round {due}; \
             seal them again.",
            req.round
        )));
    }
    let declared = check_files(state, auth, id, req).await?;

    let mut tx = state.db.begin().await?;
    let row = access::owned_capsule(&mut tx, auth, id).await?;
    access::draft_only(&row)?;
    if let Some(v) = if_match
        && v != row.version
    {
        return Err(ApiError::new(
            ErrorCode::VersionConflict,
            format!(
                "This capsule was changed elsewhere (now at version {}); reload and merge.",
                row.version
            ),
        ));
    }
    let dropped = sealing::drop_photos(&mut tx, id).await?;
    let n = i64::try_from(dropped.len()).unwrap_or(0);
    let seq = reserve_seq(&mut tx, auth.user_id, 2 * n + 1).await?;
    for (i, (pid, _, _)) in dropped.iter().enumerate() {
        let Ok(pid) = Uuid::parse_str(pid) else {
            continue;
        };
        let at = seq + 2 * i64::try_from(i).unwrap_or(0);
        changes::record_photo(&mut tx, auth.user_id, pid, id, at, true).await?;
    }
    let sealed = DeviceSeal {
        round: i64::try_from(req.round).map_err(|_| refused("That round is out of range."))?,
        chain_hash: chain.hash_hex(),
        escrow: req.escrow,
        photo_count,
    };
    if !sealing::seal_on_device(&mut tx, id, to_ms(now), &sealed).await? {
        return Err(ApiError::sealed());
    }
    if let Some(choice) = &reminders {
        let owner = owner_emails(&mut tx, &[auth.user_id]).await?;
        let owner = owner.first().map(|o| o.email.as_str()).unwrap_or_default();
        crate::reminders::queue(&mut tx, id, owner, choice, open_at, to_ms(now)).await?;
    }
    let row = crate::capsules::changed(&mut tx, auth.user_id, id, seq + 2 * n).await?;
    tx.commit().await?;

    // The plaintext the draft held goes now that only ciphertext counts.
    for (pid, sha, photo_state) in &dropped {
        let (Ok(pid), Ok(photo_state)) = (
            Uuid::parse_str(pid),
            PhotoState::parse(photo_state).ok_or(()),
        ) else {
            continue;
        };
        crate::photos::forget_bytes(state, auth.user_id, pid, sha, photo_state).await;
    }
    // Files declared but left out of the seal.
    for d in declared
        .iter()
        .filter(|d| !req.items.iter().any(|i| i.name == d.name))
    {
        let _ = state
            .blobs
            .delete(&keys::sealed(auth.user_id, id, &d.name))
            .await;
    }
    tracing::info!(capsule_id = %id, round = req.round, escrow = req.escrow, "capsule sealed on its device");
    Ok(views::capsule(row, None))
}
