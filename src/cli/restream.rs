//! `--rtsp-serve ADDRESS:PORT/PATH`: the annotated video re-streamed over RTSP through a
//! `sapiensrtspsink` branch.

/// Where to serve: `ADDRESS:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeTarget {
    pub address: String,
    pub port: u16,
    pub path: String,
}

impl std::str::FromStr for ServeTarget {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (address, port, path) = crate::address::host_port_path(s).ok_or_else(|| {
            format!("{s}: expected ADDRESS:PORT/PATH (e.g. 127.0.0.1:8554/sapiens)")
        })?;
        Ok(Self {
            address,
            port,
            path: format!("/{path}"),
        })
    }
}

impl ServeTarget {
    pub fn url(&self) -> String {
        format!("rtsp://{}:{}{}", self.address, self.port, self.path)
    }
}

/// The launch-line branch that serves the annotated video (after a `tee`).
pub fn branch(target: &ServeTarget, credentials: Option<&std::path::Path>) -> String {
    let mut b = format!(
        "sapiensrtspsink name=restream address=\"{}\" port={} path=\"{}\"",
        target.address, target.port, target.path
    );
    if let Some(c) = credentials {
        b += &format!(
            " credentials-file={}",
            super::run::quote(&c.to_string_lossy())
        );
    }
    b
}
