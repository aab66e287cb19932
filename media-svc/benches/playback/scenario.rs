//! One scenario for a pair of servers (media-svc and its reference). Its
//! time is cut into rounds that alternate between the two (A B B A …), so a
//! change in the machine's background load during the run weighs on both
//! alike; media-svc's peak memory is taken over the scenario, and each
//! server's CPU time over its own rounds.

use std::sync::Arc;

use crate::{
    cpu,
    load::{self, Limits, Mode, Outcome, Target},
    memory,
    report::Row,
};

/// Runs `players` players in `mode` against both servers, `limits` per round.
pub(crate) async fn measure_pair(
    (ours, theirs): (&Target, &Target),
    sizes: &Arc<Vec<u64>>,
    (mode, players): (Mode, usize),
    limits: Limits,
    rounds: usize,
    seed: u64,
) -> [Row; 2] {
    let tracked = ours.pid.filter(|&pid| memory::reset_peak(pid));
    let (mut a, mut b) = (Outcome::default(), Outcome::default());
    for round in 0..rounds {
        // The same request sequence for both servers within a round.
        let seed = seed + round as u64;
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for first in order {
            let (target, total) = if first {
                (ours, &mut a)
            } else {
                (theirs, &mut b)
            };
            // The server's own process, apart, when the stack is more than it.
            let own: Option<[u32; 1]> = target.pid.filter(|_| target.cpu.len() > 1).map(|p| [p]);
            let before = cpu::ticks(&target.cpu);
            let own_before = own.map(|p| cpu::ticks(&p));
            let mut outcome = load::run(target, sizes, mode, players, limits, seed).await;
            outcome.cpu_ticks = cpu::ticks(&target.cpu).saturating_sub(before);
            outcome.own_cpu_ticks = own
                .zip(own_before)
                .map(|(p, before)| cpu::ticks(&p).saturating_sub(before));
            total.merge(outcome);
        }
    }
    let row = |target: &Target, outcome, peak_rss_kib| Row {
        server: target.name,
        mode,
        clients: players,
        outcome,
        peak_rss_kib,
    };
    [
        row(ours, a, tracked.and_then(|pid| memory::kib(pid, "VmHWM"))),
        row(theirs, b, None),
    ]
}
