// The recurrent layers inside models: functional graphs with masks from
// Embedding(mask_zero), Model::fit, saving and loading (the layer factory
// rebuilds LSTM, GRU and Bidirectional), and stateful layers in a graph.
//
// Dimension letters: B batch, T timesteps, E embedding width, H units.
#include <filesystem>

#include "layers/rnn/rnn_test_util.h"

namespace loom::test {
namespace {

// Sequences whose class is their first real token (1 or 2), left-padded
// with 0 and followed by distractors 3..9: ids (N,T) i32, labels (N,1) f32.
std::pair<Tensor, Tensor> first_token_data(int64_t N, int64_t T, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(N * T, 0);
  std::vector<float> y(N);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t start = static_cast<int64_t>(rng() % 4);
    const int label = static_cast<int>(rng() % 2);
    y[n] = static_cast<float>(label);
    ids[n * T + start] = 1 + label;
    for (int64_t t = start + 1; t < T; ++t) ids[n * T + t] = 3 + static_cast<int32_t>(rng() % 7);
  }
  return {Tensor::from_vector(ids, {N, T}), Tensor::from_vector(y, {N, 1})};
}

TEST(RnnModels, FunctionalModelFitsSavesAndLoads) {
  const int64_t T = 12;
  auto ids = Input({T}, DType::i32, "tokens");
  SymbolicTensor e = Embedding::make({.input_dim = 10, .output_dim = 8, .mask_zero = true,
                                      .seed = 1})(ids);
  EXPECT_TRUE(e.has_mask);
  SymbolicTensor seq = Bidirectional::make(LSTM::make({.units = 8, .return_sequences = true,
                                                       .seed = 2}),
                                           {.merge_mode = "concat"})(e);
  EXPECT_TRUE(seq.has_mask);  // return_sequences passes the mask on
  EXPECT_EQ(seq.shape, (Shape{-1, T, 16}));
  SymbolicTensor last = GRU::make({.units = 8, .seed = 3})(seq);
  EXPECT_FALSE(last.has_mask);
  SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 4})(last);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                       std::vector<SymbolicTensor>{out}, "first_token");
  EXPECT_NE(model->summary().find("Bidirectional"), std::string::npos);

  CompileOptions c;
  c.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01});
  c.loss = "binary_crossentropy";
  c.metrics = {"accuracy"};
  model->compile(c);
  auto [x, y] = first_token_data(512, T, 1);
  History h = model->fit(x, y, {.batch_size = 32, .epochs = 6, .seed = 2, .verbose = 0});
  EXPECT_LT(h.history.at("loss").back(), h.history.at("loss").front());
  auto [xt, yt] = first_token_data(256, T, 2);
  EXPECT_GE(model->evaluate(xt, yt).at("accuracy"), 0.97);

  const std::string path =
      (std::filesystem::temp_directory_path() / "loom_rnn_model_test.loom").string();
  model->save(path);
  std::shared_ptr<Model> loaded = load_model(path);
  std::filesystem::remove(path);
  const Tensor a = model->predict(xt), b = loaded->predict(xt);
  EXPECT_EQ(rel_error(a, b), 0.0);
  EXPECT_EQ(loaded->count_params(), model->count_params());
}

TEST(RnnModels, StatefulLayerInAGraphKeepsItsStateThroughTheSymbolicCall) {
  const int64_t B = 4, T = 5, F = 3;
  auto x = Input({T, F});
  auto lstm = LSTM::make({.units = 2, .stateful = true, .seed = 1});
  SymbolicTensor y = lstm(x);  // the sample run (batch 1) must not fix the batch size
  EXPECT_TRUE(lstm->states().empty());
  Model m({x}, {y});
  const Tensor batch = rand64({B, T, F}, 1, -1, 1, false).to(DType::f32);
  const Tensor first = m(batch), second = m(batch);
  EXPECT_GT(rel_error(first, second), 1e-6);  // the state carried over
  EXPECT_EQ(lstm->states().size(), 2u);
  m.reset_states();
  EXPECT_EQ(rel_error(m(batch), first), 0.0);
  EXPECT_LOOM_ERROR(m(rand64({B + 1, T, F}, 2, -1, 1, false).to(DType::f32)), "stateful");
}

}  // namespace
}  // namespace loom::test
