//! Shows a pseudonymised document and its re-identification.
//! Usage: cargo run --release --example pseudo_demo

use siagen_shield::{
    pseudonymize, pseudonymize_with, reidentify, PseudoOptions, Shield, SurrogateStyle, Vault,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shield = Shield::new()?;
    let dir = std::env::temp_dir().join(format!("siagen-shield-demo-{}", std::process::id()));
    let vault = Vault::open(&dir, [9u8; 32])?;
    let text = "CHU de Rennes – Service de cardiologie\nPatiente : LE GOFF Marie-Hélène, née le 03/05/1948, IPP 8001234567\n\
Adresse : 12 bis rue des Lilas, 35000 Rennes. Tél. 06 12 34 56 78, marie.legoff@orange.fr\n\
NIR 2 48 05 35 238 042 77. Hospitalisée du 12 mars 2024 au 20/03/2024 pour maladie de Parkinson décompensée.\n\
Sa fille, Sophie Le Goff, est la personne de confiance. Rédigé par le Dr J.-P. N'Diaye.";
    let p = pseudonymize(&shield, text, "demo-patient", &vault)?;
    println!("--- realistic ---\n{}\n", p.text);
    println!(
        "--- re-identified equals original: {} ---\n",
        reidentify(&p.text, "demo-patient", &vault)? == text
    );
    let t = pseudonymize_with(
        &shield,
        text,
        "demo-patient-tags",
        &vault,
        &PseudoOptions {
            style: SurrogateStyle::Tags,
        },
    )?;
    println!("--- tags ---\n{}", t.text);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
