// Functional models and Sequential: graph building, running, errors,
// summary(), layers(), get_layer().
#include "layers/layer_test_util.h"

namespace loom {

namespace {
// Two outputs from one input: (x, 2x), to exercise multi-output layers.
class TwoOutputs : public Layer {
 public:
  explicit TwoOutputs(std::string name = "") : Layer("TwoOutputs", std::move(name)) {}
  std::vector<Tensor> call(const std::vector<Tensor>& in, const std::vector<Tensor>&,
                           const CallContext&) override {
    return {in[0], mul(in[0], 2.0)};
  }
  bool supports_masking() const override { return true; }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override {
    return {s[0], s[0]};
  }
};
}  // namespace

TEST(FunctionalModel, TwoInputsViaConcatenateAndTwoOutputs) {
  reset_default_names();
  auto a = Input({3}, DType::f32, "left");
  auto b = Input({2}, DType::f32, "right");
  auto joined = Concatenate::make()({a, b});               // (B, 5)
  auto hidden = Dense::make({.units = 4, .activation = "tanh"}, "hidden");
  SymbolicTensor h = hidden(joined);
  auto head1 = Dense::make({.units = 1}, "score");
  auto head2 = Dense::make({.units = 2, .activation = "softmax"}, "probs");
  SymbolicTensor o1 = head1(h), o2 = head2(h);
  EXPECT_EQ(o1.shape, (Shape{-1, 1}));
  EXPECT_EQ(o2.shape, (Shape{-1, 2}));
  Model model({a, b}, {o1, o2}, "two_heads");

  std::vector<LayerPtr> ls = model.layers();
  ASSERT_EQ(ls.size(), 4u);
  EXPECT_EQ(ls[0]->name(), "concatenate");
  EXPECT_EQ(ls[1]->name(), "hidden");
  EXPECT_EQ(model.get_layer("probs"), head2);
  EXPECT_LOOM_ERROR(model.get_layer("nope"),
                    "Model 'two_heads': no layer named 'nope'; its layers are concatenate, hidden");
  EXPECT_EQ(model.parameters().size(), 6u);
  EXPECT_EQ(model.count_params(), (5 * 4 + 4) + (4 + 1) + (4 * 2 + 2));

  Generator g(3);
  Tensor xa = Tensor::uniform({6, 3}, -1, 1, g), xb = Tensor::uniform({6, 2}, -1, 1, g);
  LayerOutput out = model({xa, xb});
  ASSERT_EQ(out.size(), 2u);
  // The same computation layer by layer.
  Tensor hh = (*hidden)(concat({xa, xb}, 1));
  test::expect_values(out[0], (*head1)(hh).to_vector<double>(), 1e-6);
  test::expect_values(out[1], (*head2)(hh).to_vector<double>(), 1e-6);

  // Gradients reach every parameter.
  (sum(out[0]) + sum(mul(out[1], out[1]))).backward();
  for (const ParameterPtr& p : model.parameters()) EXPECT_TRUE(p->grad().defined()) << p->name;

  EXPECT_LOOM_ERROR(model({xa}), "expects 2 inputs, got 1");
  EXPECT_LOOM_ERROR(model({xa, Tensor::ones({6, 3})}),
                    "input 1 ('right') expects shape (None, 2), got (6, 3)");
  EXPECT_EQ(model.compute_output_shape({{7, 3}, {7, 2}}), (std::vector<Shape>{{7, 1}, {7, 2}}));
}

TEST(FunctionalModel, GraphErrors) {
  auto a = Input({3});
  auto orphan = Input({3}, DType::f32, "orphan");
  auto y = Dense::make({.units = 2})(Concatenate::make()({a, orphan}));
  EXPECT_LOOM_ERROR(Model({a}, {y}),
                    "the outputs depend on Input 'orphan', which is not among the model's inputs");
  auto d1 = Dense::make({.units = 2}, "same");
  auto d2 = Dense::make({.units = 2}, "same");
  auto z = d2(d1(a));
  EXPECT_LOOM_ERROR(Model({a}, {z}), "two different layers are named 'same'");
  EXPECT_LOOM_ERROR(Model({SymbolicTensor(y)}, {y}), "not an Input() placeholder");
  // A layer built for 3 features rejects a placeholder with 4.
  auto dense3 = Dense::make({.units = 2}, "dense3");
  (void)dense3(a);
  EXPECT_LOOM_ERROR(dense3(Input({4})), "Dense 'dense3': expected input with last axis 3");
}

TEST(FunctionalModel, SharedLayerAndMultiOutputLayer) {
  auto a = Input({4}, DType::f32, "a");
  auto b = Input({4}, DType::f32, "b");
  auto shared = Dense::make({.units = 2}, "shared");
  SymbolicTensor ha = shared(a), hb = shared(b);
  auto two = std::make_shared<TwoOutputs>("split");
  SymbolicOutputs pair = (*two)(ha);
  ASSERT_EQ(pair.size(), 2u);
  Model model({a, b}, {pair[1], hb});
  EXPECT_EQ(model.layers().size(), 2u);
  EXPECT_EQ(model.parameters().size(), 2u);  // the shared layer's weights once
  Tensor x = Tensor::ones({1, 4});
  LayerOutput out = model({x, x});
  test::expect_values(out[0], mul((*shared)(x), 2.0).to_vector<double>(), 1e-6);
  test::expect_values(out[1], (*shared)(x).to_vector<double>(), 1e-6);
  EXPECT_LOOM_ERROR((void)static_cast<SymbolicTensor>(pair), "has 2 outputs");
}

TEST(FunctionalModel, NestedModelAsALayer) {
  auto in = Input({3});
  auto inner = std::make_shared<Model>(std::vector<SymbolicTensor>{in},
                                       std::vector<SymbolicTensor>{Dense::make({.units = 2})(in)},
                                       "inner");
  auto x = Input({3});
  SymbolicTensor y = Dense::make({.units = 1})((*inner)(x));
  Model outer({x}, {y});
  EXPECT_EQ(outer.count_params(), 3 * 2 + 2 + 2 + 1);
  test::expect_shape(outer(Tensor::ones({5, 3})), {5, 1});
}

TEST(FunctionalModel, MasksFlowAlongEdgesAndOutOfTheModel) {
  auto ids = Input({3}, DType::i32);
  auto emb = Embedding::make({.input_dim = 5, .output_dim = 2, .mask_zero = true});
  auto act = Activation::make("linear");
  SymbolicTensor seq = act(emb(ids));
  EXPECT_TRUE(seq.has_mask);
  Model encoder({ids}, {seq});
  LayerOutput out = encoder.forward(Tensor::from_vector<int32_t>({3, 0, 1}, {1, 3}), Tensor(), false);
  ASSERT_TRUE(out.mask().defined());
  test::expect_values(out.mask(), {1, 0, 1});
  // Nested: the encoder's output mask reaches the pooling layer.
  auto ids2 = Input({3}, DType::i32);
  SymbolicTensor enc = (*std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                                 std::vector<SymbolicTensor>{seq}))(ids2);
  EXPECT_TRUE(enc.has_mask);
}

TEST(Sequential, LazyBuildOnFirstBatch) {
  auto e = Embedding::make({.input_dim = 20, .output_dim = 4});
  auto p = GlobalAveragePooling1D::make();
  auto d = Dense::make({.units = 1, .activation = "sigmoid"});
  Sequential seq({e, p, d});
  EXPECT_FALSE(seq.built());
  EXPECT_EQ(seq.count_params(), 0);
  EXPECT_EQ(seq.layers().size(), 3u);
  EXPECT_LOOM_ERROR(seq.summary(), "has not been built yet");
  Tensor ids = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = seq(ids);
  test::expect_shape(y, {2, 1});
  EXPECT_TRUE(seq.built());
  EXPECT_EQ(seq.count_params(), 20 * 4 + 4 + 1);
  test::expect_values(y, (*d)((*p)((*e)(ids))).to_vector<double>(), 1e-6);
  EXPECT_EQ(seq.inputs()[0].shape, (Shape{-1, 3}));
  EXPECT_EQ(seq.inputs()[0].dtype, DType::i32);
  // Another sequence length relaxes the inferred input shape.
  Tensor longer = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5}, {1, 5});
  test::expect_shape(seq(longer), {1, 1});
  EXPECT_EQ(seq.inputs()[0].shape, (Shape{-1, -1}));
  EXPECT_EQ(seq.count_params(), 20 * 4 + 4 + 1);  // no new weights
}

TEST(Sequential, DeclaredInputShapeBuildsEverythingNow) {
  Sequential seq(Shape{6}, DType::f32, {Dense::make({.units = 4}), Dense::make({.units = 2})});
  EXPECT_TRUE(seq.built());
  EXPECT_EQ(seq.count_params(), 6 * 4 + 4 + 4 * 2 + 2);
  seq.add(Dense::make({.units = 1}, "last"));
  EXPECT_EQ(seq.count_params(), 6 * 4 + 4 + 4 * 2 + 2 + 2 + 1);
  EXPECT_EQ(seq.layers().back()->name(), "last");
  test::expect_shape(seq(Tensor::ones({3, 6})), {3, 1});
  EXPECT_LOOM_ERROR(seq(Tensor::ones({3, 5})), "expects shape (None, 6), got (3, 5)");
  EXPECT_LOOM_ERROR(seq.add(Dense::make({.units = 1}, "last")),
                    "a layer named 'last' is already in the model");
  EXPECT_LOOM_ERROR(seq.add(std::make_shared<TwoOutputs>("two")),
                    "layer 'two' returns 2 outputs; every layer of a Sequential model must have one");
}

TEST(Sequential, WorksLikeAnyLayer) {
  auto inner = std::make_shared<Sequential>(
      std::vector<LayerPtr>{Dense::make({.units = 3}), Activation::make("relu")});
  auto x = Input({2});
  SymbolicTensor y = (*inner)(x);
  EXPECT_EQ(y.shape, (Shape{-1, 3}));
  Model outer({x}, {y});
  EXPECT_EQ(outer.count_params(), 2 * 3 + 3);
}

TEST(Summary, SequentialTable) {
  reset_default_names();
  Sequential seq(Shape{80}, DType::i32,
                 {Embedding::make({.input_dim = 1000, .output_dim = 16}),
                  GlobalAveragePooling1D::make(),
                  Dense::make({.units = 1, .activation = "sigmoid"})});
  const std::string s = seq.summary();
  auto has = [&](const std::string& needle) {
    EXPECT_NE(s.find(needle), std::string::npos) << "missing '" << needle << "' in\n" << s;
  };
  has("Model: \"sequential\"");
  has("Layer (type)");
  has("Output Shape");
  has("Param #");
  // One row per layer: name (type), output shape, parameter count.
  auto row = [&](const std::string& layer) {
    size_t at = s.find(layer);
    EXPECT_NE(at, std::string::npos) << layer << " not in\n" << s;
    if (at == std::string::npos) return std::string();
    return s.substr(at, s.find('\n', at) - at);
  };
  std::string r1 = row("embedding (Embedding)");
  EXPECT_NE(r1.find("(None, 80, 16)"), std::string::npos) << r1;
  EXPECT_NE(r1.find("16000"), std::string::npos) << r1;
  std::string r2 = row("global_average_pooling1d (GlobalAveragePooling1D)");
  EXPECT_NE(r2.find("(None, 16)"), std::string::npos) << r2;
  EXPECT_NE(r2.find(" 0"), std::string::npos) << r2;
  std::string r3 = row("dense (Dense)");
  EXPECT_NE(r3.find("(None, 1)"), std::string::npos) << r3;
  EXPECT_NE(r3.find("17"), std::string::npos) << r3;
  has("Total params: 16,017\n");
  has("Trainable params: 16,017\n");
  has("Non-trainable params: 0\n");
  EXPECT_EQ(s.find("InputLayer"), std::string::npos);    // Sequential shows no input row
  EXPECT_EQ(s.find("Connected to"), std::string::npos);  // nor connections

  seq.get_layer("embedding")->set_trainable(false);
  const std::string frozen = seq.summary();
  EXPECT_NE(frozen.find("Trainable params: 17\n"), std::string::npos) << frozen;
  EXPECT_NE(frozen.find("Non-trainable params: 16,000\n"), std::string::npos) << frozen;
}

TEST(Summary, FunctionalTableWithConnections) {
  reset_default_names();
  auto a = Input({3});
  auto b = Input({2});
  SymbolicTensor j = Concatenate::make()({a, b});
  SymbolicTensor o1 = Dense::make({.units = 4})(j);
  SymbolicTensor o2 = Dense::make({.units = 1})(j);
  Model model({a, b}, {o1, o2});
  const std::string s = model.summary();
  for (const char* needle :
       {"Model: \"model\"", "input_1 (InputLayer)", "[(None, 3)]", "input_2 (InputLayer)",
        "[(None, 2)]", "Connected to", "concatenate (Concatenate)", "(None, 5)", "input_1[0][0]",
        "input_2[0][0]", "dense (Dense)", "(None, 4)", "24", "concatenate[0][0]", "dense_1 (Dense)",
        "Total params: 30\n"})
    EXPECT_NE(s.find(needle), std::string::npos) << "missing '" << needle << "' in\n" << s;
}

TEST(LayerHandle, EagerAndSymbolicCalls) {
  auto d = Dense::make({.units = 2, .kernel_initializer = "ones", .bias_initializer = "ones"});
  test::expect_values(d(Tensor::of2d({{1, 2}})), {4, 4});
  std::shared_ptr<Dense> plain = d;  // still a shared_ptr
  LayerPtr base = d;
  EXPECT_EQ(base.get(), plain.get());
  auto x = Input({2});
  SymbolicTensor y = (*base)(x);
  EXPECT_EQ(y.shape, (Shape{-1, 2}));
  std::vector<SymbolicTensor> via_function = call_symbolic(base, {x});
  EXPECT_EQ(via_function.size(), 1u);
}

}  // namespace loom
