fn main() {
    println!("osipsconfig {}", osips::VERSION);
}
