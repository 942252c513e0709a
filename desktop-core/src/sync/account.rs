//! The account this device syncs with: sign-up, log-in, log-out, password change and
//! account deletion, and the refresh token kept for the session.

use protocol::{CreateAccountRequest, CreateAccountResponse, LoginRequest, SessionResponse};

use super::api::{self, Account};
use super::error::SyncError;
use super::{SyncEngine, store};

/// Normalises a server address the way it is stored: no trailing slash, http(s) only.
fn server_url(url: &str) -> Result<String, SyncError> {
    let u = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(u).map_err(|_| {
        SyncError::BadServerAddress(format!(
            "“{u}” is not a server address; it looks like https://example.com."
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(SyncError::BadServerAddress(
            "The server address must start with https:// (or http:// on this computer).".into(),
        ));
    }
    Ok(u.to_owned())
}

impl SyncEngine {
    /// Makes an account on `server` and signs this device in to it.
    pub async fn sign_up(
        &self,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<Account, SyncError> {
        let server = server_url(server)?;
        let url = format!("{server}/v1/accounts");
        let body = CreateAccountRequest {
            email: email.into(),
            password: password.into(),
        };
        let res = api::with_busy_retries(|| self.api.http.post(&url).json(&body).send()).await?;
        let _: CreateAccountResponse = api::json(res).await?;
        self.log_in(&server, email, password).await
    }

    /// Signs this device in. If another account synced here before, what came from it
    /// leaves this device; drafts never sent stay and go to this account.
    pub async fn log_in(
        &self,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<Account, SyncError> {
        let server = server_url(server)?;
        let url = format!("{server}/v1/sessions");
        let body = LoginRequest {
            email: email.into(),
            password: password.into(),
            device_name: Some(self.device_name.clone()),
        };
        let res = api::with_busy_retries(|| self.api.http.post(&url).json(&body).send()).await?;
        let s: SessionResponse = api::json(res).await?;
        let account = Account {
            server_url: server,
            user_id: s.user_id,
            email: email.trim().to_lowercase(),
        };
        let (key, refresh) = (account.token_key(), s.refresh_token.clone());
        self.api
            .with_tokens(move |t| t.save(&key, &refresh))
            .await?;
        {
            let mut conn = self.lib.conn();
            let owner = format!("{}|{}", account.server_url, account.user_id);
            store::adopt_owner(&mut conn, &owner)?;
            store::save_account(&conn, &account)?;
        }
        self.api.set_session(Some(account.clone()), Some(&s));
        self.wake();
        Ok(account)
    }

    /// Signs this device out: the server revokes the session (when reachable), the token
    /// is forgotten. Capsules stay on this device.
    pub async fn log_out(&self) -> Result<(), SyncError> {
        let Some(account) = self.api.account() else {
            return Ok(());
        };
        match self
            .api
            .send(reqwest::Method::DELETE, "/v1/sessions/current", |r| r)
            .await
        {
            Ok(_) | Err(SyncError::SignedOut) => {}
            // Offline: the token is forgotten here anyway and expires on the server.
            Err(e) => tracing::info!(error = %e, "could not tell the server about the log-out"),
        }
        let key = account.token_key();
        self.api.with_tokens(move |t| t.delete(&key)).await?;
        store::clear_account(&self.lib.conn())?;
        self.api.set_session(None, None);
        Ok(())
    }

    /// Changes the account's password; the server ends every other session.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<(), SyncError> {
        let body = protocol::ChangePasswordRequest {
            current_password: current.into(),
            new_password: new.into(),
        };
        let res = self
            .api
            .send(reqwest::Method::PUT, "/v1/account/password", |r| {
                r.json(&body)
            })
            .await?;
        api::check(res).await?;
        Ok(())
    }

    /// Deletes the account and everything of it on the server, then signs out here.
    /// Capsules on this device stay, as drafts only on this computer.
    pub async fn delete_account(&self, password: &str) -> Result<(), SyncError> {
        let body = protocol::DeleteAccountRequest {
            password: password.into(),
        };
        let res = self
            .api
            .send(reqwest::Method::DELETE, "/v1/account", |r| r.json(&body))
            .await?;
        api::check(res).await?;
        if let Some(account) = self.api.account() {
            let key = account.token_key();
            self.api.with_tokens(move |t| t.delete(&key)).await?;
        }
        store::clear_account(&self.lib.conn())?;
        self.api.set_session(None, None);
        Ok(())
    }
}
