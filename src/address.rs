//! `HOST:PORT/PATH` network addresses on the command line and in properties (an MQTT broker and
//! topic, an RTSP serving point).

/// The three parts of `HOST:PORT/PATH`; `None` when `s` is not of that form (empty host or path,
/// port not in 1..=65535).
pub fn host_port_path(s: &str) -> Option<(String, u16, String)> {
    let (addr, path) = s.split_once('/')?;
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    (!host.is_empty() && !path.is_empty()).then(|| (host.to_owned(), port, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::host_port_path;

    #[test]
    fn splits_host_port_and_path_and_refuses_the_rest() {
        assert_eq!(
            host_port_path("127.0.0.1:1883/a/b"),
            Some(("127.0.0.1".into(), 1883, "a/b".into()))
        );
        for bad in [
            "127.0.0.1/x",
            "h:0/x",
            "h:1883/",
            ":1883/x",
            "h:99999/x",
            "h:1883",
        ] {
            assert_eq!(host_port_path(bad), None, "{bad}");
        }
    }
}
