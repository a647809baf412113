fn main() {
    println!("speaker: not built yet");
}
