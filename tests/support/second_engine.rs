//! A second Docker Engine on this machine, for tests that treat it as a remote one: its
//! own data root, exec root, containerd, bridge and socket (plus a TLS listener), and
//! nothing in it until faultline puts it there. Started by the test, stopped and wiped
//! when dropped. Needs root, like dockerd itself.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running second engine.
pub struct SecondEngine {
    /// Its directory (socket, roots, certificates, log).
    pub dir: PathBuf,
    /// `unix://…/docker.sock`.
    pub socket_url: String,
    /// `tcp://127.0.0.1:PORT`, TLS with client certificates (see [`SecondEngine::cert_dir`]).
    pub tls_url: String,
    bridge: String,
    forward_rule: Vec<String>,
    daemon: Child,
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as the docker
/// CLI expects them in DOCKER_CERT_PATH (`ca.pem`, `cert.pem`, `key.pem`).
fn make_certs(dir: &Path) {
    let d = |f: &str| dir.join(f).display().to_string();
    run("openssl", &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &d("ca-key.pem"), "-out", &d("ca.pem"), "-days", "2", "-subj", "/CN=faultline test CA"]);
    for (who, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
        let ext = d(&format!("{who}.ext"));
        std::fs::write(&ext, format!("subjectAltName=IP:127.0.0.1\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n")).expect("ext file");
        let (key, cert) = if who == "client" { (d("key.pem"), d("cert.pem")) } else { (d("server-key.pem"), d("server-cert.pem")) };
        let csr = d(&format!("{who}.csr"));
        run("openssl", &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
        run("openssl", &["x509", "-req", "-in", &csr, "-CA", &d("ca.pem"), "-CAkey", &d("ca-key.pem"), "-CAcreateserial", "-out", &cert, "-days", "2", "-extfile", &ext]);
    }
}

impl SecondEngine {
    /// Starts it and waits until it answers.
    pub fn start() -> SecondEngine {
        let uid = run("id", &["-u"]);
        assert_eq!(uid.trim(), "0", "this test starts a second dockerd, which needs root; run the suite as root (CI does)");
        let tag = format!("{:04}", std::process::id() % 10_000);
        let dir = PathBuf::from(format!("/tmp/fl-engine-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("certs")).expect("engine dir");
        make_certs(&dir.join("certs"));
        // Its own default bridge: with `--bridge=none` dockerd removes docker0, the
        // first engine's.
        let bridge = format!("flbr{tag}");
        let _ = Command::new("ip").args(["link", "del", &bridge]).stderr(Stdio::null()).status();
        run("ip", &["link", "add", &bridge, "type", "bridge"]);
        run("ip", &["addr", "add", "10.233.250.1/24", "dev", &bridge]);
        run("ip", &["link", "set", &bridge, "up"]);
        // This engine leaves iptables alone, so the host's FORWARD policy (DROP, set
        // by the first engine) would drop traffic between containers on one of its
        // bridges; let bridged traffic between cluster addresses through.
        let forward_rule: Vec<String> =
            ["FORWARD", "-m", "physdev", "--physdev-is-bridged", "-s", "10.234.0.0/16", "-d", "10.234.0.0/16", "-j", "ACCEPT"].map(str::to_owned).to_vec();
        let mut insert = vec!["-w".to_owned(), "-I".to_owned()];
        insert.extend(forward_rule.iter().cloned());
        run("iptables", &insert.iter().map(String::as_str).collect::<Vec<_>>());
        std::fs::write(dir.join("daemon.json"), "{}").expect("config");
        let port = free_port();
        let p = |f: &str| dir.join(f).display().to_string();
        let log = std::fs::File::create(dir.join("dockerd.log")).expect("log");
        let daemon = Command::new("dockerd")
            .args(["--config-file", &p("daemon.json"), "-H", &format!("unix://{}", p("docker.sock")), "-H", &format!("tcp://127.0.0.1:{port}")])
            .args(["--tlsverify", "--tlscacert", &p("certs/ca.pem"), "--tlscert", &p("certs/server-cert.pem"), "--tlskey", &p("certs/server-key.pem")])
            .args(["--data-root", &p("root"), "--exec-root", &p("exec"), "--pidfile", &p("docker.pid")])
            .args(["--iptables=false", "--ip-masq=false", "--bridge", &bridge])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let engine = SecondEngine { socket_url: format!("unix://{}", p("docker.sock")), tls_url: format!("tcp://127.0.0.1:{port}"), dir, bridge, forward_rule, daemon };
        let started = Instant::now();
        while !engine.docker(&["info"]).status.success() {
            assert!(started.elapsed() < Duration::from_secs(60), "the second dockerd did not answer in 60 s: {}", engine.log());
            std::thread::sleep(Duration::from_millis(300));
        }
        engine
    }

    /// The directory to give as DOCKER_CERT_PATH for [`SecondEngine::tls_url`].
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// Runs the docker CLI against this engine.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker").arg("-H").arg(&self.socket_url).args(args).output().expect("docker runs")
    }

    /// What dockerd printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// The ids of faultline's containers on this engine.
    pub fn faultline_containers(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.docker(&["ps", "-aq", "--filter", "label=io.faultline"]).stdout).lines().map(str::to_owned).collect()
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // SIGTERM: dockerd stops its containers and its containerd, then exits.
        let _ = Command::new("kill").arg(self.daemon.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && matches!(self.daemon.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let mut delete = vec!["-w".to_owned(), "-D".to_owned()];
        delete.extend(self.forward_rule.iter().cloned());
        let _ = Command::new("iptables").args(&delete).status();
        let _ = Command::new("ip").args(["link", "del", &self.bridge]).status();
        // Bridges of networks it did not get to remove.
        let _ = Command::new("sh").arg("-c").arg(format!("umount -R {root} 2>/dev/null; rm -rf {root}", root = self.dir.display())).status();
    }
}

/// A TCP front for a unix socket that can be cut: an engine that goes away, as seen
/// by a client, while the engine itself stays to be cleaned up.
pub struct CuttableProxy {
    /// `tcp://127.0.0.1:PORT`.
    pub url: String,
    cut: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl CuttableProxy {
    /// Forwards a local TCP port to `socket` (a path).
    pub fn new(socket: &Path) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("tcp://{}", listener.local_addr().expect("its address"));
        let (cut, streams) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::<TcpStream>::new())));
        let (c, s, socket) = (cut.clone(), streams.clone(), socket.to_owned());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if c.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(engine) = UnixStream::connect(&socket) else { continue };
                if let Ok(clone) = client.try_clone() {
                    s.lock().unwrap_or_else(|p| p.into_inner()).push(clone);
                }
                let (mut c_in, mut e_out) = (client.try_clone().expect("clone"), engine.try_clone().expect("clone"));
                let (mut e_in, mut c_out) = (engine, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut e_out);
                    let _ = e_out.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut e_in, &mut c_out);
                    let _ = c_out.flush();
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CuttableProxy { url, cut, streams }
    }

    /// From now on the engine seems gone: open connections are closed, new ones are
    /// accepted and dropped.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.streams.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
