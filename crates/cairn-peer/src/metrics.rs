//! The peer's Prometheus metrics, in a registry of its own (several nodes
//! may share a process), served as text on the operations listener.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the peer exports.
pub(crate) struct Metrics {
    registry: Registry,
    /// `cairn_peer_blocks_committed_total{channel}`.
    pub blocks: IntCounterVec,
    /// `cairn_peer_transactions_total{channel, code}`.
    pub txs: IntCounterVec,
    /// `cairn_peer_ledger_height{channel}`.
    pub height: IntGaugeVec,
    /// `cairn_peer_endorsements_total{channel, outcome}`.
    pub endorsements: IntCounterVec,
    /// `cairn_peer_endorse_duration_seconds{channel}`: simulate and sign.
    pub endorse_seconds: HistogramVec,
    /// `cairn_peer_gateway_requests_total{operation, outcome}`.
    pub gateway: IntCounterVec,
    /// `cairn_peer_private_data_pushes_total{channel, collection, outcome}`:
    /// one collection's private data pushed to one peer at endorsement.
    pub pvt_pushes: IntCounterVec,
    /// `cairn_peer_private_data_received_total{channel, collection}`: pushes
    /// this peer accepted.
    pub pvt_received: IntCounterVec,
    /// `cairn_peer_private_data_reconciled_total{channel}`: missing writes
    /// filled by reconciliation.
    pub pvt_reconciled: IntCounterVec,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| unreachable!("metric {name} is well formed: {e}"));
            // Registering fresh metrics in a fresh registry cannot collide.
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let blocks = counter(
            "cairn_peer_blocks_committed_total",
            "Blocks validated and committed, per channel.",
            &["channel"],
        );
        let txs = counter(
            "cairn_peer_transactions_total",
            "Committed transactions by validation code, per channel.",
            &["channel", "code"],
        );
        let endorsements = counter(
            "cairn_peer_endorsements_total",
            "Proposals this peer simulated, by outcome (endorsed, refused, failed).",
            &["channel", "outcome"],
        );
        let gateway = counter(
            "cairn_peer_gateway_requests_total",
            "Gateway requests by operation and outcome (ok, error).",
            &["operation", "outcome"],
        );
        let pvt_pushes = counter(
            "cairn_peer_private_data_pushes_total",
            "Pushes of one collection's private data to one peer at endorsement, by outcome (delivered, failed).",
            &["channel", "collection", "outcome"],
        );
        let pvt_received = counter(
            "cairn_peer_private_data_received_total",
            "Private data pushes this peer accepted, per collection.",
            &["channel", "collection"],
        );
        let pvt_reconciled = counter(
            "cairn_peer_private_data_reconciled_total",
            "Missing private writes this peer filled by reconciliation.",
            &["channel"],
        );
        let height = IntGaugeVec::new(
            Opts::new(
                "cairn_peer_ledger_height",
                "Blocks in the ledger, per channel.",
            ),
            &["channel"],
        )
        .unwrap_or_else(|e| unreachable!("metric is well formed: {e}"));
        let _ = registry.register(Box::new(height.clone()));
        let endorse_seconds = HistogramVec::new(
            HistogramOpts::new(
                "cairn_peer_endorse_duration_seconds",
                "Time to check, simulate and sign one proposal.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["channel"],
        )
        .unwrap_or_else(|e| unreachable!("metric is well formed: {e}"));
        let _ = registry.register(Box::new(endorse_seconds.clone()));
        Metrics {
            registry,
            blocks,
            txs,
            height,
            endorsements,
            endorse_seconds,
            gateway,
            pvt_pushes,
            pvt_received,
            pvt_reconciled,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(reason = %e, "encoding metrics failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.blocks.with_label_values(&["ch"]).inc();
        m.txs.with_label_values(&["ch", "VALID"]).inc_by(3);
        m.endorse_seconds.with_label_values(&["ch"]).observe(0.003);
        let text = m.render();
        assert!(text.contains("cairn_peer_blocks_committed_total{channel=\"ch\"} 1"));
        assert!(text.contains("cairn_peer_transactions_total{channel=\"ch\",code=\"VALID\"} 3"));
        assert!(
            text.contains(
                "cairn_peer_endorse_duration_seconds_bucket{channel=\"ch\",le=\"0.005\"} 1"
            )
        );
        assert!(text.contains("# TYPE cairn_peer_endorse_duration_seconds histogram"));
    }
}
