// The tape: one TapeEntry per recorded op.
//
// An op that sees an input requiring gradients records an entry holding its
// backward function, its inputs, and (captured in the backward closure) only
// the values backward needs. Outputs point at their entry, entries point at
// their inputs, so the tape for a loss is exactly what is reachable from it.
// backward() orders those entries (reverse topological order = reverse
// recording order), runs each backward once, accumulates gradients into
// leaves' .grad, and frees every entry's saved values unless asked to retain.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom {

// Given one cotangent per output (never undefined: zeros when an output was
// unused), returns one gradient per input; an undefined Tensor means "no
// gradient" (for inputs that do not need one, see needs_input_grad).
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& douts)>;

struct TapeEntry {
  std::string op;                       // for error messages
  std::vector<Tensor> inputs;           // the op's inputs (handles, not copies)
  std::vector<bool> needs_input_grad;   // per input
  std::vector<Shape> output_shapes;     // to make zero cotangents
  std::vector<DType> output_dtypes;
  std::vector<Device> output_devices;   // zero cotangents live where the outputs did
  BackwardFn backward;                  // released after use unless retained
  uint64_t sequence = 0;                // recording order, for a stable sort
};

// Whether ops record (false inside NoGradGuard and during backward).
bool grad_mode_enabled();

// Turns recording off for its lifetime (inference, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any defined input requires a gradient.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records an op with several outputs: marks every output as requiring grad
// and points it at the new entry. Call only when any_requires_grad(inputs).
void record(const char* op, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
            BackwardFn backward);

// Single-output convenience; returns `output`.
Tensor record(const char* op, const std::vector<Tensor>& inputs, Tensor output,
              std::function<std::vector<Tensor>(const Tensor& dout)> backward);

// Runs backward from `outputs` with `cotangents` (same shapes), accumulating
// into the .grad of every leaf that requires grad. With retain_graph the
// tape may be walked again; otherwise its saved values are freed.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents,
              bool retain_graph = false);

// Told during backward() the moment a leaf's gradient is final: every tape
// entry that feeds it has run. Data-parallel training (distributed/) starts
// reducing a bucket of gradients from here while backward goes on, as
// PyTorch's DDP does from its autograd hooks. One hook per thread, set for
// the guard's lifetime; grad() does not call it.
using GradientReadyFn = std::function<void(const TensorImpl& leaf)>;
class GradientReadyHook {
 public:
  explicit GradientReadyHook(GradientReadyFn fn);
  ~GradientReadyHook();
  GradientReadyHook(const GradientReadyHook&) = delete;
  GradientReadyHook& operator=(const GradientReadyHook&) = delete;

 private:
  GradientReadyFn previous_;
};

// Gradients of sum_k <outputs[k], cotangents[k]> with respect to `inputs`,
// returned instead of accumulated into .grad (used by gradcheck).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents,
                         const std::vector<Tensor>& inputs, bool retain_graph = false);

}  // namespace loom
