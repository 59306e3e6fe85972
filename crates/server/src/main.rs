//! `logiflow-server`: the central multi-tenant server.
//!
//! `logiflow-server [--config PATH] serve` runs the HTTP server (and the webhook worker);
//! `logiflow-server worker` runs only the webhook worker; `logiflow-server admin …`
//! administers the platform (tenants, plans, users) directly in the database as the owner.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use clap::{Parser, Subcommand};
use logiflow_server::config::Config;
use logiflow_server::rbac::Role;
use logiflow_server::webhooks::worker::{Settings, Worker};
use logiflow_server::{admin, app, db};

#[derive(Debug, Parser)]
#[command(
    name = "logiflow-server",
    version,
    about = "LogiFlow's central multi-tenant server"
)]
struct Cli {
    /// TOML configuration file (overridden by LOGIFLOW_* environment variables).
    #[arg(long, global = true, env = "LOGIFLOW_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve HTTP until SIGTERM or Ctrl-C.
    Serve,
    /// Migrate the database and run only the webhook delivery worker until SIGTERM or
    /// Ctrl-C (beside servers started with `webhook_worker_enabled = false`).
    Worker,
    /// Platform administration (as the database owner).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Users of a tenant.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Plans.
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Demo data for local development.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Create the demo tenant and a user per role if the database has no tenant yet;
    /// print the demo logins.
    Seed,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "free")]
        plan: String,
        /// Subscription length in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// List tenants.
    List,
    /// One tenant: usage against each quota of its plan, subscription, devices, last
    /// activity.
    Show { slug: String },
    /// Move a tenant to another plan.
    SetPlan {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        plan: String,
    },
    /// End a tenant's subscription now (it becomes read-only).
    Expire {
        #[arg(long)]
        slug: String,
    },
    /// Extend a tenant's subscription for `days` from now.
    Renew {
        #[arg(long)]
        slug: String,
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from the first line of standard input.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Disable a user at once.
    Disable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// List plans and their limits.
    List,
    /// Create a plan (every limit is required).
    Create {
        code: String,
        #[command(flatten)]
        limits: PlanArgs,
    },
    /// Change a plan's name or limits (only those given).
    Update {
        code: String,
        #[command(flatten)]
        limits: PlanArgs,
    },
}

/// A plan's name and limits.
#[derive(Debug, clap::Args)]
struct PlanArgs {
    #[arg(long)]
    name: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    max_skus: Option<i32>,
    #[arg(long, allow_negative_numbers = true)]
    max_locations: Option<i32>,
    #[arg(long, allow_negative_numbers = true)]
    max_warehouses: Option<i32>,
    #[arg(long, allow_negative_numbers = true)]
    max_users: Option<i32>,
    #[arg(long, allow_negative_numbers = true)]
    max_devices: Option<i32>,
    #[arg(long, allow_negative_numbers = true)]
    requests_per_second: Option<i32>,
}

impl From<PlanArgs> for admin::PlanLimits {
    fn from(a: PlanArgs) -> Self {
        Self {
            name: a.name,
            max_skus: a.max_skus,
            max_locations: a.max_locations,
            max_warehouses: a.max_warehouses,
            max_users: a.max_users,
            max_devices: a.max_devices,
            requests_per_second: a.requests_per_second,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logiflow_server::telemetry::init_logging();
    let config = Config::load(cli.config.as_deref()).context("failed to load the configuration")?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Admin { command } => run_admin(config, command).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = app::prepare(config)
        .await
        .context("failed to prepare the database")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("failed to listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    app::serve(listener, state, app::shutdown_signal())
        .await
        .context("failed to serve")?;
    tracing::info!("stopped");
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let owner = db::connect(config.database_url.expose(), 2)
        .await
        .context("failed to connect as the owner")?;
    db::migrate(&owner).await.context("failed to migrate")?;
    owner.close().await;
    let app_url = config.app_database_url()?;
    let pool = db::connect(app_url.expose(), config.db_max_connections)
        .await
        .context("failed to connect as the application role")?;
    db::check_app_role(&pool).await?;
    let worker = Worker::new(pool, Settings::from_config(&config))
        .context("failed to build the webhook client")?;
    tracing::info!("webhook worker running");
    worker
        .run(
            std::time::Duration::from_millis(config.webhook_worker_interval_ms),
            app::shutdown_signal(),
        )
        .await;
    tracing::info!("stopped");
    Ok(())
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("failed to render output")?
    );
    Ok(())
}

/// Runs an `admin` subcommand against the database as its owner, printing JSON.
///
/// Longer than 80 lines only because it has one arm per subcommand and rustfmt gives each
/// call its own lines.
async fn run_admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let pool = db::connect(config.database_url.expose(), 2)
        .await
        .context("failed to connect as the owner")?;
    db::migrate(&pool).await.context("failed to migrate")?;
    match command {
        AdminCommand::Plan { command } => match command {
            PlanCommand::List => print_json(&admin::plan_list(&pool).await?),
            PlanCommand::Create { code, limits } => print_json(
                &admin::plan_create(&pool, &code, &limits.into())
                    .await
                    .context("failed to create the plan")?,
            ),
            PlanCommand::Update { code, limits } => print_json(
                &admin::plan_update(&pool, &code, &limits.into())
                    .await
                    .context("failed to change the plan")?,
            ),
        },
        AdminCommand::Demo {
            command: DemoCommand::Seed,
        } => print_json(
            &admin::demo_seed(&pool)
                .await
                .context("failed to seed the demo tenant")?,
        ),
        AdminCommand::Tenant { command } => match command {
            TenantCommand::Create {
                slug,
                name,
                plan,
                days,
            } => print_json(
                &admin::tenant_create(
                    &pool,
                    &slug,
                    &name,
                    &plan,
                    Utc::now() + Duration::days(days),
                )
                .await
                .context("failed to create the tenant")?,
            ),
            TenantCommand::List => print_json(&admin::tenant_list(&pool).await?),
            TenantCommand::Show { slug } => print_json(
                &admin::tenant_show(&pool, &slug)
                    .await
                    .context("failed to read the tenant")?,
            ),
            TenantCommand::SetPlan { slug, plan } => print_json(
                &admin::tenant_set_plan(&pool, &slug, &plan)
                    .await
                    .context("failed to set the plan")?,
            ),
            TenantCommand::Expire { slug } => print_json(
                &admin::tenant_expire(&pool, &slug)
                    .await
                    .context("failed to expire the tenant")?,
            ),
            TenantCommand::Renew { slug, days } => print_json(
                &admin::tenant_renew(&pool, &slug, Utc::now() + Duration::days(days))
                    .await
                    .context("failed to renew the tenant")?,
            ),
        },
        AdminCommand::User { command } => match command {
            UserCommand::Create {
                tenant,
                email,
                name,
                role,
            } => {
                let Some(role) = Role::parse(&role) else {
                    bail!("unknown role {role}");
                };
                let mut password = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut password)
                    .context("failed to read the password from standard input")?;
                let password = password.trim_end_matches(['\r', '\n']);
                print_json(
                    &admin::user_create(
                        &pool,
                        &tenant,
                        &email,
                        &name,
                        role,
                        password,
                        config.password_hash_cost,
                    )
                    .await
                    .context("failed to create the user")?,
                )
            }
            UserCommand::Disable { tenant, email } => {
                let id = admin::user_disable(&pool, &tenant, &email)
                    .await
                    .context("failed to disable the user")?;
                print_json(&serde_json::json!({ "id": id, "disabled": true }))
            }
        },
    }
}
