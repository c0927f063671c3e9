//! Server faults: what can happen to the server itself (as opposed to the network between
//! client and server), and the state machine the backends share to inject them.
//!
//! A server jsbench started is always in one of three states:
//! running --pause--> paused --resume--> running; running|paused --kill--> down;
//! down --start_again--> running; running|paused --restart--> running.
//! Actions that do not fit the state are [`Refused`] (which becomes
//! `ServerError::FaultState`) instead of guessing, because a fault schedule that resumes a
//! server it never paused is a bug in the schedule, and silently "fixing" it would make the run
//! measure something else.
//!
//! This file imports nothing of the server module: the errors (`error.rs`) name these types, and
//! both backends (`process/`, `container/`) check their state against them.

/// A fault the server itself can suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerFault {
    /// Frozen (SIGSTOP / `docker pause`): connections stay open, nothing is answered.
    Pause,
    /// kill -9, then started again on the same store and URL.
    Kill,
    /// Graceful stop (SIGTERM / `docker stop`), then started again.
    Restart,
}

impl ServerFault {
    /// The snake_case name, as in configs.
    pub fn as_str(&self) -> &'static str {
        match self {
            ServerFault::Pause => "pause",
            ServerFault::Kill => "kill",
            ServerFault::Restart => "restart",
        }
    }
}

impl std::fmt::Display for ServerFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a started server is in the state machine of the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Running,
    Paused,
    Down,
}

impl Status {
    fn describe(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Down => "down (killed or stopped, not started again)",
        }
    }

    /// Ok when `action` may be applied in this state.
    pub(crate) fn check(self, action: Action) -> Result<(), Refused> {
        let allowed = match action {
            Action::Pause => self == Status::Running,
            Action::Resume => self == Status::Paused,
            Action::Kill | Action::Restart => self != Status::Down,
            Action::StartAgain => self == Status::Down,
        };
        if allowed {
            Ok(())
        } else {
            Err(Refused {
                action: action.as_str(),
                state: self.describe(),
            })
        }
    }
}

/// An action that does not fit the state the server is in; `?` turns it into
/// `ServerError::FaultState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) action: &'static str,
    pub(crate) state: &'static str,
}

/// The fault actions of a server's nodes (`Server::pause_node` and the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Pause,
    Resume,
    Kill,
    StartAgain,
    Restart,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Kill => "kill",
            Action::StartAgain => "start again",
            Action::Restart => "restart",
        }
    }

    /// The fault this action belongs to (resume undoes a pause, start_again ends a kill).
    pub(crate) fn fault(self) -> ServerFault {
        match self {
            Action::Pause | Action::Resume => ServerFault::Pause,
            Action::Kill | Action::StartAgain => ServerFault::Kill,
            Action::Restart => ServerFault::Restart,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_that_do_not_fit_the_state_are_refused_naming_both() {
        assert_eq!(Status::Running.check(Action::Pause), Ok(()));
        assert_eq!(Status::Paused.check(Action::Kill), Ok(()));
        assert_eq!(Status::Down.check(Action::StartAgain), Ok(()));
        assert_eq!(
            Status::Running.check(Action::Resume),
            Err(Refused {
                action: "resume",
                state: "running"
            })
        );
        let refused = Status::Down.check(Action::Restart).unwrap_err();
        assert_eq!(refused.action, "restart");
        assert!(refused.state.starts_with("down"), "{refused:?}");
    }
}
