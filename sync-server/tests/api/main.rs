//! API tests against the real app on SQLite + folder and on PostgreSQL + S3.

mod accounts;
mod auth_guard;
mod capsules;
mod helpers;
mod photos;
mod server;
mod sync;
