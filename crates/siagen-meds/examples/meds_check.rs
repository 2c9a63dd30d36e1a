//! Prints the table for the drug lines given as arguments:
//! `cargo run --release --example meds_check -- "KARDEGIC 75 mg" "Eliquis 5mg x2/j"`.
fn main() {
    let lines: Vec<String> = std::env::args().skip(1).collect();
    let t = siagen_meds::Thesaurus::builtin(None).expect("builtin thesaurus");
    let check = t.check(&lines);
    print!("{}", check.to_table());
    if std::env::var_os("MEDS_JSON").is_some() {
        println!("{}", serde_json::to_string_pretty(&check).expect("json"));
    }
}
