// The optimizer base: parameter bookkeeping, gradient processing, slots,
// state and config; the factory. Update rules live in sgd.cpp, adam.cpp,
// rmsprop.cpp and adagrad.cpp.
#include "loom/optim/optimizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "loom/autograd/tape.h"
#include "loom/backends/registry.h"
#include "loom/optim/kernels.h"
#include "loom/optim/optimizers.h"

namespace loom {

using namespace config_io;

// ---- construction and hyper-parameters ----------------------------------------------

Optimizer::Optimizer(std::string name, LearningRate lr, GradientOptions grad_opts)
    : name_(std::move(name)), lr_(std::move(lr)), grad_opts_(grad_opts) {
  if (!lr_.schedule()) {
    double v = lr_.constant();
    LOOM_CHECK(std::isfinite(v) && v >= 0,
               "{}: learning_rate must be a finite number >= 0, got {}", name_, v);
  }
  auto positive = [&](const char* arg, const std::optional<double>& v) {
    if (v)
      LOOM_CHECK(std::isfinite(*v) && *v > 0, "{}: {} must be > 0 when set, got {}", name_, arg,
                 *v);
  };
  positive("clipnorm", grad_opts_.clipnorm);
  positive("clipvalue", grad_opts_.clipvalue);
  positive("global_clipnorm", grad_opts_.global_clipnorm);
  if (grad_opts_.weight_decay)
    LOOM_CHECK(std::isfinite(*grad_opts_.weight_decay) && *grad_opts_.weight_decay >= 0,
               "{}: weight_decay must be >= 0 when set, got {}", name_, *grad_opts_.weight_decay);
  LOOM_CHECK(!(grad_opts_.clipnorm && grad_opts_.global_clipnorm),
             "{}: at most one of clipnorm and global_clipnorm can be set, got "
             "clipnorm={} and global_clipnorm={}",
             name_, grad_opts_.clipnorm.value_or(0), grad_opts_.global_clipnorm.value_or(0));
}

void Optimizer::check_range(const char* arg, double v, double low, double high,
                            bool high_open) const {
  bool ok = v >= low && (high_open ? v < high : v <= high);
  LOOM_CHECK(ok, "{}: {} must be in [{}, {}{}, got {}", name(), arg, low, high,
             high_open ? ")" : "]", v);
}

void Optimizer::check_non_negative(const char* arg, double v) const {
  LOOM_CHECK(std::isfinite(v) && v >= 0, "{}: {} must be a finite number >= 0, got {}", name(),
             arg, v);
}

std::string Optimizer::state_prefix() const {
  std::string s = name();
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double Optimizer::learning_rate() const { return lr_.at(iterations_); }

void Optimizer::set_learning_rate(double lr) {
  LOOM_CHECK(!lr_.schedule(),
             "{}.set_learning_rate: this optimizer follows the schedule {}, so its learning rate "
             "is not settable; create it with a constant learning_rate instead",
             name(), lr_.schedule()->name());
  LOOM_CHECK(std::isfinite(lr) && lr >= 0,
             "{}.set_learning_rate: learning_rate must be a finite number >= 0, got {}", name(),
             lr);
  lr_ = LearningRate(lr);
}

void Optimizer::set_learning_rate(SchedulePtr schedule) {
  LOOM_CHECK(schedule != nullptr, "{}.set_learning_rate: the schedule is null", name());
  lr_ = LearningRate(std::move(schedule));
}

void Optimizer::exclude_from_weight_decay(const std::vector<std::string>& name_patterns) {
  std::vector<std::regex> compiled;
  for (const std::string& p : name_patterns) {
    try {
      compiled.emplace_back(p);
    } catch (const std::regex_error& e) {
      fail("{}.exclude_from_weight_decay: '{}' is not a valid regular expression: {}", name(), p,
           e.what());
    }
  }
  no_decay_ = std::move(compiled);
}

bool Optimizer::decays(const std::string& param_name) const {
  if (!grad_opts_.weight_decay || *grad_opts_.weight_decay == 0) return false;
  for (const std::regex& r : no_decay_)
    if (std::regex_search(param_name, r)) return false;
  return true;
}

// ---- slots ------------------------------------------------------------------------------

bool Optimizer::updates_on_device(const Parameter& p) const {
  if (p.value.device().kind == DeviceKind::cpu || p.touched_rows || !has_device_update())
    return false;
  // An empty update asks the backend whether it has the kernel at all.
  return backend_for(p.value.device()).adam_update(AdamUpdate{});
}

const std::vector<Tensor>& Optimizer::slots_for(const Parameter& p) {
  const std::vector<SlotSpec> specs = slot_specs();
  // Slots live where the update runs: the parameter's GPU, or the host.
  const Device home = updates_on_device(p) ? p.value.device() : Device::cpu();
  auto it = slots_.find(p.name);
  if (it == slots_.end()) {
    std::vector<Tensor> created;
    for (const SlotSpec& s : specs)
      created.push_back(Tensor::full(p.value.shape(), s.initial_value, p.value.dtype(), home));
    return slots_.emplace(p.name, std::move(created)).first->second;
  }
  // Loaded from a checkpoint: check it fits this parameter; convert the
  // dtype once if the checkpoint stored another float type.
  std::vector<Tensor>& slots = it->second;
  for (size_t k = 0; k < slots.size(); ++k) {
    Tensor& s = slots[k];
    LOOM_CHECK(s.shape() == p.value.shape(),
               "{}: state slot '{}/{}/{}' has shape {} but parameter '{}' has shape {}", name(),
               state_prefix(), specs[k].name, p.name, shape_str(s.shape()), p.name,
               shape_str(p.value.shape()));
    if (s.dtype() != p.value.dtype() || !s.is_contiguous()) s = s.to(p.value.dtype()).contiguous().detach();
    if (s.device() != home) s = s.detach().to(home);
  }
  return slots;
}

// ---- one step -----------------------------------------------------------------------------

namespace {

// scale = c / max(norm, c), exactly 1 when the norm is within bounds.
double clip_scale(double norm, double c) { return norm > c ? c / norm : 1.0; }

}  // namespace

// One parameter that this step updates, with its processed gradient.
struct Optimizer::StepItem {
  Parameter* param;
  Tensor grad;
  const std::vector<Tensor>* slots;
  std::vector<int64_t> rows;
  bool sparse = false;
  int64_t row_len = 0;
  double sum_sq = 0;  // of the clipvalue'd gradient over the updated region
};

void Optimizer::step(const std::vector<ParameterPtr>& params) {
  NoGradGuard no_grad;
  std::vector<StepItem> items = collect_step_items(params);
  if (items.empty()) return;  // Keras: nothing to apply, iterations unchanged

  const double lr = learning_rate();
  LOOM_CHECK(std::isfinite(lr) && lr >= 0, "{}.step: the learning rate at iteration {} is {}",
             name(), iterations_, lr);
  const double clip =
      grad_opts_.clipvalue ? *grad_opts_.clipvalue : std::numeric_limits<double>::infinity();
  const double global_scale = clip_norms(items, clip);

  const int64_t t = iterations_ + 1;
  for (StepItem& it : items) apply_step_item(it, lr, t, global_scale, clip);
  ++iterations_;
}

std::vector<Optimizer::StepItem> Optimizer::collect_step_items(
    const std::vector<ParameterPtr>& params) {
  std::vector<StepItem> items;
  std::set<std::string> seen;
  for (const ParameterPtr& pp : params) {
    LOOM_CHECK(pp != nullptr, "{}.step: the parameter list holds a null pointer", name());
    Parameter& p = *pp;
    if (!p.trainable) continue;
    LOOM_CHECK(!p.name.empty(),
               "{}.step: a trainable parameter of shape {} has no name; the optimizer keys its "
               "state by name",
               name(), shape_str(p.value.shape()));
    LOOM_CHECK(seen.insert(p.name).second,
               "{}.step: two parameters are named '{}'; the optimizer keys its state by name",
               name(), p.name);
    check_step_value(p);
    const std::vector<Tensor>& slots = slots_for(p);  // even without a gradient, as Keras

    Tensor g = step_gradient(p);
    if (!g.defined()) continue;
    StepItem item{&p, g, &slots, {}, false, 0, 0.0};
    if (p.touched_rows) set_sparse_rows(item);
    items.push_back(std::move(item));
  }
  return items;
}

void Optimizer::check_step_value(const Parameter& p) const {
  const Tensor& w = p.value;
  LOOM_CHECK(w.defined(), "{}.step: parameter '{}' has no value", name(), p.name);
  LOOM_CHECK(is_floating(w.dtype()), "{}.step: parameter '{}' has dtype {}; expected f32 or f64",
             name(), p.name, dtype_name(w.dtype()));
  LOOM_CHECK(w.is_contiguous(),
             "{}.step: parameter '{}' (shape {}) is not contiguous; parameters must own "
             "contiguous storage",
             name(), p.name, shape_str(w.shape()));
}

Tensor Optimizer::step_gradient(const Parameter& p) const {
  const Tensor& w = p.value;
  Tensor g = w.grad();
  if (!g.defined()) return g;
  LOOM_CHECK(g.shape() == w.shape(),
             "{}.step: parameter '{}' has shape {} but its gradient has shape {}", name(), p.name,
             shape_str(w.shape()), shape_str(g.shape()));
  LOOM_CHECK(g.device() == w.device(), "{}.step: parameter '{}' lives on {} but its gradient on {}",
             name(), p.name, w.device().str(), g.device().str());
  if (g.dtype() != w.dtype()) g = g.to(w.dtype());
  if (!g.is_contiguous()) g = g.contiguous();
  // A GPU parameter is updated there when the rule has a device kernel;
  // otherwise on the host: its gradient comes over once per step and the
  // updated values go back (its slots then live on the host).
  if (g.device().kind != DeviceKind::cpu && !updates_on_device(p)) g = g.detach().cpu();
  return g;
}

void Optimizer::set_sparse_rows(StepItem& item) const {
  const Parameter& p = *item.param;
  const Tensor& w = p.value;
  LOOM_CHECK(w.ndim() >= 1,
             "{}.step: parameter '{}' has touched_rows but is a scalar; sparse updates need "
             "rows (axis 0)",
             name(), p.name);
  const int64_t nrows_total = w.shape()[0];
  item.sparse = true;
  item.row_len = nrows_total ? w.numel() / nrows_total : 0;
  item.rows.assign(p.touched_rows->begin(), p.touched_rows->end());  // sorted, unique
  if (!item.rows.empty())
    LOOM_CHECK(item.rows.front() >= 0 && item.rows.back() < nrows_total,
               "{}.step: parameter '{}' (shape {}) has touched row {} outside [0, {})", name(),
               p.name, shape_str(w.shape()),
               item.rows.front() < 0 ? item.rows.front() : item.rows.back(), nrows_total);
}

double Optimizer::clip_norms(std::vector<StepItem>& items, double clip) const {
  // Norms (of the clipvalue'd gradients) for clipnorm / global_clipnorm.
  const bool need_norms = grad_opts_.clipnorm || grad_opts_.global_clipnorm;
  if (need_norms) {
    for (StepItem& it : items) {
      const Tensor& w = it.param->value;
      dispatch_floating(w.dtype(), "Optimizer", [&](auto tag) {
        using T = decltype(tag);
        // Norms on the host (a device gradient is copied over for them).
        const Tensor host_grad = it.grad.device().kind == DeviceKind::cpu ? it.grad : it.grad.cpu();
        it.sum_sq = optim_detail::sum_squares<T>(
            host_grad.template data<T>(), static_cast<T>(clip), w.numel(), it.row_len,
            it.sparse ? it.rows.data() : nullptr, static_cast<int64_t>(it.rows.size()));
      });
    }
  }
  double global_scale = 1.0;
  if (grad_opts_.global_clipnorm) {
    double total = 0;
    for (const StepItem& it : items) total += it.sum_sq;
    global_scale = clip_scale(std::sqrt(total), *grad_opts_.global_clipnorm);
  }
  return global_scale;
}

void Optimizer::apply_step_item(StepItem& it, double lr, int64_t t, double global_scale,
                                double clip) {
  Parameter& p = *it.param;
  Region region;
  region.numel = p.value.numel();
  region.row_len = it.row_len;
  if (it.sparse) {
    region.rows = it.rows.data();
    region.nrows = static_cast<int64_t>(it.rows.size());
  }
  double scale = global_scale;
  if (grad_opts_.clipnorm) scale = clip_scale(std::sqrt(it.sum_sq), *grad_opts_.clipnorm);
  const double wd = decays(p.name) ? *grad_opts_.weight_decay : 0.0;
  if (it.grad.device().kind != DeviceKind::cpu) {  // updates_on_device(p): slots are there too
    UpdateArgs args{p.name, p.value, it.grad, *it.slots, region, lr, t, scale, clip, wd};
    LOOM_CHECK(apply_update_on_device(args, backend_for(p.value.device())),
               "{}.step: no device update for parameter '{}' on {}", name(), p.name,
               p.value.device().str());
    return;
  }
  const bool on_host = p.value.device().kind == DeviceKind::cpu;
  const Tensor value = on_host ? p.value : p.value.detach().cpu();
  UpdateArgs args{p.name, value, it.grad, *it.slots, region, lr, t, scale, clip, wd};
  // Rows with a gradient but an empty touched set: nothing to update.
  if (!(it.sparse && it.rows.empty())) {
    apply_update(args);
    if (!on_host)
      backend_for(p.value.device())
          .copy_from_host(value.raw_data(), p.value.raw_data(),
                          static_cast<size_t>(value.numel()) * dtype_size(value.dtype()));
  }
  if (p.touched_rows) p.touched_rows->clear();
}

void Optimizer::zero_grad(const std::vector<ParameterPtr>& params) {
  for (const ParameterPtr& p : params) {
    if (!p) continue;
    p->value.zero_grad();
    if (p->touched_rows) p->touched_rows->clear();
  }
}

// ---- state ------------------------------------------------------------------------------------

OptimizerState Optimizer::state() const {
  NoGradGuard no_grad;
  OptimizerState out;
  out["iterations"] = Tensor::full({}, static_cast<double>(iterations_), DType::i64);
  // Written exactly: i64 from the counter, not through the double above
  // (which is exact only below 2^53).
  *out["iterations"].data<int64_t>() = iterations_;
  if (!lr_.schedule()) out["learning_rate"] = Tensor::full({}, lr_.constant(), DType::f64);
  const std::vector<SlotSpec> specs = slot_specs();
  const std::string prefix = state_prefix();
  for (const auto& [param, slots] : slots_)
    for (size_t k = 0; k < slots.size(); ++k)
      out[prefix + "/" + specs[k].name + "/" + param] = slots[k].clone().detach().cpu();
  return out;
}

void Optimizer::load_state(const OptimizerState& state) {
  NoGradGuard no_grad;
  const std::vector<SlotSpec> specs = slot_specs();
  const std::string prefix = state_prefix() + "/";
  std::string slot_names;
  for (const SlotSpec& s : specs) slot_names += (slot_names.empty() ? "" : ", ") + s.name;
  if (slot_names.empty()) slot_names = "none";

  auto it_iter = state.find("iterations");
  LOOM_CHECK(it_iter != state.end(), "{}.load_state: the state has no 'iterations' entry", name());
  const Tensor& iter_t = it_iter->second;
  LOOM_CHECK(iter_t.defined() && iter_t.numel() == 1,
             "{}.load_state: 'iterations' must hold one value", name());
  int64_t iterations = 0;
  if (iter_t.dtype() == DType::i64) {
    iterations = iter_t.contiguous().detach().data<int64_t>()[0];
  } else {
    double v = iter_t.item();
    LOOM_CHECK(v >= 0 && std::floor(v) == v,
               "{}.load_state: 'iterations' must be a whole number >= 0, got {}", name(), v);
    iterations = static_cast<int64_t>(v);
  }
  LOOM_CHECK(iterations >= 0, "{}.load_state: 'iterations' is negative ({})", name(), iterations);

  std::optional<double> lr;
  if (auto it = state.find("learning_rate"); it != state.end()) {
    LOOM_CHECK(it->second.defined() && it->second.numel() == 1,
               "{}.load_state: 'learning_rate' must hold one value", name());
    LOOM_CHECK(!lr_.schedule(),
               "{}.load_state: the state holds a constant learning_rate but this optimizer "
               "follows the schedule {}",
               name(), lr_.schedule() ? lr_.schedule()->name() : "");
    lr = it->second.item();
    LOOM_CHECK(std::isfinite(*lr) && *lr >= 0,
               "{}.load_state: 'learning_rate' must be a finite number >= 0, got {}", name(), *lr);
  }

  std::map<std::string, std::vector<Tensor>> slots;
  for (const auto& [key, value] : state) {
    if (key == "iterations" || key == "learning_rate") continue;
    LOOM_CHECK(key.compare(0, prefix.size(), prefix) == 0,
               "{}.load_state: entry '{}' does not belong to this optimizer (its entries start "
               "with '{}')",
               name(), key, prefix);
    const std::string rest = key.substr(prefix.size());
    const size_t slash = rest.find('/');
    LOOM_CHECK(slash != std::string::npos && slash + 1 < rest.size(),
               "{}.load_state: entry '{}' is not '{}<slot>/<parameter>'", name(), key, prefix);
    const std::string slot = rest.substr(0, slash), param = rest.substr(slash + 1);
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const SlotSpec& s) { return s.name == slot; });
    LOOM_CHECK(spec != specs.end(),
               "{}.load_state: entry '{}' names slot '{}', which this optimizer does not have "
               "(slots: {})",
               name(), key, slot, slot_names);
    LOOM_CHECK(value.defined() && is_floating(value.dtype()),
               "{}.load_state: entry '{}' must be an f32 or f64 tensor", name(), key);
    std::vector<Tensor>& v = slots[param];
    v.resize(specs.size());
    // A private copy: later steps must not write into the caller's tensors.
    v[spec - specs.begin()] = value.detach().clone().detach();
  }
  for (const auto& [param, v] : slots)
    for (size_t k = 0; k < v.size(); ++k)
      LOOM_CHECK(v[k].defined(), "{}.load_state: parameter '{}' has some slots but lacks '{}{}/{}'",
                 name(), param, prefix, specs[k].name, param);

  // Everything checked: commit.
  iterations_ = iterations;
  if (lr) lr_ = LearningRate(*lr);
  slots_ = std::move(slots);
}

// ---- config -----------------------------------------------------------------------------------

OptimizerConfig Optimizer::config() const {
  OptimizerConfig c;
  if (const SchedulePtr& s = lr_.schedule()) {
    c["learning_rate"] = s->name();
    for (const auto& [k, v] : s->config()) c["learning_rate." + k] = v;
  } else {
    c["learning_rate"] = format_double(lr_.constant());
  }
  add_config(c);
  auto put = [&](const char* k, const std::optional<double>& v) {
    if (v) c[k] = format_double(*v);
  };
  put("weight_decay", grad_opts_.weight_decay);
  put("clipnorm", grad_opts_.clipnorm);
  put("clipvalue", grad_opts_.clipvalue);
  put("global_clipnorm", grad_opts_.global_clipnorm);
  return c;
}

// ---- factory -----------------------------------------------------------------------------------

namespace {

// Reads an optimizer config key by key; every key must be consumed.
class ConfigReader {
 public:
  ConfigReader(std::string who, const OptimizerConfig& c) : who_(std::move(who)), c_(c) {}

  const std::string* raw(const std::string& k) {
    used_.insert(k);
    auto it = c_.find(k);
    return it == c_.end() ? nullptr : &it->second;
  }
  double num(const std::string& k, double def) {
    const std::string* v = raw(k);
    return v ? parse_double(who_, k, *v) : def;
  }
  bool flag(const std::string& k, bool def) {
    const std::string* v = raw(k);
    return v ? parse_bool(who_, k, *v) : def;
  }
  std::optional<double> optional(const std::string& k) {
    const std::string* v = raw(k);
    if (!v || *v == "None" || *v == "none" || v->empty()) return std::nullopt;
    return parse_double(who_, k, *v);
  }
  LearningRate learning_rate(double def) {
    const std::string* v = raw("learning_rate");
    if (!v) return def;
    // A number is a constant; anything else names a schedule whose config
    // sits under "learning_rate.<key>".
    double x = 0;
    bool numeric = true;
    try {
      x = parse_double(who_, "learning_rate", *v);
    } catch (const Error&) {
      numeric = false;
    }
    if (numeric) return x;
    OptimizerConfig sc;
    const std::string p = "learning_rate.";
    for (const auto& [k, val] : c_)
      if (k.compare(0, p.size(), p) == 0) {
        sc[k.substr(p.size())] = val;
        used_.insert(k);
      }
    return make_schedule(*v, sc);
  }
  GradientOptions gradient_options() {
    return {optional("weight_decay"), optional("clipnorm"), optional("clipvalue"),
            optional("global_clipnorm")};
  }
  // Keys Keras's get_config() adds that do not change Loom's behaviour, and
  // the ones Loom cannot honour.
  void keras_extras() {
    raw("name");
    raw("jit_compile");
    raw("is_legacy_optimizer");
    raw("ema_momentum");
    raw("ema_overwrite_frequency");
    if (const std::string* v = raw("use_ema"))
      LOOM_CHECK(!parse_bool(who_, "use_ema", *v),
                 "{}: use_ema=true (weight moving averages) is not supported", who_);
    if (const std::string* v = raw("decay"))
      LOOM_CHECK(parse_double(who_, "decay", *v) == 0,
                 "{}: the legacy 'decay' argument ({}) is not supported; use an InverseTimeDecay "
                 "learning-rate schedule",
                 who_, *v);
  }
  void finish() {
    for (const auto& [k, v] : c_)
      LOOM_CHECK(used_.count(k), "{}: unknown config key '{}' (value '{}')", who_, k, v);
  }

 private:
  std::string who_;
  const OptimizerConfig& c_;
  std::set<std::string> used_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, const OptimizerConfig& config) {
  std::string key = name;
  for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::unique_ptr<Optimizer> opt;
  if (key == "sgd") {
    ConfigReader r("SGD", config);
    SGDOptions o;
    o.learning_rate = r.learning_rate(0.01);
    o.momentum = r.num("momentum", 0.0);
    o.nesterov = r.flag("nesterov", false);
    GradientOptions g = r.gradient_options();
    o.weight_decay = g.weight_decay, o.clipnorm = g.clipnorm, o.clipvalue = g.clipvalue,
    o.global_clipnorm = g.global_clipnorm;
    r.keras_extras();
    r.finish();
    opt = std::make_unique<SGD>(o);
  } else if (key == "adam" || key == "adamw") {
    // AdamW is Adam with Keras's default weight_decay of 0.004.
    ConfigReader r(key == "adam" ? "Adam" : "AdamW", config);
    AdamOptions o;
    o.learning_rate = r.learning_rate(0.001);
    o.beta_1 = r.num("beta_1", 0.9);
    o.beta_2 = r.num("beta_2", 0.999);
    o.epsilon = r.num("epsilon", 1e-7);
    o.amsgrad = r.flag("amsgrad", false);
    GradientOptions g = r.gradient_options();
    if (key == "adamw" && !config.count("weight_decay")) g.weight_decay = 0.004;
    o.weight_decay = g.weight_decay, o.clipnorm = g.clipnorm, o.clipvalue = g.clipvalue,
    o.global_clipnorm = g.global_clipnorm;
    r.keras_extras();
    r.finish();
    opt = std::make_unique<Adam>(o);
  } else if (key == "rmsprop") {
    ConfigReader r("RMSprop", config);
    RMSpropOptions o;
    o.learning_rate = r.learning_rate(0.001);
    o.rho = r.num("rho", 0.9);
    o.momentum = r.num("momentum", 0.0);
    o.epsilon = r.num("epsilon", 1e-7);
    o.centered = r.flag("centered", false);
    GradientOptions g = r.gradient_options();
    o.weight_decay = g.weight_decay, o.clipnorm = g.clipnorm, o.clipvalue = g.clipvalue,
    o.global_clipnorm = g.global_clipnorm;
    r.keras_extras();
    r.finish();
    opt = std::make_unique<RMSprop>(o);
  } else if (key == "adagrad") {
    ConfigReader r("Adagrad", config);
    AdagradOptions o;
    o.learning_rate = r.learning_rate(0.001);
    o.initial_accumulator_value = r.num("initial_accumulator_value", 0.1);
    o.epsilon = r.num("epsilon", 1e-7);
    GradientOptions g = r.gradient_options();
    o.weight_decay = g.weight_decay, o.clipnorm = g.clipnorm, o.clipvalue = g.clipvalue,
    o.global_clipnorm = g.global_clipnorm;
    r.keras_extras();
    r.finish();
    opt = std::make_unique<Adagrad>(o);
  } else {
    fail("make_optimizer: unknown optimizer '{}' (known: sgd, adam, adamw, rmsprop, adagrad)",
         name);
  }
  return opt;
}

}  // namespace loom
