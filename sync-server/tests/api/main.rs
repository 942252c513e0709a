//! API tests against the real app on SQLite + folder and on PostgreSQL + S3.

mod accounts;
mod api_lambda;
mod auth_guard;
mod capsules;
mod delivery;
mod faults;
mod helpers;
mod lambda;
mod limits;
mod mail_relay;
mod photos;
mod recipients;
mod reminders;
mod replicas;
mod resend;
mod sealing;
mod security;
mod server;
mod sync;
mod thumbnails;
