// Hostile submission: starts and never prints READY.
fn main() {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
