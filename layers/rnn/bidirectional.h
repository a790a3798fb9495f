// Bidirectional (Keras): runs a recurrent layer forward and a copy of it
// backward over the same input and merges the two.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
//
//   auto bi = Bidirectional::make(LSTM::make({.units = 64, .return_sequences = true}));
//   Tensor y = bi(x);                          // x (B,T,F) -> (B,T,128)
//   LayerOutput o = bi->run(x, {.mask = m, .initial_state = {hf, cf, hb, cb}});
//
// - The forward direction is the given layer itself; the backward one is
//   `backward_layer` when given, else a copy of the layer with go_backwards
//   flipped and fresh weights, named "backward_<name>".
// - With return_sequences the backward output is reversed back into input
//   time order before merging. merge_mode: "concat" (default, forward
//   first: (B,T,2H)), "sum", "mul", "ave", or "none" (both outputs, forward
//   first).
// - As Keras does, zero_output_for_mask is set to return_sequences on both
//   directions (whatever the layers asked for).
// - Masks go to both directions; with return_sequences the mask is passed on.
// - Outputs: the merged output(s), then with return_state the forward
//   states, then the backward states. initial_state: forward states then
//   backward states (inputs {x, fw states..., bw states...}).
// Weights: the forward layer's, then the backward layer's (get_weights order).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loom/layers/rnn/rnn.h"

namespace loom {

class Bidirectional : public Layer {
 public:
  struct Options {
    std::string merge_mode = "concat";  // concat, sum, mul, ave, none
    std::shared_ptr<RNN> backward_layer;  // optional; must match the layer's
                                          // return_sequences and return_state
  };
  enum class Merge { concat, sum, mul, ave, none };

  Bidirectional(std::shared_ptr<RNN> layer, Options options, std::string name = "");
  static LayerHandle<Bidirectional> make(std::shared_ptr<RNN> layer, Options options,
                                         std::string name = "");
  static LayerHandle<Bidirectional> make(std::shared_ptr<RNN> layer) {
    return make(std::move(layer), Options());
  }
  static LayerPtr from_config(const Config& config, const std::string& name);

  // x (B,T,F) plus named extras -> outputs and their masks.
  LayerOutput run(const Tensor& x, const RnnCallArgs& args = {});

  void build(const std::vector<Shape>& input_shapes) override;
  // inputs {x, forward states..., backward states...}; masks {mask of x}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config config() const override;
  // The wrapper's policy is its directions' policy.
  void set_dtype_policy(const std::string& name) override;

  const std::shared_ptr<RNN>& forward_layer() const { return forward_; }
  const std::shared_ptr<RNN>& backward_layer() const { return backward_; }
  Merge merge_mode() const { return merge_; }

 private:
  Tensor merge(const Tensor& fw, const Tensor& bw) const;
  Options options_;
  Merge merge_;
  std::shared_ptr<RNN> forward_, backward_;
};

}  // namespace loom
