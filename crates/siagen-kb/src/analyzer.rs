//! The French analyzer shared by the index, the queries and the relevance signal, so that the three
//! agree on what a "term" is: words split on non-alphanumerics (so `l'interaction` gives
//! `interaction`), lower-cased, French stop words removed (the list is accented, so this runs
//! *before* folding), accents folded (`hépatique` = `hepatique`), Snowball French stemming
//! (`hépatiques` → `hepat`), tokens of one character and of more than 40 dropped.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered in the tantivy index.
pub const FRENCH: &str = "siagen_fr";

/// Drops one-character tokens (elided articles `l'`, `d'`, initials).
#[derive(Clone)]
struct RemoveShort;

impl TokenFilter for RemoveShort {
    type Tokenizer<T: Tokenizer> = RemoveShortTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> RemoveShortTokenizer<T> {
        RemoveShortTokenizer(tokenizer)
    }
}

#[derive(Clone)]
struct RemoveShortTokenizer<T>(T);

impl<T: Tokenizer> Tokenizer for RemoveShortTokenizer<T> {
    type TokenStream<'a> = RemoveShortStream<T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        RemoveShortStream(self.0.token_stream(text))
    }
}

struct RemoveShortStream<S>(S);

impl<S: TokenStream> TokenStream for RemoveShortStream<S> {
    fn advance(&mut self) -> bool {
        while self.0.advance() {
            if self.0.token().text.chars().nth(1).is_some() {
                return true;
            }
        }
        false
    }
    fn token(&self) -> &Token {
        self.0.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

/// Words of questions and glue that the Snowball list lacks (`est`, `entre`, interrogatives,
/// modal verbs): left in, a question's "quelle est" would count as content it must match.
const EXTRA_STOP_WORDS: &[&str] = &[
    "est", "été", "être", "avoir", "entre", "comment", "pourquoi", "quand", "combien", "quoi",
    "dont", "où", "chez", "lors", "faut", "peut", "peuvent", "doit", "doivent", "dois", "existe",
    "faire", "fait", "ya",
];

/// A fresh French analyzer.
pub fn french() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(RemoveShort)
        .filter(StopWordFilter::new(Language::French).expect("tantivy ships French stop words"))
        .filter(StopWordFilter::remove(
            EXTRA_STOP_WORDS.iter().map(|w| w.to_string()),
        ))
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::French))
        .build()
}

/// The analyzed terms of `text`, in order, with repetitions.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The distinct analyzed terms of `text`, in order of first occurrence.
pub fn distinct_terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in terms(analyzer, text) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_stems_and_stop_words() {
        let mut a = french();
        assert_eq!(terms(&mut a, "hépatique"), terms(&mut a, "HEPATIQUES"));
        assert_eq!(
            terms(&mut a, "L'insuffisance rénale"),
            terms(&mut a, "insuffisances renales")
        );
        assert!(terms(&mut a, "le la les de du et").is_empty());
    }
}
