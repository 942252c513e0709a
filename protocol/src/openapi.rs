//! The rules of `validate` as OpenAPI constraints, so the published document tells clients
//! what the server will accept (and the conformance run holds it to that). The patterns of
//! titles, notes and time zones sit on the fields themselves; this holds what needs code.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema};

use crate::MAX_RECIPIENTS;

/// Up to [`MAX_RECIPIENTS`] email addresses.
pub fn recipients() -> impl Into<RefOr<Schema>> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                .max_length(Some(254)),
        )
        .max_items(Some(MAX_RECIPIENTS))
}
