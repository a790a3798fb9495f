// XOR with a 2-8-1 network trained by plain gradient descent written out
// here: proves tensors, ops, the tape and backward end to end.
//
//   ./build/xor        prints the loss every 500 steps and the final predictions
#include <cstdio>

#include <loom/loom.h>

using namespace loom;

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "xor")) return 0;
  Generator gen(7);
  // x (4, 2), y (4, 1)
  Tensor x = Tensor::of2d({{0, 0}, {0, 1}, {1, 0}, {1, 1}});
  Tensor y = Tensor::of2d({{0}, {1}, {1}, {0}});
  // Parameters: W1 (2, 8), b1 (8), W2 (8, 1), b2 (1)
  Tensor W1 = Tensor::uniform({2, 8}, -1, 1, gen).set_requires_grad();
  Tensor b1 = Tensor::zeros({8}).set_requires_grad();
  Tensor W2 = Tensor::uniform({8, 1}, -1, 1, gen).set_requires_grad();
  Tensor b2 = Tensor::zeros({1}).set_requires_grad();
  std::vector<Tensor*> params{&W1, &b1, &W2, &b2};

  const double lr = 0.5;
  float loss_value = 0;
  for (int step = 0; step <= 3000; ++step) {
    Tensor h = tanh(add(matmul(x, W1), b1));       // (4, 8)
    Tensor logits = add(matmul(h, W2), b2);        // (4, 1)
    Tensor loss = mean(square(sub(sigmoid(logits), y)));
    for (Tensor* p : params) p->zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // the update itself is not recorded
      for (Tensor* p : params) {
        Tensor updated = sub(*p, mul(p->grad(), lr));
        backend_for(p->device()).copy(updated.view(), p->view());
      }
    }
    loss_value = static_cast<float>(loss.item());
    if (step % 500 == 0) std::printf("step %4d  loss %.5f\n", step, loss_value);
  }

  NoGradGuard no_grad;
  Tensor p = sigmoid(add(matmul(tanh(add(matmul(x, W1), b1)), W2), b2));
  int correct = 0;
  for (int i = 0; i < 4; ++i) {
    double prob = p.at({i, 0});
    correct += (prob > 0.5) == (y.at({i, 0}) > 0.5);
    std::printf("xor(%g, %g) = %.3f\n", x.at({i, 0}), x.at({i, 1}), prob);
  }
  std::printf("accuracy=%d/4 final_loss=%.5f\n", correct, loss_value);
  // Target: all four right and a small loss.
  return (correct == 4 && loss_value < 0.02) ? 0 : 1;
}
