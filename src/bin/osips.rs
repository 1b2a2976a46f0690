fn main() {
    println!("osips {}", osips::VERSION);
}
