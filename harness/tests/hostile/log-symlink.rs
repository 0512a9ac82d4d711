// Hostile submission: turns the log files the harness keeps for it into links to a
// file of its choosing, then fails to start, so the harness reads its log back (and,
// on any restart, would append to it).
const TARGET: &str = "@CANARY@";

fn main() {
    for name in (0..4)
        .map(|i| format!("instance-{i}.log"))
        .chain(["service.log".to_owned()])
    {
        let _ = std::fs::remove_file(&name);
        let _ = std::os::unix::fs::symlink(TARGET, &name);
    }
    eprintln!("links planted");
    std::process::exit(1);
}
