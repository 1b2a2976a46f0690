fn main() {
    println!("osipsdbctl {}", osips::VERSION);
}
