// A program outside Loom's tree: find_package(Loom) and Loom::loom only.
#include <cstdio>
#include <loom/loom.h>

int main() {
  loom::Generator gen(1);
  loom::Tensor x = loom::Tensor::uniform({64, 6, 3}, -1, 1, gen);  // (batch, time, features)
  loom::Tensor y = loom::Tensor::uniform({64, 1}, 0, 1, gen);
  loom::Sequential model({loom::LSTM::make({.units = 8}), loom::Dense::make({.units = 1})});
  model.compile({.optimizer = "adam", .loss = "mse"});
  auto h = model.fit(x, y, {.batch_size = 16, .epochs = 5, .verbose = 0});
  std::printf("loom %s  loss %.4f -> %.4f\n", loom::version(), h.history["loss"].front(),
              h.history["loss"].back());
  return h.history["loss"].back() < h.history["loss"].front() ? 0 : 1;
}
