//! A throwaway PostgreSQL cluster for the tests that need one: `initdb` into a temporary
//! directory, `pg_ctl start` on a free port, stopped (immediately) when dropped.
//!
//! The binaries are found on `PATH`, else in `/usr/lib/postgresql/*/bin` (Debian's
//! `postgresql` package). `initdb` refuses to run as root: as root (CI), the cluster runs as
//! the `postgres` user (created by the package), else `nobody`, through `runuser`.
//! Missing binaries are a test failure, never a skip: the tests that use this are
//! `#[ignore = "needs PostgreSQL …"]` and `.ci/run` installs the package first.
//!
//! Shared by the unit tests (`src/store/tests.rs`, through `#[path]`) and the integration
//! tests.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The password of the cluster's superuser `rogue` (TCP connections need it: scram).
pub const PASSWORD: &str = "s3cret-pg-pass";

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
    pub port: u16,
}

impl PgCluster {
    /// Starts a new cluster. Panics, saying what to install, when PostgreSQL is missing.
    pub fn start() -> PgCluster {
        PgCluster::start_with(false)
    }

    /// A cluster that takes TCP connections only over TLS (`hostssl` in pg_hba.conf), with a
    /// server certificate for `127.0.0.1` signed by a throwaway CA: [`PgCluster::ca_file`].
    /// The certificates are made with the `openssl` command (Debian's postgresql needs it).
    pub fn start_tls() -> PgCluster {
        PgCluster::start_with(true)
    }

    /// The CA that signed a [`PgCluster::start_tls`] cluster's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    fn start_with(tls: bool) -> PgCluster {
        let bin = find_bin().unwrap_or_else(|| {
            panic!(
                "this test needs PostgreSQL (initdb, pg_ctl) on PATH or in \
                 /usr/lib/postgresql/*/bin: apt-get install postgresql"
            )
        });
        let run_as = is_root().then(|| {
            if user_exists("postgres") { "postgres".to_owned() } else { "nobody".to_owned() }
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        fs_err::write(&pwfile, PASSWORD).expect("password file");
        if let Some(user) = &run_as {
            // The unprivileged user must reach, own and write the cluster's directory.
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            fs_err::create_dir(&data).expect("data dir");
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:"), &path_str(dir.path())])
                .status()
                .expect("chown");
            assert!(status.success(), "chown {user} failed");
        }
        let mut cluster = PgCluster { dir, bin, run_as, port: 0 };
        cluster.run(
            "initdb",
            &[
                "-D",
                &path_str(&data),
                "-U",
                "rogue",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", path_str(&pwfile)),
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let tls_options = if tls { cluster.set_up_tls(&data) } else { String::new() };
        // Find a free port, then start; another process may take it in between: retry.
        for _ in 0..5 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c max_connections=200{tls_options}",
                path_str(cluster.dir.path())
            );
            let log = path_str(&cluster.dir.path().join("log"));
            if cluster.try_run(
                "pg_ctl",
                &["-D", &path_str(&data), "-l", &log, "-o", &options, "-w", "-t", "30", "start"],
            ) {
                cluster.port = port;
                return cluster;
            }
        }
        let log = fs_err::read_to_string(cluster.dir.path().join("log")).unwrap_or_default();
        panic!("pg_ctl start failed:\n{log}");
    }

    /// `postgres://rogue@127.0.0.1:PORT/DB` — no password: give [`PASSWORD`] through
    /// `PGPASSWORD` or `PgTarget::with_password`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://rogue@127.0.0.1:{}/{db}?sslmode=disable", self.port)
    }

    /// Makes the CA and the server's certificate, lets TCP clients in only over TLS, and
    /// returns the server options that turn TLS on.
    fn set_up_tls(&self, data: &Path) -> String {
        let tls = self.dir.path().join("tls");
        fs_err::create_dir_all(&tls).expect("tls dir");
        fs_err::write(tls.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
            .expect("extensions");
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let steps = [
            format!("req -x509 {ec} -keyout ca.key -out ca.crt -days 2 -subj /CN=rogue-test-ca"),
            format!("req {ec} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
             -days 2 -extfile server.ext"
                .to_owned(),
        ];
        for step in &steps {
            let args: Vec<&str> = step.split_whitespace().collect();
            let output = Command::new("openssl")
                .args(&args)
                .current_dir(&tls)
                .stdin(Stdio::null())
                .output()
                .expect("openssl (apt-get install openssl)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // The server reads its key only when its own user owns it, unreadable to others.
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(tls.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod key");
        if let Some(user) = &self.run_as {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:"), &path_str(&tls)])
                .status()
                .expect("chown");
            assert!(status.success(), "chown {user} failed");
        }
        // TCP only over TLS: a plain connection is refused, so one that works used TLS.
        let hba = data.join("pg_hba.conf");
        let rules = fs_err::read_to_string(&hba).expect("pg_hba.conf");
        let rules: String = rules
            .lines()
            .map(|line| match line.strip_prefix("host ") {
                Some(rest) => format!("hostssl {rest}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        fs_err::write(&hba, rules).expect("pg_hba.conf");
        format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            path_str(&tls.join("server.crt")),
            path_str(&tls.join("server.key"))
        )
    }

    /// Creates database `name` (each test takes its own).
    pub fn create_db(&self, name: &str) {
        let socket = path_str(self.dir.path());
        self.run("createdb", &["-h", &socket, "-p", &self.port.to_string(), "-U", "rogue", name]);
    }

    /// Runs `sql` in database `db` through psql, returning its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let socket = path_str(self.dir.path());
        let output = self
            .command(
                "psql",
                &[
                    "-h",
                    &socket,
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "rogue",
                    "-d",
                    db,
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ],
            )
            .output()
            .expect("psql");
        assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let program = path_str(&self.bin.join(tool));
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", &program]);
                c
            }
            None => Command::new(program),
        };
        command.args(args).stdin(Stdio::null()).current_dir(self.dir.path());
        command
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> bool {
        self.command(tool, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let output = self.command(tool, args).output().expect(tool);
        assert!(
            output.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = path_str(&self.dir.path().join("data"));
            let _ = self.try_run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The directory holding `initdb` and `pg_ctl`: `PATH` (resolved through symlinks, as
/// Debian's wrappers there want a cluster name), else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs_err::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|dir| {
        ["initdb", "pg_ctl", "createdb", "psql"].iter().all(|tool| dir.join(tool).is_file())
    })
}
