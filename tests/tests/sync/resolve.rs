//! The conflict inbox resolved from a device (DESIGN §5.3): a manager signed in on a
//! device forces or voids a held movement with the device's own session, through
//! `Replica::resolve` and `logiflow conflicts resolve`; the outcome is pulled back at
//! once, and the server's audit row names the user and the device. A user whose role
//! lacks `conflicts_resolve` is refused with 403 `forbidden`. `logiflow sign-out` ends
//! the device's session and deletes its tokens.

use logiflow_replica::{Error, Resolution};
use logiflow_server::rbac::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::flows::{receive, replica_stock, ship};
use crate::harness::*;

/// A held ship on `d`: it received 10 × SKU-1 into B1 and synced, an online movement
/// took 6 of them, then `d` (not having pulled) shipped 8, which the server holds: at
/// the ship's time the row held 4. Its movement id and journal number.
fn held_ship(server: &Server, d: &mut Device, bin_id: &str) -> (Uuid, u64) {
    d.replica.record(&receive("SKU-1", "B1", 10)).unwrap();
    d.sync().unwrap();
    let product = server.send(
        reqwest::Method::GET,
        "/v1/products?sku_prefix=SKU-1",
        Some(&server.admin_token),
        None,
        200,
    );
    let product_id = product["items"][0]["id"].clone();
    let online = server.create(
        "/v1/movements",
        json!({"kind": "ship", "product_id": product_id, "from_location_id": bin_id, "qty": 6}),
    );
    // The device's ship happened after the online one: wait until the device's clock
    // (corrected by the offset its last sync measured, which a slow answer moves back by
    // its latency) has passed the server's time of the online ship, so the ship's time is
    // after it however loaded the machine is.
    let online_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(online["occurred_at"].clone()).unwrap();
    let offset = chrono::TimeDelta::milliseconds(d.replica.status().unwrap().clock_offset_ms);
    for _ in 0..500 {
        if chrono::Utc::now() + offset > online_at {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let recorded = d.replica.record(&ship("SKU-1", "B1", 8)).unwrap();
    let report = d.sync().unwrap();
    assert_eq!(report.held, 1, "{report:?}");
    (recorded.movement.id.as_uuid(), recorded.seq)
}

/// The server's outcome and flags of a movement.
fn server_outcome(server: &Server, id: Uuid) -> (String, Value) {
    server.block_on(async {
        sqlx::query_as("select outcome, flags from movement where id = $1")
            .bind(id)
            .fetch_one(&server.owner)
            .await
            .unwrap()
    })
}

/// The audit rows of `action` on movement `id`: (actor, device, reason).
fn audit(server: &Server, action: &str, id: Uuid) -> Vec<(Option<Uuid>, Option<Uuid>, String)> {
    server.block_on(async {
        sqlx::query_as(
            "select actor_id, device_id, after->>'reason' from audit_log
             where action = $1 and target_id = $2",
        )
        .bind(action)
        .bind(id.to_string())
        .fetch_all(&server.owner)
        .await
        .unwrap()
    })
}

#[test]
fn a_manager_forces_and_voids_held_movements_from_the_device_and_the_outcome_comes_back() {
    let server = Server::start("resolve");
    let catalog = seed(&server, 2, 2);
    let manager = server.user("manager@resolve.example", Role::Manager);
    let mut d = connect_as(
        &server,
        &server.base.clone(),
        "supervisor desk",
        "manager@resolve.example",
    );
    let device = d.id();
    let status = d.replica.status().unwrap();
    assert!(
        status.permissions.iter().any(|p| p == "conflicts_resolve"),
        "{:?}",
        status.permissions
    );
    let (held, seq) = held_ship(&server, &mut d, &catalog.location_ids[0]);
    assert_eq!(server_outcome(&server, held).0, "held");

    // Refused locally before any request: an empty reason, a movement that is not held.
    let err = d
        .replica
        .resolve(
            &d.client,
            &d.store,
            logiflow_core::MovementId::from_uuid(held),
            Resolution::Force,
            " ",
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input", "{err}");
    let first = d.replica.journal(&Default::default()).unwrap()[0].id;
    let err = d
        .replica
        .resolve(
            &d.client,
            &d.store,
            first,
            Resolution::Void,
            "x",
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("only a held movement"), "{err}");

    // Forced through the CLI, by journal number.
    let out = run(
        {
            let mut cmd = cli(&d.db(), &d.dir.path().join("credentials.json"));
            cmd.args([
                "--json",
                "conflicts",
                "resolve",
                &format!("#{seq}"),
                "--force",
            ])
            .args(["--reason", "the pallet was there after all"]);
            cmd
        },
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["seq"], seq);
    assert_eq!(done["outcome"], "applied", "{done}");
    // On the server: applied, flagged forced (and the row below zero), audited with the
    // manager and this device.
    let (outcome, flags) = server_outcome(&server, held);
    assert_eq!(outcome, "applied");
    let flags = flags.to_string();
    assert!(flags.contains("forced"), "{flags}");
    assert_eq!(
        audit(&server, "movement.force", held),
        [(
            Some(manager),
            Some(device),
            "the pallet was there after all".to_owned()
        )]
    );
    // Pulled back: the journal says applied and forced, the projection equals the server.
    let entry = d
        .replica
        .conflicts()
        .unwrap()
        .into_iter()
        .find(|e| e.id.as_uuid() == held)
        .expect("a forced movement stays in view, flagged");
    assert_eq!(entry.outcome.as_deref(), Some("applied"));
    assert!(
        entry
            .result
            .as_ref()
            .is_some_and(|r| serde_json::to_string(&r.flags).unwrap().contains("forced")),
        "{entry:?}"
    );
    assert_eq!(replica_stock(&d), server.stock());
    assert!(
        server
            .stock()
            .contains(&("SKU-1".to_owned(), "B1".to_owned(), -4)),
        "{:?}",
        server.stock()
    );

    // A second held ship (the row is at −4), voided through the API.
    let again = d.replica.record(&ship("SKU-1", "B1", 1)).unwrap();
    assert_eq!(d.sync().unwrap().held, 1);
    let voided = d
        .replica
        .resolve(
            &d.client,
            &d.store,
            again.movement.id,
            Resolution::Void,
            "scanned twice",
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((voided.seq, voided.outcome.as_str()), (again.seq, "voided"));
    assert!(voided.pulled.outcomes >= 1, "{:?}", voided.pulled);
    assert_eq!(
        server_outcome(&server, again.movement.id.as_uuid()).0,
        "voided"
    );
    assert_eq!(
        audit(&server, "movement.void", again.movement.id.as_uuid()),
        [(Some(manager), Some(device), "scanned twice".to_owned())]
    );
    // A voided entry leaves the inbox (as on the server); the journal keeps it.
    let inbox: Vec<u64> = d
        .replica
        .conflicts()
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(inbox, [seq], "only the forced one stays, flagged");
    let journal = d.replica.journal(&Default::default()).unwrap();
    let entry = journal.iter().find(|e| e.seq == again.seq).unwrap();
    assert_eq!(entry.outcome.as_deref(), Some("voided"));
    assert_eq!(replica_stock(&d), server.stock());

    // Resolved from elsewhere meanwhile (the admin on the server): the device's resolve
    // is refused with the server's 409, and the pull it does then shows the outcome.
    let third = d.replica.record(&ship("SKU-1", "B1", 2)).unwrap();
    assert_eq!(d.sync().unwrap().held, 1);
    server.send(
        reqwest::Method::POST,
        &format!("/v1/movements/{}/force", third.movement.id),
        Some(&server.admin_token),
        Some(json!({"reason": "done at the office"})),
        200,
    );
    let err = d
        .replica
        .resolve(
            &d.client,
            &d.store,
            third.movement.id,
            Resolution::Void,
            "duplicate",
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, Error::Server { status: 409, .. }), "{err:?}");
    let journal = d.replica.journal(&Default::default()).unwrap();
    let entry = journal.iter().find(|e| e.seq == third.seq).unwrap();
    assert_eq!(entry.outcome.as_deref(), Some("applied"));
    assert_eq!(d.replica.status().unwrap().last_sync_error, None);
}

#[test]
fn an_operator_may_not_resolve_and_is_told_so() {
    let server = Server::start("noresolve");
    let catalog = seed(&server, 2, 2);
    server.user("operator@noresolve.example", Role::Operator);
    let mut d = connect_as(
        &server,
        &server.base.clone(),
        "floor desk",
        "operator@noresolve.example",
    );
    assert!(
        !d.replica
            .status()
            .unwrap()
            .permissions
            .iter()
            .any(|p| p == "conflicts_resolve")
    );
    let (held, seq) = held_ship(&server, &mut d, &catalog.location_ids[0]);

    // The server itself: 403 with the problem code, for the device's own session.
    let token = d
        .store
        .load(d.replica.device().unwrap().unwrap().device)
        .unwrap()
        .unwrap()
        .access_token
        .unwrap();
    let problem = server.send(
        reqwest::Method::POST,
        &format!("/v1/movements/{held}/force"),
        Some(token.expose()),
        Some(json!({"reason": "x"})),
        403,
    );
    assert_eq!(problem["code"], "forbidden", "{problem}");

    // The replica: a typed error in words, nothing changed.
    let err = d
        .replica
        .resolve(
            &d.client,
            &d.store,
            logiflow_core::MovementId::from_uuid(held),
            Resolution::Void,
            "x",
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    assert!(err.to_string().contains("role does not allow"), "{err}");
    // A refusal is an answer, not a failed sync: the device is still online.
    assert_eq!(d.replica.status().unwrap().last_sync_error, None);
    // The CLI: the code on stderr, exit 2.
    let out = run(
        {
            let mut cmd = cli(&d.db(), &d.dir.path().join("credentials.json"));
            cmd.args(["--json", "conflicts", "resolve", &seq.to_string(), "--void"])
                .args(["--reason", "x"]);
            cmd
        },
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "forbidden", "{err}");
    assert_eq!(server_outcome(&server, held).0, "held");
    assert!(audit(&server, "movement.void", held).is_empty());
}

#[test]
fn sign_out_ends_the_session_and_deletes_the_tokens() {
    let server = Server::start("signout");
    seed(&server, 1, 1);
    let mut d = connect(&server, &server.base.clone(), "leaving desk");
    let device = d.id();
    let creds = d.dir.path().join("credentials.json");
    assert!(
        std::fs::read_to_string(&creds)
            .unwrap()
            .contains(&device.to_string())
    );
    // Refused while an entry is not sent: a new device could not send it.
    d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    let err = d.replica.sign_out(&d.client, &d.store).unwrap_err();
    assert_eq!(err.code(), "invalid_input", "{err}");
    d.sync().unwrap();

    let out = run(
        {
            let mut cmd = cli(&d.db(), &creds);
            cmd.args(["--json", "sign-out"]);
            cmd
        },
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["session_ended"], true, "{done}");
    assert!(
        !std::fs::read_to_string(&creds)
            .unwrap()
            .contains(&device.to_string())
    );
    let live: i64 = server.block_on(async {
        sqlx::query_scalar(
            "select count(*) from session where device_id = $1 and revoked_at is null",
        )
        .bind(device)
        .fetch_one(&server.owner)
        .await
        .unwrap()
    });
    assert_eq!(live, 0);
    let status = d.replica.status().unwrap();
    assert_eq!(
        status.last_sync_error.map(|e| e.code).as_deref(),
        Some("signed_out")
    );
    // Syncing again needs a new sign-in.
    let err = d.sync().unwrap_err();
    assert_eq!(err.code(), "credentials_invalid", "{err}");

    // Offline, the tokens still leave this machine; the server keeps the session until
    // its tokens expire, and the answer says so.
    let mut e = connect(&server, &server.base.clone(), "offline desk");
    let other = e.id();
    let nowhere = logiflow_replica::ServerClient::new(
        "http://127.0.0.1:9",
        logiflow_replica::SyncOptions {
            retries_max: 1,
            ..fast_options()
        },
    )
    .unwrap();
    let done = e.replica.sign_out(&nowhere, &e.store).unwrap();
    assert!(!done.session_ended);
    assert_eq!(
        e.store
            .load(logiflow_core::DeviceId::from_uuid(other))
            .unwrap(),
        None
    );
    let live: i64 = server.block_on(async {
        sqlx::query_scalar(
            "select count(*) from session where device_id = $1 and revoked_at is null",
        )
        .bind(other)
        .fetch_one(&server.owner)
        .await
        .unwrap()
    });
    assert_eq!(live, 1);
}
