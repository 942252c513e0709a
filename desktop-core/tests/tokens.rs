//! The refresh token's home: the OS keyring, or a 0600 file where no keyring service
//! runs; never the SQLite cache. On Windows, the Credential Manager.

mod support;

use desktop_core::{TokenBackend, TokenStore};

#[test]
#[cfg_attr(
    windows,
    ignore = "a private D-Bus bus; Windows has no Secret Service to lack"
)]
fn without_a_keyring_service_the_token_goes_to_a_private_file() {
    // A session bus with no Secret Service on it, as on a bare Linux desktop or CI box.
    let bus = support::PrivateBus::start();
    let out = bus.run_test("save_load_delete_through_the_system_store");
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run by the test above in a child process whose session bus has no keyring.
#[test]
#[ignore = "run by without_a_keyring_service_the_token_goes_to_a_private_file"]
fn save_load_delete_through_the_system_store() {
    assert!(support::is_child(), "run through its parent test");
    let dir = tempfile::tempdir().expect("tmp");
    let store = TokenStore::system(dir.path());
    // As the engine calls it: from a blocking task inside the app's runtime.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = store.clone();
    let backend = rt
        .block_on(async move {
            tokio::task::spawn_blocking(move || {
                s.save("http://127.0.0.1:8080|u1", "secret-refresh-token")
            })
            .await
        })
        .expect("join")
        .expect("save");
    assert_eq!(backend, TokenBackend::File);
    let file = dir.path().join("refresh-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        store
            .load("http://127.0.0.1:8080|u1")
            .expect("load")
            .as_deref(),
        Some("secret-refresh-token")
    );
    assert_eq!(
        store.load("http://other|u2").expect("load"),
        None,
        "other account"
    );
    store.delete("http://127.0.0.1:8080|u1").expect("delete");
    assert!(!file.exists());
    assert_eq!(store.load("http://127.0.0.1:8080|u1").expect("load"), None);
}

/// Windows always has the Credential Manager (wine's keeps it in its registry): the token
/// goes there, and no file holds it.
#[cfg(windows)]
#[test]
fn on_windows_the_token_goes_to_the_credential_manager() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = TokenStore::system(dir.path());
    let account = format!("http://127.0.0.1:8080|{}", uuid::Uuid::new_v4());
    assert_eq!(
        store.save(&account, "secret-refresh-token").expect("save"),
        TokenBackend::Keyring
    );
    assert!(!dir.path().join("refresh-token").exists());
    // Another store of the same folder (the app after a restart) finds it.
    let again = TokenStore::system(dir.path());
    assert_eq!(
        again.load(&account).expect("load").as_deref(),
        Some("secret-refresh-token")
    );
    assert_eq!(again.load("http://other|u2").expect("load"), None);
    again.delete(&account).expect("delete");
    assert_eq!(store.load(&account).expect("load"), None);
}
