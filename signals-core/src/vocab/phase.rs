//! When a receiver runs relative to the transaction its signal was sent in ([`Phase`]),
//! and why a deferred delivery could not run ([`LostReason`]).

use std::fmt;

/// When a receiver runs relative to the transaction its signal was sent in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// During the send (the default).
    #[default]
    Immediate,
    /// After the outermost transaction commits; dropped if it rolls back.
    Commit,
    /// After the outermost transaction rolls back; dropped if it commits.
    Rollback,
    /// After the outermost transaction ends, either way.
    Completion,
}

impl Phase {
    /// The phase's name: `immediate`, `commit`, `rollback`, `completion`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Immediate => "immediate",
            Phase::Commit => "commit",
            Phase::Rollback => "rollback",
            Phase::Completion => "completion",
        }
    }

    /// Whether a delivery in this phase runs when the transaction ends with `committed`.
    pub(crate) fn runs_on(self, committed: bool) -> bool {
        match self {
            Phase::Immediate => false,
            Phase::Commit => committed,
            Phase::Rollback => !committed,
            Phase::Completion => true,
        }
    }

    /// Whether a receiver in this phase runs during a send made outside any transaction.
    pub(crate) fn runs_without_transaction(self) -> bool {
        !matches!(self, Phase::Rollback)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a deferred delivery could not run (see [`lost_deliveries`](crate::transaction::lost_deliveries)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LostReason {
    /// Its [`Transaction`](crate::transaction::Transaction) was dropped without [`commit`](crate::transaction::Transaction::commit) or
    /// [`rollback`](crate::transaction::Transaction::rollback): whether the database committed is unknown.
    Unfinished,
    /// The detached run finishing a cancelled commit or rollback was itself dropped
    /// (its runtime shut down, or no thread could be started for it).
    Cancelled,
}

impl LostReason {
    /// `unfinished` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            LostReason::Unfinished => "unfinished",
            LostReason::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for LostReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LostReason::Unfinished => "the transaction was dropped without commit() or rollback()",
            LostReason::Cancelled => "the detached run of a cancelled commit was dropped",
        })
    }
}
