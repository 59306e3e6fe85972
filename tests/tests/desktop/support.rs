//! What the desktop E2E test starts, each behind a guard that stops it when dropped, so
//! that a failing assertion (a panic) still leaves no process behind: Xvfb,
//! tauri-driver with the WebKitWebDriver and app it starts, and private session buses
//! with a Secret Service (the OS keyring) or a notification server on them.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long a started program may take to accept connections.
pub const STARTUP_TIMEOUT_MS: u64 = 30_000;

/// How long a program gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT_MS: u64 = 5_000;

/// How often readiness and exit are polled.
const POLL_MS: u64 = 50;

fn pid(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"))
}

/// Waits up to `timeout` for the child to exit; whether it did.
fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(POLL_MS));
    }
    false
}

/// A virtual X display, started only when the test has no display of its own.
#[derive(Debug)]
pub struct Display {
    /// `:N`.
    pub name: String,
    xvfb: Option<Child>,
}

impl Display {
    /// `$DISPLAY` if set, else a new Xvfb on a free display number.
    pub fn get() -> Display {
        if let Some(name) = std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) {
            return Display {
                name: name.to_string_lossy().into_owned(),
                xvfb: None,
            };
        }
        // -displayfd: Xvfb picks a free display number itself and writes it to fd 1
        // once it accepts connections, which is both the number and the readiness.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("failed to start Xvfb (apt package xvfb)");
        let mut line = String::new();
        let read = BufReader::new(xvfb.stdout.take().expect("piped"))
            .read_line(&mut line)
            .unwrap_or(0);
        let number = line.trim();
        if read == 0 || number.parse::<u32>().is_err() {
            let _ = xvfb.kill();
            let _ = xvfb.wait();
            panic!("Xvfb did not report a display number (got {line:?})");
        }
        Display {
            name: format!(":{number}"),
            xvfb: Some(xvfb),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(mut xvfb) = self.xvfb.take() {
            let _ = kill(pid(&xvfb), Signal::SIGTERM);
            if !wait_exit(&mut xvfb, Duration::from_millis(STOP_TIMEOUT_MS)) {
                let _ = xvfb.kill();
                let _ = xvfb.wait();
            }
        }
    }
}

/// A free TCP port on localhost (free when asked; another process could take it before
/// it is used, which the readiness check would then report).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("failed to find a free port")
        .port()
}

/// tauri-driver, the WebDriver server that starts WebKitWebDriver, which starts the app.
#[derive(Debug)]
pub struct Driver {
    /// The WebDriver URL.
    pub url: String,
    /// tauri-driver's, WebKitWebDriver's and the app's output.
    pub log: PathBuf,
    child: Option<Child>,
}

impl Driver {
    /// Starts `driver` on a free port with `env` (which the app inherits) and waits
    /// until it accepts connections.
    pub fn start(driver: &Path, env: &[(&str, &str)], log: PathBuf) -> Driver {
        let port = free_port();
        let native_port = free_port();
        let out = File::create(&log).expect("failed to create the driver log");
        let err = out.try_clone().expect("failed to share the driver log");
        let mut cmd = Command::new(driver);
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: if tauri-driver does not take WebKitWebDriver and
            // the app down with it, the group is stopped as a whole (see Drop).
            .process_group(0);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "failed to start tauri-driver at {}: {e} (cargo xtask test installs it)",
                driver.display()
            )
        });
        let mut guard = Driver {
            url: format!("http://127.0.0.1:{port}"),
            log,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_millis(STARTUP_TIMEOUT_MS);
        loop {
            // Ready when both listen: tauri-driver forwards a new session to
            // WebKitWebDriver, which it starts itself and which may still be starting.
            let listening = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if listening(port) && listening(native_port) {
                return guard;
            }
            let exited = guard
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "tauri-driver exited ({status}) before listening; its log:\n{}",
                    guard.log_text()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "tauri-driver (port {port}) and WebKitWebDriver (port {native_port}) were not both listening within {STARTUP_TIMEOUT_MS} ms; the log:\n{}",
                    guard.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(POLL_MS));
        }
    }

    /// The log so far, for failure messages.
    /// A WebDriver session on the app at `app` (the built binary), through this driver.
    pub async fn session(&self, app: &Path) -> fantoccini::Client {
        let capabilities = serde_json::json!({
            "browserName": "wry",
            "tauri:options": { "application": app },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match fantoccini::ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
        {
            Ok(session) => session,
            Err(e) => panic!(
                "failed to open a WebDriver session on the app: {e}; tauri-driver's log:\n{}",
                self.log_text()
            ),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = pid(&child);
        // SIGTERM, never SIGKILL first: tauri-driver stops WebKitWebDriver on SIGTERM,
        // while a killed tauri-driver orphans it with its port still bound.
        let _ = kill(group, Signal::SIGTERM);
        let stopped = wait_exit(&mut child, Duration::from_millis(STOP_TIMEOUT_MS));
        // Whatever is left of the group (WebKitWebDriver, the app) goes the same way.
        let _ = killpg(group, Signal::SIGTERM);
        if !stopped {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::thread::sleep(Duration::from_millis(POLL_MS));
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// A PNG of the whole X display.
///
/// Taken from the X server rather than over WebDriver: under Xvfb, WebKitWebDriver's
/// screenshot command answers once and then hangs on every later call (WebKitGTK 2.50,
/// Debian 12), while the X server's own copy of the screen is always there.
pub fn screenshot_png(display: &str) -> Vec<u8> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};

    let (conn, screen) = x11rb::connect(Some(display)).expect("failed to connect to the X display");
    let screen = &conn.setup().roots[screen];
    let (width, height) = (screen.width_in_pixels, screen.height_in_pixels);
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, screen.root, 0, 0, width, height, !0)
        .expect("failed to ask for the screen's pixels")
        .reply()
        .expect("failed to read the screen's pixels");
    // Depth 24 in a ZPixmap is 32 bits a pixel, stored B, G, R, unused.
    assert_eq!(image.depth, 24, "expected a 24-bit display");
    let pixels = usize::from(width) * usize::from(height);
    assert_eq!(image.data.len(), pixels * 4, "unexpected pixel layout");
    let mut rgb = Vec::with_capacity(pixels * 3);
    for pixel in image.data.chunks_exact(4) {
        rgb.extend_from_slice(&[pixel[2], pixel[1], pixel[0]]);
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, u32::from(width), u32::from(height));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .expect("failed to encode the screenshot");
    out
}

/// A private D-Bus session bus (dbus-daemon), stopped when dropped.
#[derive(Debug)]
pub struct SessionBus {
    /// `DBUS_SESSION_BUS_ADDRESS` for the app and for the services on it.
    pub address: String,
    daemon: Option<Child>,
}

impl SessionBus {
    pub fn start() -> SessionBus {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("failed to start dbus-daemon (Debian package dbus)");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().expect("piped"))
            .read_line(&mut address)
            .expect("failed to read the bus address");
        let bus = SessionBus {
            address: address.trim().to_owned(),
            daemon: Some(daemon),
        };
        assert!(
            bus.address.starts_with("unix:"),
            "dbus-daemon gave no address: {address:?}"
        );
        bus
    }

    /// Waits until `name` has an owner on the bus, or panics naming `who`.
    fn wait_for_owner(&self, name: &str, who: &str) {
        let deadline = Instant::now() + Duration::from_millis(STARTUP_TIMEOUT_MS);
        while !self.has_owner(name) {
            assert!(
                Instant::now() < deadline,
                "{who} did not take {name} within {STARTUP_TIMEOUT_MS} ms"
            );
            std::thread::sleep(Duration::from_millis(POLL_MS));
        }
    }

    fn has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .args([
                "--session",
                "--dest=org.freedesktop.DBus",
                "--print-reply",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        stop(self.daemon.take());
    }
}

/// Stops a child: SIGTERM, then SIGKILL if it has not exited in time.
fn stop(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = kill(pid(&child), Signal::SIGTERM);
        if !wait_exit(&mut child, Duration::from_millis(STOP_TIMEOUT_MS)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A private D-Bus session bus with a Secret Service on it (gnome-keyring-daemon, its
/// login keyring created and unlocked with a password fed on stdin), so the app stores
/// the device's tokens in a real OS keyring, as on a desktop. Both are stopped when
/// dropped; the keyring's files stay in `home` (the test's temp dir).
#[derive(Debug)]
pub struct SecretService {
    /// `DBUS_SESSION_BUS_ADDRESS` for the app and for `secret-tool`.
    pub bus_address: String,
    keyring: Option<Child>,
    // Dropped after the keyring (fields drop in order).
    _bus: SessionBus,
}

impl SecretService {
    /// Starts the bus, then the keyring daemon on it, and waits until the daemon owns
    /// `org.freedesktop.secrets`.
    pub fn start(home: &Path) -> SecretService {
        use std::io::Write;

        let bus = SessionBus::start();
        // --unlock reads the login keyring's password from stdin (creating the keyring
        // on first use); --foreground keeps it our child, so Drop stops it.
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home)
            .env("XDG_RUNTIME_DIR", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("failed to start gnome-keyring-daemon (Debian package gnome-keyring)");
        {
            let mut stdin = keyring.stdin.take().expect("piped");
            stdin
                .write_all(b"e2e keyring password")
                .expect("failed to give the keyring its password");
        } // Closed: the daemon reads the password to the end of stdin.
        let service = SecretService {
            bus_address: bus.address.clone(),
            keyring: Some(keyring),
            _bus: bus,
        };
        service
            ._bus
            .wait_for_owner("org.freedesktop.secrets", "gnome-keyring-daemon");
        service
    }

    /// The secret stored for `service` and `username` (the `keyring` crate's attributes),
    /// read over the bus with `secret-tool` (Debian package libsecret-tools).
    pub fn lookup(&self, service: &str, username: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", service, "username", username])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .stdin(Stdio::null())
            .output()
            .expect("failed to run secret-tool (Debian package libsecret-tools)");
        let secret = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !secret.is_empty()).then_some(secret)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        stop(self.keyring.take());
    }
}

/// A desktop notification server on a private session bus (`notifications.py`, with the
/// jeepney D-Bus library, from the tests' Python environment), recording what the app
/// shows. Stopped, with its bus, when dropped.
#[derive(Debug)]
pub struct NotificationServer {
    /// `DBUS_SESSION_BUS_ADDRESS` for the app.
    pub bus_address: String,
    log: PathBuf,
    server: Option<Child>,
    _bus: SessionBus,
}

/// A notification as the server received it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Shown {
    pub app: String,
    pub summary: String,
    pub body: String,
}

impl NotificationServer {
    /// Starts the bus and the server on it; `dir` holds the server's record.
    pub fn start(dir: &Path) -> NotificationServer {
        let bus = SessionBus::start();
        let python = std::env::var("LOGIFLOW_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let log = dir.join("notifications.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/desktop/notifications.py");
        let server = Command::new(&python)
            .arg(&script)
            .arg(&log)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{python}: {e} (cargo xtask test sets LOGIFLOW_TEST_PYTHON)")
            });
        let service = NotificationServer {
            bus_address: bus.address.clone(),
            log,
            server: Some(server),
            _bus: bus,
        };
        service._bus.wait_for_owner(
            "org.freedesktop.Notifications",
            "the notification server (notifications.py; is jeepney in LOGIFLOW_TEST_PYTHON?)",
        );
        service
    }

    /// Every notification shown so far, in order.
    pub fn shown(&self) -> Vec<Shown> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("the server writes JSON lines"))
            .collect()
    }
}

impl Drop for NotificationServer {
    fn drop(&mut self) {
        stop(self.server.take());
    }
}
