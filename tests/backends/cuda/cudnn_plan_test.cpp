// The host-side rules of the cuDNN RNN path (backends/cuda/cudnn_plan.h),
// checked on the CPU: they run in every build, with or without a GPU.
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (GH = G*H); s processing step, t input time, q packed step.
//
// The mask -> runs -> packed-sequence rules are checked end to end against
// the reference backend: running each row's packed run as an unmasked
// sequence (what cuDNN does with sequence lengths) and restoring the
// outputs with output_source must give exactly what the masked layer gives.
// The weight plan is checked by round trips and by computing the gate
// pre-activations from the cuDNN layout the way cuDNN defines them.
#include <random>

#include "loom/backends/cuda/cudnn_plan.h"
#include "loom/layers/rnn/bptt.h"
#include "test_util.h"

namespace loom::test {
namespace {

using namespace cudnn_plan;

RnnDesc desc_of(RnnCellKind cell, int64_t F, int64_t H, bool use_bias = true,
                bool reset_after = true) {
  RnnDesc d;
  d.cell = cell;
  d.reset_after = reset_after;
  d.F = F;
  d.H = H;
  d.use_bias = use_bias;
  return d;
}

// ---- which configurations cuDNN runs ------------------------------------------------------

TEST(CudnnPlan, SupportedConfigurations) {
  RnnDesc d = desc_of(RnnCellKind::lstm, 3, 4);
  EXPECT_EQ(unsupported_reason(d), "");
  d.dtype = DType::f64;
  EXPECT_EQ(unsupported_reason(d), "");
  d.dtype = DType::i32;
  EXPECT_NE(unsupported_reason(d), "");
  d = desc_of(RnnCellKind::gru, 3, 4);
  EXPECT_EQ(unsupported_reason(d), "");
  d.reset_after = false;
  EXPECT_NE(unsupported_reason(d).find("reset_after"), std::string::npos);
  d = desc_of(RnnCellKind::lstm, 3, 4);
  d.recurrent_activation = RnnActivation::hard_sigmoid;
  EXPECT_NE(unsupported_reason(d), "");
  d = desc_of(RnnCellKind::lstm, 3, 4);
  d.recurrent_dropout = true;
  EXPECT_NE(unsupported_reason(d).find("recurrent dropout"), std::string::npos);
  // Mixed precision goes to the explicit path, whose GEMMs run on tensor
  // cores (cublasGemmStridedBatchedEx with bf16/f16 operands).
  for (DType compute : {DType::bf16, DType::f16}) {
    d = desc_of(RnnCellKind::lstm, 3, 4);
    d.compute = compute;
    EXPECT_NE(unsupported_reason(d).find("mixed precision"), std::string::npos);
  }
  d = desc_of(RnnCellKind::lstm, 3, 4);
  d.input_dropout = true;  // variational input dropout is folded into the packed input
  EXPECT_EQ(unsupported_reason(d), "");
  d = desc_of(RnnCellKind::simple_rnn, 3, 4);
  for (RnnActivation a : {RnnActivation::tanh, RnnActivation::relu}) {
    d.activation = a;
    EXPECT_EQ(unsupported_reason(d), "") << rnn_activation_name(a);
  }
  for (RnnActivation a : {RnnActivation::sigmoid, RnnActivation::hard_sigmoid, RnnActivation::linear}) {
    d.activation = a;
    EXPECT_NE(unsupported_reason(d), "") << rnn_activation_name(a);
  }
}

// ---- masks -> runs -----------------------------------------------------------------------

TEST(CudnnPlan, RunsFromMasks) {
  // Rows: full, right-padded (3), left-padded (2), all masked, holed.
  const std::vector<float> m = {1, 1, 1, 1, 1,  //
                                1, 1, 1, 0, 0,  //
                                0, 0, 0, 1, 1,  //
                                0, 0, 0, 0, 0,  //
                                1, 0, 1, 1, 0};
  SequenceRuns r = sequence_runs(m.data(), 4, 5, false);  // the first four rows
  EXPECT_TRUE(r.contiguous);
  EXPECT_EQ(r.start, (std::vector<int32_t>{0, 0, 3, 0}));
  EXPECT_EQ(r.length, (std::vector<int32_t>{5, 3, 2, 0}));
  EXPECT_EQ(cudnn_lengths(r), (std::vector<int32_t>{5, 3, 2, 1}));  // cuDNN rejects 0

  // go_backwards reads t = T-1-s: right padding becomes a run that starts late.
  r = sequence_runs(m.data(), 4, 5, true);
  EXPECT_TRUE(r.contiguous);
  EXPECT_EQ(r.start, (std::vector<int32_t>{0, 2, 0, 0}));
  EXPECT_EQ(r.length, (std::vector<int32_t>{5, 3, 2, 0}));

  r = sequence_runs(m.data(), 5, 5, false);
  EXPECT_FALSE(r.contiguous);
  EXPECT_EQ(r.first_holed_row, 4);

  r = sequence_runs<double>(nullptr, 2, 7, true);  // no mask: every row runs T steps
  EXPECT_EQ(r.start, (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(r.length, (std::vector<int32_t>{7, 7}));
}

TEST(CudnnPlan, IndexMaps) {
  // A run of 3 starting at step 2 of T = 7.
  EXPECT_EQ(packed_source_time(0, 2, 7, false), 2);
  EXPECT_EQ(packed_source_time(2, 2, 7, false), 4);
  EXPECT_EQ(packed_source_time(0, 2, 7, true), 4);  // s = 2 reads t = 4
  for (bool zero : {false, true}) {
    EXPECT_EQ(output_source(0, 2, 3, zero), -1);  // before the run: zeros
    EXPECT_EQ(output_source(1, 2, 3, zero), -1);
    EXPECT_EQ(output_source(2, 2, 3, zero), 0);
    EXPECT_EQ(output_source(4, 2, 3, zero), 2);
    EXPECT_EQ(output_source(6, 2, 3, zero), zero ? -1 : 2);  // after: repeated or zeros
  }
  EXPECT_EQ(output_source(3, 0, 0, false), -1);  // an empty row outputs zeros
  // output_grad_steps is output_source's inverse, for every step and zero flag.
  for (bool zero : {false, true})
    for (int32_t start = 0; start <= 7; ++start)
      for (int32_t len = 0; start + len <= 7; ++len)
        for (int64_t q = 0; q < 7; ++q) {
          const StepRange r = output_grad_steps(q, start, len, 7, zero);
          for (int64_t s = 0; s < 7; ++s) {
            const bool in_range = s >= r.first && s <= r.last;
            EXPECT_EQ(in_range, output_source(s, start, len, zero) == q)
                << "start=" << start << " len=" << len << " q=" << q << " s=" << s;
          }
        }
}

// The packing rules against the masked layer itself, on the reference
// backend in f64: each row's run, packed to the front and run unmasked from
// the row's initial state (as cuDNN runs it), restored with output_source
// and the empty-row rule, equals the masked sequence.
TEST(CudnnPlan, PackedRunsReproduceMaskedSequences) {
  std::mt19937 rng(7);
  const int64_t B = 6, T = 7, F = 3, H = 4;
  for (RnnCellKind cell : {RnnCellKind::simple_rnn, RnnCellKind::lstm, RnnCellKind::gru})
    for (bool backwards : {false, true})
      for (bool left : {false, true})
        for (bool zero_out : {false, true}) {
          SCOPED_TRACE(fmt::format("{} backwards={} left={} zero_out={}", rnn_cell_kind_name(cell),
                                   backwards, left, zero_out));
          RnnDesc d = desc_of(cell, F, H);
          d.go_backwards = backwards;
          d.return_sequences = true;
          d.zero_output_for_mask = zero_out;
          const int64_t G = d.gates(), GH = G * H;
          Generator g(rng());
          const Tensor x = Tensor::uniform({B, T, F}, -1, 1, g, DType::f64);
          const Tensor W = Tensor::uniform({F, GH}, -0.7, 0.7, g, DType::f64);
          const Tensor U = Tensor::uniform({H, GH}, -0.7, 0.7, g, DType::f64);
          const Tensor b = Tensor::uniform(cell == RnnCellKind::gru ? Shape{2, GH} : Shape{GH},
                                           -0.5, 0.5, g, DType::f64);
          std::vector<Tensor> h0;
          for (int k = 0; k < d.states(); ++k)
            h0.push_back(Tensor::uniform({B, H}, -1, 1, g, DType::f64));
          std::vector<double> m(B * T, 0.0);
          for (int64_t r = 0; r < B; ++r) {
            const int64_t len = r == 0 ? T : r == 1 ? 0 : std::uniform_int_distribution<int64_t>(1, T)(rng);
            for (int64_t t = 0; t < T; ++t)
              m[r * T + t] = (left ? t >= T - len : t < len) ? 1.0 : 0.0;
          }
          const Tensor mask = Tensor::from_vector(m, {B, T});

          RnnSequenceArgs a;
          a.x = x;
          a.mask = mask;
          a.initial_state = h0;
          a.kernel = W;
          a.recurrent_kernel = U;
          a.bias = b;
          const RnnSequenceResult want = rnn_sequence(reference_backend(), d, a);

          const SequenceRuns runs = sequence_runs(m.data(), B, T, backwards);
          ASSERT_TRUE(runs.contiguous);
          for (int64_t r = 0; r < B; ++r) {
            const int32_t start = runs.start[r], len = runs.length[r];
            std::vector<Tensor> hr;
            for (const Tensor& s : h0) hr.push_back(s.slice(0, r, r + 1).contiguous());
            Tensor ys;
            std::vector<Tensor> fin = hr;
            if (len > 0) {
              std::vector<Tensor> steps;
              for (int64_t q = 0; q < len; ++q)
                steps.push_back(x.slice(0, r, r + 1).select(1, packed_source_time(q, start, T, backwards)));
              RnnSequenceArgs ar = a;
              ar.x = stack(steps, 1);  // (1, len, F)
              ar.mask = Tensor();
              ar.initial_state = hr;
              RnnDesc dr = d;
              dr.go_backwards = false;  // the reversal is in the packing
              const RnnSequenceResult run = rnn_sequence(reference_backend(), dr, ar);
              ys = run.output;  // (1, len, H)
              fin = run.states;
            }
            for (int64_t s = 0; s < T; ++s) {
              const int64_t q = output_source(s, start, len, zero_out);
              for (int64_t h = 0; h < H; ++h) {
                const double expected = q < 0 ? 0.0 : ys.at({0, q, h});
                EXPECT_NEAR(want.output.at({r, s, h}), expected, 1e-12)
                    << "row " << r << " step " << s;
              }
            }
            for (size_t k = 0; k < fin.size(); ++k)
              for (int64_t h = 0; h < H; ++h)
                EXPECT_NEAR(want.states[k].at({r, h}), fin[k].at({0, h}), 1e-12)
                    << "row " << r << " state " << k;
          }
        }
}

// ---- weights -------------------------------------------------------------------------------

TEST(CudnnPlan, GateOrder) {
  EXPECT_EQ(keras_gate_of_cudnn_gate(RnnCellKind::gru, 0), 1);  // cuDNN r = Keras r (index 1)
  EXPECT_EQ(keras_gate_of_cudnn_gate(RnnCellKind::gru, 1), 0);  // cuDNN z = Keras z (index 0)
  EXPECT_EQ(keras_gate_of_cudnn_gate(RnnCellKind::gru, 2), 2);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(keras_gate_of_cudnn_gate(RnnCellKind::lstm, g), g);
  EXPECT_EQ(keras_gate_of_cudnn_gate(RnnCellKind::simple_rnn, 0), 0);
}

struct KerasWeights {
  std::vector<double> kernel, recurrent, bias;  // (F,GH), (H,GH), (GH) or (2,GH)
};

KerasWeights random_weights(const RnnDesc& d, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  const int64_t GH = d.gates() * d.H;
  KerasWeights w;
  w.kernel.resize(d.F * GH);
  w.recurrent.resize(d.H * GH);
  if (d.use_bias) w.bias.resize((double_bias(d) ? 2 : 1) * GH);
  for (auto* v : {&w.kernel, &w.recurrent, &w.bias})
    for (double& e : *v) e = u(rng);
  return w;
}

TEST(CudnnPlan, WeightRoundTripsAndCoverage) {
  std::mt19937 rng(11);
  for (RnnCellKind cell : {RnnCellKind::simple_rnn, RnnCellKind::lstm, RnnCellKind::gru})
    for (bool use_bias : {true, false}) {
      SCOPED_TRACE(fmt::format("{} bias={}", rnn_cell_kind_name(cell), use_bias));
      const RnnDesc d = desc_of(cell, 5, 3, use_bias);
      const auto offsets = packed_offsets(d, double_bias(d));
      const auto plan = keras_to_cudnn(d, offsets);
      const int64_t G = d.gates(), H = d.H, F = d.F;
      // The space holds every matrix and bias exactly once.
      const int64_t space_size =
          G * H * F + G * H * H + (use_bias ? (double_bias(d) ? 2 : 1) * G * H : 0);
      std::vector<int> written(space_size, 0);
      for (const BlockCopy& c : plan)
        for (int64_t i = 0; i < c.rows * c.cols; ++i) ++written.at(c.dst_offset + i);
      for (int64_t i = 0; i < space_size; ++i) EXPECT_EQ(written[i], 1) << "space element " << i;

      const KerasWeights w = random_weights(d, rng);
      const double* srcs[3] = {w.kernel.data(), w.recurrent.data(),
                               use_bias ? w.bias.data() : nullptr};
      std::vector<double> space(space_size, NAN);
      apply_keras_to_cudnn<double>(plan, srcs, space.data());
      KerasWeights back;
      back.kernel.assign(w.kernel.size(), NAN);
      back.recurrent.assign(w.recurrent.size(), NAN);
      back.bias.assign(w.bias.size(), NAN);
      double* dsts[3] = {back.kernel.data(), back.recurrent.data(),
                         use_bias ? back.bias.data() : nullptr};
      apply_cudnn_to_keras<double>(plan, space.data(), dsts);
      EXPECT_EQ(back.kernel, w.kernel);
      EXPECT_EQ(back.recurrent, w.recurrent);
      EXPECT_EQ(back.bias, w.bias);
    }
}

// cuDNN's definition: gate g's input-side pre-activation is W_g x + b_Wg
// (W_g (H,F) row-major) and its recurrent side R_g h + b_Rg. From the
// converted weight space these must equal Keras's x kernel + bias and
// h recurrent_kernel (+ recurrent bias) for the matching Keras gate.
TEST(CudnnPlan, ConvertedWeightsGiveKerasPreActivations) {
  std::mt19937 rng(12);
  std::uniform_real_distribution<double> u(-1, 1);
  for (RnnCellKind cell : {RnnCellKind::simple_rnn, RnnCellKind::lstm, RnnCellKind::gru}) {
    SCOPED_TRACE(rnn_cell_kind_name(cell));
    const RnnDesc d = desc_of(cell, 4, 3);
    const int64_t G = d.gates(), H = d.H, F = d.F, GH = G * H;
    const bool dbl = double_bias(d);
    const auto offsets = packed_offsets(d, dbl);
    const auto plan = keras_to_cudnn(d, offsets);
    const KerasWeights w = random_weights(d, rng);
    const double* srcs[3] = {w.kernel.data(), w.recurrent.data(), w.bias.data()};
    std::vector<double> space(G * H * F + G * H * H + (dbl ? 2 : 1) * G * H, 0.0);
    apply_keras_to_cudnn<double>(plan, srcs, space.data());
    std::vector<double> x(F), h(H);
    for (double& e : x) e = u(rng);
    for (double& e : h) e = u(rng);
    for (int cg = 0; cg < G; ++cg) {
      const int kg = keras_gate_of_cudnn_gate(cell, cg);
      for (int64_t j = 0; j < H; ++j) {
        // cuDNN side
        const double* Wg = space.data() + offsets[cg].matrix;
        const double* Rg = space.data() + offsets[G + cg].matrix;
        double in_c = space[offsets[cg].bias + j], rec_c = 0;
        for (int64_t f = 0; f < F; ++f) in_c += Wg[j * F + f] * x[f];
        for (int64_t k = 0; k < H; ++k) rec_c += Rg[j * H + k] * h[k];
        if (dbl) rec_c += space[offsets[G + cg].bias + j];
        else EXPECT_EQ(offsets[G + cg].bias, -1);
        // Keras side
        double in_k = w.bias[kg * H + j], rec_k = dbl ? w.bias[GH + kg * H + j] : 0;
        for (int64_t f = 0; f < F; ++f) in_k += x[f] * w.kernel[f * GH + kg * H + j];
        for (int64_t k = 0; k < H; ++k) rec_k += h[k] * w.recurrent[k * GH + kg * H + j];
        EXPECT_NEAR(in_c, in_k, 1e-12) << "gate " << cg << " unit " << j;
        EXPECT_NEAR(rec_c, rec_k, 1e-12) << "gate " << cg << " unit " << j;
      }
    }
  }
}

TEST(CudnnPlan, PlanRejectsWrongOffsetCount) {
  const RnnDesc d = desc_of(RnnCellKind::lstm, 2, 2);
  try {
    keras_to_cudnn(d, std::vector<LinearLayerOffsets>(3));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 linear-layer offsets"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace loom::test
