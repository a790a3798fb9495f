// Whole recurrent layers on oneDNN's RNN primitives, forward training and
// backward.
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (GH = G*H), Gb gates of oneDNN's bias (G, or 4 for LBR GRU).
//
// Cells: SimpleRNN -> vanilla_rnn (tanh, relu, sigmoid), LSTM -> vanilla_lstm,
// GRU reset_after=false -> vanilla_gru, GRU reset_after=true -> lbr_gru.
// go_backwards -> unidirectional_right2left. Bidirectional layers reach the
// backend as two calls (one per direction, layers/rnn/bidirectional.cpp),
// so each call is one unidirectional primitive.
//
// Three paths (RnnRunner::forward decides):
//   dense    no mask (or a mask with nothing masked): one primitive run.
//   packed   a padding mask (each row's unmasked steps contiguous: left or
//            right padding, either direction, rows of any length, empty
//            rows): rows sorted by length and packed, one primitive run per
//            distinct length (see PackedWorkspace).
//   declined a mask with holes, or every row empty: rnn_forward declines and
//            layers/rnn runs the explicit BPTT on this backend's kernels.
//
// Layouts (oneDNN's names; rnn_layout.h for the weights):
//   x (B,T,F) is oneDNN's `ntc` src_layer: described with strides, no copy.
//   every step's h comes back in `ntc` (B,T,H) in input-time order; Loom's
//     sequence output is in processing order, so go_backwards reverses it.
//   h0, c0, hT, cT (B,H) are `ldnc` with L = D = 1.
//   weights are given as `ldigo` (Keras's layout) and reordered into the
//     layout the primitive chose (format `any`) once per call: the forward
//     and backward primitives prefer different ones, and the weights change
//     at every optimizer step anyway. Weight gradients come back in ldigo.
//
// Per shape (cell, activation, direction, B, T, F, H, training) one plan
// holds the primitives, the layouts they chose and a buffer of zeros; plans
// are cached, so a training loop builds them once. Scratch memory (oneDNN's
// workspace, the saved states, reordered weights) is a Buffer from the
// backend's host allocator, which keeps freed large blocks, so steps do not
// page-fault through fresh allocations.
//
// Semantics kept equal to the explicit BPTT (docs/SEMANTICS.md):
//   - input dropout multiplies x before the primitive (x_d = x * mask, a
//     (B,F) mask shared by every step) and dx after it;
//   - the last-step output y (without return_sequences) is hT, so its
//     cotangent joins dhT as the primitive's diff_dst_iter;
//   - oneDNN accumulates into its weight and bias gradients: they are zeroed
//     before every backward call (and the packed segments share them).
//
// Mixed precision (RnnDesc::compute bf16) runs oneDNN's bf16 primitive
// where this oneDNN and CPU have a native one (decided once, see
// bf16_native): x, h, y and the weights are bf16 inside the primitive (the
// f32 ones are converted on the way in and back, the weights by the reorder
// the f32 path makes anyway), the cell state, bias and gradients stay f32.
// f16, and bf16 without a native primitive, are declined: the explicit BPTT
// then rounds its products' operands instead.
#include "loom/backends/onednn/onednn_rnn.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "loom/backends/onednn/dnnl_compat.h"
#include "loom/backends/onednn/rnn_layout.h"
#include "loom/backends/buffer.h"
#include "loom/backends/half.h"
#include "loom/backends/reference/parallel.h"

namespace loom::onednn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// ---- plans ------------------------------------------------------------------------------

struct RnnKey {
  RnnCellKind cell;
  bool reset_after;
  RnnActivation activation;
  bool backwards;
  bool training;
  bool bf16;  // RnnDesc::compute bf16: the bf16 primitive (f32 diffs and cell state)
  int64_t B, T, F, H;
  auto operator<=>(const RnnKey&) const = default;
};

DnnlCell dnnl_cell(const RnnDesc& d) {
  switch (d.cell) {
    case RnnCellKind::simple_rnn: return DnnlCell::vanilla_rnn;
    case RnnCellKind::lstm: return DnnlCell::lstm;
    case RnnCellKind::gru: return d.reset_after ? DnnlCell::lbr_gru : DnnlCell::gru;
  }
  return DnnlCell::lstm;
}

dnnl::algorithm dnnl_activation(RnnActivation a) {
  switch (a) {
    case RnnActivation::relu: return dnnl::algorithm::eltwise_relu;
    case RnnActivation::sigmoid: return dnnl::algorithm::eltwise_logistic;
    default: return dnnl::algorithm::eltwise_tanh;
  }
}

// One primitive pair for one shape: B rows, T steps (a plan for a packed
// segment has that segment's rows and steps).
struct RnnPlan {
  RnnKey key;
  int G = 1, Gb = 1;
  bool lstm = false;
  memory::desc x_md, y_md, iter_md;  // ntc (T,B,F), ntc (T,B,H), ldnc (1,1,B,H): f32 or bf16
  memory::desc dx_md, dy_md, diter_md;  // the same in f32: gradients, and the LSTM cell state
  memory::desc wl_user, wi_user;     // ldigo (1,1,F,G,H), (1,1,H,G,H): Keras's layout
  memory::desc bias_md;              // ldgo (1,1,Gb,H)
  dnnl::primitive fwd, bwd;
  memory::desc fwd_wl, fwd_wi, bwd_wl, bwd_wi, ws_md;  // the layouts the primitives chose
  memory::desc fwd_scratch, bwd_scratch;  // scratch each execute needs (user-managed)
  std::string impl;  // the forward primitive's implementation ("brgemm:avx512_core_bf16", ...)
  Buffer zeros;  // read-only zeros for absent inputs: max(B*T*H, Gb*H) floats
};

std::shared_ptr<RnnPlan> build_plan(const dnnl::engine& eng, Backend& backend,
                                    const RnnDesc& d, const RnnKey& key) {
  auto p = std::make_shared<RnnPlan>();
  const int64_t B = key.B, T = key.T, F = key.F, H = key.H;
  p->key = key;
  p->G = static_cast<int>(d.gates());
  p->Gb = dnnl_bias_gates(d.cell, d.reset_after);
  p->lstm = d.cell == RnnCellKind::lstm;
  // Kernels are handed to oneDNN in Keras's layout as its `ldigo`, which
  // needs the gate orders to agree (rnn_layout.h).
  LOOM_CHECK(gates_in_keras_order(d.cell),
             "onednn rnn: {} gates are not in oneDNN's order; permute the kernels first",
             rnn_cell_kind_name(d.cell));
  const memory::dim G = p->G;
  // bf16 (oneDNN 2.6 and later, on CPUs with AVX-512 BF16, AMX, or an
  // AVX-512 emulation): x, h, y and the weights in bf16, accumulation and
  // the gate math in f32, and f32 for the cell state, the bias and every
  // gradient (the only bf16 training configuration 2.6 accepts: it rejects
  // bf16 gradients).
  const dt data = key.bf16 ? dt::bf16 : dt::f32;
  p->x_md = memory::desc({T, B, F}, data, memory::dims{F, T * F, 1});
  p->y_md = memory::desc({T, B, H}, data, memory::dims{H, T * H, 1});
  p->iter_md = memory::desc({1, 1, B, H}, data, tag::ldnc);
  p->dx_md = memory::desc({T, B, F}, dt::f32, memory::dims{F, T * F, 1});
  p->dy_md = memory::desc({T, B, H}, dt::f32, memory::dims{H, T * H, 1});
  p->diter_md = memory::desc({1, 1, B, H}, dt::f32, tag::ldnc);
  p->wl_user = memory::desc({1, 1, F, G, H}, dt::f32, tag::ldigo);
  p->wi_user = memory::desc({1, 1, H, G, H}, dt::f32, tag::ldigo);
  p->bias_md = memory::desc({1, 1, p->Gb, H}, dt::f32, tag::ldgo);

  RnnMemoryDescs m;
  m.src_layer = p->x_md;
  m.diff_src_layer = p->dx_md;
  m.dst_layer = p->y_md;
  m.diff_dst_layer = p->dy_md;
  m.src_iter = m.dst_iter = p->iter_md;
  m.diff_src_iter = m.diff_dst_iter = p->diter_md;
  if (p->lstm) m.src_iter_c = m.dst_iter_c = m.diff_src_iter_c = m.diff_dst_iter_c = p->diter_md;
  m.weights_layer = memory::desc({1, 1, F, G, H}, data, tag::any);
  m.weights_iter = memory::desc({1, 1, H, G, H}, data, tag::any);
  // The weight gradients are asked for in Keras's layout, so they land in
  // the caller's buffers without a reorder.
  m.diff_weights_layer = p->wl_user;
  m.diff_weights_iter = p->wi_user;
  m.bias = m.diff_bias = p->bias_md;
  const dnnl::rnn_direction dir = key.backwards ? dnnl::rnn_direction::unidirectional_right2left
                                                : dnnl::rnn_direction::unidirectional_left2right;
  RnnPrimitiveDescs pds;
  try {
    pds = make_rnn_primitive_descs(eng, dnnl_cell(d), dnnl_activation(d.activation), dir,
                                   key.training, m);
  } catch (const dnnl::error& e) {
    fail("onednn rnn: oneDNN rejected {} {} B={} T={} F={} H={}: {}", key.bf16 ? "bf16" : "f32",
         rnn_cell_kind_name(d.cell), B, T, F, H, e.what());
  }
  auto md = [](const dnnl::primitive_desc& pd, int arg) {
    return pd.query_md(dnnl::query::exec_arg_md, arg);
  };
  p->fwd = dnnl::primitive(pds.fwd);
  p->fwd_wl = md(pds.fwd, DNNL_ARG_WEIGHTS_LAYER);
  p->fwd_wi = md(pds.fwd, DNNL_ARG_WEIGHTS_ITER);
  p->fwd_scratch = pds.fwd.scratchpad_desc();
  p->impl = pds.fwd.impl_info_str();
  if (key.training) {
    p->ws_md = pds.fwd.workspace_desc();
    p->bwd = dnnl::primitive(pds.bwd);
    p->bwd_wl = md(pds.bwd, DNNL_ARG_WEIGHTS_LAYER);
    p->bwd_wi = md(pds.bwd, DNNL_ARG_WEIGHTS_ITER);
    p->bwd_scratch = pds.bwd.scratchpad_desc();
    LOOM_CHECK(md(pds.bwd, DNNL_ARG_DIFF_WEIGHTS_LAYER) == p->wl_user &&
                   md(pds.bwd, DNNL_ARG_DIFF_WEIGHTS_ITER) == p->wi_user,
               "onednn rnn: the backward primitive did not take the weight gradients in ldigo");
  }
  const size_t nz = static_cast<size_t>(std::max(B * T * H, p->Gb * H));
  p->zeros = Buffer(backend, nz * sizeof(float));
  std::memset(p->zeros.data(), 0, nz * sizeof(float));
  return p;
}

// A bf16 plan's bf16 copies of a training run's f32 data tensors, by the
// f32 buffer they copy: the forward pass makes them (x and h0 converted, y
// and hT as the primitive wrote them) and the backward pass, which reads
// the same buffers, reuses them instead of converting again. Owned by the
// workspace, which also owns (or outlives) the f32 buffers.
struct Bf16Copies {
  std::vector<std::pair<const float*, Buffer>> of;
  const void* find(const float* f32) const {
    for (const auto& [key, copy] : of)
      if (key == f32) return copy.data();
    return nullptr;
  }
};

// The tensors of one primitive run over a dense batch (n rows, L steps), in
// the plan's layouts: x (n,L,F) and y (n,L,H) as ntc, states (n,H).
struct DenseRun {
  const float* x = nullptr;
  const float* h0 = nullptr;  // never null (the plan's zeros for none)
  const float* c0 = nullptr;  // LSTM
  const float* bias = nullptr;
  float* dst_layer = nullptr;
  float* dst_iter = nullptr;
  float* dst_iter_c = nullptr;
  void* ws = nullptr;  // training
  // backward
  const float* ddst_layer = nullptr;
  const float* ddst_iter = nullptr;
  const float* ddst_iter_c = nullptr;
  float* dx = nullptr;
  float* dh0 = nullptr;
  float* dc0 = nullptr;
  float* dwl = nullptr;  // (F,GH), oneDNN adds into it
  float* dwi = nullptr;  // (H,GH), oneDNN adds into it
  float* db = nullptr;   // (Gb*H), oneDNN adds into it
  Bf16Copies* copies = nullptr;  // a bf16 training run's (see Bf16Copies); null: convert each time
};

// What rnn_forward keeps for rnn_backward on the dense path. The forward
// inputs (x, h0, c0, weights, bias, masks) are re-read from
// RnnBackwardArgs::fwd; everything the primitive produced is held here.
struct DnnlWorkspace : RnnWorkspace {
  std::shared_ptr<const RnnPlan> plan;
  Buffer xd;                    // (B,T,F) x * input dropout mask; empty without dropout
  Buffer bias;                  // oneDNN bias when it is not the caller's (LBR GRU)
  Buffer dst_layer;             // (B,T,H) every step's h, input-time order
  Buffer dst_iter, dst_iter_c;  // (B,H)
  Buffer ws;                    // oneDNN's workspace (gates, states)
  Bf16Copies copies;            // bf16 plans: x, h0, y, hT in bf16
};

// A padding mask's path: the rows, sorted by their number of unmasked steps
// L (longest first), are packed so that row r's unmasked steps, in
// processing order, are its packed steps 0 .. L-1. At packed step j the
// active rows are then a prefix of the sorted batch, so the sequence splits
// into segments (one per distinct L) of constant active rows, each one
// primitive run that starts from the states the previous one ended with.
// Work is proportional to the unmasked steps, and rows keep their states
// over masked steps exactly as docs/SEMANTICS.md requires (they are simply not
// run there).
struct Segment {
  std::shared_ptr<const RnnPlan> plan;
  int64_t n = 0, begin = 0, len = 0;  // active rows, first packed step, steps
  Buffer x;                           // (n,len,F) packed inputs (input dropout applied)
  Buffer dst_layer;                   // (n,len,H)
  Buffer dst_iter, dst_iter_c;        // (n,H) states after the segment
  Buffer ws;
};

struct PackedWorkspace : RnnWorkspace {
  std::vector<int64_t> order;   // sorted position r -> row b
  std::vector<int64_t> pos;     // row b -> sorted position r
  std::vector<int64_t> start;   // row b: first unmasked processing step (T when none)
  std::vector<int64_t> length;  // row b: unmasked steps L
  std::vector<int64_t> last_segment;  // row b: the segment its last unmasked step is in (-1: none)
  Buffer h0, c0;                // (B,H) initial states in sorted order
  Buffer bias;                  // oneDNN bias when it is not the caller's
  std::vector<Segment> seg;
  Bf16Copies copies;            // bf16 plans: every segment's x, h0, y, hT in bf16
};

template <typename T>
T* ptr(const StridedView& v) {
  return static_cast<T*>(v.data);
}

// dst (B,T,n) = src (B,T,n) with the time axis reversed.
void reverse_time(const float* src, float* dst, int64_t B, int64_t T, int64_t n) {
  ref::parallel_for(B * T, std::max<int64_t>(1, 16384 / n), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / T, t = i % T;
      std::memcpy(dst + (b * T + (T - 1 - t)) * n, src + i * n, n * sizeof(float));
    }
  });
}

void copy_floats(const float* src, float* dst, int64_t n) {
  ref::parallel_for(n, 65536, [&](int64_t b, int64_t e) {
    std::memcpy(dst + b, src + b, (e - b) * sizeof(float));
  });
}

// f32 <-> bf16 (round to nearest even), for a bf16 plan's data tensors.
void floats_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  ref::parallel_for(n, 65536, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = float_to_bf16_bits(src[i]);
  });
}
void bf16_to_floats(const uint16_t* src, float* dst, int64_t n) {
  ref::parallel_for(n, 65536, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = bf16_bits_to_float(src[i]);
  });
}

// x (B,T,F) times the (B,F) mask at every step, into dst (dst may be x).
void times_input_mask(const float* x, const float* mask, float* dst, int64_t B, int64_t T,
                      int64_t F) {
  ref::parallel_for(B * T, std::max<int64_t>(1, 16384 / F), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* m = mask + (i / T) * F;
      const float* s = x + i * F;
      float* o = dst + i * F;
      for (int64_t f = 0; f < F; ++f) o[f] = s[f] * m[f];
    }
  });
}

// The unmasked steps of each row as one run of processing steps
// [start, start + length), or false when some row's are not contiguous (a
// mask with holes). length 0: no unmasked step (start = T).
bool padding_runs(const RnnDesc& d, const float* mask, std::vector<int64_t>& start,
                  std::vector<int64_t>& length) {
  const int64_t B = d.B, T = d.T;
  start.assign(static_cast<size_t>(B), T);
  length.assign(static_cast<size_t>(B), 0);
  for (int64_t b = 0; b < B; ++b) {
    int64_t first = -1, count = 0, last = -1;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = d.go_backwards ? T - 1 - s : s;
      if (mask[b * T + t] != 0.0f) {
        if (first < 0) first = s;
        last = s;
        ++count;
      }
    }
    if (count == 0) continue;
    if (last - first + 1 != count) return false;
    start[static_cast<size_t>(b)] = first;
    length[static_cast<size_t>(b)] = count;
  }
  return true;
}

}  // namespace

// ---- the runner ---------------------------------------------------------------------------

// Thread safety: plans (primitives and layouts) are shared by every thread
// and only read once built; everything a run writes is the run's own: its
// stream, scratchpad, reordered weights and workspace. So one model serves
// inference (and training) from any thread and from many at once.
struct RnnRunner::State {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  Backend* backend;  // the oneDNN backend: scratch memory and small element-wise work
  explicit State(Backend& be) : backend(&be) {}
  mutable std::mutex mu;  // guards plans and stats
  std::map<RnnKey, std::shared_ptr<RnnPlan>> plans;
  RnnRunner::Stats stats;

  // The plan for `d` with B rows and T steps (a packed segment's shape), in
  // the direction `backwards`.
  std::shared_ptr<RnnPlan> plan_for(const RnnDesc& d, int64_t B, int64_t T, bool backwards) {
    const RnnKey key{d.cell, d.cell == RnnCellKind::gru && d.reset_after, d.activation,
                     backwards, d.training, d.compute == DType::bf16, B, T, d.F, d.H};
    std::lock_guard<std::mutex> lock(mu);
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    // Shapes that keep changing (a last partial batch, the segments of
    // padded batches) must not grow the cache without bound; plans in use
    // stay alive through their workspaces.
    if (plans.size() >= 1024) plans.clear();
    auto p = build_plan(eng, *backend, d, key);
    plans.emplace(key, p);
    return p;
  }

  memory wrap(const memory::desc& md, const void* p) {
    return memory(md, eng, const_cast<void*>(p));
  }

  // The user's weights (ldigo) in the layouts the primitives of one call
  // want, reordered once per layout and call.
  // One call's execution context: its stream and the user's weights (ldigo)
  // in the layouts the primitives of that call want, reordered once per
  // layout and call.
  struct Weights {
    const float* user = nullptr;
    memory::desc user_md;
    std::vector<std::pair<memory::desc, memory>> made;
    std::vector<Buffer> hold;
  };
  struct Run {
    explicit Run(const dnnl::engine& eng) : stream(eng) {}
    dnnl::stream stream;
    Weights wl, wi;
  };
  memory weights(dnnl::stream& stream, Weights& w, const memory::desc& to) {
    if (to == w.user_md) return wrap(to, w.user);
    for (auto& [md, m] : w.made)
      if (md == to) return m;
    w.hold.push_back(Buffer(*backend, to.get_size()));
    memory src = wrap(w.user_md, w.user), dst = wrap(to, w.hold.back().data());
    dnnl::reorder(src, dst).execute(stream, src, dst);
    stream.wait();
    w.made.emplace_back(to, dst);
    return dst;
  }

  // Runs `prim` with `args` plus a scratchpad of `scratch_md` for this run.
  void execute(Run& run, const dnnl::primitive& prim, const memory::desc& scratch_md,
               std::unordered_map<int, memory>& args) {
    Buffer scratch;
    if (scratch_md.get_size() > 0) {
      scratch = Buffer(*backend, scratch_md.get_size());
      args.emplace(DNNL_ARG_SCRATCHPAD, wrap(scratch_md, scratch.data()));
    }
    prim.execute(run.stream, args);
    run.stream.wait();  // the scratchpad is freed on return
  }

  // A bf16 plan's data tensors (x, h, y) as bf16 copies of the run's f32
  // ones: converted on the way in, and back into the f32 buffers after the
  // primitive (exactly: they hold bf16 values). An f32 plan uses the run's.
  // A training run keeps the copies it makes in the run's Bf16Copies (a
  // backward pass finds them there); an inference run drops them.
  struct DataCopy {
    const float* f32;
    Buffer bf16;
    int64_t out_elems;  // an output's elements, copied back after the run; 0 for an input
  };
  struct DataCopies {
    const Bf16Copies* look = nullptr;  // copies to reuse
    Bf16Copies* keep = nullptr;        // where to keep the ones made
    std::vector<DataCopy> made;
  };
  const void* data_in(const RnnPlan& p, DataCopies& c, const float* src, int64_t n) {
    if (!p.key.bf16) return src;
    if (c.look)
      if (const void* kept = c.look->find(src)) return kept;
    c.made.push_back({src, Buffer(*backend, n * sizeof(uint16_t)), 0});
    floats_to_bf16(src, c.made.back().bf16.as<uint16_t>(), n);
    return c.made.back().bf16.data();
  }
  void* data_out(const RnnPlan& p, DataCopies& c, float* dst, int64_t n) {
    if (!p.key.bf16) return dst;
    c.made.push_back({dst, Buffer(*backend, n * sizeof(uint16_t)), n});
    return c.made.back().bf16.data();
  }
  // After the primitive: outputs back into their f32 buffers, and every
  // copy into the run's Bf16Copies when it keeps them.
  static void finish_copies(DataCopies& c) {
    for (DataCopy& m : c.made) {
      if (m.out_elems > 0)
        bf16_to_floats(m.bf16.as<uint16_t>(), const_cast<float*>(m.f32), m.out_elems);
      if (c.keep) c.keep->of.emplace_back(m.f32, std::move(m.bf16));
    }
  }
  // Elements of the run's x (n,L,F), y (n,L,H) and one state (n,H).
  static int64_t x_elems(const RnnPlan& p) { return p.key.B * p.key.T * p.key.F; }
  static int64_t y_elems(const RnnPlan& p) { return p.key.B * p.key.T * p.key.H; }
  static int64_t state_elems(const RnnPlan& p) { return p.key.B * p.key.H; }

  void forward(Run& run, const RnnPlan& p, const DenseRun& r) {
    DataCopies c;
    c.look = c.keep = r.copies;
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC_LAYER, wrap(p.x_md, data_in(p, c, r.x, x_elems(p)))},
        {DNNL_ARG_SRC_ITER, wrap(p.iter_md, data_in(p, c, r.h0, state_elems(p)))},
        {DNNL_ARG_WEIGHTS_LAYER, weights(run.stream, run.wl, p.fwd_wl)},
        {DNNL_ARG_WEIGHTS_ITER, weights(run.stream, run.wi, p.fwd_wi)},
        {DNNL_ARG_BIAS, wrap(p.bias_md, r.bias)},
        {DNNL_ARG_DST_LAYER, wrap(p.y_md, data_out(p, c, r.dst_layer, y_elems(p)))},
        {DNNL_ARG_DST_ITER, wrap(p.iter_md, data_out(p, c, r.dst_iter, state_elems(p)))},
    };
    if (p.lstm) {
      args.emplace(DNNL_ARG_SRC_ITER_C, wrap(p.diter_md, r.c0));
      args.emplace(DNNL_ARG_DST_ITER_C, wrap(p.diter_md, r.dst_iter_c));
    }
    if (p.key.training) args.emplace(DNNL_ARG_WORKSPACE, wrap(p.ws_md, r.ws));
    execute(run, p.fwd, p.fwd_scratch, args);
    finish_copies(c);
  }

  void backward(Run& run, const RnnPlan& p, const DenseRun& r) {
    DataCopies c;  // what the forward pass did not keep; dropped afterwards
    c.look = r.copies;
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC_LAYER, wrap(p.x_md, data_in(p, c, r.x, x_elems(p)))},
        {DNNL_ARG_SRC_ITER, wrap(p.iter_md, data_in(p, c, r.h0, state_elems(p)))},
        {DNNL_ARG_WEIGHTS_LAYER, weights(run.stream, run.wl, p.bwd_wl)},
        {DNNL_ARG_WEIGHTS_ITER, weights(run.stream, run.wi, p.bwd_wi)},
        {DNNL_ARG_BIAS, wrap(p.bias_md, r.bias)},
        {DNNL_ARG_DST_LAYER, wrap(p.y_md, data_in(p, c, r.dst_layer, y_elems(p)))},
        {DNNL_ARG_DST_ITER, wrap(p.iter_md, data_in(p, c, r.dst_iter, state_elems(p)))},
        {DNNL_ARG_WORKSPACE, wrap(p.ws_md, r.ws)},
        {DNNL_ARG_DIFF_SRC_LAYER, wrap(p.dx_md, r.dx)},
        {DNNL_ARG_DIFF_SRC_ITER, wrap(p.diter_md, r.dh0)},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, wrap(p.wl_user, r.dwl)},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, wrap(p.wi_user, r.dwi)},
        {DNNL_ARG_DIFF_BIAS, wrap(p.bias_md, r.db)},
        {DNNL_ARG_DIFF_DST_LAYER, wrap(p.dy_md, r.ddst_layer)},
        {DNNL_ARG_DIFF_DST_ITER, wrap(p.diter_md, r.ddst_iter)},
    };
    if (p.lstm) {
      args.emplace(DNNL_ARG_SRC_ITER_C, wrap(p.diter_md, r.c0));
      args.emplace(DNNL_ARG_DST_ITER_C, wrap(p.diter_md, r.dst_iter_c));
      args.emplace(DNNL_ARG_DIFF_SRC_ITER_C, wrap(p.diter_md, r.dc0));
      args.emplace(DNNL_ARG_DIFF_DST_ITER_C, wrap(p.diter_md, r.ddst_iter_c));
    }
    execute(run, p.bwd, p.bwd_scratch, args);
  }

  // The bias oneDNN reads: the caller's when the layouts agree, else
  // converted into `hold` (LBR GRU), or zeros without a bias.
  const float* bias(const RnnDesc& d, const RnnPlan& p, const StridedView& user, Buffer& hold) {
    if (p.Gb != p.G) {
      hold = Buffer(*backend, p.Gb * d.H * sizeof(float));
      bias_keras_to_dnnl(d.cell, d.reset_after, ptr<const float>(user), d.H, hold.as<float>());
      return hold.as<float>();
    }
    return user.data ? ptr<const float>(user) : p.zeros.as<float>();
  }

  // Gradient buffers oneDNN adds into: the caller's where wanted, else
  // scratch; zeroed.
  struct WeightGrads {
    float *dwl, *dwi, *db;
    Buffer hold_wl, hold_wi, hold_b;
  };
  void weight_grads(const RnnDesc& d, const RnnPlan& p, const RnnBackwardArgs& a,
                    WeightGrads& g) {
    const int64_t GH = p.G * d.H;
    auto out = [&](const StridedView& v, int64_t n, Buffer& hold) -> float* {
      float* o = v.data ? ptr<float>(v)
                        : (hold = Buffer(*backend, n * sizeof(float)), hold.as<float>());
      std::memset(o, 0, n * sizeof(float));
      return o;
    };
    g.dwl = out(a.dkernel, d.F * GH, g.hold_wl);
    g.dwi = out(a.drecurrent_kernel, d.H * GH, g.hold_wi);
    // LBR GRU's oneDNN bias gradient is converted into the caller's afterwards.
    g.db = out(p.Gb == p.G ? a.dbias : StridedView{}, p.Gb * d.H, g.hold_b);
  }
};

RnnRunner::RnnRunner(Backend& backend) : s_(std::make_unique<State>(backend)) {}
RnnRunner::~RnnRunner() = default;

size_t RnnRunner::cached_plans() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->plans.size();
}

RnnRunner::Stats RnnRunner::stats() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->stats;
}

// The primitives compute Keras's cells exactly only with their fixed
// activations (LSTM and GRU: tanh and sigmoid; SimpleRNN: one of tanh,
// relu, sigmoid) and in f32 (oneDNN has no f64 RNN). Recurrent dropout (a
// mask on h inside the recurrence) has no counterpart in the primitive.
// Those calls run the explicit BPTT on this backend's GEMM instead. Input
// dropout is applied to x before the primitive. Masks are accepted here:
// padding masks (every row's unmasked steps contiguous, as pad_sequences
// makes them, left or right) run packed on the primitive; masks with holes
// are only visible in the mask's values, so forward() sends those to the
// explicit BPTT itself.
bool RnnRunner::supports(const RnnDesc& d) const {
  if (d.dtype != DType::f32) return false;
  if (d.compute != DType::f32 && !(d.compute == DType::bf16 && bf16_native())) return false;
  if (d.recurrent_dropout) return false;
  if (d.B <= 0 || d.T <= 0 || d.F <= 0 || d.H <= 0) return false;
  switch (d.cell) {
    case RnnCellKind::lstm:
    case RnnCellKind::gru:
      return d.activation == RnnActivation::tanh &&
             d.recurrent_activation == RnnActivation::sigmoid;
    case RnnCellKind::simple_rnn:
      return d.activation == RnnActivation::tanh || d.activation == RnnActivation::relu ||
             d.activation == RnnActivation::sigmoid;
  }
  return false;
}

// Whether this oneDNN has a native bf16 LSTM training primitive on this CPU
// (AVX-512 BF16, AMX, or its AVX-512 emulation), asked once with a small
// shape. Its reference implementation would be slower than the explicit
// BPTT, so "ref" counts as no.
bool RnnRunner::bf16_native() const {
  static const bool native = [this] {
    RnnDesc d;
    d.cell = RnnCellKind::lstm;
    d.training = true;
    d.compute = DType::bf16;
    d.B = 2, d.T = 2, d.F = 16, d.H = 16;
    try {
      const RnnKey key{d.cell, false, d.activation, false, true, true, 2, 2, 16, 16};
      return build_plan(s_->eng, *s_->backend, d, key)->impl.rfind("ref", 0) != 0;
    } catch (const Error&) {
      return false;
    }
  }();
  return native;
}

// ---- the dense path: one primitive run over the whole batch ---------------------------------

namespace {

std::shared_ptr<RnnWorkspace> dense_forward(RnnRunner::State& s, const RnnDesc& d,
                                            const RnnForwardArgs& a) {
  std::shared_ptr<RnnPlan> plan = s.plan_for(d, d.B, d.T, d.go_backwards);
  const RnnPlan& p = *plan;
  const int64_t B = d.B, T = d.T, F = d.F, H = d.H;
  auto ws = std::make_shared<DnnlWorkspace>();
  ws->plan = plan;

  DenseRun r;
  r.x = ptr<const float>(a.x);
  if (a.input_dropout.data) {
    ws->xd = Buffer(*s.backend, B * T * F * sizeof(float));
    times_input_mask(r.x, ptr<const float>(a.input_dropout), ws->xd.as<float>(), B, T, F);
    r.x = ws->xd.as<float>();
  }
  r.h0 = a.h0.data ? ptr<const float>(a.h0) : p.zeros.as<float>();
  r.c0 = a.c0.data ? ptr<const float>(a.c0) : p.zeros.as<float>();
  r.bias = s.bias(d, p, a.bias, ws->bias);
  ws->dst_layer = Buffer(*s.backend, B * T * H * sizeof(float));
  ws->dst_iter = Buffer(*s.backend, B * H * sizeof(float));
  if (p.lstm) ws->dst_iter_c = Buffer(*s.backend, B * H * sizeof(float));
  if (d.training) ws->ws = Buffer(*s.backend, p.ws_md.get_size());
  r.dst_layer = ws->dst_layer.as<float>();
  r.dst_iter = ws->dst_iter.as<float>();
  r.dst_iter_c = ws->dst_iter_c.as<float>();
  r.ws = ws->ws.data();
  r.copies = d.training ? &ws->copies : nullptr;
  RnnRunner::State::Run run(s.eng);
  run.wl = {ptr<const float>(a.kernel), p.wl_user, {}, {}};
  run.wi = {ptr<const float>(a.recurrent_kernel), p.wi_user, {}, {}};
  s.forward(run, p, r);

  // Outputs in Loom's conventions.
  copy_floats(ws->dst_iter.as<float>(), ptr<float>(a.hT), B * H);
  if (p.lstm) copy_floats(ws->dst_iter_c.as<float>(), ptr<float>(a.cT), B * H);
  if (!d.return_sequences) copy_floats(ws->dst_iter.as<float>(), ptr<float>(a.y), B * H);
  else if (d.go_backwards) reverse_time(ws->dst_layer.as<float>(), ptr<float>(a.y), B, T, H);
  else copy_floats(ws->dst_layer.as<float>(), ptr<float>(a.y), B * T * H);
  if (!d.training) return nullptr;
  return ws;
}

void dense_backward(RnnRunner::State& s, const RnnDesc& d, const RnnBackwardArgs& a,
                    DnnlWorkspace& w) {
  const RnnPlan& p = *w.plan;
  const RnnForwardArgs& f = a.fwd;
  const int64_t B = d.B, T = d.T, F = d.F, H = d.H;
  const float* zeros = p.zeros.as<float>();

  DenseRun r;
  r.x = w.xd ? w.xd.as<float>() : ptr<const float>(f.x);
  r.h0 = f.h0.data ? ptr<const float>(f.h0) : zeros;
  r.c0 = f.c0.data ? ptr<const float>(f.c0) : zeros;
  r.bias = w.bias ? w.bias.as<float>() : f.bias.data ? ptr<const float>(f.bias) : zeros;
  r.dst_layer = w.dst_layer.as<float>();
  r.dst_iter = w.dst_iter.as<float>();
  r.dst_iter_c = w.dst_iter_c.as<float>();
  r.ws = w.ws.data();
  r.copies = &w.copies;

  // Cotangents. The last-step output y is hT itself, so dy adds to dhT.
  const float* dy = ptr<const float>(a.dy);
  const float* dhT = ptr<const float>(a.dhT);
  const float* dcT = ptr<const float>(a.dcT);
  Buffer ddst_layer_hold, ddst_iter_hold;
  r.ddst_layer = zeros;
  r.ddst_iter = dhT ? dhT : zeros;
  r.ddst_iter_c = dcT ? dcT : zeros;
  if (d.return_sequences && dy) {
    if (d.go_backwards) {
      ddst_layer_hold = Buffer(*s.backend, B * T * H * sizeof(float));
      reverse_time(dy, ddst_layer_hold.as<float>(), B, T, H);
      r.ddst_layer = ddst_layer_hold.as<float>();
    } else {
      r.ddst_layer = dy;
    }
  } else if (dy) {
    ddst_iter_hold = Buffer(*s.backend, B * H * sizeof(float));
    float* di = ddst_iter_hold.as<float>();
    for (int64_t i = 0; i < B * H; ++i) di[i] = dy[i] + (dhT ? dhT[i] : 0.0f);
    r.ddst_iter = di;
  }

  // Gradient outputs: the caller's buffers where wanted, else scratch.
  Buffer dx_hold, dh0_hold, dc0_hold;
  auto out_or_scratch = [&](const StridedView& v, int64_t n, Buffer& hold) -> float* {
    if (v.data) return ptr<float>(v);
    hold = Buffer(*s.backend, n * sizeof(float));
    return hold.as<float>();
  };
  r.dx = out_or_scratch(a.dx, B * T * F, dx_hold);
  r.dh0 = out_or_scratch(a.dh0, B * H, dh0_hold);
  r.dc0 = p.lstm ? out_or_scratch(a.dc0, B * H, dc0_hold) : nullptr;
  RnnRunner::State::WeightGrads g;
  s.weight_grads(d, p, a, g);
  r.dwl = g.dwl;
  r.dwi = g.dwi;
  r.db = g.db;

  RnnRunner::State::Run run(s.eng);
  run.wl = {ptr<const float>(f.kernel), p.wl_user, {}, {}};
  run.wi = {ptr<const float>(f.recurrent_kernel), p.wi_user, {}, {}};
  s.backward(run, p, r);

  if (a.dbias.data && g.db != ptr<float>(a.dbias))
    diff_bias_dnnl_to_keras(d.cell, d.reset_after, g.db, H, ptr<float>(a.dbias));
  // d x = d x_d * mask
  if (a.dx.data && f.input_dropout.data)
    times_input_mask(r.dx, ptr<const float>(f.input_dropout), r.dx, B, T, F);
}

// ---- the packed path: padding masks ---------------------------------------------------------

// Sorts the rows longest first and cuts the packed steps into segments:
// one per distinct positive length L, segment k covering packed steps
// [L_{k-1}, L_k) with the rows whose length is at least L_k (a prefix of the
// sorted rows).
void plan_segments(PackedWorkspace& w, int64_t B) {
  w.order.resize(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) w.order[static_cast<size_t>(b)] = b;
  std::stable_sort(w.order.begin(), w.order.end(),
                   [&](int64_t x, int64_t y) { return w.length[x] > w.length[y]; });
  w.pos.resize(static_cast<size_t>(B));
  for (int64_t r = 0; r < B; ++r) w.pos[static_cast<size_t>(w.order[r])] = r;
  w.last_segment.assign(static_cast<size_t>(B), -1);

  std::vector<int64_t> lengths;
  for (int64_t L : w.length)
    if (L > 0) lengths.push_back(L);
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  int64_t begin = 0;
  for (int64_t L : lengths) {
    Segment sg;
    sg.begin = begin;
    sg.len = L - begin;
    sg.n = std::count_if(w.length.begin(), w.length.end(), [&](int64_t x) { return x >= L; });
    w.seg.push_back(std::move(sg));
    begin = L;
  }
  for (int64_t b = 0; b < B; ++b)
    if (w.length[b] > 0)
      w.last_segment[b] =
          std::lower_bound(lengths.begin(), lengths.end(), w.length[b]) - lengths.begin();
}

// (B,H) states `src` (null = zeros) in sorted row order.
Buffer sorted_states(Backend& be, const PackedWorkspace& w, const float* src, int64_t B,
                     int64_t H) {
  Buffer dst(be, B * H * sizeof(float));
  for (int64_t r = 0; r < B; ++r) {
    float* o = dst.as<float>() + r * H;
    if (src) std::memcpy(o, src + w.order[r] * H, H * sizeof(float));
    else std::memset(o, 0, H * sizeof(float));
  }
  return dst;
}

// Moves (B,T,F) rows between the layer's time order and segment sg's packed
// (n,len,F) block, times the (B,F) input mask `mx` when given:
// packed[r, j] <-> seq[b, time_of(start_b + begin + j)] for b = order[r].
enum class PackDirection { gather, scatter };
void pack_segment(const RnnDesc& d, const PackedWorkspace& w, const Segment& sg,
                  PackDirection dir, const float* mx, const float* src, float* dst) {
  const int64_t T = d.T, F = d.F;
  auto time_of = [&](int64_t step) { return d.go_backwards ? T - 1 - step : step; };
  ref::parallel_for(sg.n * sg.len, std::max<int64_t>(1, 16384 / F), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r = i / sg.len, j = i % sg.len, b = w.order[r];
      const int64_t seq_row = b * T + time_of(w.start[b] + sg.begin + j);
      const float* in = dir == PackDirection::gather ? src + seq_row * F : src + i * F;
      float* out = dir == PackDirection::gather ? dst + i * F : dst + seq_row * F;
      if (mx) {
        const float* m = mx + b * F;
        for (int64_t q = 0; q < F; ++q) out[q] = in[q] * m[q];
      } else {
        std::memcpy(out, in, F * sizeof(float));
      }
    }
  });
}

// The primitive run of segment k: it starts from the first n rows of the
// previous segment's final states (a prefix: rows are sorted).
DenseRun segment_run(const PackedWorkspace& w, size_t k, bool lstm, const float* bias) {
  const Segment& sg = w.seg[k];
  DenseRun r;
  r.x = sg.x.as<float>();
  r.h0 = k == 0 ? w.h0.as<float>() : w.seg[k - 1].dst_iter.as<float>();
  r.c0 = !lstm ? nullptr : k == 0 ? w.c0.as<float>() : w.seg[k - 1].dst_iter_c.as<float>();
  r.bias = bias ? bias : sg.plan->zeros.as<float>();
  r.dst_layer = sg.dst_layer.as<float>();
  r.dst_iter = sg.dst_iter.as<float>();
  r.dst_iter_c = sg.dst_iter_c.as<float>();
  r.ws = sg.ws.data();
  return r;
}

// y, hT, cT from the segments' outputs, with Keras's rules for masked
// steps: states carried over, outputs repeated (or zeros with
// zero_output_for_mask, and before a row's first unmasked step).
void write_packed_outputs(const RnnDesc& d, const RnnForwardArgs& a, const PackedWorkspace& w) {
  const int64_t B = d.B, T = d.T, H = d.H;
  const bool lstm = d.cell == RnnCellKind::lstm;
  // Row b's packed step j sits in the segment holding j.
  auto packed_h = [&](int64_t b, int64_t j) -> const float* {
    size_t k = 0;
    while (j >= w.seg[k].begin + w.seg[k].len) ++k;
    const Segment& sg = w.seg[k];
    return sg.dst_layer.as<float>() + (w.pos[b] * sg.len + (j - sg.begin)) * H;
  };
  float* y = ptr<float>(a.y);
  float* hT = ptr<float>(a.hT);
  float* cT = ptr<float>(a.cT);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = w.length[b], s0 = w.start[b], k = w.last_segment[b];
    const int64_t r = w.pos[b];
    // Final states: where the row's last segment left them, or the initial ones.
    const float* h_end = L > 0 ? w.seg[k].dst_iter.as<float>() + r * H : w.h0.as<float>() + r * H;
    std::memcpy(hT + b * H, h_end, H * sizeof(float));
    if (lstm) {
      const float* c_end = L > 0 ? w.seg[k].dst_iter_c.as<float>() + r * H : w.c0.as<float>() + r * H;
      std::memcpy(cT + b * H, c_end, H * sizeof(float));
    }
    if (!d.return_sequences) {
      // The last step's output: the row's last output when it was unmasked
      // or carried over, zeros for no unmasked step or zero_output_for_mask.
      const bool carried = L > 0 && (s0 + L == T || !d.zero_output_for_mask);
      if (carried) std::memcpy(y + b * H, h_end, H * sizeof(float));
      else std::memset(y + b * H, 0, H * sizeof(float));
      continue;
    }
    for (int64_t st = 0; st < T; ++st) {
      float* o = y + (b * T + st) * H;
      if (L > 0 && st >= s0 && st < s0 + L) std::memcpy(o, packed_h(b, st - s0), H * sizeof(float));
      else if (L > 0 && st >= s0 + L && !d.zero_output_for_mask)
        std::memcpy(o, h_end, H * sizeof(float));
      else std::memset(o, 0, H * sizeof(float));
    }
  }
}

std::shared_ptr<RnnWorkspace> packed_forward(RnnRunner::State& s, const RnnDesc& d,
                                             const RnnForwardArgs& a,
                                             std::vector<int64_t> start,
                                             std::vector<int64_t> length) {
  const int64_t B = d.B, F = d.F, H = d.H;
  const bool lstm = d.cell == RnnCellKind::lstm;
  Backend& be = *s.backend;
  auto ws = std::make_shared<PackedWorkspace>();
  PackedWorkspace& w = *ws;
  w.start = std::move(start);
  w.length = std::move(length);
  plan_segments(w, B);
  w.h0 = sorted_states(be, w, ptr<const float>(a.h0), B, H);
  if (lstm) w.c0 = sorted_states(be, w, ptr<const float>(a.c0), B, H);

  RnnRunner::State::Run run(s.eng);
  run.wl.user = ptr<const float>(a.kernel);
  run.wi.user = ptr<const float>(a.recurrent_kernel);
  const float* bias = nullptr;
  for (size_t k = 0; k < w.seg.size(); ++k) {
    Segment& sg = w.seg[k];
    // Every segment runs left to right: the packing already put each row's
    // steps in processing order.
    sg.plan = s.plan_for(d, sg.n, sg.len, false);
    const RnnPlan& p = *sg.plan;
    if (k == 0) {
      run.wl.user_md = p.wl_user;
      run.wi.user_md = p.wi_user;
      bias = s.bias(d, p, a.bias, w.bias);
    }
    sg.x = Buffer(be, sg.n * sg.len * F * sizeof(float));
    pack_segment(d, w, sg, PackDirection::gather, ptr<const float>(a.input_dropout),
                 ptr<const float>(a.x), sg.x.as<float>());
    sg.dst_layer = Buffer(be, sg.n * sg.len * H * sizeof(float));
    sg.dst_iter = Buffer(be, sg.n * H * sizeof(float));
    if (lstm) sg.dst_iter_c = Buffer(be, sg.n * H * sizeof(float));
    if (d.training) sg.ws = Buffer(be, p.ws_md.get_size());
    DenseRun r = segment_run(w, k, lstm, bias);
    r.copies = d.training ? &w.copies : nullptr;
    s.forward(run, p, r);
  }
  write_packed_outputs(d, a, w);
  if (!d.training) return nullptr;
  return ws;
}

// The gradient reaching each row's last unmasked output from outside the
// run: the final state's, plus the outputs that repeat it at later
// (masked) steps or as the layer's last output. (B,H).
Buffer gradients_at_run_ends(Backend& be, const RnnDesc& d, const RnnBackwardArgs& a,
                             const PackedWorkspace& w) {
  const int64_t B = d.B, T = d.T, H = d.H;
  const float* dy = ptr<const float>(a.dy);
  const float* dhT = ptr<const float>(a.dhT);
  Buffer end_grad(be, B * H * sizeof(float));
  for (int64_t b = 0; b < B; ++b) {
    float* e = end_grad.as<float>() + b * H;
    for (int64_t q = 0; q < H; ++q) e[q] = dhT ? dhT[b * H + q] : 0.0f;
    const int64_t L = w.length[b], s0 = w.start[b];
    if (L == 0 || !dy) continue;
    if (!d.return_sequences) {
      if (s0 + L == T || !d.zero_output_for_mask)
        for (int64_t q = 0; q < H; ++q) e[q] += dy[b * H + q];
    } else if (!d.zero_output_for_mask) {
      for (int64_t st = s0 + L; st < T; ++st)
        for (int64_t q = 0; q < H; ++q) e[q] += dy[(b * T + st) * H + q];
    }
  }
  return end_grad;
}

// Segment k's final-state gradients (n,H): the rows that continue into the
// next segment get `carried` (that segment's initial-state gradients), the
// rows ending here get theirs from outside (`outside`, per original row;
// null = zeros).
Buffer segment_end_grads(Backend& be, const PackedWorkspace& w, size_t k, int64_t H,
                         const Buffer& carried, const float* outside) {
  const int64_t n = w.seg[k].n, n_next = k + 1 < w.seg.size() ? w.seg[k + 1].n : 0;
  Buffer g(be, n * H * sizeof(float));
  if (n_next) std::memcpy(g.as<float>(), carried.as<float>(), n_next * H * sizeof(float));
  for (int64_t r = n_next; r < n; ++r) {
    float* o = g.as<float>() + r * H;
    if (outside) std::memcpy(o, outside + w.order[r] * H, H * sizeof(float));
    else std::memset(o, 0, H * sizeof(float));
  }
  return g;
}

// Segment sg's output gradients (n,len,H) gathered from dy (B,T,H).
Buffer segment_output_grads(Backend& be, const RnnDesc& d, const PackedWorkspace& w,
                            const Segment& sg, const float* dy) {
  const int64_t T = d.T, H = d.H;
  Buffer g(be, sg.n * sg.len * H * sizeof(float));
  for (int64_t r = 0; r < sg.n; ++r) {
    const int64_t b = w.order[r];
    for (int64_t j = 0; j < sg.len; ++j)
      std::memcpy(g.as<float>() + (r * sg.len + j) * H, dy + (b * T + w.start[b] + sg.begin + j) * H,
                  H * sizeof(float));
  }
  return g;
}

// Initial-state gradients: from the first segment, or for a row with no
// unmasked step straight from its final state's.
void packed_initial_grads(const PackedWorkspace& w, int64_t B, int64_t H, const StridedView& out,
                          const float* from_first, const float* outside) {
  if (!out.data) return;
  float* o = ptr<float>(out);
  for (int64_t b = 0; b < B; ++b) {
    if (w.length[b] > 0) std::memcpy(o + b * H, from_first + w.pos[b] * H, H * sizeof(float));
    else if (outside) std::memcpy(o + b * H, outside + b * H, H * sizeof(float));
    else std::memset(o + b * H, 0, H * sizeof(float));
  }
}

void packed_backward(RnnRunner::State& s, const RnnDesc& d, const RnnBackwardArgs& a,
                     PackedWorkspace& w) {
  const RnnForwardArgs& f = a.fwd;
  const int64_t B = d.B, T = d.T, F = d.F, H = d.H;
  const bool lstm = d.cell == RnnCellKind::lstm;
  Backend& be = *s.backend;
  const float* dy = ptr<const float>(a.dy);
  const Buffer end_grad = gradients_at_run_ends(be, d, a, w);

  RnnRunner::State::WeightGrads g;
  const RnnPlan& p0 = *w.seg.front().plan;
  s.weight_grads(d, p0, a, g);  // all segments add into the same gradients
  float* dx = ptr<float>(a.dx);
  if (dx) std::memset(dx, 0, B * T * F * sizeof(float));
  RnnRunner::State::Run run(s.eng);
  run.wl = {ptr<const float>(f.kernel), p0.wl_user, {}, {}};
  run.wi = {ptr<const float>(f.recurrent_kernel), p0.wi_user, {}, {}};
  const float* bias = w.bias ? w.bias.as<float>() : f.bias.data ? ptr<const float>(f.bias) : nullptr;

  // Segments last to first; dsrc carries the gradient of the states a
  // segment started from into the previous segment's end.
  Buffer dsrc, dsrc_c;
  for (size_t k = w.seg.size(); k-- > 0;) {
    const Segment& sg = w.seg[k];
    const RnnPlan& p = *sg.plan;
    const Buffer ddst_iter = segment_end_grads(be, w, k, H, dsrc, end_grad.as<float>());
    const Buffer ddst_iter_c =
        lstm ? segment_end_grads(be, w, k, H, dsrc_c, ptr<const float>(a.dcT)) : Buffer();
    const Buffer ddst_layer =
        d.return_sequences && dy ? segment_output_grads(be, d, w, sg, dy) : Buffer();
    Buffer dxs(be, sg.n * sg.len * F * sizeof(float));
    Buffer dh(be, sg.n * H * sizeof(float));
    Buffer dc = lstm ? Buffer(be, sg.n * H * sizeof(float)) : Buffer();

    DenseRun r = segment_run(w, k, lstm, bias);
    r.copies = &w.copies;
    r.ddst_layer = ddst_layer ? ddst_layer.as<float>() : p.zeros.as<float>();
    r.ddst_iter = ddst_iter.as<float>();
    r.ddst_iter_c = ddst_iter_c.as<float>();
    r.dx = dxs.as<float>();
    r.dh0 = dh.as<float>();
    r.dc0 = dc.as<float>();
    r.dwl = g.dwl;
    r.dwi = g.dwi;
    r.db = g.db;
    s.backward(run, p, r);

    // Scatter the packed dx back to (B,T,F), times the input mask.
    if (dx)
      pack_segment(d, w, sg, PackDirection::scatter, ptr<const float>(f.input_dropout),
                   dxs.as<float>(), dx);
    dsrc = std::move(dh);
    dsrc_c = std::move(dc);
  }

  packed_initial_grads(w, B, H, a.dh0, dsrc.as<float>(), ptr<const float>(a.dhT));
  if (lstm) packed_initial_grads(w, B, H, a.dc0, dsrc_c.as<float>(), ptr<const float>(a.dcT));
  if (a.dbias.data && g.db != ptr<float>(a.dbias))
    diff_bias_dnnl_to_keras(d.cell, d.reset_after, g.db, H, ptr<float>(a.dbias));
}

}  // namespace

// ---- dispatch ---------------------------------------------------------------------------------

RnnForwardResult RnnRunner::forward(const RnnDesc& d, const RnnForwardArgs& a) {
  LOOM_CHECK(supports(d), "onednn rnn_forward: unsupported configuration ({} {})",
             rnn_cell_kind_name(d.cell), rnn_activation_name(d.activation));
  State& s = *s_;
  auto count = [&](size_t Stats::*path) {
    std::lock_guard<std::mutex> lock(s.mu);
    ++(s.stats.*path);
  };
  if (a.mask.data) {
    std::vector<int64_t> start, length;
    if (!padding_runs(d, ptr<const float>(a.mask), start, length)) {
      // Holes: no primitive run computes them; the explicit BPTT does.
      count(&Stats::declined_calls);
      return RnnForwardResult::declined_call();
    }
    const bool all_full =
        std::all_of(length.begin(), length.end(), [&](int64_t L) { return L == d.T; });
    if (!all_full) {
      if (std::all_of(length.begin(), length.end(), [](int64_t L) { return L == 0; })) {
        // Nothing runs: states stay, outputs are zeros. Declined rather
        // than run as a zero-step primitive.
        count(&Stats::declined_calls);
        return RnnForwardResult::declined_call();
      }
      count(&Stats::packed_calls);
      return RnnForwardResult::ran(packed_forward(s, d, a, std::move(start), std::move(length)));
    }
    // A mask with no masked step changes nothing: the dense path.
  }
  count(&Stats::dense_calls);
  return RnnForwardResult::ran(dense_forward(s, d, a));
}

void RnnRunner::backward(const RnnDesc& d, const RnnBackwardArgs& a, RnnWorkspace& workspace) {
  if (auto* w = dynamic_cast<DnnlWorkspace*>(&workspace)) {
    LOOM_CHECK(w->ws, "onednn rnn_backward: the forward pass was not in training mode");
    dense_backward(*s_, d, a, *w);
  } else if (auto* pw = dynamic_cast<PackedWorkspace*>(&workspace)) {
    packed_backward(*s_, d, a, *pw);
  } else {
    fail("onednn rnn_backward: the workspace was not made by this backend's rnn_forward");
  }
}

}  // namespace loom::onednn
