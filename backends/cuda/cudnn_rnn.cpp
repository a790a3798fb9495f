// cuDNN RNN path of the CUDA backend; see cudnn_rnn.h.
//
// Forward:  weights -> weight space (one kernel, cudnn_plan's copy list);
//           x -> x_packed (B,T,F), each row's unmasked run at the front,
//           times the input dropout mask;
//           cudnnRNNForward with per-row lengths (BATCH_MAJOR_UNPACKED);
//           y_packed -> y with Keras's masked outputs restored; final
//           states of rows with no unmasked step = initial states.
// Backward: dy -> dy_packed (the adjoint of the output restore);
//           cudnnRNNBackwardData_v8 -> dx_packed, dhx, dcx;
//           cudnnRNNBackwardWeights_v8 -> weight-space gradient -> Keras
//           layout; dx_packed -> dx (times the input mask), dh0/dc0.
#include "loom/backends/cuda/cudnn_rnn.h"

#include <cstring>

#include "loom/backends/buffer.h"
#include "loom/backends/cuda/cuda_backend.h"
#include "loom/backends/cuda/cudnn_rnn_kernels.h"

namespace loom::cuda {

using cudnn_plan::BlockCopy;

struct CudnnRnn::Layer {
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnDataType_t data_type = CUDNN_DATA_FLOAT;
  size_t weight_bytes = 0;
  std::vector<BlockCopy> plan;
  Buffer plan_device;  // the plan's bytes on the device
  int64_t max_block = 0;
  ~Layer() {
    if (rnn) cudnnDestroyRNNDescriptor(rnn);
  }
};

namespace {


// The descriptors of one call (they carry this batch's lengths).
struct CallDescriptors {
  cudnnRNNDataDescriptor_t x = nullptr, y = nullptr;
  cudnnTensorDescriptor_t h = nullptr;
  CallDescriptors() = default;
  CallDescriptors(const CallDescriptors&) = delete;
  CallDescriptors& operator=(const CallDescriptors&) = delete;
  ~CallDescriptors() {
    if (x) cudnnDestroyRNNDataDescriptor(x);
    if (y) cudnnDestroyRNNDataDescriptor(y);
    if (h) cudnnDestroyTensorDescriptor(h);
  }
};

struct CudnnWorkspace : RnnWorkspace {
  CudnnRnn::Layer* layer = nullptr;
  std::vector<int32_t> lengths;  // cuDNN's per-row lengths (host)
  Buffer seq;                    // (3B) int32: cuDNN lengths, run starts, run lengths
  Buffer weights;                // the weight space
  Buffer x_packed, y_packed;     // (B,T,F), (B,T,H)
  Buffer reserve;
  size_t work_bytes = 0, reserve_bytes = 0;  // training-mode sizes, for backward too
  std::unique_ptr<CallDescriptors> desc;
  RunArrays runs() const {
    const int32_t* p = seq.as<int32_t>();
    const int64_t B = static_cast<int64_t>(lengths.size());
    return RunArrays{p + B, p + 2 * B};
  }
  const int32_t* dev_lengths() const { return seq.as<int32_t>(); }
};

void make_call_descriptors(CallDescriptors& c, cudnnDataType_t dt, const RnnDesc& d,
                           const std::vector<int32_t>& lengths) {
  const double zero_d = 0.0;
  const float zero_f = 0.0f;
  const void* fill = dt == CUDNN_DATA_DOUBLE ? static_cast<const void*>(&zero_d) : &zero_f;
  const int B = static_cast<int>(d.B), T = static_cast<int>(d.T);
  LOOM_CUDNN(cudnnCreateRNNDataDescriptor(&c.x));
  LOOM_CUDNN(cudnnSetRNNDataDescriptor(c.x, dt, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B,
                                       static_cast<int>(d.F), lengths.data(),
                                       const_cast<void*>(fill)));
  LOOM_CUDNN(cudnnCreateRNNDataDescriptor(&c.y));
  LOOM_CUDNN(cudnnSetRNNDataDescriptor(c.y, dt, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B,
                                       static_cast<int>(d.H), lengths.data(),
                                       const_cast<void*>(fill)));
  LOOM_CUDNN(cudnnCreateTensorDescriptor(&c.h));
  const int dims[3] = {1, B, static_cast<int>(d.H)};
  const int strides[3] = {B * static_cast<int>(d.H), static_cast<int>(d.H), 1};
  LOOM_CUDNN(cudnnSetTensorNdDescriptor(c.h, dt, 3, dims, strides));
}

}  // namespace

CudnnRnn::CudnnRnn(Backend& backend, cudaStream_t stream) : backend_(backend), stream_(stream) {}

CudnnRnn::~CudnnRnn() {
  layers_.clear();
  if (dropout_) cudnnDestroyDropoutDescriptor(dropout_);
  if (handle_) cudnnDestroy(handle_);
}

cudnnHandle_t CudnnRnn::handle() {
  if (!handle_) {
    LOOM_CUDNN(cudnnCreate(&handle_));
    LOOM_CUDNN(cudnnSetStream(handle_, stream_));
    // One layer, so no dropout between layers: a descriptor with rate 0 and no states.
    LOOM_CUDNN(cudnnCreateDropoutDescriptor(&dropout_));
    LOOM_CUDNN(cudnnSetDropoutDescriptor(dropout_, handle_, 0.0f, nullptr, 0, 0));
  }
  return handle_;
}

CudnnRnn::Layer& CudnnRnn::layer_for(const RnnDesc& d) {
  const bool tf32 = cuda_tf32() && d.dtype == DType::f32;
  const auto key = std::make_tuple(static_cast<int>(d.cell), d.reset_after,
                                   static_cast<int>(d.activation), d.use_bias, d.F, d.H,
                                   static_cast<int>(d.dtype), tf32);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = layers_.find(key);
  if (it != layers_.end()) return *it->second;

  auto L = std::make_unique<Layer>();
  cudnnHandle_t h = handle();
  L->data_type = d.dtype == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  cudnnRNNMode_t mode = CUDNN_LSTM;
  if (d.cell == RnnCellKind::gru) mode = CUDNN_GRU;
  if (d.cell == RnnCellKind::simple_rnn)
    mode = d.activation == RnnActivation::relu ? CUDNN_RNN_RELU : CUDNN_RNN_TANH;
  const bool dbl = cudnn_plan::double_bias(d);
  const cudnnRNNBiasMode_t bias_mode =
      !d.use_bias ? CUDNN_RNN_NO_BIAS : dbl ? CUDNN_RNN_DOUBLE_BIAS : CUDNN_RNN_SINGLE_INP_BIAS;
  // FMA math keeps f32 results comparable with the CPU backends; TF32 on request.
  const cudnnMathType_t math = d.dtype == DType::f64 ? CUDNN_DEFAULT_MATH
                               : tf32                ? CUDNN_DEFAULT_MATH
                                                     : CUDNN_FMA_MATH;
  LOOM_CUDNN(cudnnCreateRNNDescriptor(&L->rnn));
  LOOM_CUDNN(cudnnSetRNNDescriptor_v8(L->rnn, CUDNN_RNN_ALGO_STANDARD, mode, bias_mode,
                                      CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, L->data_type,
                                      L->data_type, math, static_cast<int32_t>(d.F),
                                      static_cast<int32_t>(d.H), static_cast<int32_t>(d.H), 1,
                                      dropout_, CUDNN_RNN_PADDED_IO_ENABLED));
  LOOM_CUDNN(cudnnGetRNNWeightSpaceSize(h, L->rnn, &L->weight_bytes));

  // Ask cuDNN where each linear layer's matrix and bias live.
  const size_t elem = dtype_size(d.dtype);
  Buffer probe(backend_, L->weight_bytes);
  char* base = probe.as<char>();
  const int G = static_cast<int>(d.gates());
  std::vector<cudnn_plan::LinearLayerOffsets> offsets(2 * G);
  cudnnTensorDescriptor_t mdesc = nullptr, bdesc = nullptr;
  LOOM_CUDNN(cudnnCreateTensorDescriptor(&mdesc));
  LOOM_CUDNN(cudnnCreateTensorDescriptor(&bdesc));
  try {
    for (int id = 0; id < 2 * G; ++id) {
      void* maddr = nullptr;
      void* baddr = nullptr;
      LOOM_CUDNN(cudnnGetRNNWeightParams(h, L->rnn, 0, L->weight_bytes, base, id, mdesc, &maddr,
                                         bdesc, &baddr));
      LOOM_CHECK(maddr != nullptr, "cuDNN {}: no matrix for linear layer {}",
                 rnn_cell_kind_name(d.cell), id);
      offsets[id].matrix = (static_cast<char*>(maddr) - base) / static_cast<int64_t>(elem);
      offsets[id].bias = baddr ? (static_cast<char*>(baddr) - base) / static_cast<int64_t>(elem) : -1;
    }
  } catch (...) {
    cudnnDestroyTensorDescriptor(mdesc);
    cudnnDestroyTensorDescriptor(bdesc);
    throw;
  }
  cudnnDestroyTensorDescriptor(mdesc);
  cudnnDestroyTensorDescriptor(bdesc);

  L->plan = cudnn_plan::keras_to_cudnn(d, offsets);
  for (const BlockCopy& c : L->plan) {
    L->max_block = std::max(L->max_block, c.rows * c.cols);
    const int64_t end = c.dst_offset + c.rows * c.cols;
    LOOM_CHECK(end * static_cast<int64_t>(elem) <= static_cast<int64_t>(L->weight_bytes),
               "cuDNN {}: weight block at {} (+{}) lies outside the {}-byte weight space",
               rnn_cell_kind_name(d.cell), c.dst_offset, c.rows * c.cols, L->weight_bytes);
  }
  const size_t plan_bytes = L->plan.size() * sizeof(BlockCopy);
  L->plan_device = Buffer(backend_, plan_bytes);
  backend_.copy_from_host(L->plan.data(), L->plan_device.data(), plan_bytes);
  return *layers_.emplace(key, std::move(L)).first->second;
}

RnnForwardResult CudnnRnn::forward(const RnnDesc& d, const RnnForwardArgs& a) {
  auto ws = std::make_shared<CudnnWorkspace>();
  const int64_t B = d.B, T = d.T, F = d.F, H = d.H;
  const size_t elem = dtype_size(d.dtype);

  // Runs from the mask (one transfer of B*T values); holes: declined.
  cudnn_plan::SequenceRuns runs;
  if (a.mask.data) {
    dispatch_floating(d.dtype, "cuDNN RNN mask", [&](auto tag) {
      using M = decltype(tag);
      std::vector<M> host(B * T);
      backend_.copy_to_host(a.mask.data, host.data(), host.size() * sizeof(M));
      runs = cudnn_plan::sequence_runs(host.data(), B, T, d.go_backwards);
    });
    if (!runs.contiguous) return RnnForwardResult::declined_call();
  } else {
    runs = cudnn_plan::sequence_runs<float>(nullptr, B, T, d.go_backwards);
  }

  Layer& L = layer_for(d);
  ws->layer = &L;
  ws->lengths = cudnn_plan::cudnn_lengths(runs);
  std::vector<int32_t> seq(3 * B);
  std::memcpy(seq.data(), ws->lengths.data(), B * sizeof(int32_t));
  std::memcpy(seq.data() + B, runs.start.data(), B * sizeof(int32_t));
  std::memcpy(seq.data() + 2 * B, runs.length.data(), B * sizeof(int32_t));
  ws->seq = Buffer(backend_, seq.size() * sizeof(int32_t));
  backend_.copy_from_host(seq.data(), ws->seq.data(), seq.size() * sizeof(int32_t));

  cudnnHandle_t h = handle();
  ws->desc = std::make_unique<CallDescriptors>();
  make_call_descriptors(*ws->desc, L.data_type, d, ws->lengths);
  const CallDescriptors& cd = *ws->desc;

  // Weights into the weight space.
  ws->weights = Buffer(backend_, L.weight_bytes);
  void* keras[3] = {a.kernel.data, a.recurrent_kernel.data, a.bias.data};
  run_weight_plan(stream_, d.dtype, L.plan_device.as<const BlockCopy>(),
                  static_cast<int>(L.plan.size()), L.max_block, keras, ws->weights.data(),
                  /*to_space=*/true);

  ws->x_packed = Buffer(backend_, B * T * F * elem);
  ws->y_packed = Buffer(backend_, B * T * H * elem);
  pack_inputs(stream_, d.dtype, a.x.data, a.input_dropout.data, ws->runs(),
              ws->x_packed.data(), B, T, F, d.go_backwards);

  const cudnnForwardMode_t mode = d.training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  LOOM_CUDNN(cudnnGetRNNTempSpaceSizes(h, L.rnn, mode, cd.x, &ws->work_bytes, &ws->reserve_bytes));
  const size_t work_bytes = ws->work_bytes;
  Buffer work(backend_, work_bytes);
  if (ws->reserve_bytes) ws->reserve = Buffer(backend_, ws->reserve_bytes);
  const bool lstm = d.cell == RnnCellKind::lstm;
  LOOM_CUDNN(cudnnRNNForward(
      h, L.rnn, mode, ws->dev_lengths(), cd.x, ws->x_packed.data(), cd.y, ws->y_packed.data(),
      cd.h, a.h0.data, a.hT.data, cd.h, lstm ? a.c0.data : nullptr, lstm ? a.cT.data : nullptr,
      L.weight_bytes, ws->weights.data(), work_bytes, work.data(), ws->reserve_bytes,
      ws->reserve.data()));

  unpack_outputs(stream_, d.dtype, ws->y_packed.data(), ws->runs(), a.y.data, B, T, H,
                 d.return_sequences, d.zero_output_for_mask);
  // Rows that never ran keep their initial states (cuDNN ran one dummy step on them).
  select_empty_rows(stream_, d.dtype, a.hT.data, a.h0.data, ws->runs(), a.hT.data, B, H);
  if (lstm) select_empty_rows(stream_, d.dtype, a.cT.data, a.c0.data, ws->runs(), a.cT.data, B, H);
  return RnnForwardResult::ran(std::move(ws));
}

void CudnnRnn::backward(const RnnDesc& d, const RnnBackwardArgs& a, RnnWorkspace& workspace) {
  auto* ws = dynamic_cast<CudnnWorkspace*>(&workspace);
  LOOM_CHECK(ws != nullptr, "cuDNN RNN backward: the workspace was not made by its forward");
  LOOM_CHECK(ws->reserve_bytes > 0,
             "cuDNN RNN backward: the forward ran in inference mode (no reserve space)");
  const int64_t B = d.B, T = d.T, F = d.F, H = d.H;
  const size_t elem = dtype_size(d.dtype);
  const bool lstm = d.cell == RnnCellKind::lstm;
  Layer& L = *ws->layer;
  const CallDescriptors& cd = *ws->desc;
  cudnnHandle_t h = handle();
  const RunArrays runs = ws->runs();

  Buffer dy_packed(backend_, B * T * H * elem);
  if (a.dy.data)
    pack_output_grads(stream_, d.dtype, a.dy.data, runs, dy_packed.data(), B, T, H,
                      d.return_sequences, d.zero_output_for_mask);
  else
    LOOM_CUDA(cudaMemsetAsync(dy_packed.data(), 0, B * T * H * elem, stream_));
  // Final-state cotangents, zero on rows that never ran (their dummy step must not count).
  Buffer dhy, dcy;
  if (a.dhT.data) {
    dhy = Buffer(backend_, B * H * elem);
    select_empty_rows(stream_, d.dtype, a.dhT.data, nullptr, runs, dhy.data(), B, H);
  }
  if (lstm && a.dcT.data) {
    dcy = Buffer(backend_, B * H * elem);
    select_empty_rows(stream_, d.dtype, a.dcT.data, nullptr, runs, dcy.data(), B, H);
  }
  Buffer dx_packed(backend_, B * T * F * elem);
  Buffer dhx = a.dh0.data ? Buffer(backend_, B * H * elem) : Buffer();
  Buffer dcx = lstm && a.dc0.data ? Buffer(backend_, B * H * elem) : Buffer();

  const size_t work_bytes = ws->work_bytes;  // the forward's (training mode) sizes
  Buffer work(backend_, work_bytes);
  LOOM_CUDNN(cudnnRNNBackwardData_v8(
      h, L.rnn, ws->dev_lengths(), cd.y, ws->y_packed.data(), dy_packed.data(), cd.x,
      dx_packed.data(), cd.h, a.fwd.h0.data, dhy.data(), dhx.data(), cd.h,
      lstm ? a.fwd.c0.data : nullptr, dcy.data(), dcx.data(), L.weight_bytes, ws->weights.data(),
      work_bytes, work.data(), ws->reserve_bytes, ws->reserve.data()));

  if (a.dx.data)
    unpack_input_grads(stream_, d.dtype, dx_packed.data(), a.fwd.input_dropout.data, runs,
                       a.dx.data, B, T, F, d.go_backwards);
  if (a.dh0.data)
    select_empty_rows(stream_, d.dtype, dhx.data(), a.dhT.data, runs, a.dh0.data, B, H);
  if (lstm && a.dc0.data)
    select_empty_rows(stream_, d.dtype, dcx.data(), a.dcT.data, runs, a.dc0.data, B, H);

  if (a.dkernel.data || a.drecurrent_kernel.data || a.dbias.data) {
    Buffer dweights(backend_, L.weight_bytes);
    LOOM_CUDA(cudaMemsetAsync(dweights.data(), 0, L.weight_bytes, stream_));
    LOOM_CUDNN(cudnnRNNBackwardWeights_v8(
        h, L.rnn, CUDNN_WGRAD_MODE_ADD, ws->dev_lengths(), cd.x, ws->x_packed.data(), cd.h,
        a.fwd.h0.data, cd.y, ws->y_packed.data(), L.weight_bytes, dweights.data(),
        work_bytes, work.data(), ws->reserve_bytes, ws->reserve.data()));
    void* keras[3] = {a.dkernel.data, a.drecurrent_kernel.data, a.dbias.data};
    run_weight_plan(stream_, d.dtype, L.plan_device.as<const BlockCopy>(),
                    static_cast<int>(L.plan.size()), L.max_block, keras, dweights.data(),
                    /*to_space=*/false);
  }
}

}  // namespace loom::cuda
