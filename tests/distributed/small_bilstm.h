// The small problem the distributed test programs train
// (data_parallel_test.cpp, fault_job.cpp): token ids with padding and a
// BiLSTM with masking and every kind of dropout.
//
// Dimension letters: N samples, T timesteps.
#pragma once

#include <random>
#include <utility>

#include <loom/loom.h>

namespace loom::test {

// Token ids (N,T) in [1, 9], right-padded with 0 (sample n by n % pad_cycle
// steps), and labels (N,1): is token 1 more frequent than token 2.
inline std::pair<Tensor, Tensor> token_data(int64_t N, int64_t T, uint64_t seed,
                                            int64_t pad_cycle = 4) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(N * T), 0);
  std::vector<float> y(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    int balance = 0;
    for (int64_t t = 0; t < T - n % pad_cycle; ++t) {
      const int32_t id = 1 + static_cast<int32_t>(rng() % 9);
      ids[static_cast<size_t>(n * T + t)] = id;
      balance += id == 1 ? 1 : id == 2 ? -1 : 0;
    }
    y[static_cast<size_t>(n)] = balance > 0 ? 1.0f : 0.0f;
  }
  return {Tensor::from_vector(ids, {N, T}), Tensor::from_vector(y, {N, 1})};
}

struct SmallBilstm {
  int64_t units = 5;
  bool sparse_embedding = false;
  double input_dropout = 0.2;  // a Dropout layer after the embedding (0: none)
};

// Embedding(10, 6, mask_zero) -> [Dropout] -> Bidirectional(LSTM with
// dropout and recurrent dropout 0.25) -> Dense(1, sigmoid), Adam, binary
// cross-entropy, accuracy; the same weights on every call (seeded).
inline std::shared_ptr<Model> small_bilstm(int64_t T, const SmallBilstm& o = {}) {
  auto ids = Input({T}, DType::i32, "tokens");
  SymbolicTensor e = Embedding::make({.input_dim = 10, .output_dim = 6, .mask_zero = true,
                                      .sparse = o.sparse_embedding, .seed = 1},
                                     "embed")(ids);
  if (o.input_dropout > 0) e = Dropout::make(o.input_dropout, "drop")(e);
  SymbolicTensor h = Bidirectional::make(LSTM::make(
      {.units = o.units, .dropout = 0.25, .recurrent_dropout = 0.25, .seed = 2}, "lstm"))(e);
  SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 3}, "out")(h);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                       std::vector<SymbolicTensor>{out}, "bilstm");
  model->compile({.optimizer = "adam", .loss = "binary_crossentropy", .metrics = {"accuracy", "auc"}});
  return model;
}

}  // namespace loom::test
