// Hostile submission: prints READY for a socket it never accepts on.
use std::io::Write;

fn main() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    println!("READY {addr}");
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
