//! Starting and stopping the moto server.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const SUPERVISOR: &str = include_str!("moto_supervised.py");

/// Why the local AWS server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// The virtualenv's python ([`venv_python`]) does not exist at that path.
    #[error("the moto virtualenv is missing ({0} not found): run `make venv` (make dev and make test do it for you)")]
    MissingVenv(PathBuf),
    /// Something already listens on the port asked for; moto is not started beside it.
    #[error("port {0} on 127.0.0.1 is already in use (another `make dev`?): stop it or set ATELIER_MOTO_PORT")]
    PortBusy(u16),
    /// The python process could not be spawned, its log file created, or it exited
    /// before answering.
    #[error("could not start moto: {0}")]
    Spawn(#[from] std::io::Error),
    /// Nothing answered on the endpoint (first) within the wait (second: 30 seconds).
    #[error("moto did not answer on {0} within {1:?}")]
    NotReady(String, Duration),
}

/// A running moto server, stopped when dropped (and, through its supervisor, when this
/// process dies).
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts moto on `port` (a free one when `None`) from the virtualenv's python.
    pub fn start(port: Option<u16>) -> Result<Self, MotoError> {
        let python = venv_python();
        if !python.exists() {
            return Err(MotoError::MissingVenv(python));
        }
        let port = match port {
            Some(p) => {
                // Never talk to whatever else answers there (another dev server's moto).
                TcpListener::bind(("127.0.0.1", p)).map_err(|_| MotoError::PortBusy(p))?;
                p
            }
            None => free_port()?,
        };
        let log = std::env::var("ATELIER_MOTO_LOG").ok();
        let stderr = match &log {
            Some(path) => Stdio::from(std::fs::File::create(path)?),
            None => Stdio::null(),
        };
        let child = Command::new(&python)
            .arg("-c")
            .arg(SUPERVISOR)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        let mut server = MotoServer { child, port };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), MotoError> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MotoError::Spawn(std::io::Error::other(format!("moto exited with {status}"))));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(MotoError::NotReady(self.endpoint(), timeout))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The virtualenv's python: `$ATELIER_VENV/bin/python`, else `.venv/bin/python` at the
/// repository root.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("ATELIER_VENV").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv"));
    venv.join("bin").join("python")
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
