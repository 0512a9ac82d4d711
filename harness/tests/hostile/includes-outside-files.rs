// Hostile submission: compiles files from outside its stage into the binary — a file
// of the grader's and a system secret — and would print them in every answer.
const GRADER_FILE: &str = include_str!("@CANARY@");
const SHADOW: &str = include_str!("/etc/shadow");

fn main() {
    println!("{GRADER_FILE}{SHADOW}");
}
