// Gradients of every layer (inputs and parameters) by finite differences in
// f64: layers built from f64 inputs create f64 weights.
#include "layer_test_util.h"

namespace loom {
using test::gradcheck_layer;
using test::rand64;

#define EXPECT_LAYER_GRADCHECK(...)                                                   \
  do {                                                                                \
    auto _gc = gradcheck_layer(__VA_ARGS__);                                          \
    EXPECT_TRUE(_gc.ok) << "gradcheck failed; worst " << _gc.worst;                   \
    EXPECT_GT(_gc.elements_checked, 0) << "gradcheck checked no element";             \
  } while (0)

namespace {
// y = x * w with a deliberately wrong gradient for w (twice the truth), to
// show that gradcheck_layer checks parameters, not only inputs.
class WrongGradLayer : public Layer {
 public:
  WrongGradLayer() : Layer("WrongGradLayer") {}
  void build(const std::vector<Shape>& s) override {
    w_ = add_weight("w", Tensor::ones({s[0].back()}, dtype()));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& in, const std::vector<Tensor>&,
                           const CallContext&) override {
    Tensor x = in[0], w = w_->value;
    Tensor out;
    {
      NoGradGuard ng;
      out = mul(x, w);
    }
    if (!any_requires_grad({x, w})) return {out};
    return {record("wrong", {x, w}, out, [x, w](const Tensor& d) {
      return std::vector<Tensor>{mul(d, w), mul(sum_to(mul(d, x), w.shape()), 2.0)};
    })};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override {
    return {s[0]};
  }
  ParameterPtr w_;
};
}  // namespace

TEST(LayerGradcheck, HelperChecksParametersToo) {
  WrongGradLayer wrong;
  auto r = gradcheck_layer(wrong, {rand64({2, 3}, 30)});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.worst.find("input 1"), std::string::npos) << r.worst;  // the parameter
  // Dense (4, 5) -> 3: 20 input elements, 15 kernel, 3 bias.
  auto d = Dense::make({.units = 3});
  auto ok = gradcheck_layer(*d, {rand64({4, 5}, 31)});
  EXPECT_TRUE(ok.ok) << ok.worst;
  EXPECT_EQ(ok.elements_checked, 38);
}

TEST(LayerGradcheck, Dense) {
  for (const char* act : {"linear", "tanh", "sigmoid", "softmax", "softplus"}) {
    auto d2 = Dense::make({.units = 3, .activation = act});
    EXPECT_LAYER_GRADCHECK(*d2, {rand64({4, 5}, 1)});
    EXPECT_EQ(d2->kernel()->value.dtype(), DType::f64);
    auto d3 = Dense::make({.units = 2, .activation = act});
    EXPECT_LAYER_GRADCHECK(*d3, {rand64({2, 3, 4}, 2)});
  }
  auto no_bias = Dense::make({.units = 2, .use_bias = false});
  EXPECT_LAYER_GRADCHECK(*no_bias, {rand64({3, 2, 2, 3}, 3)});
  // Regularizer losses are differentiated too (they are extra outputs here).
  auto reg = Dense::make({.units = 2, .bias_initializer = "ones",
                          .kernel_regularizer = regularizers::l1_l2(0.3, 0.7),
                          .bias_regularizer = regularizers::l2(0.5)});
  EXPECT_LAYER_GRADCHECK(*reg, {rand64({3, 4}, 4)});
  EXPECT_EQ(reg->losses().size(), 2u);
}

TEST(LayerGradcheck, Embedding) {
  auto e = Embedding::make({.input_dim = 6, .output_dim = 3});
  e->set_dtype(DType::f64);
  Tensor ids = Tensor::from_vector<int32_t>({1, 5, 1, 0, 2, 5}, {2, 3});  // repeated ids
  EXPECT_LAYER_GRADCHECK(*e, {ids});
  auto reg = Embedding::make(
      {.input_dim = 4, .output_dim = 2, .embeddings_regularizer = regularizers::l2(0.1)});
  reg->set_dtype(DType::f64);
  EXPECT_LAYER_GRADCHECK(*reg, {Tensor::from_vector<int64_t>({3, 3}, {1, 2})});
}

TEST(LayerGradcheck, DropoutWithAFixedMask) {
  auto d = Dropout::make(0.4);
  EXPECT_LAYER_GRADCHECK(*d, {rand64({3, 4, 5}, 5)}, {}, /*training=*/true, /*noise_seed=*/7);
  auto shared = Dropout::make({.rate = 0.5, .noise_shape = {-1, 1, -1}});
  EXPECT_LAYER_GRADCHECK(*shared, {rand64({2, 3, 4}, 6)}, {}, true, 8);
  auto spatial = SpatialDropout1D::make(0.3);
  EXPECT_LAYER_GRADCHECK(*spatial, {rand64({3, 4, 5}, 9)}, {}, true, 10);
}

TEST(LayerGradcheck, MaskingActivationAndPooling) {
  // Masking is discontinuous where a step equals mask_value (a nudge unmasks
  // it), so finite differences run on a batch without masked steps and the
  // masked case is checked directly: masked steps get no gradient.
  EXPECT_LAYER_GRADCHECK(*Masking::make(), {rand64({2, 4, 3}, 11)});
  {
    Tensor x = Tensor::of3d({{{1, 2}, {0, 0}, {3, 0}}}, DType::f64).set_requires_grad();
    Tensor y = (*Masking::make())(x);
    sum(mul(y, Tensor::of3d({{{1, 2}, {3, 4}, {5, 6}}}, DType::f64))).backward();
    test::expect_values(x.grad(), {1, 2, 0, 0, 5, 6});
  }
  EXPECT_LAYER_GRADCHECK(*Activation::make("tanh"), {rand64({3, 4}, 12)});
  EXPECT_LAYER_GRADCHECK(*Activation::make("softmax"), {rand64({3, 4}, 13)});

  Tensor seq = rand64({3, 4, 2}, 14);
  Tensor mask = Tensor::of2d({{1, 1, 0, 0}, {0, 1, 0, 1}, {0, 0, 0, 0}}, DType::f64);
  EXPECT_LAYER_GRADCHECK(*GlobalAveragePooling1D::make(), {seq});
  EXPECT_LAYER_GRADCHECK(*GlobalAveragePooling1D::make(), {seq}, {mask});
  EXPECT_LAYER_GRADCHECK(*GlobalAveragePooling1D::make({.keepdims = true}), {seq}, {mask});
  EXPECT_LAYER_GRADCHECK(*GlobalMaxPooling1D::make(), {seq});
  EXPECT_LAYER_GRADCHECK(*GlobalMaxPooling1D::make(), {seq}, {mask});
}

TEST(LayerGradcheck, Concatenate) {
  EXPECT_LAYER_GRADCHECK(*Concatenate::make(), {rand64({2, 3}, 15), rand64({2, 4}, 16)});
  EXPECT_LAYER_GRADCHECK(*Concatenate::make({.axis = 1}),
                         {rand64({2, 1, 3}, 17), rand64({2, 2, 3}, 18), rand64({2, 3, 3}, 19)});
}

TEST(LayerGradcheck, FunctionalModelEndToEnd) {
  // Two inputs, masks from Embedding through pooling, two heads; the model
  // is built in f64 from f64 / integer placeholders.
  auto ids = Input({4}, DType::i32);
  auto feats = Input({3}, DType::f64);
  auto emb = Embedding::make({.input_dim = 5, .output_dim = 2, .mask_zero = true});
  emb->set_dtype(DType::f64);
  SymbolicTensor pooled = GlobalAveragePooling1D::make()(emb(ids));
  SymbolicTensor h = Dense::make({.units = 3, .activation = "tanh"})(
      Concatenate::make()({pooled, feats}));
  SymbolicTensor o1 = Dense::make({.units = 1, .activation = "sigmoid"})(h);
  SymbolicTensor o2 = Dense::make({.units = 2})(h);
  Model model({ids, feats}, {o1, o2});
  for (const ParameterPtr& p : model.parameters()) EXPECT_EQ(p->value.dtype(), DType::f64) << p->name;
  Tensor t = Tensor::from_vector<int32_t>({1, 2, 0, 0, 3, 4, 4, 1}, {2, 4});
  EXPECT_LAYER_GRADCHECK(model, {t, rand64({2, 3}, 20)});
}

}  // namespace loom
