//! A worker's own messages of a message-bound phase, and what a distributed run cannot do yet.
//!
//! The publisher numbers the messages of the history it is given from 0, so a worker publishes
//! its own messages under its *local* numbers `0..m` (in the plan's order) and the coordinator
//! maps local number `j` back to the plan's index `idx[j]` ([`Draws`]): both sides draw the
//! same keys from the same seed, so neither has to send the table to the other.
//!
//! Faults: the coordinator owns the servers it started, so it runs the server, cluster and disk
//! faults itself (`coord::coordinator`); network faults act on per-connection fault proxies,
//! which workers do not have yet ([`NotYet::NetworkFault`]).

use crate::nemesis::{Clients, Fault, FaultKind, FaultPlan, Scope};
use crate::scenario::{Amount, Plan, WorkloadPlan};
use crate::workload::KeyGen;

use super::Segment;

/// Keys drawn per chunk (memory stays flat however long the plan).
const CHUNK: u64 = 1 << 16;

/// One worker's messages of a message-bound phase, in the plan's order: message `j` of the
/// worker is the plan's message `idx[j]`, of key `keys[j]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draws {
    pub idx: Vec<u32>,
    pub keys: Vec<u32>,
}

/// The messages of `seg` among the first `n` drawn from `seed` (the plan's seed for the
/// measured phase, `workload::warmup_seed` of it for the warm-up).
pub fn draws(w: &WorkloadPlan, seed: u64, n: u64, seg: &Segment) -> Draws {
    let mut owned = vec![false; w.keys as usize];
    for &k in &seg.keys {
        owned[k as usize] = true;
    }
    let mut out = Draws::default();
    let mut keygen = KeyGen::new(w, seed);
    let mut at: u64 = 0;
    while at < n {
        let take = (n - at).min(CHUNK);
        for (i, key) in keygen.take(take as usize).into_iter().enumerate() {
            if owned[key as usize] {
                out.idx.push((at + i as u64) as u32);
                out.keys.push(key);
            }
        }
        at += take;
    }
    out
}

/// What a plan asks for that a distributed run (`jsbench run --workers N`) does not do yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotYet {
    #[error(
        "a duration-bound plan: workers stop at different places in the plan's sequence, and \
         the merge needs every worker's messages to be a whole segment; use workload.messages"
    )]
    Duration,
    /// A fault on the client connections (scope `Connections`): those act on each
    /// connection's fault proxy, and a worker's connections have none yet.
    #[error(
        "fault \"{name}\" (kind \"{}\"): per-worker network faults are not built yet \
         (server, cluster and disk faults are run by the coordinator)",
        kind.as_str()
    )]
    NetworkFault { name: String, kind: FaultKind },
    /// A partition that also cuts the client links (`clients = "cut"`): the client side is a
    /// network fault on every connection's proxy.
    #[error(
        "fault \"{name}\" (partition with clients = \"cut\"): cutting the workers' client \
         links is a per-worker network fault, not built yet; use clients = \"keep\""
    )]
    PartitionCutsClients { name: String },
    #[error("a consume side ([consume]): not built for workers yet")]
    Consume,
    #[error("an adapter client ([client]): workers publish in-process (async-nats) only")]
    Adapter,
    #[error(
        "publish.repeat_msg_id_every: a worker counts its own messages, so it would repeat \
         other messages than one process does"
    )]
    Repeat,
    #[error(
        "publish.api = \"lean\": the lean path has not been wired into a worker's connections yet; \
         workers publish through the JetStream path"
    )]
    Lean,
    #[error(
        "observe.follow = \"on\": the coordinator reads the stream back once the workers are \
         done; following it while they publish is not built yet (auto runs without it)"
    )]
    Follow,
}

impl NotYet {
    /// The scenario field that asks for it.
    pub fn field(&self) -> &'static str {
        match self {
            NotYet::Duration => "workload.duration",
            NotYet::NetworkFault { .. } | NotYet::PartitionCutsClients { .. } => "faults",
            NotYet::Consume => "consume",
            NotYet::Adapter => "client.adapter",
            NotYet::Repeat => "publish.repeat_msg_id_every",
            NotYet::Lean => "publish.api",
            NotYet::Follow => "observe.follow",
        }
    }
}

/// Why fault `f` cannot run with workers, if it cannot: the coordinator runs the faults on the
/// servers it started (scope `Server`, `Cluster`, `Disk`), but no worker has fault proxies.
fn network_part(f: &FaultPlan) -> Option<NotYet> {
    let kind = f.fault.kind();
    match (&f.fault, kind.scope()) {
        (_, Scope::Connections) => Some(NotYet::NetworkFault {
            name: f.name.clone(),
            kind,
        }),
        (Fault::Partition { clients }, _) if *clients == Clients::Cut => {
            Some(NotYet::PartitionCutsClients {
                name: f.name.clone(),
            })
        }
        _ => None,
    }
}

/// Everything `plan` asks for that a distributed run cannot do yet (empty: it can run).
pub fn not_yet(plan: &Plan) -> Vec<NotYet> {
    let mut out = Vec::new();
    if matches!(plan.workload.amount, Amount::Duration(_)) {
        out.push(NotYet::Duration);
    }
    out.extend(plan.faults.iter().filter_map(network_part));
    if plan.consume.is_some() {
        out.push(NotYet::Consume);
    }
    if !plan.client.is_in_process() {
        out.push(NotYet::Adapter);
    }
    if plan.publish.repeat_msg_id_every.is_some() {
        out.push(NotYet::Repeat);
    }
    if plan.publish.api == crate::scenario::Api::Lean {
        out.push(NotYet::Lean);
    }
    if plan.observe.follow == crate::scenario::Follow::On {
        out.push(NotYet::Follow);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key-affine plan on 3 process nodes with `faults` (TOML `[[faults]]` sections).
    fn plan(faults: &str) -> Plan {
        let text = format!(
            "name = \"t\"\n[server]\nbackend = \"process\"\nnodes = 3\n[stream]\nreplicas = 3\n\
             [connections]\nstrategy = \"key_affine\"\ncount = 4\nproxy = true\n\
             [workload]\nmessages = 1000\nkeys = 16\n{faults}"
        );
        crate::scenario::parse(&text, "t.toml", &Default::default()).unwrap()
    }

    #[test]
    fn server_cluster_and_disk_faults_are_the_coordinators() {
        let p = plan(
            "[[faults]]\nname = \"k\"\nkind = \"kill\"\nnode = \"leader\"\nstart = \"1s\"\n\
             duration = \"1s\"\n\
             [[faults]]\nname = \"s\"\nkind = \"leader_stepdown\"\nstart = \"1s\"\n\
             [[faults]]\nname = \"p\"\nkind = \"partition\"\nnode = \"leader\"\n\
             clients = \"keep\"\nstart = \"1s\"\nduration = \"1s\"\n\
             [[faults]]\nname = \"d\"\nkind = \"power_loss\"\nnode = 0\nstart = \"1s\"\n\
             duration = \"1s\"\n",
        );
        assert_eq!(p.faults.len(), 4);
        assert_eq!(not_yet(&p), vec![]);
    }

    #[test]
    fn network_faults_and_a_partition_that_cuts_clients_are_named() {
        let p = plan(
            "[[faults]]\nname = \"lag\"\nkind = \"latency\"\nlatency = \"2ms\"\n\
             [[faults]]\nname = \"cut\"\nkind = \"partition\"\nnode = \"leader\"\n\
             clients = \"cut\"\nstart = \"1s\"\nduration = \"1s\"\n",
        );
        let r = not_yet(&p);
        assert_eq!(
            r,
            vec![
                NotYet::NetworkFault {
                    name: "lag".into(),
                    kind: FaultKind::Latency
                },
                NotYet::PartitionCutsClients { name: "cut".into() },
            ]
        );
        assert!(r.iter().all(|n| n.field() == "faults"));
        assert!(r[0]
            .to_string()
            .contains("fault \"lag\" (kind \"latency\")"));
    }
}
