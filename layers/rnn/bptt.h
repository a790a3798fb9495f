// Explicit backprop-through-time for the built-in cells (SimpleRNN, LSTM,
// GRU): a whole sequence is ONE tape entry with several outputs.
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (SimpleRNN 1, LSTM 4, GRU 3).
//
// Forward: the input projection of every timestep as one GEMM
// (x (B*T,F) W (F,GH) + b), then per step only the recurrent GEMM (h_d U)
// and one fused gate kernel (Backend::rnn_gates_forward) that also applies
// the mask and saves the activated gates. Backward: an explicit loop
// t = T-1 .. 0 carrying dh (and dc) with one fused kernel (which also
// accumulates dbias) and one GEMM per step, then one GEMM each for dx,
// dkernel and drecurrent_kernel over all timesteps. Every GEMM goes through
// the backend's gemm with transposes expressed as flags (the one exception:
// U^T is copied once per backward, because the per-step dh = dA U^T would
// otherwise gather a transposed operand at every step). If the backend
// runs whole RNNs itself (Backend::supports_rnn) and takes the call (its
// rnn_forward may decline, e.g. a mask with holes), its
// rnn_forward/rnn_backward are used instead, with the same semantics.
//
// Semantics (docs/SEMANTICS.md): masked steps carry the states over and
// output the previous output (zeros before the first unmasked step) or
// zeros with zero_output_for_mask; go_backwards processes t = T-1 .. 0 and
// returns the sequence in that order; variational dropout masks multiply x
// (input_dropout_mask) and h where it enters h U (recurrent_dropout_mask).
//
// This is the layer-independent core that RNN (layers/rnn/rnn.h) calls for
// built-in cells; the parity runner and benchmarks may call it directly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"
#include "loom/backends/backend.h"

namespace loom {

struct RnnSequenceArgs {
  Tensor x;                           // (B,T,F) batch-major
  Tensor mask;                        // (B,T) 0/1 in x's dtype, or undefined (no mask)
  std::vector<Tensor> initial_state;  // {h0} or LSTM {h0, c0}, each (B,H); empty = zeros
  Tensor kernel;                      // (F,GH)
  Tensor recurrent_kernel;            // (H,GH)
  Tensor bias;                        // (GH); GRU reset_after (2,GH); undefined without bias
  Tensor input_dropout_mask;          // (B,F) scaled mask (0 or 1/(1-rate)), or undefined
  Tensor recurrent_dropout_mask;      // (B,H) scaled mask, or undefined
};

struct RnnSequenceResult {
  Tensor output;               // (B,T,H) with return_sequences (processing order), else (B,H)
  std::vector<Tensor> states;  // final {h} or LSTM {h, c}, each (B,H)
};

// Runs the sequence. From `desc` only the configuration is read: cell,
// reset_after, activation, recurrent_activation, go_backwards,
// return_sequences, zero_output_for_mask; sizes, dtype and the presence
// flags are taken from `args`. Gradients flow to x, the initial states and
// the three weights (whichever require them); the masks are constants.
// `who` names the calling layer in error messages ("LSTM 'lstm'").
RnnSequenceResult rnn_sequence(const RnnDesc& desc, const RnnSequenceArgs& args,
                               const std::string& who = "rnn_sequence");
// The same on a given backend (instead of the one serving x's device).
RnnSequenceResult rnn_sequence(Backend& backend, const RnnDesc& desc, const RnnSequenceArgs& args,
                               const std::string& who = "rnn_sequence");

// The explicit BPTT in the shape of Backend::rnn_forward / rnn_backward:
// what rnn_sequence runs when the backend declines a call, built only from
// `backend`'s gemm, rnn_gates_*, copy, fill, binary and axpby. Every view
// must be contiguous; the workspace holds the saved activations (the
// activated gates (B,T,GH), the states entering each step, ...). Tests call
// these directly to compare a backend's own RNN with them.
std::shared_ptr<RnnWorkspace> explicit_rnn_forward(Backend& backend, const RnnDesc& desc,
                                                   const RnnForwardArgs& args);
void explicit_rnn_backward(Backend& backend, const RnnDesc& desc, const RnnBackwardArgs& args,
                           RnnWorkspace& workspace);

}  // namespace loom
