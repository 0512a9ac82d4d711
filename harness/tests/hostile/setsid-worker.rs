// Hostile submission: leaves a worker in a process group of its own (where `setsid`
// would put it) and a double-forked grandchild, both meant to outlive the service and
// its grade, then answers nothing.
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

fn detached(arg: &str) {
    let me = std::env::current_exe().expect("current exe");
    let _ = Command::new(me)
        .arg(arg)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--worker") => {
            detached("--grandchild");
            // The worker exits; its child is orphaned, as after a double fork.
        }
        Some("--grandchild") => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
        _ => {
            detached("--worker");
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            println!("READY {}", listener.local_addr().expect("addr"));
            for conn in listener.incoming() {
                drop(conn);
            }
        }
    }
}
