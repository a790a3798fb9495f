// Fuzzes model files (.loom checkpoints, docs/CHECKPOINT_FORMAT.md):
// read_checkpoint, read_checkpoint_extras, load_model and
// SentimentClassifier::load, which also reads the vectorizer blob and the
// architecture JSON, then classifies a text with whatever loaded.
//
// Every byte of a checkpoint is under a CRC-32, so nearly every mutation
// stops at a checksum. Each input therefore runs twice: as given, and with
// its checksums recomputed (checksums_fixed), which lets mutations reach
// the sections, the JSON header, the weights and the blobs.
//
//   fuzz_checkpoint --write-seeds DIR   writes small real model files to DIR
#include <cstring>
#include <string>
#include <vector>

#include "examples/sentiment/sentiment_classifier.h"
#include "fuzz_util.h"
#include "loom/layers/text/synthetic.h"

namespace {

uint64_t read_u64(const std::string& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
void write_u32(std::string& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

// `bytes` with the header, section and trailer checksums recomputed where
// the layout can be followed; the rest is left as it is.
std::string checksums_fixed(std::string b) {
  constexpr size_t kHeader = 32, kSectionHeader = 16, kTrailer = 8;
  if (b.size() < kHeader + kTrailer) return b;
  write_u32(b, 28, loom::crc32(b.data(), 28));
  uint32_t count;
  std::memcpy(&count, b.data() + 24, 4);
  size_t pos = kHeader;
  const size_t body_end = b.size() - kTrailer;
  for (uint32_t i = 0; i < count && pos + kSectionHeader + 4 <= body_end; ++i) {
    const uint64_t len = read_u64(b, pos + 8);
    if (len > body_end - pos - kSectionHeader - 4) break;
    write_u32(b, pos + kSectionHeader + len, loom::crc32(b.data() + pos, kSectionHeader + len));
    pos += kSectionHeader + len + 4;
  }
  write_u32(b, b.size() - 4, loom::crc32(b.data(), b.size() - 4));
  return b;
}

void load_everything(const std::string& path) {
  loom_fuzz::expect_loom_errors_only([&] {
    loom::CheckpointExtras extras = loom::read_checkpoint_extras(path);
    for (const auto& blob : extras.blobs)
      loom_fuzz::expect_loom_errors_only([&] { extras.string_list(blob.first); });
  });
  loom_fuzz::expect_loom_errors_only([&] {
    loom::Json metadata;
    auto clf = loom::text::SentimentClassifier::load(path, &metadata);
    // The vectorizer's sequence length is a setting honoured as given (a
    // model of unknown input length accepts any): predict at usable ones.
    if (clf.vectorizer().options().output_sequence_length <= 4096)
      clf.predict_proba({"a fine film", ""}, 2);
  });
  loom_fuzz::expect_loom_errors_only([&] { loom::load_model(path, nullptr); });
}

// Tiny trained models of every kind (vocabulary 20, units 2, one epoch on
// 16 synthetic reviews), each with another optimizer, plus a weights-only file.
void write_seeds(const std::string& dir) {
  const auto train = loom::text::synthetic_reviews({.num_examples = 16, .seed = 3});
  const char* optimizers[] = {"adam", "rmsprop", "sgd", "adagrad", "adamw", "adam"};
  const auto& kinds = loom::text::sentiment_model_kinds();
  for (size_t k = 0; k < kinds.size(); ++k) {
    loom::text::SentimentTrainOptions o;
    o.model = {.kind = kinds[k], .embed_dim = 2, .units = 2, .mask_zero = k % 2 == 0};
    o.vocab_size = 20;
    o.maxlen = 6;
    o.epochs = 1;
    o.batch_size = 8;
    o.optimizer = optimizers[k % 6];
    o.validation_split = 0;
    o.verbose = 0;
    auto run = loom::text::train_sentiment_classifier(train, {}, {}, o);
    run.classifier.save(dir + "/" + kinds[k] + ".loom", loom::Json::object({{"seed", "fuzz"}}));
    if (k == 0) run.classifier.model().save_weights(dir + "/weights_only.loom");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  loom_fuzz::init_runtime();
  for (int i = 1; i + 1 < *argc; ++i) {
    if (std::strcmp((*argv)[i], "--write-seeds") == 0) {
      write_seeds((*argv)[i + 1]);
      std::exit(0);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  load_everything(loom_fuzz::write_scratch_file("model.loom", bytes));
  const std::string fixed = checksums_fixed(bytes);
  if (fixed != bytes) load_everything(loom_fuzz::write_scratch_file("model.loom", fixed));
  return 0;
}
