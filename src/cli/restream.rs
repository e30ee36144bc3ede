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
        let bad = || format!("{s}: expected ADDRESS:PORT/PATH (e.g. 127.0.0.1:8554/sapiens)");
        let (addr, path) = s.split_once('/').ok_or_else(bad)?;
        let (address, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if address.is_empty() || path.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Self {
            address: address.into(),
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
pub fn branch(target: &ServeTarget) -> String {
    format!(
        "sapiensrtspsink name=restream address=\"{}\" port={} path=\"{}\"",
        target.address, target.port, target.path
    )
}
