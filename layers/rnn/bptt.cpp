// Explicit BPTT for the built-in cells: one tape entry per sequence.
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (GH = G*H). s is the processing step (0 .. T-1) and t the input
// time it reads: t = s, or T-1-s with go_backwards.
//
// Every per-time buffer is (B,T,n) and indexed by input time t, so that
// x (B*T,F), the pre-activation gradients dA (B*T,GH) and the states that
// entered each step Hd (B*T,H) line up row for row, and the weight
// gradients over all timesteps are single GEMMs with no reordering. A
// step's (B,n) slice is a GEMM operand with leading dimension T*n.
//
// Forward (what is saved for backward in brackets):
//   G  = x_d W + b_in                         one GEMM, (B*T,F) x (F,GH)
//   per step:  hu = Hd[t] U                   (B,H) x (H,GH)
//              fused kernel: gates, states, mask, output  [G[t] activated, and
//              LSTM act(c'), GRU reset_after hu_h or reset_before r h_d]
//              (GRU reset_before: a second GEMM (r h_d) U_h and kernel phase)
// Backward (dh carries d(state), dh_rec the last GEMM's d h_d):
//   per step t = T-1 .. 0:  fused kernel -> dA[t]; dh_rec = dA_rec[t] U^T
//   dW = x_d^T dA,  dU = Hd^T dA_rec,  dx = (dA W^T) * mx;  db = column sums of
//   dA, accumulated by the step kernels while each dA[t] is in cache
#include "loom/layers/rnn/bptt.h"

#include "loom/autograd/precision.h"
#include "loom/autograd/tape.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

// A (rows, cols) matrix view with a row stride (a column stride of 0 broadcasts a row).
StridedView mat_view(const void* p, DType dt, int64_t rows, int64_t cols, int64_t ld,
                     int64_t col_stride = 1) {
  StridedView v;
  v.data = const_cast<void*>(p);
  v.dtype = dt;
  v.ndim = 2;
  v.shape[0] = rows;
  v.shape[1] = cols;
  v.strides[0] = ld;
  v.strides[1] = col_stride;
  return v;
}

// The (B,F) mask `m` as a (B,T,F) view broadcast over time, shaped like `like`.
StridedView over_time(const void* m, const StridedView& like, int64_t F) {
  StridedView v = like;
  v.data = const_cast<void*>(m);
  v.strides[0] = F;
  v.strides[1] = 0;
  v.strides[2] = 1;
  return v;
}

// C (M,N) = op(A) op(B) + beta C, row-major with leading dimensions.
template <typename T>
void gemm(Backend& be, DType compute, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
          const T* A, int64_t lda, const T* Bm, int64_t ldb, T* C, int64_t ldc, double beta) {
  GemmDesc g;
  g.dtype = dtype_of<T>::value;
  g.compute = compute;
  g.trans_a = ta;
  g.trans_b = tb;
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  g.beta = beta;
  be.gemm(g, A, Bm, C);
}

template <typename T>
RnnRows rows(const T* p, int64_t ld) {
  return RnnRows{const_cast<T*>(p), ld};
}

// The typed data of an optional view (null when absent).
template <typename T>
T* at(const StridedView& v) {
  return static_cast<T*>(v.data);
}

// What the explicit forward keeps for its backward. Everything is contiguous.
struct ExplicitWorkspace : RnnWorkspace {
  Tensor xd;     // (B,T,F) x times the input dropout mask; undefined without (x is read)
  Tensor G;      // (B,T,GH) activated gates
  Tensor Hp;     // (B,T,H) state entering the step that reads time t
  Tensor Hd;     // (B,T,H) Hp times the recurrent mask (Hp itself without)
  Tensor Cp;     // (B,T,H) LSTM: cell state entering the step
  Tensor act_c;  // (B,T,H) LSTM: act(c') of the step
  Tensor hu_h;   // (B,T,H) GRU reset_after: h_d U_h + br_h of the step
  Tensor rh;     // (B,T,H) GRU reset_before: r * h_d of the step
};

bool is_gru_before(const RnnDesc& d) { return d.cell == RnnCellKind::gru && !d.reset_after; }
bool is_gru_after(const RnnDesc& d) { return d.cell == RnnCellKind::gru && d.reset_after; }

// The typed data of a workspace tensor (null when it was not made).
template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.device_data<T>() : nullptr;
}

// ---- forward ---------------------------------------------------------------------------

// Fills a.y, a.hT, a.cT and the workspace (views as RnnForwardArgs says).
template <typename T>
void forward_pass(Backend& be, const RnnDesc& d, const RnnForwardArgs& a, ExplicitWorkspace& ws) {
  const int64_t B = d.B, T_ = d.T, F = d.F, H = d.H, GH = d.gates() * H;
  const int64_t ldS = T_ * H, ldG = T_ * GH;
  const DType dt = d.dtype;
  const bool lstm = d.cell == RnnCellKind::lstm;
  auto time_of = [&](int64_t s) { return d.go_backwards ? T_ - 1 - s : s; };

  T* G = ws.G.device_data<T>();
  T* Hp = ws.Hp.device_data<T>();
  T* Hd = ws.Hd.device_data<T>();
  T* Cp = data_or_null<T>(ws.Cp);
  T* act_c = data_or_null<T>(ws.act_c);
  T* hu_h = data_or_null<T>(ws.hu_h);
  T* rh = data_or_null<T>(ws.rh);
  const T* x = ws.xd.defined() ? ws.xd.device_data<T>() : at<T>(a.x);
  const T* W = at<T>(a.kernel);
  const T* U = at<T>(a.recurrent_kernel);
  const T* bias = at<T>(a.bias);
  const T* rbias = is_gru_after(d) && bias ? bias + GH : nullptr;  // second row
  const T* mask = at<T>(a.mask);
  const T* mh = at<T>(a.recurrent_dropout);
  const T* h0 = at<T>(a.h0);
  const T* c0 = at<T>(a.c0);
  T* y = at<T>(a.y);
  T* hT = at<T>(a.hT);
  T* cT = at<T>(a.cT);

  // G = x_d W + b_in for all timesteps at once: the bias row broadcast
  // into G first, then the GEMM accumulates onto it.
  if (bias) be.copy(mat_view(bias, dt, B * T_, GH, 0), mat_view(G, dt, B * T_, GH, GH));
  gemm<T>(be, d.compute, false, false, B * T_, GH, F, x, F, W, GH, G, GH, bias ? 1.0 : 0.0);

  // The state entering the first processed step.
  const int64_t t0 = time_of(0);
  const StridedView hp0 = mat_view(Hp + t0 * H, dt, B, H, ldS);
  if (h0) be.copy(mat_view(h0, dt, B, H, H), hp0);
  else be.fill(hp0, 0.0);
  if (lstm) {
    const StridedView cp0 = mat_view(Cp + t0 * H, dt, B, H, ldS);
    if (c0) be.copy(mat_view(c0, dt, B, H, H), cp0);
    else be.fill(cp0, 0.0);
  }
  if (mh) be.binary(BinaryOp::mul, hp0, mat_view(mh, dt, B, H, H), mat_view(Hd + t0 * H, dt, B, H, ldS));

  Tensor hu_buf = Tensor::empty({B, GH}, dt, be.device());  // h_d U of the current step
  T* hu = hu_buf.device_data<T>();
  const int64_t n_rec = is_gru_before(d) ? 2 * H : GH;
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = time_of(s);
    const bool last = s == T_ - 1;
    const int64_t tn = last ? 0 : time_of(s + 1);
    gemm<T>(be, d.compute, false, false, B, n_rec, H, Hd + t * H, ldS, U, GH, hu, GH, 0.0);

    RnnStepForward st;
    st.gates = rows(G + t * GH, ldG);
    st.hu = rows(hu, GH);
    st.recurrent_bias = rbias;
    st.h_prev = rows(Hp + t * H, ldS);
    st.hd_prev = rows(Hd + t * H, ldS);
    if (lstm) st.c_prev = rows(Cp + t * H, ldS);
    st.mask = mask ? mask + t : nullptr;
    st.mask_stride = T_;
    if (mh) st.rec_mask = rows(mh, H);
    if (s > 0) st.out_prev = d.return_sequences ? rows(y + (s - 1) * H, ldS) : rows(y, H);
    st.h_next = last ? rows(hT, H) : rows(Hp + tn * H, ldS);
    if (lstm) st.c_next = last ? rows(cT, H) : rows(Cp + tn * H, ldS);
    if (mh && !last) st.hd_next = rows(Hd + tn * H, ldS);
    st.out = d.return_sequences ? rows(y + s * H, ldS) : rows(y, H);
    if (act_c) st.act_c = rows(act_c + t * H, ldS);
    if (hu_h) st.hu_h = rows(hu_h + t * H, ldS);
    if (rh) st.rh = rows(rh + t * H, ldS);
    be.rnn_gates_forward(d, st);
    if (is_gru_before(d)) {
      // (r h_d) U_h needs this step's r: the second half of the step.
      gemm<T>(be, d.compute, false, false, B, H, H, rh + t * H, ldS, U + 2 * H, GH, hu, GH, 0.0);
      st.phase = 1;
      be.rnn_gates_forward(d, st);
    }
  }
}

// ---- backward --------------------------------------------------------------------------

// The typed pointers and carried gradients of one backward pass. dh carries
// d(state) from step to step, dh_rec the gradient of the last step's h_d
// (what its recurrent GEMM sends back), dc the LSTM cell state's, dout the
// gradient of an output repeated over masked steps.
template <typename T>
struct BackwardPass {
  Backend& be;
  const RnnDesc& d;
  const RnnBackwardArgs& a;
  const ExplicitWorkspace& ws;
  int64_t B, T_, F, H, GH, ldS, ldG;
  DType dt;
  bool lstm;
  // saved by the forward pass
  const T *G, *Hp, *Hd, *Cp, *act_c, *hu_h, *rh, *x;
  // forward inputs and cotangents
  const T *W, *U, *mask, *mx, *mh, *dy, *dhT, *dcT;
  // dA: input-side pre-activation gradients (B,T,GH); dAr: the recurrent
  // side, which differs only for GRU reset_after (its h gate is scaled by r
  // there). Ut: U^T (GH,H), see allocate().
  Tensor dA_buf, dAr_buf, dh_buf, dhrec_buf, dc_buf, dout_buf, drh_buf, ut_buf;
  T *dA = nullptr, *dAr = nullptr, *dh = nullptr, *dh_rec = nullptr, *dc = nullptr,
    *dout = nullptr, *drh = nullptr, *db = nullptr;
  const T* Ut = nullptr;

  BackwardPass(Backend& be_, const RnnDesc& d_, const RnnBackwardArgs& a_,
               const ExplicitWorkspace& ws_)
      : be(be_), d(d_), a(a_), ws(ws_), B(d.B), T_(d.T), F(d.F), H(d.H), GH(d.gates() * d.H),
        ldS(d.T * d.H), ldG(d.T * d.gates() * d.H), dt(d.dtype),
        lstm(d.cell == RnnCellKind::lstm) {
    G = ws.G.device_data<T>();
    Hp = ws.Hp.device_data<T>();
    Hd = ws.Hd.device_data<T>();
    Cp = data_or_null<T>(ws.Cp);
    act_c = data_or_null<T>(ws.act_c);
    hu_h = data_or_null<T>(ws.hu_h);
    rh = data_or_null<T>(ws.rh);
    x = ws.xd.defined() ? ws.xd.device_data<T>() : at<T>(a.fwd.x);
    W = at<T>(a.fwd.kernel);
    U = at<T>(a.fwd.recurrent_kernel);
    mask = at<T>(a.fwd.mask);
    mx = at<T>(a.fwd.input_dropout);
    mh = at<T>(a.fwd.recurrent_dropout);
    dy = at<T>(a.dy);
    dhT = at<T>(a.dhT);
    dcT = at<T>(a.dcT);
  }

  int64_t time_of(int64_t s) const { return d.go_backwards ? T_ - 1 - s : s; }

  // The carried gradients start from the final states' cotangents.
  void allocate() {
    const Device dev = be.device();
    dA_buf = Tensor::empty({B, T_, GH}, dt, dev);
    dAr_buf = is_gru_after(d) ? Tensor::empty({B, T_, GH}, dt, dev) : dA_buf;
    dA = dA_buf.device_data<T>();
    dAr = dAr_buf.device_data<T>();
    dh_buf = Tensor::empty({B, H}, dt, dev);
    dhrec_buf = Tensor::empty({B, H}, dt, dev);
    dh = dh_buf.device_data<T>();
    dh_rec = dhrec_buf.device_data<T>();
    if (dhT) be.copy(mat_view(dhT, dt, B, H, H), dh_buf.view());
    else be.fill(dh_buf.view(), 0.0);
    if (lstm) {
      dc_buf = Tensor::empty({B, H}, dt, dev);
      if (dcT) be.copy(mat_view(dcT, dt, B, H, H), dc_buf.view());
      else be.fill(dc_buf.view(), 0.0);
      dc = dc_buf.device_data<T>();
    }
    // An output repeated over masked steps sends its gradient back to the
    // step that produced it; zero_output_for_mask cuts that path.
    if (mask && !d.zero_output_for_mask) {
      dout_buf = Tensor::zeros({B, H}, dt, dev);
      dout = dout_buf.device_data<T>();
    }
    if (is_gru_before(d)) {
      drh_buf = Tensor::empty({B, H}, dt, dev);
      drh = drh_buf.device_data<T>();
    }
    // U^T (GH,H) once per sequence: the per-step products d h_d = dA U^T then
    // read a row-major operand, which the GEMM packs by plain row copies; as a
    // transposed operand it would be gathered column by column at every step.
    ut_buf = Tensor::empty({GH, H}, dt, dev);
    be.copy(mat_view(U, dt, GH, H, 1, GH), ut_buf.view());
    Ut = ut_buf.device_data<T>();
    // The step kernels accumulate db (GRU reset_after: row 0 input side, row 1 recurrent side).
    db = at<T>(a.dbias);
    if (db) be.fill(a.dbias, 0.0);
  }

  // Processing step s (input time t): the fused kernel turns dh (and dc) into
  // dA[t], then the recurrent GEMM sends d h_d back into dh_rec.
  void step(int64_t s) {
    const int64_t t = time_of(s);
    RnnStepBackward st;
    st.gates = rows(G + t * GH, ldG);
    st.h_prev = rows(Hp + t * H, ldS);
    st.hd_prev = rows(Hd + t * H, ldS);
    if (lstm) {
      st.c_prev = rows(Cp + t * H, ldS);
      st.act_c = rows(act_c + t * H, ldS);
      st.dc = rows(dc, H);
    }
    if (hu_h) st.hu_h = rows(hu_h + t * H, ldS);
    st.mask = mask ? mask + t : nullptr;
    st.mask_stride = T_;
    st.zero_output_for_mask = d.zero_output_for_mask;
    if (dy && d.return_sequences) st.dy = rows(dy + s * H, ldS);
    else if (dy && s == T_ - 1) st.dy = rows(dy, H);
    if (dout) st.dout = rows(dout, H);
    st.dh = rows(dh, H);
    if (s < T_ - 1) st.dh_rec = rows(dh_rec, H);
    if (mh) st.rec_mask = rows(mh, H);
    st.dA = rows(dA + t * GH, ldG);
    if (is_gru_after(d)) st.dA_rec = rows(dAr + t * GH, ldG);
    st.db = db;
    if (db && is_gru_after(d)) st.db_rec = db + GH;
    be.rnn_gates_backward(d, st);

    const bool need_rec = s > 0 || a.dh0.data != nullptr;  // d h_d of this step is wanted
    if (is_gru_before(d)) {
      // drh = dA_h U_h^T, then phase 1 turns it into dA_r and dh_rec = r drh
      gemm<T>(be, d.compute, false, false, B, H, H, dA + t * GH + 2 * H, ldG, Ut + 2 * H * H, H, drh, H, 0.0);
      st.phase = 1;
      st.drh = rows(drh, H);
      st.dh_rec = rows(dh_rec, H);
      be.rnn_gates_backward(d, st);
      if (need_rec)  // dh_rec += dA_zr U_zr^T
        gemm<T>(be, d.compute, false, false, B, H, 2 * H, dA + t * GH, ldG, Ut, H, dh_rec, H, 1.0);
    } else if (need_rec) {  // dh_rec = dA_rec U^T
      gemm<T>(be, d.compute, false, false, B, H, GH, dAr + t * GH, ldG, Ut, H, dh_rec, H, 0.0);
    }
  }

  // d h0 = dh (direct and carried) + mh * d h_d of the first step's product; d c0 = dc.
  void initial_state_grads() {
    const StridedView bh = mat_view(dh_rec, dt, B, H, H);
    if (a.dh0.data) {
      if (mh) be.binary(BinaryOp::mul, bh, mat_view(mh, dt, B, H, H), bh);
      be.copy(mat_view(dh, dt, B, H, H), a.dh0);
      be.axpby(1.0, bh, 1.0, a.dh0);
    }
    if (a.dc0.data) be.copy(dc_buf.view(), a.dc0);
  }

  // The weight and input gradients over all timesteps: one GEMM each.
  void weight_and_input_grads() {
    if (T* dW = at<T>(a.dkernel))  // dW (F,GH) = x_d^T dA over all B*T rows
      gemm<T>(be, d.compute, true, false, F, GH, B * T_, x, F, dA, GH, dW, GH, 0.0);
    if (T* dU = at<T>(a.drecurrent_kernel)) {
      if (is_gru_before(d)) {
        // dU_zr = Hd^T dA_zr;  dU_h = (r h_d)^T dA_h
        gemm<T>(be, d.compute, true, false, H, 2 * H, B * T_, Hd, H, dA, GH, dU, GH, 0.0);
        gemm<T>(be, d.compute, true, false, H, H, B * T_, rh, H, dA + 2 * H, GH, dU + 2 * H, GH, 0.0);
      } else {
        gemm<T>(be, d.compute, true, false, H, GH, B * T_, Hd, H, dAr, GH, dU, GH, 0.0);
      }
    }
    if (T* dx = at<T>(a.dx)) {
      // dx (B*T,F) = dA W^T, times the input mask (the same (B,F) row at every t)
      gemm<T>(be, d.compute, false, true, B * T_, F, GH, dA, GH, W, GH, dx, F, 0.0);
      if (mx) be.binary(BinaryOp::mul, a.dx, over_time(mx, a.dx, F), a.dx);
    }
  }
};

// Writes the wanted gradients of a (views with data null are not wanted)
// from the cotangents a.dy, a.dhT, a.dcT (null = zeros).
template <typename T>
void backward_pass(Backend& be, const RnnDesc& d, const RnnBackwardArgs& a,
                   const ExplicitWorkspace& ws) {
  BackwardPass<T> pass(be, d, a, ws);
  pass.allocate();
  for (int64_t s = d.T - 1; s >= 0; --s) pass.step(s);
  pass.initial_state_grads();
  pass.weight_and_input_grads();
}

// ---- checks ------------------------------------------------------------------------------

void check_matrix(const Tensor& t, const Shape& want, DType dt, Device dev,
                  const std::string& who, const char* what) {
  LOOM_CHECK(t.shape() == want, "{}: {} has shape {}, expected {}", who, what,
             shape_str(t.shape()), shape_str(want));
  LOOM_CHECK(t.dtype() == dt, "{}: {} is {} but x is {}", who, what, dtype_name(t.dtype()),
             dtype_name(dt));
  LOOM_CHECK(t.device() == dev, "{}: {} is on {} but x is on {}", who, what, t.device().str(),
             dev.str());
}

RnnDesc complete_desc(const RnnDesc& config, const RnnSequenceArgs& a, const std::string& who) {
  RnnDesc d = config;
  LOOM_CHECK(a.x.defined() && a.x.ndim() == 3, "{}: expected x (B,T,F), got {}", who,
             a.x.defined() ? shape_str(a.x.shape()) : std::string("undefined"));
  LOOM_CHECK(is_floating(a.x.dtype()), "{}: expected a floating x, got {}", who,
             dtype_name(a.x.dtype()));
  LOOM_CHECK(a.kernel.defined() && a.recurrent_kernel.defined(),
             "{}: kernel and recurrent_kernel are required", who);
  d.dtype = a.x.dtype();
  d.compute = compute_precision_for(d.dtype);
  d.B = a.x.dim(0);
  d.T = a.x.dim(1);
  d.F = a.x.dim(2);
  d.H = a.recurrent_kernel.dim(0);
  LOOM_CHECK(d.B > 0 && d.T > 0 && d.F > 0, "{}: x {} must have B, T, F > 0", who,
             shape_str(a.x.shape()));
  const int64_t GH = d.gates() * d.H;
  check_matrix(a.kernel, {d.F, GH}, d.dtype, a.x.device(), who, "kernel");
  check_matrix(a.recurrent_kernel, {d.H, GH}, d.dtype, a.x.device(), who, "recurrent_kernel");
  d.use_bias = a.bias.defined();
  if (d.use_bias) {
    const Shape want = is_gru_after(d) ? Shape{2, GH} : Shape{GH};
    check_matrix(a.bias, want, d.dtype, a.x.device(), who, "bias");
  }
  d.has_mask = a.mask.defined();
  if (d.has_mask) check_matrix(a.mask, {d.B, d.T}, d.dtype, a.x.device(), who, "mask");
  d.has_initial_state = !a.initial_state.empty();
  if (d.has_initial_state) {
    LOOM_CHECK(static_cast<int>(a.initial_state.size()) == d.states(),
               "{}: expected {} initial state tensor(s) ({}), got {}", who, d.states(),
               d.states() == 2 ? "h, c" : "h", a.initial_state.size());
    for (const Tensor& s : a.initial_state) check_matrix(s, {d.B, d.H}, d.dtype, a.x.device(), who, "initial state");
  }
  d.input_dropout = a.input_dropout_mask.defined();
  if (d.input_dropout) check_matrix(a.input_dropout_mask, {d.B, d.F}, d.dtype, a.x.device(), who, "input dropout mask");
  d.recurrent_dropout = a.recurrent_dropout_mask.defined();
  if (d.recurrent_dropout)
    check_matrix(a.recurrent_dropout_mask, {d.B, d.H}, d.dtype, a.x.device(), who, "recurrent dropout mask");
  return d;
}

Tensor contiguous_value(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor v = t.detach();
  return v.is_contiguous() ? v : v.clone();
}

void check_contiguous(const StridedView& v, const char* what) {
  LOOM_CHECK(v.data == nullptr || v.is_contiguous(),
             "explicit RNN: the {} view must be contiguous", what);
}

}  // namespace

// ---- the explicit BPTT as a whole-sequence implementation -------------------------------------

std::shared_ptr<RnnWorkspace> explicit_rnn_forward(Backend& be, const RnnDesc& d,
                                                   const RnnForwardArgs& a) {
  for (auto [v, what] : {std::pair{&a.x, "x"}, {&a.mask, "mask"}, {&a.h0, "h0"}, {&a.c0, "c0"},
                         {&a.kernel, "kernel"}, {&a.recurrent_kernel, "recurrent_kernel"},
                         {&a.bias, "bias"}, {&a.input_dropout, "input dropout"},
                         {&a.recurrent_dropout, "recurrent dropout"}, {&a.y, "y"},
                         {&a.hT, "hT"}, {&a.cT, "cT"}})
    check_contiguous(*v, what);
  const int64_t B = d.B, T = d.T, H = d.H, GH = d.gates() * H;
  auto ws = std::make_shared<ExplicitWorkspace>();
  if (a.input_dropout.data) {
    // x_d = x * mx, the (B,F) mask broadcast over time.
    ws->xd = Tensor::empty({B, T, d.F}, d.dtype, be.device());
    be.binary(BinaryOp::mul, a.x, over_time(a.input_dropout.data, a.x, d.F), ws->xd.view());
  }
  ws->G = Tensor::empty({B, T, GH}, d.dtype, be.device());
  ws->Hp = Tensor::empty({B, T, H}, d.dtype, be.device());
  ws->Hd = a.recurrent_dropout.data ? Tensor::empty({B, T, H}, d.dtype, be.device()) : ws->Hp;
  // Per step, the one extra activation each cell's backward needs.
  const auto per_step = [&] { return Tensor::empty({B, T, H}, d.dtype, be.device()); };
  if (d.cell == RnnCellKind::lstm) {
    ws->Cp = per_step();
    ws->act_c = per_step();
  }
  if (is_gru_after(d)) ws->hu_h = per_step();
  if (is_gru_before(d)) ws->rh = per_step();
  dispatch_floating(d.dtype, "explicit_rnn_forward", [&](auto tag) {
    forward_pass<decltype(tag)>(be, d, a, *ws);
  });
  return ws;
}

void explicit_rnn_backward(Backend& be, const RnnDesc& d, const RnnBackwardArgs& a,
                           RnnWorkspace& workspace) {
  auto* ws = dynamic_cast<ExplicitWorkspace*>(&workspace);
  LOOM_CHECK(ws != nullptr, "explicit_rnn_backward: the workspace was not made by explicit_rnn_forward");
  for (auto [v, what] : {std::pair{&a.dy, "dy"}, {&a.dhT, "dhT"}, {&a.dcT, "dcT"}, {&a.dx, "dx"},
                         {&a.dh0, "dh0"}, {&a.dc0, "dc0"}, {&a.dkernel, "dkernel"},
                         {&a.drecurrent_kernel, "drecurrent_kernel"}, {&a.dbias, "dbias"}})
    check_contiguous(*v, what);
  dispatch_floating(d.dtype, "explicit_rnn_backward", [&](auto tag) {
    backward_pass<decltype(tag)>(be, d, a, *ws);
  });
}

// ---- the tape entry -----------------------------------------------------------------------

namespace {

// The tape inputs of one call and where x, h0, c0, W, U, b sit among them
// (index -1: absent), with which of them want a gradient.
enum Slot { X, H0, C0, KERNEL, RECURRENT, BIAS, N_SLOTS };
struct TapeInputs {
  std::vector<Tensor> inputs;
  int index[N_SLOTS] = {-1, -1, -1, -1, -1, -1};
  bool wants[N_SLOTS] = {};
};

TapeInputs tape_inputs(const RnnDesc& d, const RnnSequenceArgs& args) {
  TapeInputs t;
  auto add = [&](Slot slot, const Tensor& v) {
    if (!v.defined()) return;
    t.index[slot] = static_cast<int>(t.inputs.size());
    t.wants[slot] = v.requires_grad();
    t.inputs.push_back(v);
  };
  add(X, args.x);
  if (d.has_initial_state) {
    add(H0, args.initial_state[0]);
    if (d.states() == 2) add(C0, args.initial_state[1]);
  }
  add(KERNEL, args.kernel);
  add(RECURRENT, args.recurrent_kernel);
  add(BIAS, args.bias);
  return t;
}

// The forward views over contiguous values of the arguments (no copies
// when already contiguous); `keep` holds those values alive for as long as
// backward may read them.
RnnForwardArgs forward_views(const RnnDesc& d, const RnnSequenceArgs& args,
                             std::vector<Tensor>& keep) {
  auto hold = [&](const Tensor& t) {
    if (!t.defined()) return StridedView{};
    keep.push_back(contiguous_value(t));
    return keep.back().view();
  };
  RnnForwardArgs fa;
  fa.x = hold(args.x);
  fa.mask = hold(args.mask);
  if (d.has_initial_state) {
    fa.h0 = hold(args.initial_state[0]);
    if (d.states() == 2) fa.c0 = hold(args.initial_state[1]);
  }
  fa.kernel = hold(args.kernel);
  fa.recurrent_kernel = hold(args.recurrent_kernel);
  fa.bias = hold(args.bias);
  fa.input_dropout = hold(args.input_dropout_mask);
  fa.recurrent_dropout = hold(args.recurrent_dropout_mask);
  return fa;
}

// What the tape entry's backward needs of its forward call.
struct SavedCall {
  RnnDesc desc;
  RnnForwardArgs fwd;
  std::shared_ptr<RnnWorkspace> workspace;
  std::vector<Tensor> keep;  // the values fwd views
  TapeInputs tape;           // its inputs are dropped once recorded
  size_t n_inputs = 0;
  bool backend_ran = false;  // the backend's own RNN ran (else the explicit BPTT)
  Backend* backend = nullptr;
};

// Gradients of the tape inputs from the cotangents of {y, hT[, cT]}.
std::vector<Tensor> sequence_backward(const SavedCall& c, const std::vector<Tensor>& douts) {
  const RnnDesc& d = c.desc;
  const int64_t GH = d.gates() * d.H;
  const Shape shapes[N_SLOTS] = {{d.B, d.T, d.F}, {d.B, d.H}, {d.B, d.H}, {d.F, GH}, {d.H, GH},
                                 is_gru_after(d) ? Shape{2, GH} : Shape{GH}};
  std::vector<Tensor> grads(c.n_inputs), slot(N_SLOTS);
  for (int k = 0; k < N_SLOTS; ++k)
    if (c.tape.wants[k])
      grads[c.tape.index[k]] = slot[k] = Tensor::empty(shapes[k], d.dtype, c.backend->device());
  auto view_of = [](const Tensor& t) { return t.defined() ? t.view() : StridedView{}; };
  std::vector<Tensor> cot;
  for (const Tensor& t : douts) cot.push_back(contiguous_value(t));
  RnnBackwardArgs ba;
  ba.fwd = c.fwd;
  ba.dy = cot[0].view();
  ba.dhT = cot[1].view();
  if (d.states() == 2) ba.dcT = cot[2].view();
  ba.dx = view_of(slot[X]);
  ba.dh0 = view_of(slot[H0]);
  ba.dc0 = view_of(slot[C0]);
  ba.dkernel = view_of(slot[KERNEL]);
  ba.drecurrent_kernel = view_of(slot[RECURRENT]);
  ba.dbias = view_of(slot[BIAS]);
  if (c.backend_ran) c.backend->rnn_backward(d, ba, *c.workspace);
  else explicit_rnn_backward(*c.backend, d, ba, *c.workspace);
  return grads;
}

}  // namespace

RnnSequenceResult rnn_sequence(Backend& be, const RnnDesc& config, const RnnSequenceArgs& args,
                               const std::string& who) {
  auto call = std::make_shared<SavedCall>();
  call->desc = complete_desc(config, args, who);
  RnnDesc& d = call->desc;
  LOOM_CHECK(args.x.device().kind == be.device_kind(),
             "{}: x is on {} but the backend {} runs another device", who, args.x.device().str(),
             be.name());
  call->tape = tape_inputs(d, args);
  d.training = any_requires_grad(call->tape.inputs);
  call->fwd = forward_views(d, args, call->keep);
  call->backend = &be;

  RnnSequenceResult r;
  r.output = d.return_sequences ? Tensor::empty({d.B, d.T, d.H}, d.dtype, be.device())
                                : Tensor::empty({d.B, d.H}, d.dtype, be.device());
  for (int k = 0; k < d.states(); ++k)
    r.states.push_back(Tensor::empty({d.B, d.H}, d.dtype, be.device()));
  RnnForwardArgs& fa = call->fwd;
  fa.y = r.output.view();
  fa.hT = r.states[0].view();
  if (d.states() == 2) fa.cT = r.states[1].view();

  // The backend's own RNN when it takes this call, else the explicit BPTT on
  // the backend's primitives: supports_rnn declines by configuration,
  // rnn_forward by what it finds in the data (a mask with holes).
  if (be.supports_rnn(d)) {
    RnnForwardResult run = be.rnn_forward(d, fa);
    call->backend_ran = !run.declined;
    call->workspace = std::move(run.workspace);
  }
  if (!call->backend_ran) call->workspace = explicit_rnn_forward(be, d, fa);
  if (!d.training) return r;

  std::vector<Tensor> outs{r.output};
  outs.insert(outs.end(), r.states.begin(), r.states.end());
  call->n_inputs = call->tape.inputs.size();
  record(rnn_cell_kind_name(d.cell), call->tape.inputs, outs,
         [call](const std::vector<Tensor>& douts) { return sequence_backward(*call, douts); });
  call->tape.inputs.clear();  // the tape holds them; the closure needs only their slots
  r.output = outs[0];
  for (size_t k = 0; k < r.states.size(); ++k) r.states[k] = outs[k + 1];
  return r;
}

RnnSequenceResult rnn_sequence(const RnnDesc& config, const RnnSequenceArgs& args,
                               const std::string& who) {
  LOOM_CHECK(args.x.defined(), "{}: x is undefined", who);
  return rnn_sequence(backend_for(args.x.device()), config, args, who);
}

}  // namespace loom
