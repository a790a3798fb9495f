// The kernel interface every backend implements (reference C++, oneDNN, CUDA).
//
// Only the heavy kernels live here; autograd/ composes them into
// differentiable ops. Every kernel takes StridedViews: shapes and strides are
// in elements, a stride of 0 broadcasts an input, outputs are never
// broadcast. Unless a kernel says otherwise its views all have the same
// ndim and shape.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loom/backends/types.h"

namespace loom {

enum class UnaryOp : uint8_t {
  copy, neg, exp, log, tanh, sigmoid, hard_sigmoid, relu, softplus, sqrt, square, abs, sign,
};
const char* unary_op_name(UnaryOp op);

// Whether unary_grad wants the op's output y (true) or its input x (false):
// tanh, sigmoid, exp and sqrt have cheap derivatives in terms of y, so the
// tape saves y for them and x for the others.
constexpr bool grad_uses_output(UnaryOp op) {
  return op == UnaryOp::exp || op == UnaryOp::tanh || op == UnaryOp::sigmoid ||
         op == UnaryOp::sqrt;
}

enum class BinaryOp : uint8_t {
  add, sub, mul, div, maximum, minimum,
  // Comparisons write 1 or 0 in dst's dtype.
  eq, ne, lt, le, gt, ge,
};
const char* binary_op_name(BinaryOp op);

enum class ReduceOp : uint8_t { sum, max, min };

// C[p] = alpha * op(A[p]) * op(B[p]) + beta * C[p] for p in [0, batch),
// op(A) is (M, K), op(B) is (K, N), C is (M, N); all row-major with leading
// dimensions lda/ldb/ldc. beta == 0 ignores C's previous contents (even NaN).
struct GemmDesc {
  DType dtype = DType::f32;
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // between batch items
  double alpha = 1.0, beta = 0.0;
  // Mixed precision (f32 only): bf16 or f16 rounds every element of A and B
  // to that format before the product, which accumulates in f32 (tensor
  // cores, oneDNN's bf16 matmul). f32 = no rounding. A backend without such
  // a product rounds copies of A and B (round_gemm_operands) and runs f32.
  DType compute = DType::f32;
};

// ---- recurrent layers -------------------------------------------------------------
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (SimpleRNN 1, LSTM 4, GRU 3). Weights are in Keras's layout
// (docs/PARITY_FORMAT.md): kernel (F,GH), recurrent_kernel (H,GH), bias (GH), or
// (2,GH) for GRU reset_after (row 0 input bias, row 1 recurrent bias); gate
// order along GH: LSTM i,f,c,o; GRU z,r,h.

enum class RnnCellKind : uint8_t { simple_rnn, lstm, gru };

// The activations a built-in cell accepts for `activation` and
// `recurrent_activation`. Each one's derivative is a function of its output
// y, which is why the fused kernels save activated gates only:
//   tanh' = 1 - y^2, sigmoid' = y (1 - y), hard_sigmoid' = 0.2 for 0 < y < 1,
//   relu' = [y > 0], linear' = 1.
enum class RnnActivation : uint8_t { tanh, sigmoid, hard_sigmoid, relu, linear };

constexpr const char* rnn_cell_kind_name(RnnCellKind k) {
  switch (k) {
    case RnnCellKind::simple_rnn: return "SimpleRNN";
    case RnnCellKind::lstm: return "LSTM";
    case RnnCellKind::gru: return "GRU";
  }
  return "?";
}

constexpr const char* rnn_activation_name(RnnActivation a) {
  switch (a) {
    case RnnActivation::tanh: return "tanh";
    case RnnActivation::sigmoid: return "sigmoid";
    case RnnActivation::hard_sigmoid: return "hard_sigmoid";
    case RnnActivation::relu: return "relu";
    case RnnActivation::linear: return "linear";
  }
  return "?";
}

// Everything a backend needs to know about one recurrent layer call over a
// whole sequence (semantics: docs/SEMANTICS.md). The flags describe which
// optional views of RnnForwardArgs are present.
struct RnnDesc {
  RnnCellKind cell = RnnCellKind::lstm;
  bool reset_after = true;  // GRU only: Keras default, cuDNN's and PyTorch's GRU
  RnnActivation activation = RnnActivation::tanh;
  RnnActivation recurrent_activation = RnnActivation::sigmoid;  // LSTM and GRU gates
  bool use_bias = true;
  int64_t B = 0, T = 0, F = 0, H = 0;
  DType dtype = DType::f32;
  bool go_backwards = false;      // process t = T-1 .. 0; sequence output in that order
  bool return_sequences = false;  // y is (B,T,H), else the last step's output (B,H)
  bool has_mask = false;          // a (B,T) 0/1 mask
  bool zero_output_for_mask = false;
  bool has_initial_state = false;  // h0 (and c0) given, else zeros
  bool input_dropout = false;      // a (B,F) variational mask multiplies x
  bool recurrent_dropout = false;  // a (B,H) mask multiplies h where it enters h U
  bool training = false;           // a backward pass will follow
  // Mixed precision (f32 only): bf16 or f16 rounds x, the states and the
  // weights to that format wherever they enter a product (f32 accumulation,
  // the cell state and the element-wise gate math stay f32), in the forward
  // and the backward pass. f32 = no rounding.
  DType compute = DType::f32;

  int64_t gates() const {  // G
    return cell == RnnCellKind::lstm ? 4 : cell == RnnCellKind::gru ? 3 : 1;
  }
  int states() const { return cell == RnnCellKind::lstm ? 2 : 1; }  // h, or h and c
};

// Views of one whole-sequence call. An absent optional view has data null.
struct RnnForwardArgs {
  StridedView x;                  // (B,T,F)
  StridedView mask;               // (B,T) 0/1 in dtype        [has_mask]
  StridedView h0, c0;             // (B,H), c0 LSTM only       [has_initial_state]
  StridedView kernel;             // (F,GH)
  StridedView recurrent_kernel;   // (H,GH)
  StridedView bias;               // (GH) or (2,GH)            [use_bias]
  StridedView input_dropout;      // (B,F) scaled 0/(1/(1-rate)) [input_dropout]
  StridedView recurrent_dropout;  // (B,H)                     [recurrent_dropout]
  StridedView y;                  // out: (B,T,H) with return_sequences, else (B,H)
  StridedView hT, cT;             // out: final states (B,H), cT LSTM only
};

struct RnnBackwardArgs {
  RnnForwardArgs fwd;             // the forward call's views (inputs may be re-read)
  StridedView dy;                 // (B,T,H) or (B,H) cotangent of y
  StridedView dhT, dcT;           // (B,H) cotangents of the final states
  // Outputs; data null when that gradient is not wanted.
  StridedView dx;                 // (B,T,F)
  StridedView dh0, dc0;           // (B,H)
  StridedView dkernel;            // (F,GH)
  StridedView drecurrent_kernel;  // (H,GH)
  StridedView dbias;              // (GH) or (2,GH)
};

// What a backend's rnn_forward keeps for its rnn_backward (gate activations
// in its own layout, converted weights, device buffers). Opaque to callers.
struct RnnWorkspace {
  virtual ~RnnWorkspace() = default;
};

// What Backend::rnn_forward did with one call: ran it (workspace set when
// desc.training), or declined it without writing any output.
struct RnnForwardResult {
  bool declined = false;
  std::shared_ptr<RnnWorkspace> workspace;

  static RnnForwardResult ran(std::shared_ptr<RnnWorkspace> ws) { return {false, std::move(ws)}; }
  static RnnForwardResult declined_call() { return {true, nullptr}; }
};

// Rows of a (B, n) row-major matrix: row b starts at data + b * ld elements.
// The fused step kernels read and write the time slices of (B,T,n) buffers
// through these, so no slice is ever copied. data null = absent.
struct RnnRows {
  void* data = nullptr;
  int64_t ld = 0;  // elements between rows
  template <typename T> T* row(int64_t b) const { return static_cast<T*>(data) + b * ld; }
  explicit operator bool() const { return data != nullptr; }
};

// One timestep of a built-in cell's element-wise work in the forward pass:
// pre-activations -> activations -> new states -> mask select -> output,
// in one kernel call. Shapes: B rows each; (B,GH) gates, (B,H) states.
// GRU with reset_after=false needs the reset gate before its last
// recurrent product, so it runs in two phases per step: phase 0 makes z, r
// and rh = r * h_d; the caller multiplies rh by U_h; phase 1 finishes.
struct RnnStepForward {
  int phase = 0;
  RnnRows gates;          // (B,GH) in: x W + b for this step; out: activated gates (saved)
  RnnRows hu;             // (B,GH) in: h_d U (GRU reset_before: phase 0 (B,2H) h_d U_zr,
                          //        phase 1 (B,H) rh U_h)
  const void* recurrent_bias = nullptr;  // (GH) GRU reset_after's second bias row
  RnnRows h_prev;         // (B,H) state entering the step
  RnnRows hd_prev;        // (B,H) h_prev * recurrent mask (= h_prev without dropout)
  RnnRows c_prev;         // (B,H) LSTM cell state entering the step
  const void* mask = nullptr;  // (B) this step's mask column, 0/1 in dtype; null = all 1
  int64_t mask_stride = 0;     // elements between rows' mask values
  RnnRows rec_mask;       // (B,H) recurrent dropout mask, to write hd_next
  RnnRows out_prev;       // (B,H) previous step's output; null = zeros (first step)
  // outputs
  RnnRows h_next, c_next; // (B,H) states after the step (carried over where masked)
  RnnRows hd_next;        // (B,H) h_next * rec_mask, optional
  RnnRows out;            // (B,H) this step's output
  RnnRows act_c;          // (B,H) LSTM: act(c') (saved)
  RnnRows hu_h;           // (B,H) GRU reset_after: h_d U_h + br_h (saved)
  RnnRows rh;             // (B,H) GRU reset_before: r * h_d (saved; phase 0)
};

// One timestep of the backward pass, t = T-1 .. 0. `dh` carries the
// gradient of the state after this step except what reaches it through
// the next step's recurrent product, which arrives as dh_rec (the gradient
// of that step's h_d) and is scaled by the recurrent mask here; on return
// `dh` holds the same for the state before this step. The caller then adds
// dA_rec U^T into dh_rec with one GEMM. GRU reset_before: phase 0 writes dA
// for z and h; the caller forms drh = dA_h U_h^T; phase 1 writes dA_r and
// sets dh_rec = r * drh for the caller's GEMM to add dA_zr U_zr^T into.
struct RnnStepBackward {
  int phase = 0;
  RnnRows gates;          // (B,GH) saved activated gates
  RnnRows h_prev;         // (B,H) GRU: state entering the step
  RnnRows hd_prev;        // (B,H) GRU reset_before: h_prev * recurrent mask
  RnnRows c_prev;         // (B,H) LSTM
  RnnRows act_c, hu_h;    // (B,H) saved by the forward step (see RnnStepForward)
  const void* mask = nullptr;
  int64_t mask_stride = 0;
  bool zero_output_for_mask = false;
  RnnRows dy;             // (B,H) cotangent of this step's output; null = 0
  RnnRows dout;           // (B,H) in/out: gradient of an output carried over masked steps
  RnnRows dh;             // (B,H) in/out, see above
  RnnRows dh_rec;         // (B,H) in: next step's d h_d (null at the last step);
                          //       GRU reset_before phase 1: out
  RnnRows rec_mask;       // (B,H) recurrent dropout mask; null = none
  RnnRows dc;             // (B,H) in/out: LSTM cell-state gradient
  RnnRows dA;             // (B,GH) out: gradient of the pre-activations (input side)
  RnnRows dA_rec;         // (B,GH) out: GRU reset_after, recurrent side (h gate scaled by r)
  RnnRows drh;            // (B,H) in: GRU reset_before phase 1, dA_h U_h^T
  // Bias gradients, accumulated here so no pass over all of dA is needed
  // later: the call that completes dA (phase 1 for GRU reset_before, else
  // phase 0) adds the column sums of its dA rows into db and of dA_rec into
  // db_rec. Null = not wanted.
  void* db = nullptr;      // (GH)
  void* db_rec = nullptr;  // (GH) GRU reset_after's recurrent bias row
};

// One Adam step over n contiguous elements of a parameter w, its gradient g
// and its slots m, v, all on the backend's device (optim/adam.cpp has the
// same formula on the host):
//   g' = scale * clip(g, -clip, clip);  w -= w * wd * lr   (decoupled decay)
//   m += (g' - m)(1 - b1);  v += (g'^2 - v)(1 - b2);  w -= alpha m / (sqrt(v) + eps)
// with alpha = lr sqrt(1 - b2^t) / (1 - b1^t), all scalars cast to dtype.
struct AdamUpdate {
  DType dtype = DType::f32;
  int64_t n = 0;
  void* w = nullptr;
  const void* g = nullptr;
  void* m = nullptr;
  void* v = nullptr;
  double scale = 1, clip = 0, lr = 0, weight_decay = 0, alpha = 0;
  double one_minus_b1 = 0, one_minus_b2 = 0, epsilon = 0;
};

// Host copies of a mixed-precision product's A and B with every element
// rounded to desc.compute (bf16 or f16), for backends whose own product
// cannot round: gemm(rounded.desc, rounded.a.data(), rounded.b.data(), c)
// is then the mixed product, in f32. Each operand is copied as the
// contiguous (rows, cols) it is stored as; a stride-0 (shared) operand once.
struct RoundedGemmOperands {
  GemmDesc desc;  // compute f32, contiguous operands
  std::vector<float> a, b;
};
RoundedGemmOperands round_gemm_operands(const GemmDesc& desc, const float* a, const float* b);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual DeviceKind device_kind() const = 0;
  virtual int device_index() const { return 0; }  // N of cuda:N
  Device device() const { return Device{device_kind(), device_index()}; }

  // ---- memory of this backend's device ---------------------------------------
  // CPU backends use the host allocator (cpu_allocator.h); a device backend
  // (CUDA) overrides all six. Copies are between this device and the host;
  // copy_to_host returns once the bytes are on the host (it waits for the
  // kernels that write them), copy_from_host once `src` may be reused.
  virtual void* allocate(size_t nbytes);
  virtual void deallocate(void* p, size_t nbytes) noexcept;
  // Scratch memory for a Buffer (backends/buffer.h): at least nbytes;
  // *block_bytes receives the size to hand back to release_scratch. CPU
  // backends reuse kept host blocks of up to twice the size
  // (cpu_allocate_scratch); a device backend overrides both.
  virtual void* allocate_scratch(size_t nbytes, size_t* block_bytes);
  virtual void release_scratch(void* p, size_t block_bytes) noexcept;
  virtual void copy_from_host(const void* src, void* dst, size_t nbytes);
  virtual void copy_to_host(const void* src, void* dst, size_t nbytes);
  // Waits for every kernel enqueued so far (a no-op on the CPU).
  virtual void synchronize() {}

  // ---- element-wise --------------------------------------------------------
  // dst = value
  virtual void fill(const StridedView& dst, double value) = 0;
  // dst = src, converting dtype if they differ (any of the four dtypes).
  virtual void copy(const StridedView& src, const StridedView& dst) = 0;
  // dst = op(src)
  virtual void unary(UnaryOp op, const StridedView& src, const StridedView& dst) = 0;
  // dx = dy * op'(.) where `saved` is y = op(x) if grad_uses_output(op), else x.
  virtual void unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy,
                          const StridedView& dx) = 0;
  // dst = a (op) b
  virtual void binary(BinaryOp op, const StridedView& a, const StridedView& b,
                      const StridedView& dst) = 0;
  // dst = alpha * src + beta * dst   (beta == 0 ignores dst's contents)
  virtual void axpby(double alpha, const StridedView& src, double beta,
                     const StridedView& dst) = 0;
  // dst = cond != 0 ? a : b
  virtual void where(const StridedView& cond, const StridedView& a, const StridedView& b,
                     const StridedView& dst) = 0;

  // ---- reductions --------------------------------------------------------------
  // dst has src's ndim with extent 1 on every reduced axis (and src's extent
  // elsewhere); reduces src over those axes.
  virtual void reduce(ReduceOp op, const StridedView& src, const StridedView& dst) = 0;

  // ---- matrix products -----------------------------------------------------------
  // a, b, c point at the first element of A, B, C (dtype in desc).
  virtual void gemm(const GemmDesc& desc, const void* a, const void* b, void* c) = 0;

  // ---- softmax over the last axis (contiguous (R, C) rows) -------------------------
  // dst = softmax(src) or log_softmax(src)
  virtual void softmax(const StridedView& src, const StridedView& dst, bool log) = 0;
  // dx from y = (log_)softmax(x) and dy
  virtual void softmax_grad(const StridedView& y, const StridedView& dy, const StridedView& dx,
                            bool log) = 0;

  // ---- embedding rows ---------------------------------------------------------------
  // table (V, E) contiguous, ids (N) i32/i64, dst (N, E) contiguous:
  // dst[n] = table[ids[n]]. Ids are validated by the caller.
  virtual void gather_rows(const StridedView& table, const StridedView& ids,
                           const StridedView& dst) = 0;
  // dtable[ids[n]] += src[n]  (repeated ids accumulate)
  virtual void scatter_add_rows(const StridedView& src, const StridedView& ids,
                                const StridedView& dtable) = 0;

  // ---- random ---------------------------------------------------------------------------
  // dst[i] = (uniform(seed, offset + i) < keep_prob) ? scale : 0 for the
  // contiguous element index i. The uniform stream is counter-based (Philox),
  // so every backend draws the same mask for the same seed.
  virtual void bernoulli_mask(const StridedView& dst, double keep_prob, double scale,
                              uint64_t seed, uint64_t offset) = 0;

  // ---- recurrent layers (explicit BPTT building blocks) ------------------------------
  // The fused element-wise work of one timestep of a built-in cell; the
  // caller does the GEMMs (layers/rnn/bptt.cpp). Only desc's cell kind,
  // activations, reset_after, B, H, dtype and zero_output_for_mask matter.
  virtual void rnn_gates_forward(const RnnDesc& desc, const RnnStepForward& step) = 0;
  virtual void rnn_gates_backward(const RnnDesc& desc, const RnnStepBackward& step) = 0;

  // ---- optimizer updates ----------------------------------------------------------------
  // A device backend runs Adam where the parameters live (returns true); the
  // default returns false and the optimizer updates on the host.
  virtual bool adam_update(const AdamUpdate& update) { return false; }

  // ---- recurrent layers (whole sequence) -------------------------------------------------
  // A backend with its own RNN implementation (oneDNN, cuDNN) says which
  // configurations it runs: supports_rnn from the desc alone, and
  // rnn_forward may still decline a call once it sees the data (a mask
  // with holes, say), returning RnnForwardResult::declined_call() before writing
  // anything. For what is declined, layers/rnn runs the explicit BPTT built
  // from this backend's gemm and rnn_gates_* instead (a backend never runs
  // it itself). rnn_forward fills y, hT, cT and, when desc.training, returns
  // the workspace rnn_backward consumes.
  virtual bool supports_rnn(const RnnDesc& desc) const { return false; }
  virtual RnnForwardResult rnn_forward(const RnnDesc& desc, const RnnForwardArgs& args) {
    fail("backend {}: rnn_forward is not implemented (supports_rnn is false)", name());
  }
  virtual void rnn_backward(const RnnDesc& desc, const RnnBackwardArgs& args,
                            RnnWorkspace& workspace) {
    fail("backend {}: rnn_backward is not implemented (supports_rnn is false)", name());
  }
};

}  // namespace loom
