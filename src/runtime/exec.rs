//! Running a command inside a container and capturing what it printed and its exit code.

use super::RuntimeError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;

/// What a command printed (stdout and stderr interleaved) and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code.
    pub code: i64,
    /// stdout and stderr, in the order they arrived.
    pub output: String,
}

/// Runs `cmd` in `container` and waits for it.
pub async fn exec(docker: &Docker, container: &str, cmd: &[&str]) -> Result<ExecOutput, RuntimeError> {
    let action = || format!("exec `{}` in {container}", cmd.join(" "));
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
        )
        .await
        .map_err(RuntimeError::api(action()))?;
    let mut output = String::new();
    if let StartExecResults::Attached { output: mut stream, .. } = docker.start_exec(&created.id, None).await.map_err(RuntimeError::api(action()))? {
        while let Some(chunk) = stream.next().await {
            output.push_str(&chunk.map_err(RuntimeError::api(action()))?.to_string());
        }
    }
    let code = docker.inspect_exec(&created.id).await.map_err(RuntimeError::api(action()))?.exit_code.unwrap_or(-1);
    Ok(ExecOutput { code, output })
}

/// Runs `cmd` and fails unless it exits 0; returns what it printed.
pub async fn exec_ok(docker: &Docker, container: &str, cmd: &[&str]) -> Result<String, RuntimeError> {
    let out = exec(docker, container, cmd).await?;
    if out.code != 0 {
        return Err(RuntimeError::ExecFailed { container: container.to_owned(), command: cmd.join(" "), code: out.code, output: out.output.trim().to_owned() });
    }
    Ok(out.output)
}
