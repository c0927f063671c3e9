//! The orders a run observes against publish order, each with one name and one way to read its
//! figures, whichever output shows it.

use crate::checker::{percent, OrderFigures};
use crate::result::Orders;

use super::tone::Tone;

/// One observed order. Publish order is the reference the others are measured against, so it
/// is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// Acks as their replies reached the connection.
    AckWire,
    /// Acks as the application's ack futures completed.
    AckCompletion,
    /// The order the stream holds (from the read-back, or the acks without one).
    Storage,
    /// The storage order computed from the PubAck sequences, beside the read-back's.
    StorageFromAcks,
    /// The order the consume side's workers first processed the messages in.
    Consume,
}

impl OrderKind {
    /// Every order, in the order every output lists them.
    pub const ALL: [OrderKind; 5] = [
        OrderKind::AckWire,
        OrderKind::AckCompletion,
        OrderKind::Storage,
        OrderKind::StorageFromAcks,
        OrderKind::Consume,
    ];

    /// The orders the divergence chart draws: storage from the acks is a cross-check of
    /// storage, not an order of its own.
    pub const CHARTED: [OrderKind; 4] = [
        OrderKind::AckWire,
        OrderKind::AckCompletion,
        OrderKind::Storage,
        OrderKind::Consume,
    ];

    /// The name where the context already says "order" (a run's order table, the divergence
    /// chart): "ack (wire)".
    pub const fn name(self) -> &'static str {
        match self {
            OrderKind::AckWire => "ack (wire)",
            OrderKind::AckCompletion => "ack (completion)",
            OrderKind::Storage => "storage",
            OrderKind::StorageFromAcks => "storage, from the acks",
            OrderKind::Consume => "consume",
        }
    }

    /// The name where it stands alone (the terminal, the summary table's columns): the same
    /// with "order" in it, "ack order (wire)".
    pub const fn title(self) -> &'static str {
        match self {
            OrderKind::AckWire => "ack order (wire)",
            OrderKind::AckCompletion => "ack order (completion)",
            OrderKind::Storage => "storage order",
            OrderKind::StorageFromAcks => "storage order, from the acks",
            OrderKind::Consume => "consume order",
        }
    }

    /// This order's figures in result.json; `None` when the run did not measure it.
    pub fn figures(self, o: &Orders) -> Option<OrderFigures> {
        match self {
            OrderKind::AckWire => o.ack_wire,
            OrderKind::AckCompletion => o.ack_completion,
            OrderKind::Storage => o.storage,
            OrderKind::StorageFromAcks => o.storage_from_acks,
            OrderKind::Consume => o.consume,
        }
    }
}

/// One order of one run: its figures and, for storage, where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderView {
    pub kind: OrderKind,
    pub figures: Option<OrderFigures>,
    /// Storage only: "read_back" (the stream itself) or "acks".
    pub source: Option<String>,
}

impl OrderView {
    pub fn of(kind: OrderKind, o: &Orders) -> OrderView {
        let source = (kind == OrderKind::Storage && !o.storage_source.is_empty())
            .then(|| o.storage_source.clone());
        OrderView {
            kind,
            figures: kind.figures(o),
            source,
        }
    }

    /// [`OrderKind::name`] with the source: "storage (read_back)".
    pub fn name(&self) -> String {
        qualified(self.kind.name(), self.source.as_deref())
    }

    /// [`OrderKind::title`] with the source: "storage order (read_back)".
    pub fn title(&self) -> String {
        qualified(self.kind.title(), self.source.as_deref())
    }

    /// The figures in a few words ([`order_cell`]), or `missing` when not measured.
    pub fn cell_or(&self, missing: &str) -> String {
        self.figures
            .as_ref()
            .map_or(missing.to_string(), order_cell)
    }

    /// Kept when no message is late within its key (even if some are late globally), broken
    /// when some are; plain without figures.
    pub fn tone(&self) -> Tone {
        match &self.figures {
            Some(f) if f.messages > 0 && f.late > 0 && f.late_per_key > 0 => Tone::Broken,
            Some(f) if f.messages > 0 => Tone::Kept,
            _ => Tone::Plain,
        }
    }

    /// Percent of messages late against publish order, globally or within their key; `None`
    /// when not measured or empty.
    pub fn late_pct(&self, per_key: bool) -> Option<f64> {
        self.figures.as_ref().filter(|f| f.messages > 0).map(|f| {
            100.0
                * if per_key {
                    f.late_per_key_share()
                } else {
                    f.late_share()
                }
        })
    }
}

fn qualified(name: &str, source: Option<&str>) -> String {
    match source {
        Some(s) => format!("{name} ({s})"),
        None => name.to_string(),
    }
}

/// One order in a few words: "preserved (0 of N)" or "broken: 71% late per key (16/16 keys)",
/// the per-key figure first because that is what the consumer of one aggregate sees.
pub fn order_cell(f: &OrderFigures) -> String {
    if f.messages > 0 && f.late > 0 && f.late_per_key > 0 {
        format!(
            "broken: {} late per key ({}/{} keys)",
            percent(f.late_per_key_share()),
            f.keys_affected,
            f.keys
        )
    } else {
        f.describe()
    }
}

/// The compact table's order cell: the share of messages late within their key ("0" when every
/// key kept its order, "0.44%", "51%").
pub fn late_per_key_cell(f: &OrderFigures) -> String {
    if f.late_per_key == 0 {
        "0".into()
    } else {
        percent(f.late_per_key_share())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_cells() {
        let f = OrderFigures {
            messages: 100,
            late: 71,
            late_per_key: 71,
            keys_affected: 16,
            keys: 16,
            ..Default::default()
        };
        assert_eq!(order_cell(&f), "broken: 71% late per key (16/16 keys)");
        let ok = OrderFigures {
            messages: 100,
            keys: 4,
            ..Default::default()
        };
        assert_eq!(order_cell(&ok), "preserved (0 of 100)");
        assert_eq!(late_per_key_cell(&f), "71%");
        assert_eq!(late_per_key_cell(&ok), "0");
    }

    #[test]
    fn tones_follow_the_per_key_figure() {
        let view = |f: OrderFigures| OrderView {
            kind: OrderKind::AckWire,
            figures: Some(f),
            source: None,
        };
        let globally_late = OrderFigures {
            messages: 100,
            late: 70,
            keys: 4,
            ..Default::default()
        };
        assert_eq!(view(globally_late).tone(), Tone::Kept);
        let broken = OrderFigures {
            late_per_key: 3,
            ..globally_late
        };
        assert_eq!(view(broken).tone(), Tone::Broken);
        assert_eq!(view(OrderFigures::default()).tone(), Tone::Plain);
    }
}
