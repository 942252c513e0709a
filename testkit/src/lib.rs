//! Helpers for the fault suites of the server and the desktop core.

pub mod beacon;
pub mod lambda;
pub mod proxy;

pub use proxy::FaultProxy;
