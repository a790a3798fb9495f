// Bidirectional: a recurrent layer run forward and a copy run backward,
// merged (Keras semantics, docs/SEMANTICS.md).
//
// Dimension letters: B batch, T timesteps, F input features, H units.
#include "loom/layers/rnn/bidirectional.h"

#include "loom/layers/layer_factory.h"

namespace loom {

namespace {

Bidirectional::Merge parse_merge(const std::string& mode, const std::string& who) {
  if (mode == "concat") return Bidirectional::Merge::concat;
  if (mode == "sum") return Bidirectional::Merge::sum;
  if (mode == "mul") return Bidirectional::Merge::mul;
  if (mode == "ave") return Bidirectional::Merge::ave;
  if (mode == "none" || mode == "None" || mode.empty()) return Bidirectional::Merge::none;
  fail("{}: unknown merge_mode '{}' (expected concat, sum, mul, ave or none)", who, mode);
}

}  // namespace

Bidirectional::Bidirectional(std::shared_ptr<RNN> layer, Options options, std::string name)
    : Layer("Bidirectional", std::move(name)), options_(std::move(options)) {
  LOOM_CHECK(layer != nullptr, "{}: the wrapped layer is null", describe());
  merge_ = parse_merge(options_.merge_mode, describe());
  forward_ = std::move(layer);
  backward_ = options_.backward_layer ? options_.backward_layer
                                      : forward_->make_reverse_copy("backward_" + forward_->name());
  LOOM_CHECK(backward_ != forward_, "{}: backward_layer is the forward layer itself", describe());
  const RnnLayerOptions& f = forward_->layer_options();
  const RnnLayerOptions& b = backward_->layer_options();
  LOOM_CHECK(f.return_sequences == b.return_sequences && f.return_state == b.return_state,
             "{}: the forward layer {} (return_sequences={}, return_state={}) and the backward "
             "layer {} (return_sequences={}, return_state={}) must agree",
             describe(), forward_->describe(), f.return_sequences, f.return_state,
             backward_->describe(), b.return_sequences, b.return_state);
  LOOM_CHECK(f.go_backwards != b.go_backwards,
             "{}: the forward layer {} and the backward layer {} both have go_backwards={}",
             describe(), forward_->describe(), backward_->describe(), f.go_backwards);
  LOOM_CHECK(f.time_major == b.time_major, "{}: the two layers disagree on time_major",
             describe());
  LOOM_CHECK(f.stateful == b.stateful,
             "{}: either both layers are stateful or neither is", describe());
  // Keras: masked sequence outputs are zeros in both directions, so the
  // reversed backward sequence lines up with the forward one.
  forward_->set_zero_output_for_mask(f.return_sequences);
  backward_->set_zero_output_for_mask(f.return_sequences);
  add_sublayer(forward_);
  add_sublayer(backward_);
}

LayerHandle<Bidirectional> Bidirectional::make(std::shared_ptr<RNN> layer, Options options,
                                               std::string name) {
  return std::make_shared<Bidirectional>(std::move(layer), std::move(options), std::move(name));
}

LayerOutput Bidirectional::run(const Tensor& x, const RnnCallArgs& args) {
  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), args.initial_state.begin(), args.initial_state.end());
  CallContext ctx;
  ctx.training = args.training;
  return (*this)(inputs, {args.mask}, ctx);
}

void Bidirectional::build(const std::vector<Shape>& input_shapes) {
  forward_->ensure_built({input_shapes.at(0)}, {dtype()});
  backward_->ensure_built({input_shapes.at(0)}, {dtype()});
}

// fw (B,T,H)/(B,H) and bw (same shape, already in input time order)
//   concat -> (..., 2H); sum fw + bw; mul fw * bw; ave (fw + bw) / 2
Tensor Bidirectional::merge(const Tensor& fw, const Tensor& bw) const {
  switch (merge_) {
    case Merge::concat: return concat({fw, bw}, -1);
    case Merge::sum: return add(fw, bw);
    case Merge::mul: return mul(fw, bw);
    case Merge::ave: return mul(add(fw, bw), 0.5);
    case Merge::none: break;
  }
  fail("{}: merge_mode none has no single merged output", describe());
}

std::vector<Tensor> Bidirectional::call(const std::vector<Tensor>& inputs,
                                        const std::vector<Tensor>& masks, const CallContext& ctx) {
  const size_t nf = forward_->cell()->state_size().size();
  const size_t nb = backward_->cell()->state_size().size();
  const std::vector<Tensor> initial(inputs.begin() + 1, inputs.end());
  LOOM_CHECK(initial.empty() || initial.size() == nf + nb,
             "{}: expected {} initial state tensors (forward then backward), got {}", describe(),
             nf + nb, initial.size());
  const Tensor mask = masks.empty() ? Tensor() : masks[0];
  std::vector<Tensor> fin{inputs[0]}, bin{inputs[0]};
  if (!initial.empty()) {
    fin.insert(fin.end(), initial.begin(), initial.begin() + static_cast<long>(nf));
    bin.insert(bin.end(), initial.begin() + static_cast<long>(nf), initial.end());
  }
  const std::vector<Tensor> fw = (*forward_)(fin, {mask}, ctx).tensors;
  const std::vector<Tensor> bw = (*backward_)(bin, {mask}, ctx).tensors;

  const RnnLayerOptions& o = forward_->layer_options();
  Tensor yb = bw[0];
  // The backward sequence comes in processing order: reverse it into input order.
  if (o.return_sequences) yb = flip(yb, o.time_major ? 0 : 1);
  std::vector<Tensor> out;
  if (merge_ == Merge::none) out = {fw[0], yb};
  else out = {merge(fw[0], yb)};
  out.insert(out.end(), fw.begin() + 1, fw.end());
  out.insert(out.end(), bw.begin() + 1, bw.end());
  return out;
}

std::vector<Tensor> Bidirectional::compute_mask(const std::vector<Tensor>& inputs,
                                                const std::vector<Tensor>& masks) const {
  const RnnLayerOptions& o = forward_->layer_options();
  const Tensor m = o.return_sequences && !masks.empty() ? masks[0] : Tensor();
  std::vector<Tensor> out{m};
  if (merge_ == Merge::none) out.push_back(m);
  if (o.return_state)
    out.resize(out.size() + forward_->cell()->state_size().size() +
               backward_->cell()->state_size().size());
  return out;
}

std::vector<Shape> Bidirectional::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  const std::vector<Shape> fw = forward_->compute_output_shape({input_shapes.at(0)});
  const std::vector<Shape> bw = backward_->compute_output_shape({input_shapes.at(0)});
  std::vector<Shape> out;
  if (merge_ == Merge::none) {
    out = {fw[0], bw[0]};
  } else {
    Shape s = fw[0];
    if (merge_ == Merge::concat) s.back() += bw[0].back();
    out = {s};
  }
  out.insert(out.end(), fw.begin() + 1, fw.end());
  out.insert(out.end(), bw.begin() + 1, bw.end());
  return out;
}

// The wrapped layers' configs travel flattened under "layer." and, for a
// given backward layer, "backward_layer." (Config values are flat).
Config Bidirectional::config() const {
  Config c{{"merge_mode", options_.merge_mode},
           {"layer_type", forward_->type_name()},
           {"layer_name", forward_->name()}};
  for (const auto& [k, v] : forward_->config()) c["layer." + k] = v;
  if (options_.backward_layer) {
    c["backward_layer_type"] = backward_->type_name();
    c["backward_layer_name"] = backward_->name();
    for (const auto& [k, v] : backward_->config()) c["backward_layer." + k] = v;
  }
  return c;
}

LayerPtr Bidirectional::from_config(const Config& config, const std::string& name) {
  Config own, fw, bw;
  for (const auto& [k, v] : config) {
    if (k.rfind("layer.", 0) == 0) fw[k.substr(6)] = v;
    else if (k.rfind("backward_layer.", 0) == 0) bw[k.substr(15)] = v;
    else own[k] = v;
  }
  ConfigReader r(own, "Bidirectional", name);
  Options o;
  o.merge_mode = r.get_string("merge_mode", o.merge_mode);
  auto rebuild = [&](const std::string& type, const std::string& layer_name, const Config& c) {
    auto rnn = std::dynamic_pointer_cast<RNN>(make_layer(type, c, layer_name));
    LOOM_CHECK(rnn != nullptr, "Bidirectional '{}': the wrapped layer type {} is not recurrent",
               name, type);
    return rnn;
  };
  auto forward = rebuild(r.get_string("layer_type", ""), r.get_string("layer_name", ""), fw);
  if (r.has("backward_layer_type"))
    o.backward_layer = rebuild(r.get_string("backward_layer_type", ""),
                               r.get_string("backward_layer_name", ""), bw);
  r.finish();
  return make(forward, o, name);
}

void Bidirectional::set_dtype_policy(const std::string& name) {
  Layer::set_dtype_policy(name);
  forward_->set_dtype_policy(name);
  backward_->set_dtype_policy(name);
}

}  // namespace loom
