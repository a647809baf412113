fn main() {
    println!("controller: not built yet");
}
