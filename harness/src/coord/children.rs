//! The worker processes of a local distributed run (none for `jsbench coordinate`, whose
//! workers someone else starts): `jsbench worker` children of this very
//! binary, given the coordination credential in their environment. Nothing is left behind:
//! each child is killed (SIGKILL) when its handle is dropped — on return, on error, on panic —
//! and the kernel kills it should the coordinator itself die first (`PR_SET_PDEATHSIG`). A
//! Ctrl-C of the coordinator is passed on to the workers, once ([`Children::interrupt`]).

use std::process::Stdio;

use tokio::process::{Child, Command};

use super::protocol::TOKEN_ENV;

/// The running workers, by index.
pub(super) struct Children {
    children: Vec<Option<Child>>,
    /// How each one ended, once it has (`None`: still running or never started).
    ended: Vec<Option<String>>,
}

impl Children {
    /// Starts `n` workers against the coordination server at `url`.
    pub(super) fn spawn(n: usize, url: &str, token: &str) -> Result<Children, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this program to start workers: {e}"))?;
        let mut children = Vec::with_capacity(n);
        for i in 0..n {
            let mut cmd = Command::new(&exe);
            cmd.arg("worker")
                .arg("--coordinator")
                .arg(url)
                .arg("--index")
                .arg(i.to_string())
                .arg("--of")
                .arg(n.to_string())
                .env(TOKEN_ENV, token)
                .env_remove(super::KILL_HOOK_ENV)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            // SAFETY: prctl and setpgid only set attributes of the child about to exec;
            // nothing is allocated. A process group of its own: a terminal's Ctrl-C reaches the
            // coordinator only, which passes it on once ([`Children::interrupt`]).
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    libc::setpgid(0, 0);
                    Ok(())
                });
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start worker {i}: {e}"))?;
            children.push(Some(child));
        }
        Ok(Children {
            ended: vec![None; n],
            children,
        })
    }

    /// No processes: `n` workers someone else started (`jsbench coordinate`). Nothing to see
    /// end, kill or interrupt; they are judged by their state alone.
    pub(super) fn none(n: usize) -> Children {
        Children {
            children: (0..n).map(|_| None).collect(),
            ended: vec![None; n],
        }
    }

    pub(super) fn pid(&self, i: usize) -> Option<u32> {
        self.children.get(i)?.as_ref()?.id()
    }

    /// How worker `i` ended, if it has (checked now, without waiting).
    pub(super) fn ended(&mut self, i: usize) -> Option<String> {
        if self.ended[i].is_none() {
            if let Some(c) = self.children[i].as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.ended[i] = Some(status.to_string());
                }
            }
        }
        self.ended[i].clone()
    }

    /// Kills worker `i` now (SIGKILL); the test hook's and Ctrl-C's way.
    pub(super) fn kill(&mut self, i: usize) {
        if let Some(c) = self.children[i].as_mut() {
            let _ = c.start_kill();
        }
    }

    /// Passes a Ctrl-C on to every worker still running (SIGINT): each stops publishing,
    /// drains and uploads what it published, as one process does on Ctrl-C.
    pub(super) fn interrupt(&mut self) {
        for i in 0..self.children.len() {
            if self.ended(i).is_none() {
                if let Some(pid) = self.pid(i) {
                    // SAFETY: kill(2) on a child of ours that has not been reaped yet.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
                }
            }
        }
    }

    /// Kills every worker still running and reaps them all.
    pub(super) async fn stop(mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        self.children.clear();
    }
}
