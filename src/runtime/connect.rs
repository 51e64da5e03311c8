//! Connecting to a Docker Engine: the local socket, a remote one over plain TCP, TLS
//! (as the docker CLI does it: `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) or SSH
//! (`ssh://user@host`, through the machine's `ssh` and `docker system dial-stdio` on
//! the far side). docs/ARCHITECTURE.md §11.

use super::RuntimeError;
use bollard::{Docker, API_DEFAULT_VERSION};
use std::path::PathBuf;

/// The engine faultline uses when told nothing: the local socket.
pub const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

/// Seconds an Engine API request may take (image transfers are the long ones).
const REQUEST_TIMEOUT_S: u64 = 600;

/// The engine address faultline uses: `host` (`--docker-host`), else `DOCKER_HOST`,
/// else the local socket.
pub fn engine_url(host: Option<&str>) -> String {
    host.map(str::to_owned).or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())).unwrap_or_else(|| LOCAL_ENGINE.to_owned())
}

/// Whether `url` is a socket on this machine.
fn is_local(url: &str) -> bool {
    url.starts_with("unix://")
}

/// The host name or address of a `tcp://`, `https://` or `ssh://` engine URL: where
/// ports it publishes can be reached. A local socket's is the loopback address.
pub fn engine_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    if is_local(url) || host.is_empty() {
        "127.0.0.1".to_owned()
    } else {
        host.to_owned()
    }
}

/// Whether the docker CLI's convention asks for TLS: `DOCKER_TLS_VERIFY` set and not empty.
fn tls_from_env() -> bool {
    std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Where the client certificate, its key and the CA are: `DOCKER_CERT_PATH`, else
/// `~/.docker`, as the docker CLI looks.
fn cert_dir() -> PathBuf {
    match std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".docker"),
    }
}

/// A client for `target`, not yet checked.
fn client(target: &str) -> Result<Docker, RuntimeError> {
    let unsupported = |why: String| RuntimeError::UnsupportedEngine { target: target.to_owned(), why };
    let unreachable = |source| RuntimeError::Unreachable { target: target.to_owned(), source };
    let tcp = target.starts_with("tcp://");
    if target.starts_with("https://") || (tcp && tls_from_env()) {
        let dir = cert_dir();
        let [ca, cert, key] = ["ca.pem", "cert.pem", "key.pem"].map(|f| dir.join(f));
        if let Some(missing) = [&ca, &cert, &key].into_iter().find(|p| !p.is_file()) {
            return Err(unsupported(format!(
                "TLS needs {} (DOCKER_CERT_PATH names the directory holding ca.pem, cert.pem and key.pem)",
                missing.display()
            )));
        }
        let url = target.replacen("https://", "tcp://", 1);
        return Docker::connect_with_ssl(&url, &key, &cert, &ca, REQUEST_TIMEOUT_S, API_DEFAULT_VERSION).map_err(unreachable);
    }
    if let Some(rest) = target.strip_prefix("ssh://") {
        // bollard hands ssh the authority without its scheme, so `host:2222` would be
        // looked up as a host name; ssh's own config can say the port instead.
        let authority = rest.split('/').next().unwrap_or(rest);
        if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
            return Err(unsupported(format!(
                "a port in an ssh:// address is not passed on to ssh; give it in ~/.ssh/config (`Host {h}` with `Port N`) and use ssh://{authority_without_port}",
                h = engine_host(target),
                authority_without_port = authority.rsplit_once(':').map_or(authority, |(a, _)| a),
            )));
        }
        return Docker::connect_with_ssh(target, REQUEST_TIMEOUT_S, API_DEFAULT_VERSION, None).map_err(unreachable);
    }
    if tcp || target.starts_with("http://") {
        return Docker::connect_with_http(target, REQUEST_TIMEOUT_S, API_DEFAULT_VERSION).map_err(unreachable);
    }
    if target.starts_with("unix://") {
        return Docker::connect_with_unix(target, REQUEST_TIMEOUT_S, API_DEFAULT_VERSION).map_err(unreachable);
    }
    Err(unsupported("the address is none of unix://, tcp://, https:// or ssh://".to_owned()))
}

/// Connects to the Docker Engine at `host` (see [`engine_url`]), checks that it
/// answers, and negotiates the API version so that older engines work too. A remote
/// engine needs nothing prepared: images reach it through the Engine API.
pub async fn connect(host: Option<&str>) -> Result<Docker, RuntimeError> {
    let target = engine_url(host);
    let unreachable = |source| RuntimeError::Unreachable { target: target.clone(), source };
    let docker = client(&target)?.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_are_reached_on_the_engines_host() {
        assert_eq!(engine_host("tcp://10.1.2.3:2376"), "10.1.2.3");
        assert_eq!(engine_host("ssh://ci@builder-2.example:2222"), "builder-2.example");
        assert_eq!(engine_host("https://[fd00::5]:2376/"), "fd00::5");
        assert_eq!(engine_host("unix:///tmp/d/docker.sock"), "127.0.0.1");
        assert!(is_local("unix:///var/run/docker.sock") && !is_local("tcp://127.0.0.1:2375"));
    }

    #[test]
    fn an_address_of_no_known_kind_is_refused_with_the_kinds() {
        let e = client("ftp://engine").unwrap_err().to_string();
        assert!(e.contains("none of unix://, tcp://, https:// or ssh://"), "{e}");
        let e = client("ssh://ci@builder-2:2222").unwrap_err().to_string();
        assert!(e.contains("`Host builder-2` with `Port N`") && e.contains("use ssh://ci@builder-2"), "{e}");
    }
}
