//! CPU time a serving stack spends, from `/proc/PID/stat` (user + system,
//! in the kernel's USER_HZ ticks): throughput on a shared two-core machine
//! moves with everything else running, CPU per request much less so.

/// The `/proc` clock: USER_HZ, 100 on every architecture Linux reports it for.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system ticks of `pids` so far (a process that is gone counts 0).
pub(crate) fn ticks(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&pid| process_ticks(pid)).sum()
}

fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `fields` starts at field 3.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

pub(crate) fn seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND
}

/// `pid` and its children (nginx's master and its workers).
pub(crate) fn with_children(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            });
        if parent == Some(pid) {
            pids.push(child);
        }
    }
    pids
}
