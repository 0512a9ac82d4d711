// Hostile submission: writes one ever-growing file next to its database.
use std::io::Write;

fn main() {
    let mut file = std::fs::File::create("filler.bin").expect("create");
    let block = vec![7u8; 1 << 20];
    loop {
        if file.write_all(&block).is_err() {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }
}
