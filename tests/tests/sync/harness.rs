//! The real server on loopback against a fresh test database, a tenant with a catalog,
//! and replicas in temp dirs.
//!
//! The tests are plain (blocking) tests because the replica's sync client is blocking;
//! the server runs on its own tokio runtime held by [`Server`], and the few database
//! steps a test needs (tenant setup, expiry, counts) are `block_on` calls on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use logiflow_replica::{
    ConnectRequest, CredentialStore, Replica, Secret, ServerClient, SyncOptions, SyncProgress,
    SyncReport,
};
use logiflow_server::config::{Config, Secret as ServerSecret};
use logiflow_server::rbac::Role;
use logiflow_server::tokens::HashCost;
use logiflow_testkit::TestDb;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";
const JWT_SECRET: &str = "test-secret-of-at-least-thirty-two-bytes";

/// A running server on its own database, with one tenant and an admin.
pub struct Server {
    pub base: String,
    pub owner: PgPool,
    pub slug: String,
    pub tenant: Uuid,
    pub email: String,
    /// The admin's access token (for catalog set-up and device revocation).
    pub admin_token: String,
    http: reqwest::blocking::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The serving task, to wait for in [`Server::stop`].
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// What [`Server::restart`] serves again, at the same address.
    state: logiflow_server::state::AppState,
    addr: std::net::SocketAddr,
    // Dropped last: the database outlives the server using it.
    _db: TestDb,
    rt: tokio::runtime::Runtime,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Server {
    /// Starts the server on a fresh database and creates tenant `slug` with an admin.
    pub fn start(slug: &str) -> Self {
        Self::start_with(slug, |_| {})
    }

    /// [`Server::start`] with the configuration changed by `tune` (e.g. short token
    /// lifetimes).
    pub fn start_with(slug: &str, tune: impl FnOnce(&mut Config)) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (db, base, owner, shutdown, task, state, addr) = rt.block_on(async {
            // Already migrated: `prepare` finds every migration applied.
            let db = TestDb::migrated(&logiflow_server::db::MIGRATOR).await;
            let mut config = Config {
                database_url: ServerSecret::new(db.url()),
                listen: "127.0.0.1:0".parse().unwrap(),
                jwt_secret: Some(ServerSecret::new(JWT_SECRET)),
                login_attempts_per_account_per_minute: 100,
                login_attempts_per_address_per_minute: 1000,
                db_max_connections: 5,
                // Each test creates users; what it tests does not depend on the hash's cost.
                password_hash_cost: HashCost::Minimal,
                ..Config::default()
            };
            tune(&mut config);
            let state = logiflow_server::app::prepare(config).await.unwrap();
            // Bound before serving: reachable as soon as this returns.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(logiflow_server::app::serve(listener, state.clone(), async {
                let _ = rx.await;
            }));
            let owner = PgPool::connect(db.url()).await.unwrap();
            sqlx::query(
                "insert into plan (code, name, max_skus, max_locations, max_warehouses, max_users, max_devices, requests_per_second)
                 values ('sync', 'sync', 1000, 1000, 10, 10, 50, 10000)",
            )
            .execute(&owner)
            .await
            .unwrap();
            (db, format!("http://{addr}"), owner, tx, task, state, addr)
        });
        let email = format!("admin@{slug}.example");
        let tenant = rt.block_on(async {
            logiflow_server::admin::tenant_create(
                &owner,
                slug,
                "Tenant",
                "sync",
                chrono::Utc::now() + chrono::Duration::days(30),
            )
            .await
            .unwrap();
            logiflow_server::admin::user_create(
                &owner,
                slug,
                &email,
                "Admin",
                Role::Admin,
                PASSWORD,
                HashCost::Minimal,
            )
            .await
            .unwrap()
            .tenant_id
        });
        let http = reqwest::blocking::Client::new();
        let mut server = Self {
            base,
            owner,
            slug: slug.to_owned(),
            tenant,
            email,
            admin_token: String::new(),
            http,
            shutdown: Some(shutdown),
            task: Some(task),
            state,
            addr,
            _db: db,
            rt,
        };
        server.admin_token = server.login(&server.email.clone());
        server
    }

    /// Stops serving: the listener closes, so connecting is refused (the device is
    /// offline), and open connections are closed once their requests are answered. The
    /// database stays; [`Server::restart`] serves again at the same address.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // The timer is made inside the runtime: it needs its reactor.
            self.rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), task).await })
                .expect("the server did not stop within 30 s")
                .expect("the server task failed")
                .expect("the server failed");
        }
    }

    /// Serves again at the address of [`Server::start`], after [`Server::stop`].
    pub fn restart(&mut self) {
        assert!(self.task.is_none(), "the server is running");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = self.state.clone();
        let addr = self.addr;
        // tokio's listener sets SO_REUSEADDR: the old connections' TIME_WAIT does not
        // keep the port.
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .unwrap();
        let task = self
            .rt
            .spawn(logiflow_server::app::serve(listener, state, async {
                let _ = rx.await;
            }));
        self.shutdown = Some(tx);
        self.task = Some(task);
    }

    /// The owner URL of the server's database (to run a second server on it).
    pub fn database_url(&self) -> &str {
        self._db.url()
    }

    /// The JWT secret the server signs with (a second server must share it for the
    /// tokens to stay valid).
    pub fn jwt_secret(&self) -> &'static str {
        JWT_SECRET
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn login(&self, email: &str) -> String {
        let v = self.send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": self.slug, "email": email, "password": PASSWORD})),
            200,
        );
        v["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends a request and checks the status; returns the JSON body.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().unwrap();
        let got = r.status().as_u16();
        let text = r.text().unwrap();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `GET path` as the admin; the JSON body of its 200.
    pub fn get(&self, path: &str) -> Value {
        self.send(
            reqwest::Method::GET,
            path,
            Some(&self.admin_token),
            None,
            200,
        )
    }

    /// Creates a catalog resource as the admin.
    pub fn create(&self, path: &str, body: Value) -> Value {
        self.send(
            reqwest::Method::POST,
            path,
            Some(&self.admin_token),
            Some(body),
            201,
        )
    }

    /// Receives `qty` of `sku` into the location `location_id` online, as the admin;
    /// returns the movement.
    pub fn receive_online(&self, sku: &str, location_id: &str, qty: i64) -> Value {
        let product = self.send(
            reqwest::Method::GET,
            &format!("/v1/products?sku_prefix={sku}"),
            Some(&self.admin_token),
            None,
            200,
        );
        self.create(
            "/v1/movements",
            json!({"kind": "receive", "product_id": product["items"][0]["id"],
                   "to_location_id": location_id, "qty": qty}),
        )
    }

    /// Movements the server holds from `device`: (count, distinct ids).
    pub fn movements_of(&self, device: Uuid) -> (i64, i64) {
        self.block_on(async {
            sqlx::query_as("select count(*), count(distinct id) from movement where device_id = $1")
                .bind(device)
                .fetch_one(&self.owner)
                .await
                .unwrap()
        })
    }

    /// The flags of the movements in the conflict inbox (`review=true`), in its order.
    pub fn review_flags(&self) -> Vec<String> {
        let flagged = self.get("/v1/movements?review=true&limit=50");
        flagged["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["flags"].as_array().unwrap().iter())
            .filter_map(|f| f["flag"].as_str().map(str::to_owned))
            .collect()
    }

    /// The server's on-hand per (sku, bin code, lot code), non-zero rows only.
    pub fn stock(&self) -> Vec<(String, String, i64)> {
        self.block_on(async {
            sqlx::query_as(
                "select p.sku, l.code, s.on_hand from stock_row s
                 join product p on p.tenant_id = s.tenant_id and p.id = s.product_id
                 join location l on l.tenant_id = s.tenant_id and l.id = s.location_id
                 where s.on_hand <> 0 order by 1, 2",
            )
            .fetch_all(&self.owner)
            .await
            .unwrap()
        })
    }

    /// A user of the tenant with `role` and the harness's password; their id.
    pub fn user(&self, email: &str, role: Role) -> Uuid {
        self.block_on(logiflow_server::admin::user_create(
            &self.owner,
            &self.slug,
            email,
            "Someone",
            role,
            PASSWORD,
            HashCost::Minimal,
        ))
        .unwrap()
        .id
    }

    pub fn expire(&self) {
        self.block_on(logiflow_server::admin::tenant_expire(
            &self.owner,
            &self.slug,
        ))
        .unwrap();
    }

    pub fn renew(&self) {
        self.block_on(logiflow_server::admin::tenant_renew(
            &self.owner,
            &self.slug,
            chrono::Utc::now() + chrono::Duration::days(30),
        ))
        .unwrap();
    }

    pub fn revoke(&self, device: Uuid) {
        self.send(
            reqwest::Method::DELETE,
            &format!("/v1/devices/{device}"),
            Some(&self.admin_token),
            None,
            200,
        );
    }
}

/// A warehouse with bins and products.
pub struct Catalog {
    pub warehouse: String,
    pub bins: Vec<String>,
    pub skus: Vec<String>,
    pub location_ids: Vec<String>,
}

/// A warehouse `WH1` with `bins` bins `B1..` and `products` products `SKU-1..`.
pub fn seed(server: &Server, bins: usize, products: usize) -> Catalog {
    let wh = server.create(
        "/v1/warehouses",
        json!({"code": "WH1", "name": "Main", "timezone": "Europe/Paris"}),
    );
    let mut names = Vec::new();
    let mut ids = Vec::new();
    for i in 1..=bins {
        let l = server.create(
            "/v1/locations",
            json!({"warehouse_id": wh["id"], "code": format!("B{i}"), "name": format!("Bin {i}")}),
        );
        names.push(format!("B{i}"));
        ids.push(l["id"].as_str().unwrap().to_owned());
    }
    let mut skus = Vec::new();
    for i in 1..=products {
        server.create(
            "/v1/products",
            json!({"sku": format!("SKU-{i}"), "name": format!("Widget {i}"), "barcodes": []}),
        );
        skus.push(format!("SKU-{i}"));
    }
    Catalog {
        warehouse: "WH1".into(),
        bins: names,
        skus,
        location_ids: ids,
    }
}

/// Options that retry fast, so fault tests stay short.
pub fn fast_options() -> SyncOptions {
    SyncOptions {
        deadline: Duration::from_secs(60),
        request_timeout: Duration::from_secs(10),
        retries_max: 20,
        retry_delay_min: Duration::from_millis(10),
        retry_delay_max: Duration::from_millis(200),
        // Small pages, so that every pull crosses several.
        pull_limit: 100,
        ..SyncOptions::default()
    }
}

/// A replica in a temp dir with a file credential store.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub replica: Replica,
    pub store: CredentialStore,
    pub client: ServerClient,
}

impl Device {
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("replica.db")
    }

    pub fn id(&self) -> Uuid {
        self.replica.device().unwrap().unwrap().device.as_uuid()
    }

    pub fn sync(&mut self) -> logiflow_replica::Result<SyncReport> {
        self.replica.sync(&self.client, &self.store, &mut |_| {})
    }

    pub fn sync_with(
        &mut self,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> logiflow_replica::Result<SyncReport> {
        self.replica.sync(&self.client, &self.store, progress)
    }
}

/// Connects a new replica through `base` (the server, or a proxy in front of it).
pub fn connect(server: &Server, base: &str, name: &str) -> Device {
    connect_as(server, base, name, &server.email)
}

/// [`connect`] signed in as `email` (a user made with [`Server::user`]).
pub fn connect_as(server: &Server, base: &str, name: &str, email: &str) -> Device {
    connect_scoped(server, base, name, email, &["WH1"])
}

/// [`connect_as`] keeping the warehouses of codes `scope` offline.
pub fn connect_scoped(
    server: &Server,
    base: &str,
    name: &str,
    email: &str,
    scope: &[&str],
) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let store = CredentialStore::File(dir.path().join("credentials.json"));
    let mut replica = Replica::open(dir.path().join("replica.db")).unwrap();
    let mut progress = Vec::new();
    let report = replica
        .connect(
            &ConnectRequest {
                server: base.to_owned(),
                tenant: server.slug.clone(),
                email: email.to_owned(),
                password: Secret::new(PASSWORD),
                warehouses: scope.iter().map(|&w| w.to_owned()).collect(),
                name: name.to_owned(),
                platform: "linux".into(),
            },
            &store,
            fast_options(),
            &mut |p| progress.push(p.clone()),
        )
        .unwrap();
    assert!(
        report.first_sync_error.is_none(),
        "{:?}",
        report.first_sync_error
    );
    check_download_progress(&progress);
    let client = ServerClient::new(base, fast_options()).unwrap();
    Device {
        dir,
        replica,
        store,
        client,
    }
}

/// A new device's first sync reports its download (the server's snapshot) as records
/// received of a total, never going back, never past the total, and whole at the end.
fn check_download_progress(progress: &[SyncProgress]) {
    let download: Vec<(u64, u64)> = progress
        .iter()
        .filter_map(|p| match p {
            SyncProgress::Pulling {
                snapshot: Some(s), ..
            } => Some((s.sent, s.total)),
            _ => None,
        })
        .collect();
    assert!(!download.is_empty(), "no download progress: {progress:?}");
    assert!(
        download.windows(2).all(|w| w[0].0 <= w[1].0),
        "{download:?}"
    );
    assert!(
        download.iter().all(|(sent, total)| sent <= total),
        "{download:?}"
    );
    let (sent, total) = *download.last().unwrap();
    assert!(sent == total && total > 0, "{download:?}");
}

/// The `logiflow` binary built beside this test binary.
pub fn logiflow_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("logiflow{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p logiflow-replica` (cargo xtask test does)",
        bin.display()
    );
    bin
}

/// A binary of the workspace built beside this test binary (`logiflow`,
/// `logiflow-server`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build the workspace's binaries first (cargo xtask test does)",
        bin.display()
    );
    bin
}

/// A `logiflow` command on `db`, with the file credential store `creds`.
pub fn cli(db: &Path, creds: &Path) -> Command {
    let mut cmd = Command::new(logiflow_bin());
    cmd.arg("--db")
        .arg(db)
        .env("LOGIFLOW_CREDENTIALS", format!("file:{}", creds.display()))
        .stdin(Stdio::null());
    cmd
}

/// Runs a command to the end with `input` on stdin.
pub fn run(mut cmd: Command, input: &str) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
