//! The operations listener (plain HTTP, like Fabric's operations service):
//! `GET /healthz` and `GET /metrics`. It exposes no ledger data: only
//! channel names, heights and counters.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::node::Shared;

/// `GET /healthz`'s answer.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    msp_id: String,
    channels: Vec<ChannelHealth>,
}

#[derive(Serialize)]
struct ChannelHealth {
    name: String,
    height: u64,
    orderer: Option<String>,
}

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let addr = listener.local_addr().ok();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared);
    info!(addr = ?addr, "serving operations (health, metrics)");
    if let Err(e) = axum::serve(listener, router).await {
        warn!(reason = %e, "operations server stopped");
    }
}

async fn healthz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let channels = shared
        .all_channels()
        .iter()
        .map(|c| ChannelHealth {
            name: c.name.clone(),
            height: c.ledger.height(),
            orderer: c.source(),
        })
        .collect();
    axum::Json(Health {
        status: "OK",
        msp_id: shared.msp_id().to_string(),
        channels,
    })
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
}
