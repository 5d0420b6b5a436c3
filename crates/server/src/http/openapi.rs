//! `GET /api/v1/openapi.json`, generated from the handlers' annotations so it
//! describes the routes as they are.

use axum::response::IntoResponse;
use utoipa::OpenApi;

use super::{api_conversations, ask, documents, health, search};

#[derive(OpenApi)]
#[openapi(
    info(title = "footnote", description = "Answers with footnotes from your documents."),
    paths(
        ask::ask,
        search::search,
        documents::list,
        documents::show,
        documents::create,
        documents::delete,
        api_conversations::list,
        api_conversations::show,
        api_conversations::rename,
        api_conversations::delete,
        api_conversations::feedback,
        health::healthz,
        health::readyz,
        health::metrics,
        document,
    ),
    components(schemas(crate::problem::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("admin_token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "openapi_document", tag = "operations", responses((status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json")))]
pub async fn document() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
