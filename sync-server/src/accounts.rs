//! Sign-up, log-in, refresh, log-out, password change and account deletion.

use std::net::IpAddr;

use protocol::{ErrorCode, SessionResponse};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::password;
use crate::auth::secret;
use crate::auth::tokens::TYPE_ACCESS;
use crate::blob::keys;
use crate::error::{ApiError, ApiResult};
use crate::limits;
use crate::state::AppState;

/// Trims and lower-cases an email, and checks it is an address.
pub fn normalise_email(email: &str) -> ApiResult<String> {
    protocol::validate::email(email).map_err(|_| ApiError::invalid("Enter a valid email address."))
}

async fn hash_password(state: &AppState, pw: String) -> ApiResult<String> {
    Ok(state.hash_slots.run(move || password::hash(&pw)).await??)
}

async fn verify_password(state: &AppState, pw: String, phc: String) -> ApiResult<bool> {
    state
        .hash_slots
        .run(move || password::verify(&pw, &phc))
        .await
}

/// Creates an account. Sign-ups are counted per client address (per /64 for IPv6) in the
/// database, so every replica and a restart see the same count.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn sign_up(
    state: &AppState,
    email: &str,
    pw: &str,
    client: Option<IpAddr>,
) -> ApiResult<Uuid> {
    let email = normalise_email(email)?;
    if let Some(ip) = client {
        count_sign_up(state, &limits::signup_key(ip)).await?;
    }
    if let Some(why) = password::weakness(pw, &email) {
        return Err(ApiError::new(ErrorCode::WeakPassword, why));
    }
    let hash = hash_password(state, pw.to_owned()).await?;
    let id = Uuid::now_v7();
    if !state
        .db
        .insert_user(id, &email, &hash, state.now_ms())
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::EmailTaken,
            "An account with this email already exists. Log in instead.",
        ));
    }
    tracing::info!(user_id = %id, "account created");
    Ok(id)
}

/// Counts a sign-up of `key`; refuses with 429 once the window holds the most allowed.
async fn count_sign_up(state: &AppState, key: &str) -> ApiResult<()> {
    let s = &state.settings;
    let now = state.now_ms();
    let start = now - ms(s.limits.sign_up_window);
    if state.db.throttle_failures(key, start).await? >= s.limits.max_sign_ups_per_address {
        return Err(ApiError::too_many_sign_ups(
            s.limits.sign_up_window.as_secs(),
        ));
    }
    state.db.throttle_record_failure(key, now, start).await?;
    Ok(())
}

fn window_start(state: &AppState, now: i64) -> i64 {
    now - i64::try_from(state.settings.limits.throttle_window.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Refuses with 429 while either key is over its limit.
async fn check_throttle(state: &AppState, keys: &[(&str, i64)]) -> ApiResult<()> {
    let now = state.now_ms();
    for (key, max) in keys {
        if state
            .db
            .throttle_failures(key, window_start(state, now))
            .await?
            >= *max
        {
            return Err(ApiError::too_many(
                state.settings.limits.throttle_window.as_secs(),
            ));
        }
    }
    Ok(())
}

async fn record_failures(state: &AppState, keys: &[(&str, i64)]) -> ApiResult<()> {
    let now = state.now_ms();
    for (key, _) in keys {
        state
            .db
            .throttle_record_failure(key, now, window_start(state, now))
            .await?;
    }
    Ok(())
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "That email and password do not match an account.",
    )
}

/// Logs in: the same answer, status and cost whether the email is unknown or the password
/// wrong.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn log_in(
    state: &AppState,
    email: &str,
    pw: &str,
    device_name: Option<&str>,
    client: Option<IpAddr>,
) -> ApiResult<SessionResponse> {
    let email = email.trim().to_lowercase();
    // Sign-up takes no address with a control character, and PostgreSQL refuses a NUL in
    // text: such an email is an unknown account (same answer, same cost), not a query.
    let unknown = email.chars().any(char::is_control);
    let email: String = email.chars().filter(|c| !c.is_control()).collect();
    let account_key = format!("account:{email}");
    let address_key = client.map(|ip| format!("address:{ip}"));
    let s = &state.settings;
    let mut keys = vec![(account_key.as_str(), s.limits.max_failures_per_account)];
    if let Some(k) = &address_key {
        keys.push((k.as_str(), s.limits.max_failures_per_address));
    }
    check_throttle(state, &keys).await?;
    let user = if unknown {
        None
    } else {
        state.db.user_by_email(&email).await?
    };
    let phc = user
        .as_ref()
        .map_or_else(|| password::DECOY.to_owned(), |u| u.password_hash.clone());
    let ok = verify_password(state, pw.to_owned(), phc).await? && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        record_failures(state, &keys).await?;
        return Err(invalid_credentials());
    };
    state.db.throttle_clear(&account_key).await?;
    let device = device_name.map(|d| {
        d.chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect::<String>()
    });
    issue_session(state, user.id, device.as_deref()).await
}

async fn issue_session(
    state: &AppState,
    user_id: Uuid,
    device_name: Option<&str>,
) -> ApiResult<SessionResponse> {
    let now = state.now_ms();
    let session_id = Uuid::now_v7();
    let (refresh, refresh_hash) = secret::new();
    state
        .db
        .create_session(
            session_id,
            user_id,
            device_name,
            &refresh_hash,
            now,
            now + ms(state.settings.auth.refresh_ttl),
        )
        .await?;
    session_response(state, user_id, session_id, refresh, now)
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

fn session_response(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    refresh_token: String,
    now: i64,
) -> ApiResult<SessionResponse> {
    let ttl = state.settings.auth.access_ttl;
    let access_token = state
        .tokens
        .sign(TYPE_ACCESS, user_id, session_id, now, ttl)?;
    Ok(SessionResponse {
        access_token,
        refresh_token,
        expires_in: ttl.as_secs(),
        user_id,
    })
}

fn bad_refresh() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRefreshToken,
        "Your session has ended. Please log in again.",
    )
}

/// Spends a refresh token for a new pair. A token presented twice revokes its family.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<SessionResponse> {
    let now = state.now_ms();
    let hash = secret::hash(token.trim());
    let row = state
        .db
        .refresh_token(&hash)
        .await?
        .ok_or_else(bad_refresh)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(bad_refresh());
    }
    let reused = || async {
        state
            .db
            .revoke_session(row.session_id, "refresh token reused", now)
            .await?;
        tracing::warn!(session_id = %row.session_id, "refresh token reuse; session revoked");
        Err::<SessionResponse, ApiError>(ApiError::new(
            ErrorCode::RefreshTokenReused,
            "This session was ended because its token was used twice. Please log in again.",
        ))
    };
    if row.used_at.is_some() {
        return reused().await;
    }
    let (next, next_hash) = secret::new();
    let rotated = state
        .db
        .rotate_refresh_token(
            &hash,
            &next_hash,
            row.session_id,
            now,
            now + ms(state.settings.auth.refresh_ttl),
        )
        .await?;
    if !rotated {
        return reused().await;
    }
    session_response(state, row.user_id, row.session_id, next, now)
}

/// Ends this device's session.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id), err(level = "info"))]
pub async fn log_out(state: &AppState, auth: &AuthUser) -> ApiResult<()> {
    state
        .db
        .revoke_session(auth.session_id, "logged out", state.now_ms())
        .await?;
    Ok(())
}

async fn check_current_password(state: &AppState, auth: &AuthUser, pw: &str) -> ApiResult<String> {
    let user = state
        .db
        .user_by_id(auth.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("Please log in."))?;
    let key = format!("account:{}", user.email);
    let keys = [(key.as_str(), state.settings.limits.max_failures_per_account)];
    check_throttle(state, &keys).await?;
    if !verify_password(state, pw.to_owned(), user.password_hash).await? {
        record_failures(state, &keys).await?;
        return Err(ApiError::wrong_current_password());
    }
    Ok(user.email)
}

/// Changes the password and ends every other session.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id), err(level = "info"))]
pub async fn change_password(
    state: &AppState,
    auth: &AuthUser,
    current: &str,
    new: &str,
) -> ApiResult<()> {
    let email = check_current_password(state, auth, current).await?;
    if let Some(why) = password::weakness(new, &email) {
        return Err(ApiError::new(ErrorCode::WeakPassword, why));
    }
    let hash = hash_password(state, new.to_owned()).await?;
    state.db.set_password_hash(auth.user_id, &hash).await?;
    state
        .db
        .revoke_other_sessions(
            auth.user_id,
            auth.session_id,
            "password changed",
            state.now_ms(),
        )
        .await?;
    Ok(())
}

/// Deletes the account with every capsule, photo and stored byte of it.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id), err(level = "info"))]
pub async fn delete_account(state: &AppState, auth: &AuthUser, pw: &str) -> ApiResult<()> {
    check_current_password(state, auth, pw).await?;
    let prefix = keys::user_prefix(auth.user_id);
    // Bytes first: if the store fails, nothing is gone yet and the person can retry.
    state.blobs.delete_prefix(&prefix).await?;
    state.db.delete_user(auth.user_id).await?;
    // Sweep again for an upload that landed in between.
    state.blobs.delete_prefix(&prefix).await?;
    tracing::info!(user_id = %auth.user_id, "account deleted");
    Ok(())
}
