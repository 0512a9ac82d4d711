// Hostile submission: allocates (and touches) memory until something stops it.
fn main() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 64 << 20]);
        std::hint::black_box(&hoard);
    }
}
