//! A server process's memory from `/proc/PID/status`: the resident set now
//! (`VmRSS`) and its peak (`VmHWM`), which writing `5` to
//! `/proc/PID/clear_refs` resets so each scenario gets its own peak.

/// Resident KiB by `/proc/PID/status` field (`VmRSS`, `VmHWM`).
pub(crate) fn kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Starts a new peak; false when the kernel refused (then peaks are lifetime peaks).
pub(crate) fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}
