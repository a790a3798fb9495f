#include "loom/autograd/tape.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

thread_local bool g_grad_mode = true;
std::atomic<uint64_t> g_sequence{0};

// Adds `g` into `slot` (allocating on first use). Accumulation never aliases
// `g`: a later in-place add must not modify a tensor the caller still holds.
void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = Tensor::empty(g.shape(), g.dtype(), g.device());
    backend_for(slot.device()).copy(g.view(), slot.view());
    return;
  }
  backend_for(slot.device()).axpby(1.0, g.view(), 1.0, slot.view());
}

}  // namespace

bool grad_mode_enabled() { return g_grad_mode; }

namespace {
thread_local GradientReadyFn g_gradient_ready;
}  // namespace

GradientReadyHook::GradientReadyHook(GradientReadyFn fn) : previous_(std::move(g_gradient_ready)) {
  g_gradient_ready = std::move(fn);
}
GradientReadyHook::~GradientReadyHook() { g_gradient_ready = std::move(previous_); }

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) { g_grad_mode = false; }
NoGradGuard::~NoGradGuard() { g_grad_mode = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* op, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
            BackwardFn backward) {
  auto entry = std::make_shared<TapeEntry>();
  entry->op = op;
  entry->inputs = inputs;
  entry->needs_input_grad.reserve(inputs.size());
  for (const Tensor& t : inputs) entry->needs_input_grad.push_back(t.defined() && t.requires_grad());
  entry->backward = std::move(backward);
  entry->sequence = g_sequence.fetch_add(1);
  for (size_t k = 0; k < outputs.size(); ++k) {
    Tensor& out = outputs[k];
    entry->output_shapes.push_back(out.shape());
    entry->output_dtypes.push_back(out.dtype());
    entry->output_devices.push_back(out.device());
    // A view shares storage with its input but needs its own autograd identity.
    if (out.impl()->grad_fn || out.impl()->requires_grad) out = out.detach();
    out.impl()->requires_grad = true;
    out.impl()->grad_fn = entry;
    out.impl()->output_index = static_cast<int>(k);
  }
}

Tensor record(const char* op, const std::vector<Tensor>& inputs, Tensor output,
              std::function<std::vector<Tensor>(const Tensor& dout)> backward) {
  std::vector<Tensor> outs{std::move(output)};
  record(op, inputs, outs,
         [fn = std::move(backward)](const std::vector<Tensor>& douts) { return fn(douts[0]); });
  return outs[0];
}

namespace {

// The entries reachable from `outputs`, in the order backward visits them.
// Owning pointers: freeing one entry's inputs (free_graph) may drop the last
// other reference to another.
std::vector<std::shared_ptr<TapeEntry>> reachable_entries(const std::vector<Tensor>& outputs) {
  std::vector<std::shared_ptr<TapeEntry>> entries;
  std::unordered_set<TapeEntry*> seen;
  std::vector<std::shared_ptr<TapeEntry>> stack;
  for (const Tensor& o : outputs) {
    LOOM_CHECK(o.defined(), "backward: an output is undefined");
    if (o.grad_fn() && seen.insert(o.grad_fn().get()).second) stack.push_back(o.grad_fn());
  }
  while (!stack.empty()) {
    std::shared_ptr<TapeEntry> e = stack.back();
    stack.pop_back();
    entries.push_back(e);
    LOOM_CHECK(e->backward != nullptr,
               "backward: the tape entry of '{}' was already freed by an earlier backward; "
               "pass retain_graph=true to walk a graph twice",
               e->op);
    for (const Tensor& in : e->inputs)
      if (in.defined() && in.grad_fn() && seen.insert(in.grad_fn().get()).second)
        stack.push_back(in.grad_fn());
  }
  // An entry is always recorded after the entries of its inputs, so the
  // reverse of recording order is a valid order for backward.
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a->sequence > b->sequence; });
  return entries;
}

// Where gradients go during one backward run: into .grad of leaves (and of
// tensors that retain their gradient), or, when `wanted` is given, into
// `collected` for those tensors only; and into the pending output gradients
// of the entries that produced non-leaf targets.
class GradientSink {
 public:
  GradientSink(const std::vector<Tensor>* wanted, std::vector<Tensor>* collected)
      : wanted_(wanted), collected_(collected) {
    if (wanted_) {
      collected_->assign(wanted_->size(), Tensor());
      for (size_t i = 0; i < wanted_->size(); ++i) wanted_index_[(*wanted_)[i].impl()] = i;
    }
  }

  // Adds gradient `g` (undefined: none) for `target`.
  void deliver(const Tensor& target, const Tensor& g) {
    if (!g.defined()) return;
    LOOM_CHECK(g.shape() == target.shape(),
               "backward: gradient of shape {} for a tensor of shape {} (op '{}')",
               shape_str(g.shape()), shape_str(target.shape()),
               target.grad_fn() ? target.grad_fn()->op : std::string("leaf"));
    if (wanted_) {
      auto it = wanted_index_.find(target.impl());
      if (it != wanted_index_.end()) accumulate((*collected_)[it->second], g);
    } else if (target.is_leaf() || target.impl()->retains_grad) {
      if (target.requires_grad()) {
        Tensor slot = target.grad();
        accumulate(slot, g);
        target.impl()->grad = slot.impl_ptr();
      }
    }
    if (!target.is_leaf()) {
      auto& slots = douts_[target.grad_fn().get()];
      if (slots.empty()) slots.resize(target.grad_fn()->output_shapes.size());
      accumulate(slots[target.impl()->output_index], g);
    }
  }

  // Checks the cotangents against the outputs and delivers them.
  void seed(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents) {
    for (size_t k = 0; k < outputs.size(); ++k) {
      LOOM_CHECK(cotangents[k].defined(), "backward: cotangent {} is undefined", k);
      LOOM_CHECK(cotangents[k].shape() == outputs[k].shape(),
                 "backward: cotangent {} has shape {} but its output has shape {}", k,
                 shape_str(cotangents[k].shape()), shape_str(outputs[k].shape()));
      LOOM_CHECK(cotangents[k].dtype() == outputs[k].dtype(),
                 "backward: cotangent {} has dtype {} but its output has dtype {}", k,
                 dtype_name(cotangents[k].dtype()), dtype_name(outputs[k].dtype()));
      deliver(outputs[k], cotangents[k]);
    }
  }

  // Runs e's backward function on the gradients that reached its outputs
  // (zeros for outputs that got none) and delivers the input gradients.
  // Does nothing when no gradient reached e.
  void run_entry(TapeEntry& e) {
    auto it = douts_.find(&e);
    if (it == douts_.end()) return;  // nothing flowed into this entry
    std::vector<Tensor> g = std::move(it->second);
    douts_.erase(it);
    for (size_t k = 0; k < g.size(); ++k)
      if (!g[k].defined())
        g[k] = Tensor::zeros(e.output_shapes[k], e.output_dtypes[k], e.output_devices[k]);
    std::vector<Tensor> dins = e.backward(g);
    LOOM_CHECK(dins.size() == e.inputs.size(),
               "backward of '{}' returned {} gradients for {} inputs", e.op, dins.size(),
               e.inputs.size());
    for (size_t i = 0; i < dins.size(); ++i)
      if (e.needs_input_grad[i]) deliver(e.inputs[i], dins[i]);
  }

 private:
  const std::vector<Tensor>* wanted_;
  std::vector<Tensor>* collected_;
  std::unordered_map<const TensorImpl*, size_t> wanted_index_;
  std::unordered_map<TapeEntry*, std::vector<Tensor>> douts_;  // pending output gradients
};

// Counts, for each leaf that wants a gradient, the entries still to run
// that feed it; the hook hears of a leaf when its count reaches zero.
class LeafCountdown {
 public:
  explicit LeafCountdown(const std::vector<std::shared_ptr<TapeEntry>>& entries) {
    for (const auto& e : entries)
      for (size_t i = 0; i < e->inputs.size(); ++i)
        if (e->needs_input_grad[i] && e->inputs[i].is_leaf()) ++pending_[e->inputs[i].impl()];
  }
  void entry_done(const TapeEntry& e) {
    for (size_t i = 0; i < e.inputs.size(); ++i) {
      if (!e.needs_input_grad[i] || !e.inputs[i].is_leaf()) continue;
      auto it = pending_.find(e.inputs[i].impl());
      if (it != pending_.end() && --it->second == 0) g_gradient_ready(*it->first);
    }
  }

 private:
  std::unordered_map<const TensorImpl*, int> pending_;
};

void free_graph(const std::vector<std::shared_ptr<TapeEntry>>& entries) {
  for (const auto& e : entries) {
    e->backward = nullptr;  // frees the saved values captured in the closure
    e->inputs.clear();
  }
}

// Runs the tape from `outputs`. When `wanted` is non-null, gradients of those
// tensors are collected into `collected` instead of accumulated into .grad.
void run_backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents,
                  bool retain_graph, const std::vector<Tensor>* wanted,
                  std::vector<Tensor>* collected) {
  LOOM_CHECK(outputs.size() == cotangents.size(),
             "backward: {} outputs but {} cotangents", outputs.size(), cotangents.size());
  const std::vector<std::shared_ptr<TapeEntry>> entries = reachable_entries(outputs);
  GradientSink sink(wanted, collected);

  NoGradGuard no_grad;  // backward functions compute without recording
  sink.seed(outputs, cotangents);
  if (g_gradient_ready && !wanted) {
    LeafCountdown countdown(entries);
    for (const auto& e : entries) {
      sink.run_entry(*e);
      countdown.entry_done(*e);
    }
  } else {
    for (const auto& e : entries) sink.run_entry(*e);
  }
  if (!retain_graph) free_graph(entries);
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents,
              bool retain_graph) {
  run_backward(outputs, cotangents, retain_graph, nullptr, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents,
                         const std::vector<Tensor>& inputs, bool retain_graph) {
  std::vector<Tensor> result;
  run_backward(outputs, cotangents, retain_graph, &inputs, &result);
  for (size_t i = 0; i < result.size(); ++i)
    if (!result[i].defined())
      result[i] = Tensor::zeros(inputs[i].shape(), inputs[i].dtype(), inputs[i].device());
  return result;
}

}  // namespace loom
