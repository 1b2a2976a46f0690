fn main() {
    println!("osipsctl {}", osips::VERSION);
}
