//! Where the CPU time of a run went, read from `/proc` (Linux; elsewhere nothing is reported).
//!
//! Times in `/proc/*/stat` are in `USER_HZ` ticks, which Linux fixes at 100 per second for
//! user space.

const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of a process so far (children not included).
pub fn process_seconds(pid: u32) -> Option<f64> {
    let (user, system) = user_system(&format!("/proc/{pid}/stat"))?;
    Some(user + system)
}

/// User and system CPU seconds so far of the threads of process `pid` whose name starts with
/// `prefix` (threads that have ended are not counted).
pub fn threads_seconds(pid: u32, prefix: &str) -> Option<(f64, f64)> {
    let mut total = (0.0, 0.0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if name.starts_with(prefix)
            && let Some((user, system)) = user_system(&path.join("stat").to_string_lossy())
        {
            total.0 += user;
            total.1 += system;
        }
    }
    Some(total)
}

/// User plus system CPU seconds so far of the threads of process `pid`, per thread name with
/// its trailing digits and dashes dropped (`tokio-runtime-w`, `sqlx-sqlite-worker`,
/// `fq-sign`), rounded to 10 ms (threads that have ended are not counted).
pub fn seconds_by_thread_name(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let name = name
            .trim_end()
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
            .to_owned();
        if let Some((user, system)) = user_system(&path.join("stat").to_string_lossy()) {
            *by_name.entry(name).or_insert(0.0) += user + system;
        }
    }
    for seconds in by_name.values_mut() {
        *seconds = (*seconds * 100.0).round() / 100.0;
    }
    by_name
}

/// The user and system CPU seconds of a `stat` file of `/proc`.
fn user_system(path: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime / TICKS_PER_SECOND, stime / TICKS_PER_SECOND))
}

/// CPU seconds the machine's cores spent running something so far: user, nice, system, IRQ
/// and soft IRQ time of all cores (not idle, I/O wait, or time a hypervisor stole).
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let busy = [0, 1, 2, 5, 6]
        .iter()
        .map(|&i| values.get(i).copied().unwrap_or(0.0))
        .sum::<f64>();
    Some(busy / TICKS_PER_SECOND)
}
