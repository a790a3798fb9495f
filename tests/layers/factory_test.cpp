// The layer factory, ConfigReader, and architecture JSON round trips.
#include "layer_test_util.h"
#include "loom/layers/rnn/bidirectional.h"
#include "loom/layers/rnn/rnn.h"

namespace loom {

namespace {
std::vector<LayerPtr> one_of_each() {
  return {
      Dense::make({.units = 3, .activation = "tanh", .use_bias = false,
                   .kernel_initializer = initializers::random_normal(0.0, 0.2, 5),
                   .kernel_regularizer = regularizers::l1_l2(0.1, 0.2), .seed = 9}),
      Embedding::make({.input_dim = 7, .output_dim = 2, .mask_zero = true, .sparse = true}),
      Dropout::make({.rate = 0.3, .noise_shape = {-1, 1, -1}, .seed = 4}),
      SpatialDropout1D::make({.rate = 0.2}),
      Masking::make({.mask_value = -1.5}),
      Activation::make("softplus"),
      GlobalAveragePooling1D::make({.keepdims = true}),
      GlobalMaxPooling1D::make(),
      Concatenate::make({.axis = 1}),
  };
}
}  // namespace

TEST(LayerFactory, EveryBuiltInTypeRoundTripsItsConfig) {
  for (const LayerPtr& l : one_of_each()) {
    ASSERT_TRUE(is_layer_type_registered(l->type_name())) << l->type_name();
    LayerPtr copy = make_layer(l->type_name(), l->config(), l->name() + "_copy");
    EXPECT_EQ(copy->type_name(), l->type_name());
    EXPECT_EQ(copy->name(), l->name() + "_copy");
    EXPECT_EQ(copy->config(), l->config()) << l->type_name();
  }
  for (const char* t : {"Dense", "Embedding", "Dropout", "SpatialDropout1D", "Masking",
                        "Activation", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
                        "Concatenate", "Model", "Sequential"})
    EXPECT_TRUE(is_layer_type_registered(t)) << t;
}

TEST(LayerFactory, UnknownTypesAndBadConfigs) {
  try {
    make_layer("Dence", {}, "x");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("unknown layer type 'Dence'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Dense"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Embedding"), std::string::npos) << msg;
  }
  EXPECT_LOOM_ERROR(make_layer("Dense", {}, "d"), "Dense 'd': the config lacks 'units'");
  EXPECT_LOOM_ERROR(make_layer("Dense", {{"units", int64_t{2}}, {"unit", int64_t{3}}}, "d"),
                    "Dense 'd': unknown config entries unit");
  EXPECT_LOOM_ERROR(make_layer("Dense", {{"units", std::string("two")}}, "d"),
                    "config entry 'units' should be an integer, got 'two'");
  // JSON-ish conversions: integral doubles read as ints, 0/1 as booleans.
  LayerPtr d = make_layer("Dense", {{"units", 4.0}, {"use_bias", int64_t{0}}}, "d");
  EXPECT_EQ(std::static_pointer_cast<Dense>(d)->options().units, 4);
  EXPECT_FALSE(std::static_pointer_cast<Dense>(d)->options().use_bias);
}

namespace {
class Doubler : public Layer {
 public:
  Doubler(double factor, std::string name) : Layer("Doubler", std::move(name)), factor_(factor) {}
  std::vector<Tensor> call(const std::vector<Tensor>& in, const std::vector<Tensor>&,
                           const CallContext&) override {
    return {mul(in[0], factor_)};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override {
    return {s[0]};
  }
  Config config() const override { return {{"factor", factor_}}; }
  double factor_;
};
}  // namespace

TEST(LayerFactory, UserTypesRegisterThemselves) {
  register_layer_type("Doubler", [](const Config& c, const std::string& name) -> LayerPtr {
    ConfigReader r(c, "Doubler", name);
    double f = r.get_double("factor", 2.0);
    r.finish();
    return std::make_shared<Doubler>(f, name);
  });
  LayerPtr l = make_layer("Doubler", {{"factor", 3.0}}, "triple");
  test::expect_values((*l)(Tensor::of({1, 2})), {3, 6});
  // Such a layer round-trips inside a model's architecture.
  auto x = Input({2});
  Model m({x}, {(*l)(x)}, "with_custom");
  auto back = Model::from_json(m.to_json());
  test::expect_values((*back)(Tensor::of2d({{1, 2}})), {3, 6});
}

TEST(Architecture, FunctionalRoundTrip) {
  reset_default_names();
  auto ids = Input({5}, DType::i32, "tokens");
  auto extra = Input({3}, DType::f32, "extra");
  SymbolicTensor e = Embedding::make({.input_dim = 30, .output_dim = 4, .mask_zero = true})(ids);
  SymbolicTensor pooled = GlobalAveragePooling1D::make()(e);
  SymbolicTensor joined = Concatenate::make()({pooled, extra});
  auto trunk = Dense::make({.units = 6, .activation = "relu"}, "trunk");
  SymbolicTensor h = trunk(joined);
  SymbolicTensor o1 = Dense::make({.units = 1, .activation = "sigmoid"}, "p")(h);
  SymbolicTensor o2 = Dense::make({.units = 3}, "logits")(h);
  Model model({ids, extra}, {o1, o2}, "classifier");
  model.get_layer("trunk")->set_trainable(false);

  const std::string text = model.to_json(2);
  std::shared_ptr<Model> back = Model::from_json(text);
  EXPECT_EQ(back->name(), "classifier");
  EXPECT_EQ(back->to_json(2), text);
  EXPECT_EQ(back->summary(), model.summary());
  ASSERT_EQ(back->layers().size(), model.layers().size());
  for (size_t i = 0; i < model.layers().size(); ++i) {
    EXPECT_EQ(back->layers()[i]->name(), model.layers()[i]->name());
    EXPECT_EQ(back->layers()[i]->config(), model.layers()[i]->config());
  }
  EXPECT_FALSE(back->get_layer("trunk")->trainable());
  EXPECT_FALSE(back->get_layer("trunk")->parameters()[0]->trainable);
  EXPECT_EQ(back->inputs()[0].dtype, DType::i32);
  EXPECT_EQ(back->inputs()[1].node->input_name, "extra");

  // Same weights, same outputs (masks included).
  back->set_weights(model.get_weights());
  Tensor t = Tensor::from_vector<int32_t>({1, 2, 0, 0, 0, 4, 4, 9, 0, 0}, {2, 5});
  Tensor x = Tensor::of2d({{0.1, 0.2, 0.3}, {-1, 0, 1}});
  LayerOutput a = model({t, x}), b = (*back)({t, x});
  for (int k = 0; k < 2; ++k) test::expect_values(b[k], a[k].to_vector<double>(), 1e-7);
}

TEST(Architecture, SequentialRoundTripBuiltAndUnbuilt) {
  Sequential built(Shape{4, 2}, DType::f64,
                   {Masking::make(), GlobalMaxPooling1D::make(), Dense::make({.units = 2})},
                   "built_seq");
  auto back = Model::from_json(built.to_json());
  EXPECT_EQ(back->type_name(), "Sequential");
  EXPECT_TRUE(back->built());
  EXPECT_EQ(back->summary(), built.summary());
  EXPECT_EQ(back->get_layer(built.layers()[2]->name())->dtype(), DType::f64);

  Sequential lazy({Dense::make({.units = 3}), Dropout::make(0.5)}, "lazy_seq");
  auto lazy_back = Model::from_json(lazy.to_json());
  EXPECT_FALSE(lazy_back->built());
  EXPECT_EQ(lazy_back->layers().size(), 2u);
  test::expect_shape((*lazy_back)(Tensor::ones({2, 5})), {2, 3});
}

TEST(Architecture, NestedModelsRoundTrip) {
  auto in = Input({3});
  auto inner = std::make_shared<Model>(std::vector<SymbolicTensor>{in},
                                       std::vector<SymbolicTensor>{Dense::make({.units = 2})(in)},
                                       "encoder");
  auto x = Input({3});
  Model outer({x}, {Dense::make({.units = 1})((*inner)(x))}, "outer");
  auto back = Model::from_json(outer.to_json());
  EXPECT_EQ(back->summary(), outer.summary());
  EXPECT_EQ(back->count_params(), outer.count_params());
  EXPECT_EQ(back->get_layer("encoder")->type_name(), "Model");
}

TEST(Architecture, RecurrentModelRoundTrip) {
  for (const char* t : {"SimpleRNN", "LSTM", "GRU", "Bidirectional"})
    EXPECT_TRUE(is_layer_type_registered(t)) << t;
  reset_default_names();
  auto ids = Input({6}, DType::i32);
  SymbolicTensor e = Embedding::make({.input_dim = 12, .output_dim = 4, .mask_zero = true})(ids);
  SymbolicTensor seq = LSTM::make({.units = 5, .return_sequences = true})(e);
  EXPECT_TRUE(seq.has_mask);  // return_sequences passes the mask on
  SymbolicTensor last = Bidirectional::make(GRU::make({.units = 3}))(seq);
  EXPECT_FALSE(last.has_mask);
  SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid"})(last);
  Model model({ids}, {out}, "rnn_model");
  const std::string s = model.summary();
  // LSTM: 4 H (F + H + 1) = 4 * 5 * 10 = 200 parameters.
  EXPECT_NE(s.find("(None, 6, 5)"), std::string::npos) << s;
  EXPECT_NE(s.find("200"), std::string::npos) << s;
  auto back = Model::from_json(model.to_json());
  EXPECT_EQ(back->summary(), s);
  back->set_weights(model.get_weights());
  Tensor t = Tensor::from_vector<int32_t>({3, 4, 5, 0, 0, 0, 0, 0, 7, 8, 9, 1}, {2, 6});
  test::expect_values((*back)(t), model(t).to_vector<double>(), 1e-6);
}

// A generic RNN over each built-in cell (Keras's RNN(LSTMCell(...))) is
// rebuilt from its architecture: the cell's type, name and config travel in
// the RNN's config, and the rebuilt model computes the same outputs.
TEST(Architecture, GenericRnnOverABuiltInCellRoundTrip) {
  for (const char* t : {"RNN", "SimpleRNNCell", "LSTMCell", "GRUCell"})
    EXPECT_TRUE(is_layer_type_registered(t)) << t;
  const RnnCellOptions cell_options{.units = 3, .dropout = 0.25, .seed = 7};
  const std::vector<CellPtr> cells{SimpleRNNCell::make(cell_options, "simple_cell"),
                                   LSTMCell::make(cell_options, "lstm_cell"),
                                   GRUCell::make({.units = 3, .reset_after = false}, "gru_cell")};
  for (const CellPtr& cell : cells) {
    SCOPED_TRACE(cell->type_name());
    reset_default_names();
    auto x = Input({5, 2});
    SymbolicTensor y = RNN::make(cell, {.return_sequences = true, .go_backwards = true})(x);
    Model model({x}, {Dense::make({.units = 1})(y)}, "generic_rnn");
    auto back = Model::from_json(model.to_json());
    EXPECT_EQ(back->summary(), model.summary());
    std::shared_ptr<RNN> rnn;
    for (const LayerPtr& l : back->layers())
      if (auto r = std::dynamic_pointer_cast<RNN>(l)) rnn = r;
    ASSERT_NE(rnn, nullptr);
    EXPECT_EQ(rnn->cell()->type_name(), cell->type_name());
    EXPECT_EQ(rnn->cell()->name(), cell->name());
    EXPECT_EQ(rnn->cell()->config(), cell->config());
    EXPECT_TRUE(rnn->layer_options().go_backwards);
    back->set_weights(model.get_weights());
    Tensor in = Tensor::from_vector<float>(
        {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f, 0.9f, 1.0f}, {1, 5, 2});
    test::expect_values((*back)(in), model(in).to_vector<double>(), 1e-6);
  }
  EXPECT_LOOM_ERROR(make_layer("RNN", {{"cell", std::string("Dense")}, {"cell.units", int64_t{2}}},
                               "r"),
                    "RNN 'r': the layer type Dense is not a cell");
}

TEST(Architecture, MalformedInputThrows) {
  EXPECT_LOOM_ERROR(Model::from_json("{\"format\": \"other\"}"), "not a Loom architecture");
  EXPECT_LOOM_ERROR(Model::from_json("{\"format\": \"loom-architecture\", \"version\": 9}"),
                    "architecture version 9 is not supported");
  EXPECT_LOOM_ERROR(
      Model::from_json("{\"format\": \"loom-architecture\", \"version\": 1, \"class_name\": "
                       "\"Model\", \"name\": \"m\", \"layers\": [], \"inputs\": [], \"nodes\": "
                       "[{\"layer\": \"ghost\", \"inputs\": []}], \"outputs\": []}"),
      "node calls unknown layer 'ghost'");
  EXPECT_LOOM_ERROR(Model::from_json("{\"format\": \"loom-architecture\", \"version\": 1, "
                                     "\"class_name\": \"Sequential\", \"name\": \"s\", "
                                     "\"layers\": [{\"class_name\": \"Nope\", \"name\": \"n\"}]}"),
                    "unknown layer type 'Nope'");
}

}  // namespace loom
