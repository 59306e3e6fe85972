//! `spawn_app()`: a migrated fresh database and a server on an ephemeral port.

use logiflow_server::admin;
use logiflow_server::auth::tokens::{Claims, HashCost, JwtKeys};
use logiflow_server::config::{Config, Secret};
use logiflow_server::rbac::Role;
use logiflow_testkit::TestDb;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-secret-of-at-least-thirty-two-bytes";
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server on its own database.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// Owner pool of the test database (the platform admin's view).
    pub owner: PgPool,
    /// Kept for its `Drop`, which drops the database after the test.
    pub _db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A tenant with an admin user logged in.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub admin_id: Uuid,
    pub admin_email: String,
    pub token: String,
    pub refresh: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    // Already migrated (a copy of the cluster's template): `prepare` finds every migration
    // applied, which is what each test would otherwise spend most of its setup on.
    let db = TestDb::migrated(&logiflow_server::db::MIGRATOR).await;
    let mut config = Config {
        database_url: Secret::new(db.url()),
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        login_attempts_per_account_per_minute: 20,
        login_attempts_per_address_per_minute: 1000,
        db_max_connections: 5,
        // The webhook tests run the worker themselves, on a clock they move.
        webhook_worker_enabled: false,
        // Each test creates users; what it tests does not depend on the hash's cost.
        password_hash_cost: HashCost::Minimal,
        ..Config::default()
    };
    configure(&mut config);
    let state = logiflow_server::app::prepare(config)
        .await
        .expect("server prepares");
    // Bound before serving: the server is reachable as soon as this returns.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(logiflow_server::app::serve(listener, state, async {
        let _ = rx.await;
    }));
    let owner = PgPool::connect(db.url()).await.unwrap();
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        owner,
        _db: db,
        shutdown: Some(tx),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional `Authorization` value and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request is sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(&bearer(token)), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::POST, path, Some(&bearer(token)), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::PATCH, path, Some(&bearer(token)), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.send(Method::DELETE, path, Some(&bearer(token)), None)
            .await
    }

    /// The served OpenAPI document: the list of routes that the route-coverage tests
    /// (cross-tenant, read-only tenant, README tables) walk.
    /// Ends the session of access token `token`; expects 204.
    pub async fn logout(&self, token: &str) {
        let r = self
            .send(Method::POST, "/v1/auth/logout", Some(&bearer(token)), None)
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    pub async fn openapi(&self) -> Value {
        let r = self.send(Method::GET, "/v1/openapi.json", None, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Logs in; panics unless it succeeds.
    pub async fn login(&self, slug: &str, email: &str, password: &str) -> (String, String) {
        let r = self
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"tenant": slug, "email": email, "password": password})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "login of {email}");
        let v: Value = r.json().await.unwrap();
        (
            v["access_token"].as_str().unwrap().to_owned(),
            v["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Adds a plan allowing `max_users` users and `rps` requests a second (other
    /// limits generous), so tests control exactly the limit they exercise.
    pub async fn plan(&self, code: &str, max_users: i32, rps: i32) {
        sqlx::query(
            "insert into plan (code, name, max_skus, max_locations, max_warehouses, max_users, max_devices, requests_per_second)
             values ($1, $1, 1000, 1000, 10, $2, 10, $3)",
        )
        .bind(code)
        .bind(max_users)
        .bind(rps)
        .execute(&self.owner)
        .await
        .unwrap();
    }

    /// Creates a tenant on `plan` with an admin, logged in.
    pub async fn tenant(&self, slug: &str, plan: &str) -> Tenant {
        admin::tenant_create(
            &self.owner,
            slug,
            &format!("Tenant {slug}"),
            plan,
            chrono::Utc::now() + chrono::Duration::days(30),
        )
        .await
        .unwrap();
        let email = format!("admin@{slug}.example");
        let user = admin::user_create(
            &self.owner,
            slug,
            &email,
            "Admin",
            Role::Admin,
            PASSWORD,
            HashCost::Minimal,
        )
        .await
        .unwrap();
        let (token, refresh) = self.login(slug, &email, PASSWORD).await;
        Tenant {
            id: user.tenant_id,
            slug: slug.to_owned(),
            admin_id: user.id,
            admin_email: email,
            token,
            refresh,
        }
    }

    /// Creates a user with `role` in `tenant` through the API and logs them in.
    pub async fn user(&self, tenant: &Tenant, email: &str, role: &str) -> (Uuid, String) {
        let r = self
            .post(
                "/v1/users",
                &tenant.token,
                json!({"email": email, "display_name": "Someone", "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        let id = v["id"].as_str().unwrap().parse().unwrap();
        let (token, _) = self.login(&tenant.slug, email, PASSWORD).await;
        (id, token)
    }

    /// Creates an API key with `permissions`; returns (id, key).
    pub async fn api_key(
        &self,
        tenant: &Tenant,
        name: &str,
        permissions: &[&str],
    ) -> (Uuid, String) {
        let r = self
            .post(
                "/v1/api-keys",
                &tenant.token,
                json!({"name": name, "permissions": permissions}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        (
            v["id"].as_str().unwrap().parse().unwrap(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }
}

/// Gives `tenant` an active webhook endpoint, so that its movements write their outbox
/// events: a tenant nobody listens to does not (`store::webhooks::any_active_endpoint!`).
/// The tests' worker is off unless a test runs it, so nothing is sent to it. Answers the
/// endpoint's id.
pub async fn listen(app: &TestApp, tenant: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into webhook_endpoint (tenant_id, id, url, secret)
         values ($1, $2, 'https://receiver.example/hooks', 'whsec_dGVzdHNlY3JldA==')",
    )
    .bind(tenant)
    .bind(id)
    .execute(&app.owner)
    .await
    .unwrap();
    id
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Signs arbitrary claims with the test secret (or another one).
/// The claims of an access token (not verified).
pub fn claims_of_token(token: &str) -> Claims {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn sign(claims: &Claims, secret: &str) -> String {
    JwtKeys::new(secret.as_bytes()).sign(claims).unwrap()
}

/// Reads a problem body, checking the media type, status and code.
pub async fn problem(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "status");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], code, "code in {v}");
    assert_eq!(v["status"], status.as_u16());
    assert!(v["type"].as_str().unwrap().ends_with(code));
    v
}

/// Adds a plan with the given catalog limits (users and rate generous).
pub async fn catalog_plan(app: &TestApp, code: &str, skus: i32, locations: i32, warehouses: i32) {
    sqlx::query(
        "insert into plan (code, name, max_skus, max_locations, max_warehouses, max_users, max_devices, requests_per_second)
         values ($1, $1, $2, $3, $4, 25, 10, 1000)",
    )
    .bind(code)
    .bind(skus)
    .bind(locations)
    .bind(warehouses)
    .execute(&app.owner)
    .await
    .unwrap();
}

/// POSTs `body` and returns the created resource; panics unless it answers 201.
pub async fn create(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let r = app.post(path, token, body.clone()).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "POST {path} {body}: {v}");
    v
}

/// Reads a 200 JSON answer of GET `path`.
pub async fn get_json(app: &TestApp, path: impl AsRef<str>, token: &str) -> Value {
    let path = path.as_ref();
    let r = app.get(path, token).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
    v
}

/// The `id`s of a page's items.
pub fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The catalog changes of `entity_id`, oldest first: their ops (`upsert`, `delete`).
pub async fn changes(app: &TestApp, entity_id: &str) -> Vec<String> {
    sqlx::query_scalar("select op from catalog_change where entity_id = $1::uuid order by seq")
        .bind(entity_id)
        .fetch_all(&app.owner)
        .await
        .unwrap()
}

/// The audit entries of a target, oldest first: (action, before, after).
pub async fn audits(app: &TestApp, target_id: &str) -> Vec<(String, Option<Value>, Option<Value>)> {
    sqlx::query_as("select action, before, after from audit_log where target_id = $1 order by id")
        .bind(target_id)
        .fetch_all(&app.owner)
        .await
        .unwrap()
}

/// Creates a warehouse, a top-level location in it, a lot-tracked product with a barcode
/// and a lot of it, through the API; returns their JSON.
pub async fn seed_catalog(app: &TestApp, token: &str, tag: &str) -> CatalogSeed {
    let warehouse = create(
        app,
        "/v1/warehouses",
        token,
        json!({"code": format!("WH-{tag}"), "name": "Main", "timezone": "Europe/Paris"}),
    )
    .await;
    let location = create(
        app,
        "/v1/locations",
        token,
        json!({"warehouse_id": warehouse["id"], "code": "A", "name": "Zone A"}),
    )
    .await;
    let product = create(
        app,
        "/v1/products",
        token,
        json!({"sku": format!("SKU-{tag}"), "name": format!("Widget {tag}"), "lot_tracked": true,
               "barcodes": [format!("INT-{tag}")]}),
    )
    .await;
    let lot = create(
        app,
        "/v1/lots",
        token,
        json!({"product_id": product["id"], "code": "L1", "expires_on": "2030-01-31"}),
    )
    .await;
    CatalogSeed {
        warehouse,
        location,
        product,
        lot,
    }
}

/// What [`seed_catalog`] created.
#[derive(Debug, Clone)]
pub struct CatalogSeed {
    pub warehouse: Value,
    pub location: Value,
    pub product: Value,
    pub lot: Value,
}

/// The id of a created resource.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The URL the server connects with: as the application role, under row-level security.
pub fn app_database_url(app: &TestApp) -> String {
    let config = Config {
        database_url: Secret::new(app._db.url()),
        ..Default::default()
    };
    config.app_database_url().unwrap().expose().to_owned()
}

/// A connection as the server runs its queries: the application role (row-level
/// security applies), scoped to `tenant` for the whole session, for EXPLAINing the API's
/// SQL.
pub async fn app_role_connection(app: &TestApp, tenant: Uuid) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&app_database_url(app))
        .await
        .unwrap();
    sqlx::query("select set_config('app.tenant_id', $1, false)")
        .bind(tenant.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}
