//! Opening stock imports (`kind=stock`): each row a count or a receipt, decided by the
//! rules under the rows' locks and written all or nothing; re-importing changes nothing;
//! a stock export imports back unchanged; bad rows are named; a movement recorded at the
//! same moment is ordered with the import's; a device's offline work held for want of
//! stock is settled by the opening count.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::imports::{commit_refused, counts, preview, upload};
use crate::imports_locations::{commit, csv};
use crate::imports_records::says;
use crate::inventory::{Site, applied, assert_ledger, coded_site, on_hand, receive};

struct Scene {
    app: TestApp,
    t: Tenant,
    s: Site,
    wh: String,
    sku: String,
    tracked: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (s, wh, sku, tracked) = coded_site(&app, t.id, 3).await;
    Scene {
        app,
        t,
        s,
        wh,
        sku,
        tracked,
    }
}

/// The movements the tenant has, as `(kind, qty or counted, note)`, oldest first.
async fn movements(app: &TestApp, tenant: Uuid) -> Vec<(String, i64, Option<String>)> {
    sqlx::query_as(
        "select kind, qty, note from movement where tenant_id = $1
         order by recorded_at, id",
    )
    .bind(tenant)
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

async fn stock_preview(app: &TestApp, token: &str, lines: &[&str]) -> Value {
    preview(app, token, "kind=stock&format=csv", "text/csv", csv(lines)).await
}

#[tokio::test]
async fn opening_stock_is_imported_as_counts_and_receipts_and_the_ledger_explains_every_unit() {
    let Scene {
        app,
        t,
        s,
        wh,
        sku,
        tracked,
    } = scene().await;
    listen(&app, t.id).await;
    // B00 already holds 5.
    applied(&app, &t.token, receive(s.product, s.bins[0], 5)).await;
    let before = movements(&app, t.id).await.len();
    let file = [
        "warehouse,location,sku,lot,qty,mode,reason".to_owned(),
        // By path (as the stock export writes it), a count with a reason: 5 → 8.
        format!("{wh},A/B00,{sku},,8,count,opening count 2026"),
        // By code, a receipt without a reason.
        format!(
            "{},b01,{},,3,Receipt,",
            wh.to_lowercase(),
            sku.to_lowercase()
        ),
        // A lot-tracked product, counted (the default mode) into an empty bin.
        format!("{wh},B02,{tracked},L-GOOD,7,,"),
        // A count of what B02 already holds of the plain product (nothing): unchanged.
        format!("{wh},B02,{sku},,0,count,"),
    ];
    let lines: Vec<&str> = file.iter().map(String::as_str).collect();
    let job = stock_preview(&app, &t.token, &lines).await;
    assert_eq!(job["status"], "ready", "{job}");
    assert_eq!(counts(&job), [2, 1, 1, 0], "{job}");
    // A preview writes no movement.
    assert_eq!(movements(&app, t.id).await.len(), before);

    let done = commit(&app, &t.token, &job).await;
    assert_eq!(done["status"], "committed", "{done}");
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 8);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[1], None).await, 3);
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[2], Some(s.lot)).await,
        7
    );
    let all = movements(&app, t.id).await;
    let mut new: Vec<_> = all[before..].to_vec();
    new.sort();
    assert_eq!(
        new,
        [
            ("count".to_owned(), 7, Some("opening stock".to_owned())),
            ("count".to_owned(), 8, Some("opening count 2026".to_owned())),
            ("receive".to_owned(), 3, Some("opening stock".to_owned())),
        ],
        "one movement a row, the reason as its note, nothing for the unchanged row"
    );
    // Each movement is booked to the importer and announced like any other.
    let events: i64 = sqlx::query_scalar(
        "select count(*) from outbox_event where tenant_id = $1 and topic = 'movement.recorded'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(events, 4, "the online receipt and the import's three");
    assert_ledger(&app, t.id).await;

    // The same file again: every row unchanged (the receipt is not received twice), and
    // committing it writes nothing.
    let again = stock_preview(&app, &t.token, &lines).await;
    assert_eq!(counts(&again), [0, 0, 4, 0], "{again}");
    commit(&app, &t.token, &again).await;
    assert_eq!(movements(&app, t.id).await.len(), all.len());
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[1], None).await, 3);

    // The same receipt with another reason is another receipt.
    let more = stock_preview(
        &app,
        &t.token,
        &[
            "warehouse,location,sku,qty,mode,reason",
            &format!("{wh},B01,{sku},3,receipt,second delivery"),
        ],
    )
    .await;
    assert_eq!(counts(&more), [1, 0, 0, 0], "{more}");
    commit(&app, &t.token, &more).await;
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[1], None).await, 6);

    // A stock export, CSV or XLSX, imports back as unchanged.
    for format in ["csv", "xlsx"] {
        let r = app
            .get(&format!("/v1/exports/stock?format={format}"), &t.token)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let bytes = r.bytes().await.unwrap().to_vec();
        let back = preview(
            &app,
            &t.token,
            &format!("kind=stock&format={format}"),
            "application/octet-stream",
            bytes,
        )
        .await;
        assert_eq!(back["errors"], 0, "{format}: {back}");
        assert_eq!(
            (back["to_create"].as_i64(), back["to_update"].as_i64()),
            (Some(0), Some(0)),
            "{format}: {back}"
        );
        assert!(back["unchanged"].as_i64().unwrap() >= 3, "{format}: {back}");
    }
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn bad_stock_rows_are_named_by_row_and_column_and_nothing_is_written() {
    let Scene {
        app,
        t,
        s: _,
        wh,
        sku,
        tracked,
    } = scene().await;
    let file = [
        "warehouse,location,sku,lot,qty,mode".to_owned(),
        format!("NOPE,B00,{sku},,1,"),           // 2: no such warehouse
        format!("{wh},B99,{sku},,1,"),           // 3: no such bin
        format!("{wh},A,{sku},,1,"),             // 4: a zone, not a bin
        format!("{wh},B00,GHOST,,1,"),           // 5: no such product
        format!("{wh},B01,{tracked},,1,"),       // 6: tracked without a lot
        format!("{wh},B01,{sku},L-GOOD,1,"),     // 7: a lot for an untracked product
        format!("{wh},B02,{tracked},L-NONE,1,"), // 8: no such lot
        format!("{wh},B02,{sku},,-4,"),          // 9: negative
        format!("{wh},B00,{tracked},L-GOOD,0,receipt"), // 10: receiving nothing
        format!("{wh},B01,{tracked},L-OLD,2,transfer"), // 11: no such mode
        format!("{wh},B02,{tracked},L-GOOD,1.5,"), // 12: not whole
        format!("{wh},Z/B00,{sku},,1,"),         // 13: a path that is not the bin's
    ];
    let lines: Vec<&str> = file.iter().map(String::as_str).collect();
    let job = stock_preview(&app, &t.token, &lines).await;
    assert_eq!(counts(&job), [0, 0, 0, 12], "{job}");
    says(
        &app,
        &t.token,
        &job,
        &[
            (2, "warehouse", "no warehouse"),
            (3, "location", "no location \"B99\""),
            (4, "location", "has locations under it"),
            (5, "sku", "no product with SKU \"GHOST\""),
            (6, "lot", "tracked by lot"),
            (7, "lot", "not lot-tracked"),
            (8, "lot", "no lot \"L-NONE\""),
            (9, "qty", ""),
            (10, "qty", ""),
            (11, "mode", "expected count or receipt"),
            (12, "qty", "whole number"),
            (13, "location", "is at A/B00"),
        ],
    )
    .await;
    commit_refused(&app, &t.token, &job).await;
    assert_eq!(movements(&app, t.id).await.len(), 0);

    // Refusals of the whole file: two quantity columns, none, a row given twice.
    for (lines, code) in [
        (
            vec![
                "warehouse,location,sku,qty,on_hand".to_owned(),
                format!("{wh},B00,{sku},1,1"),
            ],
            "import_columns",
        ),
        (
            vec![
                "warehouse,location,sku".to_owned(),
                format!("{wh},B00,{sku}"),
            ],
            "import_columns",
        ),
        (
            vec![
                "warehouse,location,sku,qty".to_owned(),
                format!("{wh},B00,{sku},1"),
                format!("{wh},A/B00,{sku},2"),
            ],
            "import_duplicate_key",
        ),
    ] {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let r = upload(
            &app,
            &t.token,
            "kind=stock&format=csv",
            "text/csv",
            csv(&lines),
        )
        .await;
        problem(r, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    assert_eq!(movements(&app, t.id).await.len(), 0);
}

#[tokio::test]
async fn a_stock_import_needs_movement_rights_and_is_refused_whole_when_a_row_breaks_the_rules_by_commit()
 {
    let Scene {
        app,
        t,
        s,
        wh,
        sku,
        tracked: _,
    } = scene().await;
    let lines = [
        "warehouse,location,sku,qty".to_owned(),
        format!("{wh},B00,{sku},4"),
        format!("{wh},B01,{sku},6"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();

    // A key that may import data but not record movements may not import stock.
    let (_, import_only) = app.api_key(&t, "etl", &["data_import"]).await;
    let r = upload(
        &app,
        &import_only,
        "kind=stock&format=csv",
        "text/csv",
        csv(&lines),
    )
    .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, both) = app
        .api_key(&t, "etl2", &["data_import", "movements_write"])
        .await;
    let job = stock_preview(&app, &both, &lines).await;
    assert_eq!(counts(&job), [2, 0, 0, 0], "{job}");
    // Nor commit one someone else uploaded: refused before anything is written, not even
    // the empty stock rows a commit prepares.
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(&job)),
            &import_only,
            json!({}),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let rows: i64 = sqlx::query_scalar("select count(*) from stock_row where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // B01 is deactivated after the preview: the rules refuse its count at commit, so
    // nothing is imported, B00 included.
    let r = app
        .patch(
            &format!("/v1/locations/{}", s.bins[1]),
            &t.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(&job)),
            &both,
            json!({}),
        )
        .await;
    let body = problem(r, StatusCode::CONFLICT, "invalid_import_state").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("row 3 is refused now"),
        "{body}"
    );
    assert_eq!(movements(&app, t.id).await.len(), 0);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 0);
    // The job is still ready: once the bin is active again it commits.
    app.patch(
        &format!("/v1/locations/{}", s.bins[1]),
        &t.token,
        json!({"active": true}),
    )
    .await;
    commit(&app, &both, &job).await;
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[1], None).await, 6);
    // Booked to the key's creator.
    let users: Vec<Uuid> =
        sqlx::query_scalar("select distinct user_id from movement where tenant_id = $1")
            .bind(t.id)
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(users, [t.admin_id]);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn receipts_recorded_while_an_opening_count_commits_are_ordered_with_it() {
    let Scene {
        app,
        t,
        s,
        wh,
        sku,
        tracked: _,
    } = scene().await;
    let lines = [
        "warehouse,location,sku,qty,reason".to_owned(),
        format!("{wh},B00,{sku},50,opening"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let job = stock_preview(&app, &t.token, &lines).await;
    assert_eq!(counts(&job), [1, 0, 0, 0]);

    // Ten receipts of 1 into the counted bin, sent while the count commits.
    let receipts = (0..10).map(|_| {
        let app = &app;
        let token = t.token.clone();
        let body = receive(s.product, s.bins[0], 1);
        async move { applied(app, &token, body).await }
    });
    let (_, done) = tokio::join!(
        futures_util::future::join_all(receipts),
        commit(&app, &t.token, &job)
    );
    assert_eq!(done["status"], "committed");

    // The count says the bin held 50 at its time: the receipts ordered after it add to
    // it, those before it are in what was counted.
    let (count_at, count_id): (chrono::DateTime<chrono::Utc>, Uuid) = sqlx::query_as(
        "select occurred_at, id from movement where tenant_id = $1 and kind = 'count'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    let after: i64 = sqlx::query_scalar(
        "select count(*) from movement where tenant_id = $1 and kind = 'receive'
           and (occurred_at, id) > ($2, $3)",
    )
    .bind(t.id)
    .bind(count_at)
    .bind(count_id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        on_hand(&app, t.id, s.product, s.bins[0], None).await,
        50 + after
    );
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn an_opening_count_settles_a_ship_a_device_recorded_offline_before_it() {
    use crate::sync_push::{ago, loc, q, register};
    use logiflow_core::MovementKind;
    let Scene {
        app,
        t,
        s,
        wh,
        sku,
        tracked: _,
    } = scene().await;
    // The device shipped 3 from B00 an hour ago; the server knows no stock there: held.
    let mut dev = register(&app, &t.token, &[s.warehouse]).await;
    let ship = dev.entry(
        ago(60),
        s.product,
        None,
        MovementKind::Ship {
            from: loc(s.bins[0]),
            qty: q(3),
        },
    );
    let r = dev.push(&app, &[ship]).await;
    assert_eq!(r["results"][0]["outcome"]["outcome"], "held", "{r}");

    // The opening count of B00 (7 left now) sees what the ship took: it is absorbed.
    let lines = [
        "warehouse,location,sku,qty".to_owned(),
        format!("{wh},B00,{sku},7"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let job = stock_preview(&app, &t.token, &lines).await;
    commit(&app, &t.token, &job).await;
    let m = get_json(&app, format!("/v1/movements/{}", ship.id), &t.token).await;
    assert_eq!(m["outcome"], "absorbed", "{m}");
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 7);
    assert_ledger(&app, t.id).await;
}
