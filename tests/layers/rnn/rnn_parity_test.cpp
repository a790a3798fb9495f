// Parity smoke test: runs the committed rnn-parity/1 case files
// (tests/parity/cases, produced by Keras 2 and PyTorch; format in
// docs/PARITY_FORMAT.md) through the RNN layers in f32 and f64 and
// compares outputs (max |a-b|/(1+|b|) <= 1e-5) and the gradients of
// loss = sum_k <outputs[k], cotangents[k]> (<= 1e-4) with what the
// reference recorded. The full runner binary (loom_parity) is separate;
// this keeps the layer semantics honest in ctest.
#include <filesystem>
#include <map>

#include "layers/rnn/rnn_test_util.h"

namespace loom::test {
namespace {

namespace fs = std::filesystem;

Tensor tensor_of(const Json& j, DType dt) {
  NumericArray a = j.to_numeric_array();
  return Tensor::from_vector(a.values, a.shape).to(dt);
}

// The layer's weights in parameters() order from a case's weight object.
std::vector<Tensor> weights_of(const Json& w, bool has_bias, DType dt) {
  std::vector<Tensor> out{tensor_of(w.at("kernel"), dt), tensor_of(w.at("recurrent_kernel"), dt)};
  if (has_bias) out.push_back(tensor_of(w.at("bias"), dt));
  return out;
}

struct Errors {
  double forward = 0, gradient = 0;
  std::string forward_at, gradient_at;
  void fwd(double e, const std::string& at) {
    if (e > forward) forward = e, forward_at = at;
  }
  void grad(double e, const std::string& at) {
    if (e > gradient) gradient = e, gradient_at = at;
  }
};

Errors run_case(const Json& c, DType dt) {
  const Json& L = c.at("layer");
  const std::string type = L.get_string("type");
  RecurrentOptions o;
  o.units = L.get_int("units");
  o.activation = L.value("activation", "tanh");
  o.recurrent_activation = L.value("recurrent_activation", "sigmoid");
  o.use_bias = L.value("use_bias", true);
  o.reset_after = L.value("reset_after", true);
  o.return_sequences = L.value("return_sequences", false);
  o.return_state = L.value("return_state", false);
  o.go_backwards = L.value("go_backwards", false);
  o.zero_output_for_mask = L.value("zero_output_for_mask", false);
  auto make = [&](RecurrentOptions opts, const std::string& name) -> std::shared_ptr<RNN> {
    if (type == "SimpleRNN") return SimpleRNN::make(opts, name);
    if (type == "LSTM") return LSTM::make(opts, name);
    if (type == "GRU") return GRU::make(opts, name);
    ADD_FAILURE() << "unknown layer type " << type;
    return nullptr;
  };

  const Json* bidi = c.find("bidirectional");
  const bool is_bidi = bidi && !bidi->is_null();
  LayerPtr layer;
  std::vector<Tensor> weights;
  if (is_bidi) {
    const Json& mm = bidi->at("merge_mode");
    Bidirectional::Options bo;
    bo.merge_mode = mm.is_null() ? "none" : mm.as_string();
    layer = Bidirectional::make(make(o, "fw"), bo, "bidi");
    for (const char* dir : {"forward", "backward"})
      for (const Tensor& w : weights_of(c.at("weights").at(dir), o.use_bias, dt)) weights.push_back(w);
  } else {
    layer = make(o, "rnn");
    weights = weights_of(c.at("weights"), o.use_bias, dt);
  }

  Tensor x = tensor_of(c.at("inputs"), dt).set_requires_grad(true);
  layer->ensure_built({x.shape()}, {dt});
  layer->set_weights(weights);
  for (const ParameterPtr& p : layer->parameters()) p->value.zero_grad();

  RnnCallArgs args;
  if (const Json* m = c.find("mask"); m && !m->is_null()) args.mask = tensor_of(*m, dt);
  if (const Json* s = c.find("initial_state"); s && !s->is_null())
    for (const Json& t : s->elements()) args.initial_state.push_back(tensor_of(t, dt).set_requires_grad(true));
  LayerOutput out = is_bidi ? static_cast<Bidirectional&>(*layer).run(x, args)
                            : static_cast<RNN&>(*layer).run(x, args);

  Errors e;
  const Json& outs = c.at("outputs");
  EXPECT_EQ(out.size(), outs.size()) << "number of outputs";
  std::vector<Tensor> cots;
  for (size_t k = 0; k < outs.size() && k < out.size(); ++k) {
    Tensor want = tensor_of(outs.at(k), DType::f64);
    EXPECT_EQ(shape_str(out[k].shape()), shape_str(want.shape())) << "output " << k;
    if (out[k].shape() == want.shape()) e.fwd(rel_error(out[k], want), fmt::format("output {}", k));
    cots.push_back(tensor_of(c.at("cotangents").at(k), dt));
  }
  backward(out.tensors, cots);

  const Json& g = c.at("grads");
  e.grad(rel_error(x.grad(), tensor_of(g.at("inputs"), DType::f64)), "inputs");
  if (const Json* s = g.find("initial_state"); s && !s->is_null())
    for (size_t k = 0; k < s->size(); ++k) {
      const Tensor& got = args.initial_state.at(k).grad();
      Tensor want = tensor_of(s->at(k), DType::f64);
      e.grad(got.defined() ? rel_error(got, want) : 1e9, fmt::format("initial_state {}", k));
    }
  std::vector<Tensor> want_w;
  std::vector<std::string> names;
  auto collect = [&](const Json& w, const std::string& prefix) {
    for (const char* n : {"kernel", "recurrent_kernel", "bias"})
      if (w.contains(n)) {
        want_w.push_back(tensor_of(w.at(n), DType::f64));
        names.push_back(prefix + n);
      }
  };
  if (is_bidi) {
    collect(g.at("weights").at("forward"), "forward/");
    collect(g.at("weights").at("backward"), "backward/");
  } else {
    collect(g.at("weights"), "");
  }
  std::vector<ParameterPtr> ps = layer->parameters();
  EXPECT_EQ(ps.size(), want_w.size());
  for (size_t k = 0; k < ps.size() && k < want_w.size(); ++k) {
    const Tensor got = ps[k]->value.grad();
    e.grad(got.defined() ? rel_error(got, want_w[k]) : 1e9, names[k]);
  }
  return e;
}

std::vector<fs::path> case_files(const std::string& sub) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(LOOM_PARITY_CASES_DIR) / sub))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

void run_all(const std::string& sub, DType dt) {
  const std::vector<fs::path> files = case_files(sub);
  ASSERT_GT(files.size(), 10u) << "no parity cases found under " << LOOM_PARITY_CASES_DIR << "/" << sub;
  int passed = 0;
  Errors worst;
  std::string worst_fwd_case, worst_grad_case;
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.filename().string());
    const Json c = Json::parse_file(f.string());
    const Errors e = run_case(c, dt);
    EXPECT_LE(e.forward, 1e-5) << "forward error at " << e.forward_at;
    EXPECT_LE(e.gradient, 1e-4) << "gradient error at " << e.gradient_at;
    if (e.forward <= 1e-5 && e.gradient <= 1e-4) ++passed;
    if (e.forward >= worst.forward) worst.fwd(e.forward, e.forward_at), worst_fwd_case = f.stem();
    if (e.gradient >= worst.gradient) worst.grad(e.gradient, e.gradient_at), worst_grad_case = f.stem();
  }
  EXPECT_EQ(passed, static_cast<int>(files.size()));
  fmt::print("{} {}: {}/{} cases pass; worst forward {:.2e} ({}, {}), worst gradient {:.2e} ({}, {})\n",
             sub, dtype_name(dt), passed, files.size(), worst.forward, worst_fwd_case,
             worst.forward_at, worst.gradient, worst_grad_case, worst.gradient_at);
}

TEST(RnnParity, KerasCasesF32) { run_all("keras", DType::f32); }
TEST(RnnParity, KerasCasesF64) { run_all("keras", DType::f64); }
TEST(RnnParity, TorchCasesF32) { run_all("torch", DType::f32); }
TEST(RnnParity, TorchCasesF64) { run_all("torch", DType::f64); }

}  // namespace
}  // namespace loom::test
