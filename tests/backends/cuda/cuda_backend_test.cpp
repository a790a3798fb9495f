// The CUDA backend against the reference backend (built with
// LOOM_WITH_CUDA=ON). Every test needs a visible GPU and skips without one,
// except the one that checks what a GPU-less machine reports.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
#include <random>

#include "backends/consistency/rnn_consistency_util.h"
#include "loom/backends/cuda/cuda_backend.h"

namespace loom::test {
namespace {

#define LOOM_REQUIRE_CUDA()                                                   \
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device is visible"; \
  Backend& cuda = backend_for(Device::cuda(0));                               \
  (void)cuda

const Device kGpu = Device::cuda(0);

Tensor host_rand(const Shape& s, uint64_t seed, DType dt = DType::f32, double lo = -2,
                 double hi = 2) {
  Generator g(seed);
  return Tensor::uniform(s, lo, hi, g, dt);
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  EXPECT_LE(scaled_error(got.cpu().to(DType::f64), want.to(DType::f64)), tol) << what;
}

TEST(CudaDevice, WithoutADeviceTheErrorNamesIt) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
  try {
    Tensor::zeros({2}, DType::f32, kGpu);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

// ---- tensors on the device -------------------------------------------------------------------

TEST(CudaDevice, TensorsMoveBothWaysAndPrint) {
  LOOM_REQUIRE_CUDA();
  const Tensor h = host_rand({3, 4}, 1);
  const Tensor d = h.to(kGpu);
  EXPECT_EQ(d.device(), kGpu);
  EXPECT_EQ(d.to_vector<float>(), h.to_vector<float>());
  EXPECT_EQ(d.cpu().to_vector<float>(), h.to_vector<float>());
  EXPECT_EQ(d.at({1, 2}), h.at({1, 2}));
  EXPECT_NE(d.str().find("device=cuda:0"), std::string::npos) << d.str();
  // A strided view moves as its own elements.
  const Tensor tv = d.transpose(0, 1);
  EXPECT_EQ(tv.cpu().to_vector<float>(), h.transpose(0, 1).contiguous().to_vector<float>());
  EXPECT_THROW(d.data<float>(), Error);
  EXPECT_THROW(add(d, h), Error);  // device mismatch names both devices
}

TEST(CudaDevice, GradientsFlowBackAcrossDevices) {
  LOOM_REQUIRE_CUDA();
  Tensor x = host_rand({5}, 2, DType::f64).set_requires_grad(true);
  Tensor y = sum(mul(x.to(kGpu), 3.0));
  y.backward();
  EXPECT_EQ(x.grad().device(), Device::cpu());
  for (double g : x.grad().to_vector<double>()) EXPECT_EQ(g, 3.0);
}

TEST(CudaDevice, CachingAllocatorReusesBlocksAndReportsOutOfMemory) {
  LOOM_REQUIRE_CUDA();
  { Tensor warm = Tensor::empty({1 << 20}, DType::f32, kGpu); }
  const size_t before = cuda_memory_stats().device_allocations;
  for (int i = 0; i < 10; ++i) {
    Tensor t = Tensor::empty({1 << 20}, DType::f32, kGpu);
    Tensor u = Tensor::empty({100}, DType::f32, kGpu);
  }
  EXPECT_LE(cuda_memory_stats().device_allocations, before + 1);  // the small block, once
  try {
    Tensor::empty({int64_t{1} << 42}, DType::f32, kGpu);  // 16 TiB
    FAIL() << "expected out of memory";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("out of memory"), std::string::npos) << m;
    EXPECT_NE(m.find("MiB free"), std::string::npos) << m;
  }
  Tensor after = Tensor::ones({4}, DType::f32, kGpu);  // the device still works
  EXPECT_EQ(after.to_vector<float>(), std::vector<float>(4, 1.0f));
}

// ---- kernels against the reference -------------------------------------------------------------

TEST(CudaKernels, ElementwiseAndReductionsMatchTheReference) {
  LOOM_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
    const Tensor a = host_rand({4, 5, 3}, 3, dt), b = host_rand({5, 1}, 4, dt);
    const Tensor pos = host_rand({4, 5, 3}, 5, dt, 0.1, 3);
    const Tensor ad = a.to(kGpu), bd = b.to(kGpu), pd = pos.to(kGpu);
    expect_close(add(ad, bd), add(a, b), tol, "add broadcast");
    expect_close(sub(ad, bd), sub(a, b), tol, "sub");
    expect_close(mul(ad, bd), mul(a, b), tol, "mul");
    expect_close(div(ad, pd), div(a, pos), tol, "div");
    expect_close(maximum(ad, bd), maximum(a, b), tol, "maximum");
    expect_close(exp(ad), exp(a), tol, "exp");
    expect_close(log(pd), log(pos), tol, "log");
    expect_close(tanh(ad), tanh(a), tol, "tanh");
    expect_close(sigmoid(ad), sigmoid(a), tol, "sigmoid");
    expect_close(relu(ad), relu(a), tol, "relu");
    expect_close(sqrt(pd), sqrt(pos), tol, "sqrt");
    expect_close(sum(ad, {1}), sum(a, {1}), tol, "sum axis 1");
    expect_close(sum(ad), sum(a), tol * 10, "sum all");
    expect_close(mean(ad, {0, 2}, true), mean(a, {0, 2}, true), tol, "mean keepdims");
    expect_close(softmax(ad), softmax(a), tol, "softmax");
    expect_close(log_softmax(ad), log_softmax(a), tol, "log_softmax");
    expect_close(where(compare(ad, 0.0, Compare::gt), ad, bd), where(compare(a, 0.0, Compare::gt), a, b),
                 0, "where");
    expect_close(ad.transpose(0, 2).contiguous(), a.transpose(0, 2).contiguous(), 0, "strided copy");
    expect_close(ad.to(DType::i32).to(dt), a.to(DType::i32).to(dt), 0, "cast to i32 and back");
    // A big sum (a block reduction, not one thread).
    const Tensor big = host_rand({1 << 20}, 6, dt, 0, 1);
    expect_close(sum(big.to(kGpu)), sum(big), dt == DType::f32 ? 1e-4 : 1e-12, "sum of 2^20");
  }
}

TEST(CudaKernels, GradientsOfOpsMatchTheReference) {
  LOOM_REQUIRE_CUDA();
  const Tensor a = host_rand({6, 7}, 7, DType::f64);
  auto grads_of = [&](const Tensor& base) {
    Tensor x = base.detach().clone().set_requires_grad(true);
    Tensor y = sum(mul(softmax(tanh(x)), sigmoid(x)));
    y.backward();
    return x.grad().cpu();
  };
  expect_close(grads_of(a.to(kGpu)), grads_of(a), 1e-12, "tanh/softmax/sigmoid chain");
}

TEST(CudaKernels, GemmMatchesTheReference) {
  LOOM_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(fmt::format("{} ta={} tb={}", dtype_name(dt), ta, tb));
        const int64_t M = 37, N = 19, K = 45;
        Tensor A = host_rand(ta ? Shape{K, M} : Shape{M, K}, 8, dt);
        Tensor B = host_rand(tb ? Shape{N, K} : Shape{K, N}, 9, dt);
        Tensor a = ta ? A.transpose(0, 1) : A, b = tb ? B.transpose(0, 1) : B;
        Tensor want = matmul(a, b);
        Tensor Ad = A.to(kGpu), Bd = B.to(kGpu);
        Tensor got = matmul(ta ? Ad.transpose(0, 1) : Ad, tb ? Bd.transpose(0, 1) : Bd);
        expect_close(got, want, dt == DType::f32 ? 1e-5 : 1e-13, "matmul");
      }
}

TEST(CudaKernels, EmbeddingGatherAndScatterAdd) {
  LOOM_REQUIRE_CUDA();
  const Tensor table = host_rand({11, 6}, 10, DType::f64);
  const Tensor ids = Tensor::from_vector(std::vector<int32_t>{3, 0, 3, 10, 7, 3}, {2, 3});
  auto run = [&](Device dev) {
    Tensor t = table.to(dev).detach().clone().set_requires_grad(true);
    Tensor out = gather_rows(t, ids.to(dev));
    sum(mul(out, out)).backward();
    return std::pair{out.cpu(), t.grad().cpu()};
  };
  auto [o1, g1] = run(kGpu);
  auto [o2, g2] = run(Device::cpu());
  expect_close(o1, o2, 0, "gather");
  expect_close(g1, g2, 1e-14, "scatter-add with repeated ids");
  const Tensor bad = Tensor::from_vector(std::vector<int32_t>{0, 11}, {2}).to(kGpu);
  EXPECT_THROW(gather_rows(table.to(kGpu), bad), Error);  // id 11 of 11 rows, checked on the host
}

TEST(CudaKernels, DropoutMasksAreTheCpuMasks) {
  LOOM_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor m_gpu = Tensor::empty({1000, 33}, dt, kGpu), m_cpu = Tensor::empty({1000, 33}, dt);
    cuda.bernoulli_mask(m_gpu.view(), 0.7, 1 / 0.7, 1234, 99);
    reference_backend().bernoulli_mask(m_cpu.view(), 0.7, 1 / 0.7, 1234, 99);
    EXPECT_EQ(m_gpu.to_vector<double>(), m_cpu.to_vector<double>()) << dtype_name(dt);
  }
}

// ---- recurrent layers ------------------------------------------------------------------------------

// cuDNN runs every cell, both directions, with and without sequences,
// initial states, bias and (variational) input dropout; f32 and f64.
TEST(CudaRnn, EveryCellAndDirectionThroughCudnn) {
  LOOM_REQUIRE_CUDA();
  uint64_t seed = 100;
  for (const CellVariant& v : kCells) {
    if (v.cell == RnnCellKind::gru && !v.reset_after) continue;  // explicit: see below
    for (bool backwards : {false, true})
      for (bool seq : {false, true})
        for (int extras = 0; extras < 4; ++extras) {
          Config c = base_config(v.cell, v.reset_after);
          c.B = 3;
          c.T = 5;
          c.F = 4;
          c.H = 3;
          c.desc.go_backwards = backwards;
          c.desc.return_sequences = seq;
          c.initial_state = extras & 1;
          c.input_dropout = extras & 2;
          c.use_bias = extras != 3;
          EXPECT_TRUE(check_config(cuda, c, seed, DType::f32)) << "expected cuDNN for " << c.str();
          EXPECT_TRUE(check_config(cuda, c, seed++, DType::f64, 1e-10, 1e-9));
        }
  }
}

// Right- and left-padded masks (rows of any length, one with none) go to
// cuDNN with sequence lengths; the masked outputs are restored.
TEST(CudaRnn, PaddingMasksThroughCudnn) {
  LOOM_REQUIRE_CUDA();
  uint64_t seed = 2000;
  for (const CellVariant& v : kCells) {
    if (v.cell == RnnCellKind::gru && !v.reset_after) continue;
    for (MaskType m : {MaskType::right, MaskType::left})
      for (bool backwards : {false, true})
        for (int extras = 0; extras < 8; ++extras) {
          Config c = base_config(v.cell, v.reset_after);
          c.B = 6;
          c.T = 7;
          c.F = 3;
          c.H = 4;
          c.mask = m;
          c.desc.go_backwards = backwards;
          c.desc.return_sequences = extras & 1;
          c.desc.zero_output_for_mask = extras & 2;
          c.initial_state = extras & 4;
          c.input_dropout = extras == 5;
          EXPECT_TRUE(check_config(cuda, c, seed, DType::f32));
          check_config(cuda, c, seed++, DType::f64, 1e-10, 1e-9);
        }
  }
}

// What cuDNN cannot run goes to the explicit BPTT on the GPU (cuBLAS GEMM
// and the fused step kernels) and agrees too: recurrent dropout, GRU
// reset_after=false, other activations, masks with holes.
TEST(CudaRnn, ExplicitBpttOnTheGpu) {
  LOOM_REQUIRE_CUDA();
  uint64_t seed = 400;
  for (const CellVariant& v : kCells) {
    SCOPED_TRACE(v.name);
    Config c = base_config(v.cell, v.reset_after);
    c.B = 4;
    c.T = 6;
    c.F = 3;
    c.H = 4;
    c.desc.return_sequences = true;
    for (MaskType m : {MaskType::holes, MaskType::empty_row})
      for (bool zero_out : {false, true}) {
        Config cm = c;
        cm.mask = m;
        cm.desc.zero_output_for_mask = zero_out;
        check_config(cuda, cm, seed, DType::f32);
        check_config(cuda, cm, seed++, DType::f64, 1e-10, 1e-9);
      }
    Config cr = c;
    cr.recurrent_dropout = true;
    cr.input_dropout = true;
    EXPECT_FALSE(check_config(cuda, cr, seed++)) << "recurrent dropout";
    if (v.cell != RnnCellKind::simple_rnn) {
      Config ch = c;
      ch.desc.recurrent_activation = RnnActivation::hard_sigmoid;
      EXPECT_FALSE(check_config(cuda, ch, seed++)) << "hard_sigmoid";
    }
  }
}

// A whole model trains on the GPU: the same steps as on the CPU give the
// same losses (Embedding with mask_zero -> Bidirectional LSTM -> Dense,
// binary cross-entropy, Adam: host-side update of GPU parameters).
TEST(CudaRnn, ModelTrainsLikeOnTheCpu) {
  LOOM_REQUIRE_CUDA();
  auto build = [] {
    auto ids = Input({9}, DType::i32, "tokens");
    SymbolicTensor e = Embedding::make({.input_dim = 12, .output_dim = 6, .mask_zero = true,
                                        .seed = 1})(ids);
    SymbolicTensor h = Bidirectional::make(LSTM::make({.units = 5, .dropout = 0.2, .seed = 2}))(e);
    SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 3})(h);
    auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                         std::vector<SymbolicTensor>{out});
    return model;
  };
  std::mt19937 rng(5);
  std::vector<int32_t> idv(64 * 9, 0);
  std::vector<float> yv(64);
  for (int n = 0; n < 64; ++n) {
    const int len = 1 + static_cast<int>(rng() % 9);
    for (int t = 0; t < len; ++t) idv[n * 9 + t] = 1 + static_cast<int32_t>(rng() % 11);
    yv[n] = static_cast<float>(idv[n * 9] % 2);
  }
  const Tensor x = Tensor::from_vector(idv, {64, 9}), y = Tensor::from_vector(yv, {64, 1});
  std::vector<double> losses[2];
  for (int k = 0; k < 2; ++k) {
    auto model = build();
    if (k == 1) model->to(kGpu);
    CompileOptions c;
    c.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01});
    c.loss = "binary_crossentropy";
    model->compile(c);
    History h = model->fit(x, y, {.batch_size = 16, .epochs = 3, .shuffle = false, .verbose = 0});
    losses[k] = h.history.at("loss");
    if (k == 1) {
      // A GPU model saves from host copies; the file loads on the host and predicts the same.
      const std::string path =
          (std::filesystem::temp_directory_path() / "loom_cuda_model_test.loom").string();
      model->save(path);
      std::shared_ptr<Model> loaded = load_model(path);
      std::filesystem::remove(path);
      const Tensor a = model->predict(x), b = loaded->predict(x);
      EXPECT_EQ(a.device(), Device::cpu());  // predict returns host tensors, as Keras returns NumPy
      expect_close(a, b, 1e-5, "GPU model vs its reloaded CPU copy");
    }
  }
  ASSERT_EQ(losses[0].size(), losses[1].size());
  for (size_t i = 0; i < losses[0].size(); ++i) EXPECT_NEAR(losses[1][i], losses[0][i], 1e-4);
}

// Optimizers on GPU parameters: Adam runs its device kernel (slots on the
// GPU), SGD with momentum and Adam with clipnorm update on the host copies;
// every one matches the same steps on the CPU.
TEST(CudaOptim, UpdatesOfGpuParametersMatchTheCpu) {
  LOOM_REQUIRE_CUDA();
  auto run = [](Device dev, std::shared_ptr<Optimizer> opt) {
    auto p = std::make_shared<Parameter>("w", host_rand({40, 7}, 21, DType::f64));
    p->value = p->value.detach().to(dev);
    p->value.set_requires_grad(true);
    for (int step = 0; step < 3; ++step) {
      Optimizer::zero_grad({p});
      sum(mul(exp(p->value), p->value)).backward();
      opt->step({p});
    }
    return p->value.cpu();
  };
  auto make = [](int k) -> std::shared_ptr<Optimizer> {
    if (k == 0) return std::make_shared<Adam>(AdamOptions{.learning_rate = 0.05});
    if (k == 1) return std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05, .momentum = 0.9});
    return std::make_shared<Adam>(AdamOptions{.learning_rate = 0.05, .clipnorm = 0.5});
  };
  for (int k = 0; k < 3; ++k)
    expect_close(run(kGpu, make(k)), run(Device::cpu(), make(k)), 1e-12, fmt::format("optimizer {}", k));
}

}  // namespace
}  // namespace loom::test
