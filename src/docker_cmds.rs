//! The commands that manage Docker state: `images build`, `doctor`, `clean`.

use crate::cli::{BaseImageArg, CleanArgs, DoctorArgs, ImagesBuildArgs};
use crate::exit::Exit;
use faultline::runtime::{base_image, clean::remove_labelled, connect, node_image, probe, Engine, RuntimeError};
use std::future::Future;

/// Runs an async command on a fresh tokio runtime, on this one thread: the controller
/// waits on the network nearly all the time, and one thread needs no cross-thread
/// wake-ups (on a multi-threaded runtime, parking and waking workers cost more CPU per
/// client operation than the operation's own work; docs/ARCHITECTURE.md §1).
pub fn block_on(f: impl Future<Output = Result<i32, Exit>>) -> Result<i32, Exit> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Exit::crash)?;
    rt.block_on(f)
}

/// Awaits `work`, saying on stderr that it is still going: a spinner on a terminal, a
/// line every 10 s otherwise (a first build takes a minute or two).
pub async fn with_progress<T>(what: &str, work: impl Future<Output = T>) -> T {
    use std::io::IsTerminal;
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message(what.to_owned());
        s.enable_steady_tick(std::time::Duration::from_millis(200));
        s
    });
    let every = std::time::Duration::from_secs(10);
    let out = if spinner.is_some() { work.await } else { with_lines(what, work, every, |line| eprintln!("{line}")).await };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    out
}

/// Awaits `work`, handing `say` a line `every` so often while it runs.
async fn with_lines<T>(what: &str, work: impl Future<Output = T>, every: std::time::Duration, mut say: impl FnMut(String)) -> T {
    let started = tokio::time::Instant::now();
    tokio::pin!(work);
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => say(format!("… {what}: {:.0} s so far", started.elapsed().as_secs_f64())),
        }
    }
}

/// The base image to use: the user's, or faultline's own (built if missing; on a
/// remote engine, built here and sent).
pub async fn base(engine: &Engine, arg: &BaseImageArg, announce: bool) -> Result<String, RuntimeError> {
    if let Some(image) = &arg.base_image {
        return Ok(image.clone());
    }
    let recipe = base_image::Recipe::for_host()?;
    let builder = engine.source.as_ref().map_or(&engine.docker, |s| &s.docker);
    if announce && builder.inspect_image(&recipe.image()).await.is_err() {
        eprintln!("building base image {} with mmdebstrap (first time on this machine, about 30-90 s)…", recipe.image());
    }
    let b = with_progress("building the base image", base_image::ensure(&engine.docker, &recipe, engine.source.as_ref())).await?;
    if announce && b.built {
        eprintln!("built {} in {:.1} s ({:.0} MB)", b.image, b.build_time.as_secs_f64(), b.size as f64 / 1e6);
    }
    if let (true, Some(sent)) = (announce, b.sent) {
        eprintln!("sent {} to {} in {:.1} s", b.image, engine.url, sent.as_secs_f64());
    }
    Ok(b.image)
}

/// Builds (or finds) a design's node image, saying what it did.
pub async fn node(engine: &Engine, design: &faultline::design::Design, base_image: &str) -> Result<String, Exit> {
    let work = node_image::ensure(&engine.docker, design, base_image, engine.source.as_ref());
    say_done(engine, with_progress(&format!("building the {} node image", design.name()), work).await.map_err(Exit::crash)?)
}

/// Builds (or finds) the holders' image, saying what it did.
pub async fn holder(engine: &Engine, base_image: &str) -> Result<String, Exit> {
    let work = node_image::ensure_holder(&engine.docker, base_image, engine.source.as_ref());
    say_done(engine, with_progress("building the holder image", work).await.map_err(Exit::crash)?)
}

/// Says whether an image was built or sent; answers its name.
fn say_done(engine: &Engine, img: node_image::NodeImage) -> Result<String, Exit> {
    if img.built {
        eprintln!("built {} in {:.1} s", img.image, img.build_time.as_secs_f64());
    }
    if let Some(sent) = img.sent {
        eprintln!("sent {} to {} in {:.1} s", img.image, engine.url, sent.as_secs_f64());
    }
    Ok(img.image)
}

/// `faultline images build`
pub async fn images_build(args: ImagesBuildArgs, engine: Option<&str>) -> Result<i32, Exit> {
    let design = args.design.as_deref().map(faultline::design::resolve).transpose().map_err(|e| Exit::bad_input(anyhow::anyhow!(e)))?;
    let engine = Engine::open(engine).await.map_err(Exit::crash)?;
    let image = base(&engine, &args.base, true).await.map_err(Exit::crash)?;
    println!("{image}");
    if let Some(design) = &design {
        println!("{}", node(&engine, design, &image).await?);
    }
    Ok(0)
}

/// `faultline doctor`
pub async fn doctor(args: DoctorArgs, engine: Option<&str>) -> Result<i32, Exit> {
    let engine = Engine::open(engine).await.map_err(Exit::crash)?;
    let image = base(&engine, &args.base, !args.json).await.map_err(Exit::crash)?;
    let p = probe::probe(&engine.docker, &image).await.map_err(Exit::crash)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&p).map_err(Exit::crash)?);
        return Ok(0);
    }
    print!("{}", doctor_text(&p));
    Ok(0)
}

/// What `faultline doctor` prints: the engine, the kernel, the base image, then each
/// capability, and for a missing one which faults go without it.
fn doctor_text(p: &probe::Probe) -> String {
    use std::fmt::Write as _;
    let mut out = format!("Docker {} (API {}), kernel {}\nbase image {}\n", p.docker_version, p.api_version, p.kernel, p.base_image);
    for c in &p.capabilities {
        if c.available {
            let _ = writeln!(out, "  ok       {:<20} {}", c.name, c.detail);
        } else {
            let _ = writeln!(out, "  MISSING  {:<20} {}", c.name, c.detail);
            let _ = writeln!(out, "           {:<20} without it: {}", "", c.without_it);
        }
    }
    out
}

/// `faultline clean`
pub async fn clean(args: CleanArgs, engine: Option<&str>) -> Result<i32, Exit> {
    let docker = connect(engine).await.map_err(Exit::crash)?;
    let removed = remove_labelled(&docker, args.run.as_deref()).await.map_err(Exit::crash)?;
    println!("removed {} containers, {} networks, {} volumes", removed.containers, removed.networks, removed.volumes);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_names_what_is_missing_and_what_it_costs() {
        let cap = |name: &str, available: bool, detail: &str, without_it: &str| probe::Capability { name: name.into(), available, detail: detail.into(), without_it: without_it.into() };
        let p = probe::Probe {
            docker_version: "28.2.2".into(),
            api_version: "1.50".into(),
            kernel: "6.1.0".into(),
            base_image: "faultline-base:bookworm-0123abcd".into(),
            capabilities: vec![
                cap("iptables", true, "iptables v1.8.9 (nf_tables)", "network partitions (all of them)"),
                cap("netem", false, "Error: Specified qdisc kind is unknown.", "packet delay, duplication and reordering"),
                cap("libfaketime", true, "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "clock skew"),
            ],
        };
        insta::assert_snapshot!(doctor_text(&p));
    }

    #[tokio::test]
    async fn long_work_says_it_is_still_going() {
        let ms = std::time::Duration::from_millis;
        let mut lines = Vec::new();
        let out = super::with_lines("building", async { tokio::time::sleep(ms(200)).await; 7 }, ms(40), |l| lines.push(l)).await;
        assert_eq!(out, 7);
        assert!(lines.len() >= 2 && lines.iter().all(|l| l.starts_with("… building: ") && l.ends_with(" s so far")), "{lines:?}");
        let mut quick = Vec::new();
        super::with_lines("building", async {}, ms(40), |l| quick.push(l)).await;
        assert!(quick.is_empty(), "work that ends at once says nothing");
    }
}
