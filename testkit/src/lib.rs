//! Helpers for the fault suites of the server and the desktop core.

pub mod beacon;
pub mod heic_corpus;
pub mod lambda;
pub mod proxy;
pub mod smtp;

pub use proxy::FaultProxy;
