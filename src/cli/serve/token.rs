//! The service's access token: made at the first start (32 random bytes, hex), kept in a file
//! only its owner can read (mode 0600), required as `Authorization: Bearer TOKEN`.
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The token in `path`, made there first when there is none (`true`: made now).
pub fn load_or_create(path: &Path) -> Result<(String, bool), String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim().to_string();
            if token.len() < 16 {
                return Err(format!(
                    "token file {}: a token has at least 16 characters (delete the file to have a new one made)",
                    path.display()
                ));
            }
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(format!(
                    "token file {}: others can read it (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                ));
            }
            Ok((token, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes for a token: {e}"))?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("token file {}: {e}", path.display()))?;
            writeln!(f, "{token}").map_err(|e| format!("token file {}: {e}", path.display()))?;
            Ok((token, true))
        }
        Err(e) => Err(format!("token file {}: {e}", path.display())),
    }
}

/// Whether `header` (an `Authorization` value) carries `token`, compared in constant time.
pub fn authorizes(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_readable_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("sapiens-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cameras.token");
        let _ = std::fs::remove_file(&path);
        let (token, made) = load_or_create(&path).unwrap();
        assert!(made && token.len() == 64);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create(&path).unwrap(), (token.clone(), false));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("chmod 600"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_bearer_token_authorizes() {
        let t = "0123456789abcdef0123";
        assert!(authorizes(Some(&format!("Bearer {t}")), t));
        assert!(!authorizes(Some("Bearer 0123456789abcdef0124"), t));
        assert!(!authorizes(Some(t), t));
        assert!(!authorizes(Some("Bearer "), t));
        assert!(!authorizes(None, t));
    }
}
