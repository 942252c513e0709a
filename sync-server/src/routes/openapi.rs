//! The error answers every operation can give, added to the generated document in one place
//! so it tells clients (and the conformance run) the whole truth: a time limit and a
//! dependency being down apply everywhere, a token to what needs one, a missing item to
//! what names one, and body rejections to what takes a body.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorResponse")))
                    .build(),
            )
            .build(),
    )
}

fn add(op: &mut Operation, code: &str, description: &str) {
    op.responses
        .responses
        .entry(code.to_owned())
        .or_insert_with(|| error(description));
}

/// Adds the error answers that apply to each operation where they are not listed yet.
pub fn document_common_errors(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let names_an_item = path.contains('{');
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            let needs_token = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let takes_body = op.request_body.is_some();
            let takes_query_or_header = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| !matches!(p.parameter_in, ParameterIn::Path))
            });
            add(op, "408", "The request took too long.");
            add(op, "500", "Something went wrong on the server.");
            add(
                op,
                "503",
                "The server is busy, or a dependency (database, photo store) is unavailable; \
                 Retry-After says when to try again.",
            );
            if needs_token {
                add(op, "401", "No token, or one that is not valid.");
            }
            if names_an_item {
                add(op, "404", "No such item, or not yours.");
            }
            if takes_body || takes_query_or_header {
                add(op, "400", "The request is malformed.");
            }
            if takes_body {
                add(op, "413", "The body is too large.");
                add(op, "415", "The body is not of the expected media type.");
                add(op, "422", "A field's value is not acceptable.");
            }
        }
    }
}

/// States the server's own largest photo in the declare body's schema.
pub fn document_photo_limit(doc: &mut OpenApi, max_bytes: u64) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let sealed = crate::sealing::files::largest_sealed_bytes(max_bytes);
    for (schema, max) in [("PhotoWrite", max_bytes), ("SealedItemWrite", sealed)] {
        if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(schema)
            && let Some(RefOr::T(Schema::Object(size))) = o.properties.get_mut("size")
        {
            size.maximum = Some(utoipa::Number::UInt(
                usize::try_from(max).unwrap_or(usize::MAX),
            ));
        }
    }
}

/// How one answer's values feed the next calls: a capsule's id into reading, changing,
/// sealing and deleting it and declaring its photos; a photo's ids into completing,
/// fetching and removing it. Clients (and the conformance run's stateful phase) follow them.
pub fn document_links(doc: &mut OpenApi) {
    let capsule = [("id", "$response.body#/capsule/id")];
    let photo = [
        ("id", "$response.body#/photo/capsule_id"),
        ("photo_id", "$response.body#/photo/id"),
    ];
    let from_capsule = [
        "get_capsule",
        "put_capsule",
        "seal_capsule",
        "delete_capsule",
        "declare_photo",
        "revoke_link",
    ];
    let from_photo = [
        "complete_photo",
        "get_original",
        "get_thumbnail",
        "delete_photo",
    ];
    link(doc, "put_capsule", &["200", "201"], &from_capsule, &capsule);
    link(doc, "seal_capsule", &["200"], &from_capsule, &capsule);
    link(doc, "declare_photo", &["200"], &from_photo, &photo);
    link(doc, "complete_photo", &["200"], &from_photo, &photo);
}

fn link(doc: &mut OpenApi, from: &str, statuses: &[&str], to: &[&str], params: &[(&str, &str)]) {
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            if op.operation_id.as_deref() != Some(from) {
                continue;
            }
            for status in statuses {
                let Some(RefOr::T(res)) = op.responses.responses.get_mut(*status) else {
                    continue;
                };
                for target in to {
                    let mut l = LinkBuilder::new().operation_id(*target);
                    for (name, value) in params {
                        l = l.parameter(*name, *value);
                    }
                    res.links.insert(target.to_string(), RefOr::T(l.build()));
                }
            }
        }
    }
}

/// The document as served. utoipa 5 writes a link's fields in snake case; OpenAPI spells
/// them `operationId`, `operationRef` and `requestBody`.
pub fn to_json(doc: &OpenApi) -> serde_json::Value {
    let mut v = serde_json::to_value(doc).unwrap_or_default();
    fn fix(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(links)) = map.get_mut("links") {
                    for link in links.values_mut() {
                        if let serde_json::Value::Object(l) = link {
                            for (from, to) in [
                                ("operation_id", "operationId"),
                                ("operation_ref", "operationRef"),
                                ("request_body", "requestBody"),
                            ] {
                                if let Some(x) = l.remove(from) {
                                    l.insert(to.to_owned(), x);
                                }
                            }
                        }
                    }
                }
                map.values_mut().for_each(fix);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(fix),
            _ => {}
        }
    }
    fix(&mut v);
    v
}
