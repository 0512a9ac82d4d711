// Hostile submission: an infinite loop before READY.
fn main() {
    let mut n: u64 = 0;
    loop {
        n = n.wrapping_add(1);
        std::hint::black_box(n);
    }
}
