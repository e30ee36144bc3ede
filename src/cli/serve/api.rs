//! The HTTP side of `sapiens serve` (axum): the dashboard at `/`, the REST API under `/api`
//! (with each camera's live view as JPEG or MJPEG), `/metrics`, `/healthz` and `/readyz`.
//! Everything but the page itself, the login and the two health checks (and `/metrics` with
//! `--metrics-open`) needs the token: as `Authorization: Bearer TOKEN`, or as the HttpOnly,
//! SameSite=Strict cookie `POST /api/login` sets for the page. No CORS header is ever sent:
//! browsers keep other sites' pages out.
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::Fleet;
use super::camera::State as CamState;

/// What the handlers share.
pub struct App {
    pub fleet: Arc<Fleet>,
    pub token: String,
    pub metrics_open: bool,
    /// Served over HTTPS: the login cookie is `Secure` (never sent over plain HTTP).
    pub secure_cookie: bool,
}

/// A JSON error: `{"error": ..., "field": ...}` with its status.
struct ApiError(StatusCode, String, Option<String>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            axum::Json(json!({"error": self.1, "field": self.2})),
        )
            .into_response()
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no camera {id}"), None)
}

/// The service's routes.
pub fn router(app: Arc<App>) -> Router {
    let mut guarded = Router::new()
        .route("/api/cameras", get(list).post(add))
        .route("/api/cameras/{id}", get(one).delete(remove).patch(change))
        .route("/api/cameras/{id}/live.jpg", get(picture))
        .route("/api/cameras/{id}/live.mjpeg", get(motion))
        .route("/api/config/save", post(save));
    let mut open = Router::new()
        .route("/", get(dashboard))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready));
    if app.metrics_open {
        open = open.route("/metrics", get(metrics));
    } else {
        guarded = guarded.route("/metrics", get(metrics));
    }
    guarded = guarded.layer(middleware::from_fn_with_state(app.clone(), auth));
    open.merge(guarded).with_state(app)
}

/// The cookie the page's login sets.
const COOKIE: &str = "sapiens_token";

/// The token of the `sapiens_token` cookie in `headers`, as an Authorization value.
fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(|t| format!("Bearer {t}"))
}

async fn auth(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let cookie = cookie_token(req.headers());
    if super::token::authorizes(header, &app.token)
        || super::token::authorizes(cookie.as_deref(), &app.token)
    {
        return next.run(req).await;
    }
    let mut r = ApiError(
        StatusCode::UNAUTHORIZED,
        "a valid token is needed: Authorization: Bearer TOKEN (the token file is beside the cameras file)".into(),
        None,
    )
    .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// The dashboard (no data in it: it asks the API, logging in first).
async fn dashboard() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        include_str!("dashboard.html"),
    )
        .into_response()
}

/// `POST /api/login` `{"token": TOKEN}`: the right token sets the page's cookie.
async fn login(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let given = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string));
    let ok = given
        .as_deref()
        .is_some_and(|t| super::token::authorizes(Some(&format!("Bearer {t}")), &app.token));
    if !ok {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "wrong token (it is in the token file beside the cameras file)".into(),
            Some("token".into()),
        )
        .into_response();
    }
    let secure = if app.secure_cookie { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/{secure}",
        app.token
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// Longest wait for a camera's next live picture.
const PICTURE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /api/cameras/{id}/live.jpg`: the camera's next annotated picture.
async fn picture(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(cam) = app.fleet.find(&id) else {
        return not_found(&id).into_response();
    };
    let mut viewer = cam.watch_live();
    let next = tokio::time::timeout(PICTURE_WAIT, viewer.pictures.changed()).await;
    let picture = viewer.pictures.borrow_and_update().clone();
    match (next, picture) {
        (Ok(Ok(())), Some((_, jpeg))) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            jpeg,
        )
            .into_response(),
        _ => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "camera {id} gave no picture in {} s (state {})",
                PICTURE_WAIT.as_secs(),
                cam.state().as_str()
            ),
            None,
        )
        .into_response(),
    }
}

/// `GET /api/cameras/{id}/live.mjpeg`: the live view as MJPEG over HTTP (multipart), for an
/// `<img>`; it costs nothing once the client goes.
async fn motion(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(cam) = app.fleet.find(&id) else {
        return not_found(&id).into_response();
    };
    let viewer = cam.watch_live();
    let parts = futures_util::stream::unfold(viewer, |mut viewer| async move {
        viewer.pictures.changed().await.ok()?;
        let (_, jpeg) = viewer.pictures.borrow_and_update().clone()?;
        let mut part = format!(
            "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        )
        .into_bytes();
        part.extend_from_slice(&jpeg);
        part.extend_from_slice(b"\r\n");
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(part)), viewer))
    });
    (
        [
            (
                header::CONTENT_TYPE,
                "multipart/x-mixed-replace; boundary=frame",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::from_stream(parts),
    )
        .into_response()
}

async fn list(State(app): State<Arc<App>>) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let infos: Vec<_> = fleet.cameras().iter().map(|c| c.info()).collect();
        Ok(axum::Json(infos).into_response())
    })
    .await
}

async fn one(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let cam = fleet.find(&id).ok_or_else(|| not_found(&id))?;
        Ok(axum::Json(cam.info()).into_response())
    })
    .await
}

async fn add(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let value = json_body(&body)?;
        let table = match toml::Value::try_from(&value) {
            Ok(toml::Value::Table(t)) => t,
            Ok(_) => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "the body is a JSON object: a camera's keys as in the cameras file".into(),
                    None,
                ));
            }
            Err(e) => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("a value cannot be a camera setting (no nulls): {e}"),
                    None,
                ));
            }
        };
        match fleet.add(table) {
            Ok(cam) => Ok((StatusCode::CREATED, axum::Json(cam.info())).into_response()),
            Err(super::AddError::Duplicate(e)) => {
                Err(ApiError(StatusCode::CONFLICT, e.to_string(), e.field))
            }
            Err(super::AddError::Invalid(e)) => {
                Err(ApiError(StatusCode::BAD_REQUEST, e.to_string(), e.field))
            }
            Err(super::AddError::Start(e)) => Err(ApiError(StatusCode::BAD_REQUEST, e, None)),
        }
    })
    .await
}

/// `PATCH /api/cameras/{id}[?restart=true]`: a JSON object of the keys to change (`null`: back
/// to the default).
async fn change(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let restart = match query.get("restart").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("restart={v}: true or false"),
                    Some("restart".into()),
                ));
            }
        };
        let value = json_body(&body)?;
        let Some(object) = value.as_object() else {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "the body is a JSON object of the keys to change".into(),
                None,
            ));
        };
        let mut changes = Vec::new();
        for (k, v) in object {
            let v = if v.is_null() {
                None
            } else {
                Some(toml::Value::try_from(v).map_err(|e| {
                    ApiError(StatusCode::BAD_REQUEST, e.to_string(), Some(k.clone()))
                })?)
            };
            changes.push((k.clone(), v));
        }
        match fleet.patch(&id, changes, restart) {
            Ok(cam) => Ok(axum::Json(cam.info()).into_response()),
            Err(super::PatchError::NotFound) => Err(not_found(&id)),
            Err(super::PatchError::Invalid(e)) => {
                Err(ApiError(StatusCode::BAD_REQUEST, e.to_string(), e.field))
            }
            Err(super::PatchError::NeedsRestart(keys)) => Err(ApiError(
                StatusCode::CONFLICT,
                format!(
                    "{} cannot change while the camera runs (only {} can): PATCH with \
                     ?restart=true to restart the camera with them (its recording goes on in \
                     a new numbered file)",
                    keys.join(", "),
                    super::camera::LIVE_KEYS.join(", ")
                ),
                keys.first().cloned(),
            )),
        }
    })
    .await
}

async fn remove(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let cam = fleet.find(&id).ok_or_else(|| not_found(&id))?;
        if cam.state() == CamState::Stopping {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("camera {id} is being removed already"),
                None,
            ));
        }
        let report = fleet.remove(&cam);
        Ok(axum::Json(report).into_response())
    })
    .await
}

async fn save(State(app): State<Arc<App>>) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let path = fleet
            .save()
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e, None))?;
        Ok(axum::Json(json!({"saved": path})).into_response())
    })
    .await
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let fleet = app.fleet.clone();
    blocking(move || {
        let failed: Vec<String> = fleet
            .cameras()
            .iter()
            .filter(|c| c.state() == CamState::Failed)
            .map(|c| c.id.clone())
            .collect();
        Ok(if failed.is_empty() {
            (StatusCode::OK, "ready\n".to_string()).into_response()
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("failed cameras: {}\n", failed.join(", ")),
            )
                .into_response()
        })
    })
    .await
}

/// OpenMetrics for clients that accept it (Prometheus), else the classic text format.
async fn metrics(State(app): State<Arc<App>>, headers: axum::http::HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let fleet = app.fleet.clone();
    blocking(move || {
        let (kind, text) = super::metrics::render(&fleet, openmetrics);
        Ok(([(header::CONTENT_TYPE, kind)], text).into_response())
    })
    .await
}

/// A request body as JSON, or the 400 saying it is not.
fn json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
            None,
        )
    })
}

/// Runs `f` (which reads GStreamer elements or waits for a drain) off the async workers.
async fn blocking(f: impl FnOnce() -> Result<Response, ApiError> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's task failed: {e}"),
            None,
        )
        .into_response(),
    }
}
