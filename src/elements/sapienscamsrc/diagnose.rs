//! Why a camera cannot be reached, in words: `fallbacksrc` retries without saying what failed
//! (and `rtspsrc` says "Could not open resource" for a refused connection and a wrong path
//! alike), so after a failed attempt the camera's address is tried once more directly: name
//! lookup, TCP connection, then an RTSP `DESCRIBE` (with the URL's user and password, Basic or
//! Digest as the camera asks).
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;
use md5::{Digest as _, Md5};

/// The cause of a failed connection to `uri` as a sentence, each step waiting at most
/// `timeout`.
pub fn diagnose(uri: &str, timeout: Duration) -> String {
    let url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(e) => return format!("not a valid URL ({e})"),
    };
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return "the URL names no host".into();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tls = url.scheme() == "rtsps";
    let port = url.port().unwrap_or(if tls { 322 } else { 554 });
    let addrs: Vec<_> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => return format!("cannot resolve host {host}: {e}"),
    };
    let Some(addr) = addrs.first() else {
        return format!("host {host} has no address");
    };
    let mut stream = match TcpStream::connect_timeout(addr, timeout) {
        Ok(s) => s,
        Err(e) => return connect_failure(&e, host, port, timeout),
    };
    if tls {
        return format!("{host}:{port} accepts connections (TLS: not checked further)");
    }
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // The request names the URL without its user and password.
    let mut plain = url.clone();
    let _ = plain.set_username("");
    let _ = plain.set_password(None);
    let request_uri = plain.to_string();
    let first = match describe(&mut stream, &request_uri, None) {
        Ok(r) => r,
        Err(e) => return format!("{host}:{port} accepts connections but {e}"),
    };
    let answer = if first.code == 401 && !url.username().is_empty() {
        let user = percent(url.username());
        let password = percent(url.password().unwrap_or(""));
        let auth = first
            .authenticate
            .as_deref()
            .map(|c| authorization(c, &user, &password, &request_uri));
        match auth.flatten() {
            Some(auth) => match describe(&mut stream, &request_uri, Some(&auth)) {
                Ok(r) if r.code == 401 => {
                    return format!(
                        "authentication failed: the camera refused user '{user}' and the URL's password (RTSP 401)"
                    );
                }
                Ok(r) => r,
                Err(e) => return format!("{host}:{port} accepts connections but {e}"),
            },
            None => {
                return format!(
                    "the camera asks for an authentication scheme this check does not speak: {}",
                    first.authenticate.unwrap_or_default()
                );
            }
        }
    } else {
        first
    };
    match answer.code {
        401 => {
            "the camera needs a user and password: rtsp://USER:PASSWORD@HOST/PATH (RTSP 401)".into()
        }
        403 => format!("the camera forbids access to {} (RTSP 403)", url.path()),
        404 => format!(
            "no stream at path {} on {host}:{port} (RTSP 404 Not Found)",
            url.path()
        ),
        200..=299 => format!(
            "the camera answers (RTSP {} {}) but its video did not arrive in time: it sends \
             none, or this transport does not get through (another --rtsp-transport may)",
            answer.code, answer.reason
        ),
        code => format!("the camera answered RTSP {code} {}", answer.reason),
    }
}

/// `uri` as messages may show it: a password replaced by `***`.
pub fn redacted(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => uri.to_string(),
    }
}

/// A failed TCP connection in words.
fn connect_failure(e: &std::io::Error, host: &str, port: u16, timeout: Duration) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => {
            format!("connection refused by {host}:{port} (nothing listens on that port)")
        }
        TimedOut | WouldBlock => format!(
            "no answer from {host}:{port} in {:.0} s (host down, or a firewall drops the \
             connection)",
            timeout.as_secs_f64()
        ),
        HostUnreachable | NetworkUnreachable => format!("{host}:{port} is unreachable: {e}"),
        _ => format!("cannot connect to {host}:{port}: {e}"),
    }
}

/// The status of an RTSP response and its `WWW-Authenticate` challenge.
#[derive(Debug)]
struct Answer {
    code: u16,
    reason: String,
    authenticate: Option<String>,
}

/// Sends `DESCRIBE uri` (with an `Authorization` header) and reads the response's head.
fn describe(
    stream: &mut TcpStream,
    uri: &str,
    authorization: Option<&str>,
) -> Result<Answer, String> {
    static CSEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let cseq = CSEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut req = format!(
        "DESCRIBE {uri} RTSP/1.0\r\nCSeq: {cseq}\r\nAccept: application/sdp\r\nUser-Agent: sapiens-stream\r\n"
    );
    if let Some(a) = authorization {
        req += &format!("Authorization: {a}\r\n");
    }
    req += "\r\n";
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("the request could not be sent: {e}"))?;
    let head = read_head(stream)?;
    let mut body_len = 0usize;
    let answer = parse_head(&head, &mut body_len)?;
    // Skip the body (an SDP) so that a second request on this connection reads its own answer.
    let mut body = vec![0u8; body_len.min(1 << 20)];
    let _ = stream.read_exact(&mut body);
    Ok(answer)
}

/// Reads up to the blank line ending a response's head (at most 64 kB).
fn read_head(stream: &mut TcpStream) -> Result<String, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return Err("closed the connection without an RTSP answer".into()),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(format!("gave no RTSP answer ({e})")),
        }
        if head.len() > 65_536 {
            return Err("answered with more than 64 kB of headers".into());
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The status line and the headers this check reads; `body_len` gets `Content-Length`.
fn parse_head(head: &str, body_len: &mut usize) -> Result<Answer, String> {
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    let mut parts = status.splitn(3, ' ');
    let (proto, code) = (parts.next(), parts.next().and_then(|c| c.parse().ok()));
    let (Some(p), Some(code)) = (proto, code) else {
        return Err(format!("answered, but not in RTSP: {status:?}"));
    };
    if !p.starts_with("RTSP/") {
        return Err(format!("answered, but not in RTSP: {status:?}"));
    }
    let mut authenticate = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("www-authenticate") {
            // Prefer Digest when the camera offers both.
            if authenticate.is_none() || value.starts_with("Digest") {
                authenticate = Some(value.to_string());
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            *body_len = value.parse().unwrap_or(0);
        }
    }
    Ok(Answer {
        code,
        reason: parts.next().unwrap_or_default().to_string(),
        authenticate,
    })
}

/// The `Authorization` header answering `challenge` (Basic, or Digest without or with
/// `qop=auth`, RFC 2617) for `DESCRIBE uri`; `None` for another scheme.
fn authorization(challenge: &str, user: &str, password: &str, uri: &str) -> Option<String> {
    let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        return Some(format!("Basic {token}"));
    }
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let param = |key: &str| -> Option<String> {
        params.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(key)
                .then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let (realm, nonce) = (param("realm")?, param("nonce")?);
    let md5 = |s: String| format!("{:x}", Md5::digest(s.as_bytes()));
    let ha1 = md5(format!("{user}:{realm}:{password}"));
    let ha2 = md5(format!("DESCRIBE:{uri}"));
    let qop = param("qop").filter(|q| q.split(',').any(|x| x.trim() == "auth"));
    let mut header =
        format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\"");
    if qop.is_some() {
        let cnonce = format!("{:08x}", std::process::id());
        let response = md5(format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        header += &format!(", qop=auth, nc=00000001, cnonce=\"{cnonce}\", response=\"{response}\"");
    } else {
        header += &format!(", response=\"{}\"", md5(format!("{ha1}:{nonce}:{ha2}")));
    }
    if let Some(opaque) = param("opaque") {
        header += &format!(", opaque=\"{opaque}\"");
    }
    Some(header)
}

/// A URL user or password as typed (percent-decoded).
fn percent(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_answers_as_rfc_2617_computes_it() {
        // RFC 2617's example user (3.5): HA1 = md5("Mufasa:testrealm@host.com:Circle Of Life")
        // = 939e7578ed9e3c518a452acee763bce9 (the RFC's value); without qop the response is
        // md5(HA1:nonce:md5("DESCRIBE:uri")).
        let challenge =
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#;
        let h = authorization(challenge, "Mufasa", "Circle Of Life", "rtsp://h/x").unwrap();
        let ha1 = "939e7578ed9e3c518a452acee763bce9";
        let ha2 = format!("{:x}", Md5::digest(b"DESCRIBE:rtsp://h/x"));
        let want = format!(
            "{:x}",
            Md5::digest(format!("{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}").as_bytes())
        );
        assert!(h.contains(&format!("response=\"{want}\"")), "{h}");
        assert_eq!(
            format!(
                "{:x}",
                Md5::digest(b"Mufasa:testrealm@host.com:Circle Of Life")
            ),
            ha1
        );
        let q = authorization(
            r#"Digest realm="r", nonce="n", qop="auth,auth-int""#,
            "u",
            "p",
            "rtsp://h/x",
        )
        .unwrap();
        assert!(q.contains("qop=auth, nc=00000001"), "{q}");
        assert_eq!(
            authorization("Basic realm=\"x\"", "Aladdin", "open sesame", "u").unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(authorization("Bearer x", "u", "p", "u"), None);
    }

    #[test]
    fn a_refused_port_and_a_bad_url_are_named() {
        // A port just freed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let m = diagnose(
            &format!("rtsp://127.0.0.1:{port}/cam"),
            Duration::from_secs(2),
        );
        assert!(
            m.starts_with(&format!("connection refused by 127.0.0.1:{port}")),
            "{m}"
        );
        assert!(diagnose("rtsp://", Duration::from_secs(1)).contains("no host"));
    }

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redacted("rtsp://viewer:s3cret@cam:554/live"),
            "rtsp://viewer:***@cam:554/live"
        );
        assert_eq!(redacted("rtsp://cam/live"), "rtsp://cam/live");
    }

    #[test]
    fn a_server_that_is_not_rtsp_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let m = diagnose(
            &format!("rtsp://127.0.0.1:{port}/cam"),
            Duration::from_secs(5),
        );
        assert!(
            m.contains("not in RTSP") && m.contains("HTTP/1.1 400"),
            "{m}"
        );
    }
}
