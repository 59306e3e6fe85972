//! Slack-compatible endpoints (`kind = "slack"`): the event as a chat message, the body
//! an incoming webhook of Slack takes (`{"text": …}`), as do Mattermost, Rocket.Chat and
//! Discord's `/slack` URLs. The Standard Webhooks headers are sent all the same (a chat
//! service ignores them), so retries, the dead-letter queue and the log are the same as
//! for any endpoint.
//!
//! The message is one line in Slack's `mrkdwn`: an emoji and a bold title of what
//! happened, then the facts a person acts on (SKU, warehouse, quantities). Every value
//! from the tenant's data is escaped (`&`, `<`, `>`), so a product named `<!channel>`
//! cannot ping a channel or forge a link.

use serde_json::Value;

/// The body POSTed to a Slack-compatible endpoint for an event of `topic` with `data`.
pub fn body(topic: &str, data: &Value) -> Value {
    serde_json::json!({ "text": text(topic, data) })
}

/// The message of an event (see the module doc).
///
/// Longer than 80 lines: one arm per event type, so that a new type is a compile-visible
/// gap here (the test checks each has its own message).
pub fn text(topic: &str, data: &Value) -> String {
    let f = |key: &str| field(data, key);
    match topic {
        "stock.low" => format!(
            ":warning: *Low stock*: {} {} in {}: {} available (on hand {}, allocated {}), \
             reorder point {}; reorder {}",
            f("sku"),
            f("product_name"),
            f("warehouse_code"),
            f("available"),
            f("on_hand"),
            f("allocated"),
            f("reorder_point"),
            f("reorder_qty"),
        ),
        "lot.expiring" => {
            let when = match data.get("days_left").and_then(Value::as_i64) {
                Some(d) if d < 0 => format!("expired {} days ago", -d),
                Some(0) => "expires today".to_owned(),
                Some(1) => "expires tomorrow".to_owned(),
                Some(d) => format!("expires in {d} days"),
                None => "expires".to_owned(),
            };
            format!(
                ":hourglass: *Lot expiring*: lot {} of {} {} in {} {when} ({}), {} on hand",
                f("lot_code"),
                f("sku"),
                f("product_name"),
                f("warehouse_code"),
                f("expires_on"),
                f("on_hand"),
            )
        }
        "conflict.held" => format!(
            ":raised_hand: *Movement held for {} hours*: {} of {} {} {}, waiting for a \
             decision in the conflict inbox",
            f("hours_waiting"),
            f("kind"),
            f("qty"),
            f("sku"),
            f("product_name"),
        ),
        "count.variance" => format!(
            ":mag: *Count variance*: {} {} at {}: counted {}, expected {}",
            f("sku"),
            f("product_name"),
            f("location_path"),
            f("counted"),
            f("expected"),
        ),
        "device.silent" => format!(
            ":zzz: *Device silent*: {} ({}) has not synced for {} days",
            f("name"),
            f("platform"),
            f("days_silent"),
        ),
        "webhook.disabled" => format!(
            ":no_entry: *Webhook endpoint disabled*: {} failed for five days; its events \
             wait until it is active again",
            f("url"),
        ),
        "import.completed" => format!(
            ":inbox_tray: *Import completed*: {} ({}): {} created, {} updated, {} unchanged",
            f("file_name"),
            f("kind"),
            f("created"),
            f("updated"),
            f("unchanged"),
        ),
        "movement.recorded" => format!(
            ":package: *Movement recorded*: {} of {}, {}",
            f("kind"),
            f("qty"),
            f("outcome"),
        ),
        "movement.decided" => format!(
            ":package: *Movement decided*: {}",
            data.get("outcome")
                .and_then(|o| o.get("outcome").or(Some(o)))
                .map(|o| escape(&scalar(o)))
                .unwrap_or_else(|| "?".to_owned()),
        ),
        _ => match document(topic, data) {
            Some(text) => text,
            None => format!("*{}*", escape(topic)),
        },
    }
}

/// `purchase_order.*` and `sales_order.*`: `{"<kind>": <the document>}`.
fn document(topic: &str, data: &Value) -> Option<String> {
    let (kind, event) = topic.split_once('.')?;
    let title = match kind {
        "purchase_order" => "Purchase order",
        "sales_order" => "Sales order",
        _ => return None,
    };
    let doc = data.get(kind).unwrap_or(&Value::Null);
    Some(format!(
        ":clipboard: *{title} {} {}*: {}, {}",
        field(doc, "number"),
        escape(event),
        field(doc, "status"),
        match doc
            .get("lines")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
        {
            1 => "1 line".to_owned(),
            n => format!("{n} lines"),
        },
    ))
}

/// A field of `data` as text, escaped; `?` when absent.
fn field(data: &Value, key: &str) -> String {
    match data.get(key) {
        None | Some(Value::Null) => "?".to_owned(),
        Some(v) => escape(&scalar(v)),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Slack's three control characters, escaped as its docs require.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_event_type_reads_as_a_message() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "stock.low",
                json!({"sku": "BOLT-1", "product_name": "Bolt", "warehouse_code": "MAIN",
                       "available": 3, "on_hand": 5, "allocated": 2,
                       "reorder_point": 10, "reorder_qty": 50}),
                ":warning: *Low stock*: BOLT-1 Bolt in MAIN: 3 available (on hand 5, \
                 allocated 2), reorder point 10; reorder 50",
            ),
            (
                "lot.expiring",
                json!({"lot_code": "L1", "sku": "OIL", "product_name": "Oil",
                       "warehouse_code": "MAIN", "days_left": 3,
                       "expires_on": "2026-12-09", "on_hand": 7}),
                ":hourglass: *Lot expiring*: lot L1 of OIL Oil in MAIN expires in 3 days \
                 (2026-12-09), 7 on hand",
            ),
            (
                "lot.expiring",
                json!({"lot_code": "L1", "sku": "OIL", "product_name": "Oil",
                       "warehouse_code": "MAIN", "days_left": -2,
                       "expires_on": "2026-12-04", "on_hand": 7}),
                ":hourglass: *Lot expiring*: lot L1 of OIL Oil in MAIN expired 2 days ago \
                 (2026-12-04), 7 on hand",
            ),
            (
                "lot.expiring",
                json!({"lot_code": "L1", "sku": "OIL", "product_name": "Oil",
                       "warehouse_code": "MAIN", "days_left": 0,
                       "expires_on": "2026-12-06", "on_hand": 7}),
                ":hourglass: *Lot expiring*: lot L1 of OIL Oil in MAIN expires today \
                 (2026-12-06), 7 on hand",
            ),
            (
                "conflict.held",
                json!({"hours_waiting": 5, "kind": "ship", "qty": 4, "sku": "BOLT-1",
                       "product_name": "Bolt"}),
                ":raised_hand: *Movement held for 5 hours*: ship of 4 BOLT-1 Bolt, waiting \
                 for a decision in the conflict inbox",
            ),
            (
                "count.variance",
                json!({"sku": "BOLT-1", "product_name": "Bolt", "location_path": "A/01",
                       "counted": 8, "expected": 10}),
                ":mag: *Count variance*: BOLT-1 Bolt at A/01: counted 8, expected 10",
            ),
            (
                "count.variance",
                json!({"sku": "BOLT-1", "product_name": "Bolt", "location_path": "A/01",
                       "counted": 8, "expected": null}),
                ":mag: *Count variance*: BOLT-1 Bolt at A/01: counted 8, expected ?",
            ),
            (
                "device.silent",
                json!({"name": "Dock tablet", "platform": "windows", "days_silent": 4}),
                ":zzz: *Device silent*: Dock tablet (windows) has not synced for 4 days",
            ),
            (
                "webhook.disabled",
                json!({"url": "https://erp.example/hook"}),
                ":no_entry: *Webhook endpoint disabled*: https://erp.example/hook failed for \
                 five days; its events wait until it is active again",
            ),
            (
                "import.completed",
                json!({"file_name": "products.csv", "kind": "products", "created": 2,
                       "updated": 1, "unchanged": 0}),
                ":inbox_tray: *Import completed*: products.csv (products): 2 created, \
                 1 updated, 0 unchanged",
            ),
            (
                "movement.recorded",
                json!({"kind": "receive", "qty": 12, "outcome": "applied"}),
                ":package: *Movement recorded*: receive of 12, applied",
            ),
            (
                "movement.decided",
                json!({"outcome": {"outcome": "held", "waiting_on": {}}}),
                ":package: *Movement decided*: held",
            ),
            (
                "purchase_order.ordered",
                json!({"purchase_order": {"number": "PO-000012", "status": "ordered",
                                          "lines": [{}, {}]}}),
                ":clipboard: *Purchase order PO-000012 ordered*: ordered, 2 lines",
            ),
            (
                "sales_order.allocated",
                json!({"sales_order": {"number": "SO-000003", "status": "allocated",
                                       "lines": [{}]}}),
                ":clipboard: *Sales order SO-000003 allocated*: allocated, 1 line",
            ),
            ("something.new", json!({}), "*something.new*"),
        ];
        for (topic, data, want) in cases {
            assert_eq!(text(topic, data), *want, "{topic} {data}");
        }
    }

    #[test]
    fn every_event_type_has_its_own_message() {
        for topic in super::super::EVENT_TYPES {
            let t = text(topic, &json!({}));
            assert_ne!(t, format!("*{topic}*"), "{topic} has no message of its own");
        }
    }

    #[test]
    fn every_alert_kind_is_an_event_type() {
        for kind in crate::alerts::Kind::ALL {
            assert!(
                super::super::EVENT_TYPES.contains(&kind.as_str()),
                "{kind} is raised as an event no endpoint may subscribe to"
            );
        }
    }

    #[test]
    fn the_tenants_text_cannot_ping_or_link() {
        let t = text(
            "stock.low",
            &json!({"sku": "A&B", "product_name": "<!channel> <https://evil.example|x>",
                    "warehouse_code": "W"}),
        );
        assert!(t.contains("A&amp;B"), "{t}");
        assert!(
            t.contains("&lt;!channel&gt; &lt;https://evil.example|x&gt;"),
            "{t}"
        );
        assert!(!t.contains('<') && !t.contains('>'), "{t}");
        assert_eq!(
            body("stock.low", &json!({}))["text"],
            text("stock.low", &json!({}))
        );
    }
}
