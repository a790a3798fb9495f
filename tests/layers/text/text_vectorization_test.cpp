// TextVectorization: standardization, splitting, vocabulary order, OOV,
// padding/truncation, serialization.
#include <filesystem>

#include <unistd.h>

#include "test_util.h"

namespace loom {
namespace {

using Ids = std::vector<int32_t>;

TextVectorization make(TextVectorizationOptions o = {}) { return TextVectorization(std::move(o)); }

TEST(TextVectorization, DefaultStandardizationLowercasesAndDeletesPunctuation) {
  auto v = make();
  EXPECT_EQ(v.standardize("Hello, World! It's GREAT..."), "hello world its great");
  EXPECT_EQ(v.standardize("a-b_c (d) [e] {f} \"g\" 'h' #1 $2 %3 &4 *5 +6 /7 :8 ;9 <0 =1 >2 ?3 @4 \\5 ^6 `7 |8 ~9"),
            "abc d e f g h 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9");
  // Punctuation-only tokens vanish rather than becoming empty tokens.
  EXPECT_EQ(v.tokenize("good , bad ."), (std::vector<std::string>{"good", "bad"}));
}

TEST(TextVectorization, HtmlLineBreaksBecomeSpaces) {
  auto v = make();
  EXPECT_EQ(v.tokenize("Great film.<br /><br />The end"),
            (std::vector<std::string>{"great", "film", "the", "end"}));
  EXPECT_EQ(v.tokenize("one<br/>two<BR>three<Br  />four"),
            (std::vector<std::string>{"one", "two", "three", "four"}));
  // Not a break: stays text (and loses its punctuation).
  EXPECT_EQ(v.tokenize("<b>bold</b> <brx>"), (std::vector<std::string>{"bboldb", "brx"}));
  // With the option off the break is ordinary punctuation and letters.
  auto raw = make({.strip_html_breaks = false});
  EXPECT_EQ(raw.tokenize("a<br />b"), (std::vector<std::string>{"abr", "b"}));
}

TEST(TextVectorization, Utf8IsLeftIntact) {
  auto v = make();
  // Only ASCII changes: É stays upper case (as with Keras), é and the emoji
  // keep all their bytes, and nothing is split inside a character.
  EXPECT_EQ(v.standardize("Café CRÈME! 😀 naïve—ok"), "café crÈme 😀 naïve—ok");
  EXPECT_EQ(v.tokenize("Café, 😀!"), (std::vector<std::string>{"café", "😀"}));
  // Non-breaking space (C2 A0) is not ASCII whitespace: part of the token.
  EXPECT_EQ(v.tokenize("a\xC2\xA0" "b c"), (std::vector<std::string>{"a\xC2\xA0" "b", "c"}));
  // Invalid bytes pass through untouched as well.
  EXPECT_EQ(v.tokenize("ab\xFF" "c!"), (std::vector<std::string>{"ab\xFF" "c"}));
}

TEST(TextVectorization, StandardizeModes) {
  EXPECT_EQ(make({.standardize = "lower"}).standardize("Don't STOP."), "don't stop.");
  EXPECT_EQ(make({.standardize = "strip_punctuation"}).standardize("Don't STOP."), "Dont STOP");
  EXPECT_EQ(make({.standardize = "none"}).standardize("Don't STOP."), "Don't STOP.");
  EXPECT_EQ(make({.standardize = "none", .strip_html_breaks = false}).standardize("x<br />y"),
            "x<br />y");
  EXPECT_LOOM_ERROR(make({.standardize = "upper"}), "standardize");
  EXPECT_LOOM_ERROR(make({.split = "comma"}), "split");
  EXPECT_LOOM_ERROR(make({.padding = "left"}), "padding");
  EXPECT_LOOM_ERROR(make({.truncating = "middle"}), "truncating");
  EXPECT_LOOM_ERROR(make({.max_tokens = 2}), "max_tokens");
  EXPECT_LOOM_ERROR(make({.output_sequence_length = -1}), "output_sequence_length");
}

TEST(TextVectorization, WhitespaceSplitHandlesAllAsciiSpace) {
  auto v = make();
  EXPECT_EQ(v.tokenize("  a\tb\n\nc\r\nd\fe\vf  "),
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_TRUE(v.tokenize("").empty());
  EXPECT_TRUE(v.tokenize(" ... !!! ").empty());
}

TEST(TextVectorization, CharacterSplitKeepsMultiByteCharactersWhole) {
  auto v = make({.standardize = "lower", .split = "character"});
  EXPECT_EQ(v.tokenize("Aé 😀"), (std::vector<std::string>{"a", "é", " ", "😀"}));
  // A stray byte is a token of its own; the valid character after it survives.
  EXPECT_EQ(v.tokenize("\xE9" "é"), (std::vector<std::string>{"\xE9", "é"}));
  v.adapt({"abcé", "éé"});
  EXPECT_EQ(v.vocabulary(), (std::vector<std::string>{"", "[UNK]", "é", "a", "b", "c"}));
  EXPECT_EQ(v.decode(v.encode("cé")), "cé");
}

TEST(TextVectorization, VocabularyByFrequencyTiesLexicographic) {
  auto v = make();
  v.adapt({"the cat sat on the mat", "The dog sat. the end", "zebra apple"});
  // the:4, sat:2, then the count-1 tokens in byte order.
  EXPECT_EQ(v.vocabulary(), (std::vector<std::string>{"", "[UNK]", "the", "sat", "apple", "cat",
                                                      "dog", "end", "mat", "on", "zebra"}));
  EXPECT_EQ(v.vocabulary_size(), 11);
  // The order of the corpus does not change the vocabulary.
  auto w = make();
  w.adapt({"zebra apple", "The dog sat. the end", "the cat sat on the mat"});
  EXPECT_EQ(w.vocabulary(), v.vocabulary());
  // Byte order puts ASCII before multi-byte characters and digits before letters.
  auto u = make();
  u.adapt({"é a 9 Z"});
  EXPECT_EQ(u.vocabulary(), (std::vector<std::string>{"", "[UNK]", "9", "a", "z", "é"}));
}

TEST(TextVectorization, MaxTokensCountsReservedTokens) {
  auto v = make({.max_tokens = 4});
  v.adapt({"b b b a a c c d"});
  // a and c tie at 2; a wins the tie; c and d fall out of a 4-token vocabulary.
  EXPECT_EQ(v.vocabulary(), (std::vector<std::string>{"", "[UNK]", "b", "a"}));
  EXPECT_EQ(v.encode("a b c d e"), (Ids{3, 2, 1, 1, 1}));
  // A limit above the corpus size keeps everything.
  auto big = make({.max_tokens = 100});
  big.adapt({"x y"});
  EXPECT_EQ(big.vocabulary_size(), 4);
}

TEST(TextVectorization, OutOfVocabularyAndLookup) {
  auto v = make();
  v.adapt({"good movie", "bad movie"});
  EXPECT_EQ(v.token_to_id("movie"), 2);
  EXPECT_EQ(v.token_to_id("unknown"), TextVectorization::kOovId);
  EXPECT_EQ(v.token_to_id(""), TextVectorization::kOovId);
  EXPECT_EQ(v.encode("Good, UNSEEN movie!"), (Ids{v.token_to_id("good"), 1, 2}));
  EXPECT_EQ(v.id_to_token(2), "movie");
  EXPECT_EQ(v.id_to_token(1), "[UNK]");
  EXPECT_LOOM_ERROR(v.id_to_token(99), "outside the vocabulary");
  // A literal "[UNK]" in the text (kept by standardize "none") is OOV, not counted.
  auto n = make({.standardize = "none"});
  n.adapt({"[UNK] [UNK] x"});
  EXPECT_EQ(n.vocabulary(), (std::vector<std::string>{"", "[UNK]", "x"}));
  EXPECT_EQ(n.encode("[UNK] x"), (Ids{1, 2}));
}

TEST(TextVectorization, StreamedAdaptMatchesAdapt) {
  std::vector<std::string> corpus = {"a b c", "c c d", "e a"};
  auto v = make();
  v.adapt(corpus);
  auto s = make();
  s.reset_state();
  for (const auto& t : corpus) s.update_state(t);
  s.finalize_state();
  EXPECT_EQ(s.vocabulary(), v.vocabulary());
  // A second adapt replaces the first vocabulary.
  v.adapt({"zzz"});
  EXPECT_EQ(v.vocabulary(), (std::vector<std::string>{"", "[UNK]", "zzz"}));
}

TEST(TextVectorization, PaddingAndTruncatingPreAndPost) {
  const std::vector<std::string> vocab = {"a", "b", "c", "d", "e"};  // ids 2..6
  auto with = [&](const char* pad, const char* trunc) {
    TextVectorization v({.output_sequence_length = 3, .padding = pad, .truncating = trunc});
    v.set_vocabulary(vocab);
    return v;
  };
  // Defaults are Keras pad_sequences': "pre" for both.
  TextVectorization d({.output_sequence_length = 3});
  EXPECT_EQ(d.options().padding, "pre");
  EXPECT_EQ(d.options().truncating, "pre");
  EXPECT_EQ(with("pre", "pre").encode("a"), (Ids{0, 0, 2}));
  EXPECT_EQ(with("post", "pre").encode("a"), (Ids{2, 0, 0}));
  EXPECT_EQ(with("pre", "pre").encode("a b c d e"), (Ids{4, 5, 6}));
  EXPECT_EQ(with("pre", "post").encode("a b c d e"), (Ids{2, 3, 4}));
  EXPECT_EQ(with("post", "post").encode("a b c"), (Ids{2, 3, 4}));
  EXPECT_EQ(with("post", "post").encode(""), (Ids{0, 0, 0}));
  // Without output_sequence_length encode() neither pads nor cuts.
  TextVectorization free;
  free.set_vocabulary(vocab);
  EXPECT_EQ(free.encode("e d c b a a"), (Ids{6, 5, 4, 3, 2, 2}));
}

TEST(TextVectorization, EncodeBatchMakesAnI32Matrix) {
  TextVectorization v({.output_sequence_length = 4, .padding = "post", .truncating = "post"});
  v.set_vocabulary({"a", "b", "c"});
  Tensor x = v.encode_batch({"a b", "c c c c c", "zzz", ""});
  EXPECT_EQ(x.dtype(), DType::i32);
  test::expect_shape(x, {4, 4});
  EXPECT_EQ(x.to_vector<int32_t>(), (Ids{2, 3, 0, 0, 4, 4, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0}));
  // No fixed length: pad to the longest text, with the padding side honoured.
  TextVectorization p;
  p.set_vocabulary({"a", "b", "c"});
  Tensor y = p.encode_batch({"a b c", "b"});
  test::expect_shape(y, {2, 3});
  EXPECT_EQ(y.to_vector<int32_t>(), (Ids{2, 3, 4, 0, 0, 3}));
  // All-empty batch still has one column.
  test::expect_shape(p.encode_batch({"", "!"}), {2, 1});
  test::expect_shape(p.encode_batch({}), {0, 1});
}

TEST(TextVectorization, EncodeBatchAgreesWithEncodeOnManyTexts) {
  // Exercises the parallel path against the sequential one.
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i)
    texts.push_back(fmt::format("w{} w{} common w{} <br /> w{}", i % 7, i % 13, i % 29, i));
  TextVectorization v({.max_tokens = 40, .output_sequence_length = 6});
  v.adapt(texts);
  Tensor x = v.encode_batch(texts);
  auto flat = x.to_vector<int32_t>();
  for (size_t i = 0; i < texts.size(); ++i) {
    Ids row(flat.begin() + static_cast<long>(i * 6), flat.begin() + static_cast<long>((i + 1) * 6));
    ASSERT_EQ(row, v.encode(texts[i])) << "row " << i;
  }
}

TEST(TextVectorization, SetVocabularyAcceptsBothFormsAndRejectsBadOnes) {
  TextVectorization v;
  v.set_vocabulary({"x", "y"});
  EXPECT_EQ(v.vocabulary(), (std::vector<std::string>{"", "[UNK]", "x", "y"}));
  v.set_vocabulary({"", "[UNK]", "x", "y"});
  EXPECT_EQ(v.vocabulary(), (std::vector<std::string>{"", "[UNK]", "x", "y"}));
  EXPECT_LOOM_ERROR(v.set_vocabulary({"x", "x"}), "appears twice");
  EXPECT_LOOM_ERROR(v.set_vocabulary({"x", ""}), "entry 1 is empty");
  EXPECT_LOOM_ERROR(v.set_vocabulary({"x", "[UNK]"}), "OOV token");
  EXPECT_LOOM_ERROR(v.set_vocabulary({"two words"}), "whitespace");
  TextVectorization small({.max_tokens = 3});
  EXPECT_LOOM_ERROR(small.set_vocabulary({"a", "b"}), "exceed max_tokens 3");
  // Set vocabulary works exactly like an adapted one.
  EXPECT_EQ(v.encode("y x q"), (Ids{3, 2, 1}));
}

TEST(TextVectorization, SerializationRoundTrip) {
  TextVectorization v({.max_tokens = 50,
                       .standardize = "lower",
                       .output_sequence_length = 7,
                       .padding = "post",
                       .truncating = "pre",
                       .strip_html_breaks = false});
  v.adapt({"Café back\\slash tab\\t 😀 \"quoted\" café café", "a b c"});
  std::string blob = v.to_string();
  EXPECT_EQ(blob.rfind("loom.TextVectorization 1\n", 0), 0u);
  TextVectorization w = TextVectorization::from_string(blob);
  EXPECT_EQ(w.vocabulary(), v.vocabulary());
  EXPECT_EQ(w.options().max_tokens, 50);
  EXPECT_EQ(w.options().standardize, "lower");
  EXPECT_EQ(w.options().output_sequence_length, 7);
  EXPECT_EQ(w.options().padding, "post");
  EXPECT_EQ(w.options().truncating, "pre");
  EXPECT_FALSE(w.options().strip_html_breaks);
  EXPECT_EQ(w.to_string(), blob);
  const std::string probe = "café back\\slash unseen 😀 a b c d e f g";
  EXPECT_EQ(w.encode(probe), v.encode(probe));

  // Tokens with line breaks and tabs (character split) survive the escaping.
  TextVectorization c({.standardize = "none", .split = "character"});
  c.adapt({"a\tb\nc\\d\r"});
  TextVectorization c2 = TextVectorization::from_string(c.to_string());
  EXPECT_EQ(c2.vocabulary(), c.vocabulary());
  EXPECT_EQ(c2.encode("\t\n\r\\"), c.encode("\t\n\r\\"));

  // Through a file.
  auto path = std::filesystem::temp_directory_path() /
              ("loom_text_vec_roundtrip_" + std::to_string(::getpid()) + ".txt");
  v.save(path.string());
  EXPECT_EQ(TextVectorization::load(path.string()).vocabulary(), v.vocabulary());
  std::filesystem::remove(path);
}

TEST(TextVectorization, MalformedBlobsNameTheLine) {
  TextVectorization v;
  v.adapt({"a b"});
  std::string good = v.to_string();
  EXPECT_LOOM_ERROR(TextVectorization::from_string("not a blob\n"), "line 1");
  std::string bad_int = good;
  bad_int.replace(bad_int.find("max_tokens 0"), 12, "max_tokens x");
  EXPECT_LOOM_ERROR(TextVectorization::from_string(bad_int), "line 2: max_tokens is not an integer");
  std::string bad_key = good;
  bad_key.replace(bad_key.find("split"), 5, "spilt");
  EXPECT_LOOM_ERROR(TextVectorization::from_string(bad_key), "line 4: expected \"split ...\"");
  std::string truncated = good.substr(0, good.size() - 3);  // drops the last token line
  EXPECT_LOOM_ERROR(TextVectorization::from_string(truncated), "expected a token");
  std::string bad_escape = good + "";
  bad_escape.replace(bad_escape.rfind("b\n"), 2, "\\q\n");
  EXPECT_LOOM_ERROR(TextVectorization::from_string(bad_escape), "line 13: unknown escape");
  EXPECT_LOOM_ERROR(TextVectorization::load("/nonexistent/loom/vocab.txt"), "cannot open");
}

TEST(TextVectorization, AdaptsAndEncodesALargeCorpus) {
  // 2,500 reviews of 230 words with 30,000 distinct words: the vocabulary is
  // cut to max_tokens by frequency and every row is padded or truncated to
  // 200 ids. (The speed on IMDB's full size is measured by loom_text_bench.)
  std::vector<std::string> corpus;
  corpus.reserve(2500);
  uint64_t x = 12345;
  for (int i = 0; i < 2500; ++i) {
    std::string text;
    for (int w = 0; w < 230; ++w) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      text += "Word" + std::to_string((x >> 33) % 30000) + (w % 10 == 9 ? ",<br /> " : " ");
    }
    corpus.push_back(std::move(text));
  }
  TextVectorization v({.max_tokens = 20000, .output_sequence_length = 200});
  v.adapt(corpus);
  Tensor ids = v.encode_batch(corpus);
  EXPECT_EQ(v.vocabulary_size(), 20000);
  test::expect_shape(ids, {2500, 200});
  // Standardized: lower case, punctuation and <br /> gone.
  EXPECT_EQ(v.vocabulary()[2].rfind("word", 0), 0u) << v.vocabulary()[2];
  const std::vector<int32_t> row = slice(ids, 0, 0, 1).to_vector<int32_t>();
  EXPECT_EQ(row.size(), 200u);
  for (int32_t id : row) {
    EXPECT_GE(id, 1);  // no padding: every review is longer than 200 words
    EXPECT_LT(id, 20000);
  }
}

}  // namespace
}  // namespace loom
