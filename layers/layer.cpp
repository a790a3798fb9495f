// The Layer base: names, lazy building, the masking rule, parameters.
#include "loom/layers/layer.h"

#include <cctype>
#include <mutex>
#include <set>

#include "loom/autograd/precision.h"
#include "loom/backends/registry.h"

namespace loom {

// ---- names ------------------------------------------------------------------------

namespace {
std::mutex& names_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, int64_t>& name_counters() {
  static std::map<std::string, int64_t> c;
  return c;
}
}  // namespace

// Keras's to_snake_case, two regular expressions applied in turn (with
// their non-overlapping matching):
//   (.)([A-Z][a-z0-9]+) -> \1_\2   then   ([a-z])([A-Z]) -> \1_\2,  lower-cased.
// "GlobalAveragePooling1D" -> "global_average_pooling1d", "SimpleRNN" -> "simple_rnn".
std::string to_snake_case(const std::string& s) {
  auto upper = [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; };
  auto lower = [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; };
  auto lower_or_digit = [&](char c) {
    return lower(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
  };
  const size_t n = s.size();
  std::string first;
  for (size_t i = 0; i < n;) {
    if (i + 2 < n && upper(s[i + 1]) && lower_or_digit(s[i + 2])) {
      first += s[i];
      first += '_';
      first += s[i + 1];
      size_t j = i + 2;
      while (j < n && lower_or_digit(s[j])) first += s[j++];
      i = j;
    } else {
      first += s[i++];
    }
  }
  std::string out;
  for (size_t i = 0; i < first.size();) {
    if (i + 1 < first.size() && lower(first[i]) && upper(first[i + 1])) {
      out += first[i];
      out += '_';
      out += first[i + 1];
      i += 2;
    } else {
      out += first[i++];
    }
  }
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out[0] == '_') out = "private" + out;
  return out;
}

std::string unique_name(const std::string& prefix, bool zero_based) {
  std::lock_guard<std::mutex> lock(names_mutex());
  int64_t n = name_counters()[prefix]++;
  if (!zero_based) return fmt::format("{}_{}", prefix, n + 1);
  return n == 0 ? prefix : fmt::format("{}_{}", prefix, n);
}

std::string default_layer_name(const std::string& type_name) {
  return unique_name(to_snake_case(type_name), true);
}

void reset_default_names() {
  std::lock_guard<std::mutex> lock(names_mutex());
  name_counters().clear();
}

// ---- LayerOutput / SymbolicOutputs ------------------------------------------------------

const Tensor& LayerOutput::tensor() const {
  LOOM_CHECK(tensors.size() == 1, "LayerOutput::tensor: the layer returned {} outputs, not 1; "
             "index them with [i]", tensors.size());
  return tensors[0];
}

const Tensor& LayerOutput::mask() const {
  LOOM_CHECK(masks.size() == 1, "LayerOutput::mask: the layer returned {} masks, not 1",
             masks.size());
  return masks[0];
}

const SymbolicTensor& SymbolicOutputs::single() const {
  LOOM_CHECK(tensors_.size() == 1,
             "SymbolicOutputs: the layer call has {} outputs, not 1; index them with [i]",
             tensors_.size());
  return tensors_[0];
}

SymbolicOutputs::operator SymbolicTensor() const { return single(); }

// ---- Layer ------------------------------------------------------------------------------------

Layer::Layer(std::string type_name, std::string name)
    : type_name_(std::move(type_name)), name_(std::move(name)) {
  if (name_.empty()) name_ = default_layer_name(type_name_);
  LOOM_CHECK(name_.find('/') == std::string::npos,
             "{} '{}': a layer name may not contain '/' (it separates layer and parameter in "
             "parameter names)",
             type_name_, name_);
}

std::string Layer::describe() const { return fmt::format("{} '{}'", type_name_, name_); }

void Layer::set_dtype(DType dtype) {
  LOOM_CHECK(is_floating(dtype), "{}: a layer's dtype must be f32 or f64, got {}", describe(),
             dtype_name(dtype));
  LOOM_CHECK(!built_ || dtype == dtype_,
             "{}: cannot change the dtype to {} after the layer was built in {}", describe(),
             dtype_name(dtype), dtype_name(dtype_));
  dtype_ = dtype;
  dtype_fixed_ = true;
}

void Layer::set_trainable(bool on) {
  trainable_ = on;
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = *params_[i];
    p.trainable = on && declared_trainable_[i];
    p.value.set_requires_grad(p.trainable);
    if (!p.trainable) p.value.zero_grad();
  }
  for (auto& l : sublayers_) l->set_trainable(on);
}

void Layer::ensure_built(const std::vector<Shape>& shapes, const std::vector<DType>& dtypes) {
  if (built_) return;
  if (!dtype_fixed_) {
    // The first floating input decides (Keras: the layer's dtype policy
    // defaults to floatx; building from f64 data is how tests get f64).
    for (DType d : dtypes)
      if (is_floating(d)) {
        dtype_ = d;
        break;
      }
  }
  build_shapes_ = shapes;
  build_dtypes_ = dtypes;
  build(shapes);
  built_ = true;
}

namespace {
// Whether the innermost layer call on this thread records losses. Layers
// call add_loss from call(), which has no context argument of its own.
thread_local bool t_recording_losses = true;

struct RecordingLosses {
  explicit RecordingLosses(bool on) : saved_(t_recording_losses) { t_recording_losses = on; }
  ~RecordingLosses() { t_recording_losses = saved_; }
  RecordingLosses(const RecordingLosses&) = delete;
  RecordingLosses& operator=(const RecordingLosses&) = delete;
  bool saved_;
};
}  // namespace

void Layer::set_dtype_policy(const std::string& name) { policy_ = DTypePolicy::parse(name); }

bool Layer::computes_in(DType compute) const {
  if (policy_.compute == compute) return true;
  for (const auto& l : sublayers_)
    if (l->computes_in(compute)) return true;
  return false;
}

LayerOutput Layer::operator()(const std::vector<Tensor>& inputs_in,
                              const std::vector<Tensor>& masks_in, const CallContext& ctx) {
  LOOM_CHECK(!inputs_in.empty(), "{}: called with no inputs", describe());
  for (size_t i = 0; i < inputs_in.size(); ++i)
    LOOM_CHECK(inputs_in[i].defined(), "{}: input {} is undefined", describe(), i);
  LOOM_CHECK(masks_in.size() <= inputs_in.size(),
             "{}: {} masks given for {} inputs (one mask per input, undefined for none)",
             describe(), masks_in.size(), inputs_in.size());
  std::vector<Tensor> masks = masks_in;
  masks.resize(inputs_in.size());

  if (!supports_masking()) {
    for (size_t i = 0; i < masks.size(); ++i)
      LOOM_CHECK(!masks[i].defined(),
                 "{} does not support masking, but input {} of shape {} came with a mask of "
                 "shape {}; put the layer after one that consumes the mask (an RNN without "
                 "return_sequences, a global pooling layer)",
                 describe(), i, shape_str(inputs_in[i].shape()), shape_str(masks[i].shape()));
  }

  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  for (const Tensor& t : inputs_in) {
    shapes.push_back(t.shape());
    dtypes.push_back(t.dtype());
  }
  ensure_built(shapes, dtypes);

  std::vector<Tensor> inputs = inputs_in;
  if (autocast_inputs())
    for (Tensor& t : inputs)
      if (is_floating(t.dtype()) && t.dtype() != dtype_) t = cast(t, dtype_);

  // Losses recorded in this thread go to the layer being called only when
  // the call records them (CallContext::record_losses); see add_loss.
  RecordingLosses recording(ctx.record_losses);
  if (ctx.record_losses) call_losses_.clear();
  ComputePrecisionScope precision(policy_.compute);
  LayerOutput out = call_with_masks(inputs, masks, ctx);
  LOOM_CHECK(out.masks.size() <= out.tensors.size(),
             "{}: compute_mask returned {} masks for {} outputs", describe(), out.masks.size(),
             out.tensors.size());
  out.masks.resize(out.tensors.size());
  return out;
}

LayerOutput Layer::call_with_masks(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks, const CallContext& ctx) {
  LayerOutput out;
  out.tensors = call(inputs, masks, ctx);
  out.masks = compute_mask(inputs, masks);
  return out;
}

Tensor Layer::operator()(const Tensor& input, bool training) {
  CallContext ctx;
  ctx.training = training;
  LayerOutput out = (*this)(std::vector<Tensor>{input}, {}, ctx);
  LOOM_CHECK(out.tensors.size() == 1,
             "{}: returned {} outputs; call it with a vector of inputs to get them all",
             describe(), out.tensors.size());
  return out.tensors[0];
}

LayerOutput Layer::forward(const Tensor& input, const Tensor& mask, bool training) {
  CallContext ctx;
  ctx.training = training;
  return (*this)(std::vector<Tensor>{input}, std::vector<Tensor>{mask}, ctx);
}

std::vector<Tensor> Layer::compute_mask(const std::vector<Tensor>& inputs,
                                        const std::vector<Tensor>& masks) const {
  // A masking layer keeps the time axis, so its first input's mask still applies.
  if (supports_masking() && !masks.empty()) return {masks[0]};
  return {};
}

// ---- symbolic calls ------------------------------------------------------------------

namespace {
LayerPtr self_ptr(Layer& l) {
  try {
    return l.shared_from_this();
  } catch (const std::bad_weak_ptr&) {
    fail("{}: a layer called on symbolic tensors must be owned by a std::shared_ptr (create it "
         "with make() or std::make_shared)",
         l.describe());
  }
}
}  // namespace

SymbolicOutputs Layer::operator()(const SymbolicTensor& input) {
  return SymbolicOutputs(call_symbolic(self_ptr(*this), {input}));
}
SymbolicOutputs Layer::operator()(const std::vector<SymbolicTensor>& inputs) {
  return SymbolicOutputs(call_symbolic(self_ptr(*this), inputs));
}
SymbolicOutputs Layer::operator()(const SymbolicOutputs& inputs) {
  return SymbolicOutputs(call_symbolic(self_ptr(*this), inputs.tensors()));
}

// ---- parameters ---------------------------------------------------------------------

ParameterPtr Layer::add_weight(const std::string& name, Tensor initial, bool trainable) {
  LOOM_CHECK(initial.defined(), "{}: add_weight('{}') got an undefined tensor", describe(), name);
  const std::string full = name_ + "/" + name;
  for (const auto& p : params_)
    LOOM_CHECK(p->name != full, "{}: a weight named '{}' exists already", describe(), name);
  // A fresh contiguous leaf: the initial value may have come out of ops.
  Tensor value = initial.detach();
  if (!value.is_contiguous()) value = value.clone();
  auto p = std::make_shared<Parameter>(full, value, trainable && trainable_);
  params_.push_back(p);
  declared_trainable_.push_back(trainable);
  return p;
}

void Layer::add_sublayer(std::shared_ptr<Layer> layer) {
  LOOM_CHECK(layer != nullptr, "{}: add_sublayer got a null layer", describe());
  LOOM_CHECK(layer.get() != this, "{}: a layer cannot be its own sublayer", describe());
  for (const auto& l : sublayers_)
    if (l == layer) return;
  sublayers_.push_back(std::move(layer));
}

void Layer::add_loss(const Tensor& loss) {
  LOOM_CHECK(loss.defined() && loss.numel() == 1,
             "{}: add_loss expects a scalar, got shape {}", describe(),
             loss.defined() ? shape_str(loss.shape()) : std::string("undefined"));
  if (t_recording_losses) call_losses_.push_back(loss);
}

namespace {
void collect_params(std::vector<ParameterPtr>& out,
                    std::set<const Parameter*>& seen,
                    const std::vector<ParameterPtr>& own,
                    const std::vector<std::shared_ptr<Layer>>& subs) {
  for (const auto& p : own)
    if (seen.insert(p.get()).second) out.push_back(p);
  for (const auto& s : subs)
    for (const auto& p : s->parameters())
      if (seen.insert(p.get()).second) out.push_back(p);
}
}  // namespace

std::vector<ParameterPtr> Layer::parameters() const {
  std::vector<ParameterPtr> out;
  std::set<const Parameter*> seen;
  collect_params(out, seen, params_, sublayers_);
  return out;
}

std::vector<ParameterPtr> Layer::trainable_parameters() const {
  std::vector<ParameterPtr> out;
  for (auto& p : parameters())
    if (p->trainable) out.push_back(p);
  return out;
}

std::vector<ParameterPtr> Layer::non_trainable_parameters() const {
  std::vector<ParameterPtr> out;
  for (auto& p : parameters())
    if (!p->trainable) out.push_back(p);
  return out;
}

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (auto& p : parameters()) n += p->value.numel();
  return n;
}

std::vector<Tensor> Layer::get_weights() const {
  std::vector<Tensor> out;
  for (auto& p : parameters()) out.push_back(p->value.detach().clone());
  return out;
}

Layer& Layer::to(Device device) {
  for (const ParameterPtr& p : parameters()) {
    if (!p || p->value.device() == device) continue;
    const bool grad = p->value.requires_grad();
    const std::string name = p->value.name();
    Tensor moved = p->value.detach().to(device);
    if (grad) moved.set_requires_grad(true);
    moved.set_name(name);
    p->value = moved;
  }
  return *this;
}

Device Layer::device() const {
  for (const ParameterPtr& p : parameters())
    if (p && p->value.defined()) return p->value.device();
  return Device::cpu();
}

void Layer::set_weights(const std::vector<Tensor>& values) {
  std::vector<ParameterPtr> ps = parameters();
  LOOM_CHECK(values.size() == ps.size(), "{}: set_weights got {} tensors but the layer has {} "
             "weights", describe(), values.size(), ps.size());
  // Check everything first so that a failure leaves the weights untouched.
  for (size_t i = 0; i < ps.size(); ++i) {
    LOOM_CHECK(values[i].defined(), "{}: set_weights: tensor {} (for '{}') is undefined",
               describe(), i, ps[i]->name);
    LOOM_CHECK(values[i].shape() == ps[i]->value.shape(),
               "{}: set_weights: '{}' has shape {} but tensor {} has shape {}", describe(),
               ps[i]->name, shape_str(ps[i]->value.shape()), i, shape_str(values[i].shape()));
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    const Tensor& dst = ps[i]->value;
    const Tensor src = values[i].detach().to(dst.device());  // copies across devices
    backend_for(dst.device()).copy(src.view(), dst.view());
  }
}

std::vector<Tensor> Layer::losses() const {
  std::vector<Tensor> out = call_losses_;
  for (const auto& s : sublayers_)
    for (const Tensor& t : s->losses()) out.push_back(t);
  return out;
}

void Layer::reset_states() {
  for (auto& s : sublayers_) s->reset_states();
}

void Layer::reseed(Generator& source) {
  for (auto& s : sublayers_) s->reseed(source);
}

}  // namespace loom
