// Round trips of every Keras <-> oneDNN weight conversion the oneDNN
// backend makes (backends/onednn/rnn_layout.h).
//
// Dimension letters: F input features, H units, G gates.
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "loom/backends/onednn/dnnl_compat.h"
#include "loom/backends/onednn/rnn_layout.h"

namespace loom::onednn {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

int gates(RnnCellKind c) { return c == RnnCellKind::lstm ? 4 : c == RnnCellKind::gru ? 3 : 1; }

const RnnCellKind kCells[] = {RnnCellKind::simple_rnn, RnnCellKind::lstm, RnnCellKind::gru};

// The documented gate orders: LSTM i,f,c,o and GRU z,r,h are oneDNN's
// i,f,c~,o and u,r,o one for one.
TEST(OneDnnRnnLayout, GateOrdersMatchKeras) {
  for (RnnCellKind c : kCells) {
    SCOPED_TRACE(rnn_cell_kind_name(c));
    EXPECT_TRUE(gates_in_keras_order(c));
    for (int g = 0; g < gates(c); ++g) EXPECT_EQ(gate_order(c)[g], g);
  }
  EXPECT_EQ(dnnl_bias_gates(RnnCellKind::lstm, false), 4);
  EXPECT_EQ(dnnl_bias_gates(RnnCellKind::gru, false), 3);
  EXPECT_EQ(dnnl_bias_gates(RnnCellKind::gru, true), 4);
  EXPECT_EQ(dnnl_bias_gates(RnnCellKind::simple_rnn, false), 1);
}

// Kernel (rows, GH): Keras -> oneDNN -> Keras is the identity.
TEST(OneDnnRnnLayout, KernelRoundTrip) {
  const int64_t rows = 5, H = 3;
  for (RnnCellKind c : kCells) {
    SCOPED_TRACE(rnn_cell_kind_name(c));
    const size_t n = static_cast<size_t>(rows * gates(c) * H);
    const std::vector<float> keras = random_floats(n, 1);
    std::vector<float> dnnl(n, -9), back(n, -9);
    kernel_keras_to_dnnl(c, keras.data(), rows, H, dnnl.data());
    kernel_dnnl_to_keras(c, dnnl.data(), rows, H, back.data());
    EXPECT_EQ(back, keras);
    // Gate g of oneDNN's row r is Keras's gate gate_order[g] of that row.
    for (int64_t r = 0; r < rows; ++r)
      for (int g = 0; g < gates(c); ++g)
        for (int64_t j = 0; j < H; ++j)
          EXPECT_EQ(dnnl[(r * gates(c) + g) * H + j], keras[(r * gates(c) + gate_order(c)[g]) * H + j]);
  }
}

// Bias of SimpleRNN, LSTM and GRU reset_after=false: a round trip through
// the forward conversion and its adjoint is the identity; no bias is zeros.
TEST(OneDnnRnnLayout, PlainBiasRoundTrip) {
  const int64_t H = 4;
  for (RnnCellKind c : kCells) {
    SCOPED_TRACE(rnn_cell_kind_name(c));
    const size_t n = static_cast<size_t>(gates(c) * H);
    const std::vector<float> keras = random_floats(n, 2);
    std::vector<float> dnnl(n, -9), back(n, -9);
    bias_keras_to_dnnl(c, false, keras.data(), H, dnnl.data());
    diff_bias_dnnl_to_keras(c, false, dnnl.data(), H, back.data());
    EXPECT_EQ(back, keras);
    bias_keras_to_dnnl(c, false, nullptr, H, dnnl.data());
    EXPECT_EQ(dnnl, std::vector<float>(n, 0.0f));
  }
}

// GRU reset_after=true: Keras (2, 3H) rows [bi; br] -> oneDNN (4, H)
// [bi_z + br_z, bi_r + br_r, bi_h, br_h]; the gradient map is its adjoint,
// and mapping back what the forward map produced recovers the Keras bias up
// to the split of the z and r sums (which the cell cannot see).
TEST(OneDnnRnnLayout, LinearBeforeResetGruBias) {
  const int64_t H = 3;
  const std::vector<float> keras = random_floats(6 * H, 3);
  std::vector<float> dnnl(4 * H);
  bias_keras_to_dnnl(RnnCellKind::gru, true, keras.data(), H, dnnl.data());
  const float* bi = keras.data();
  const float* br = keras.data() + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    EXPECT_FLOAT_EQ(dnnl[j], bi[j] + br[j]);
    EXPECT_FLOAT_EQ(dnnl[H + j], bi[H + j] + br[H + j]);
    EXPECT_FLOAT_EQ(dnnl[2 * H + j], bi[2 * H + j]);
    EXPECT_FLOAT_EQ(dnnl[3 * H + j], br[2 * H + j]);
  }
  // Adjoint: <A b, g> = <b, A^T g> for random b, g.
  const std::vector<float> g = random_floats(4 * H, 4);
  std::vector<float> gk(6 * H);
  diff_bias_dnnl_to_keras(RnnCellKind::gru, true, g.data(), H, gk.data());
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < 4 * H; ++i) lhs += static_cast<double>(dnnl[i]) * g[i];
  for (int64_t i = 0; i < 6 * H; ++i) rhs += static_cast<double>(keras[i]) * gk[i];
  EXPECT_NEAR(lhs, rhs, 1e-5);
  // Round trip on the part the map keeps: a Keras bias with br_z = br_r = 0
  // comes back from (forward map, then the split that puts the sums in bi).
  std::vector<float> k2 = keras;
  for (int64_t j = 0; j < 2 * H; ++j) k2[3 * H + j] = 0.0f;
  bias_keras_to_dnnl(RnnCellKind::gru, true, k2.data(), H, dnnl.data());
  std::vector<float> back(6 * H, 0.0f);
  for (int64_t j = 0; j < 3 * H; ++j) back[j] = dnnl[j];          // bi_z, bi_r, bi_h
  for (int64_t j = 0; j < H; ++j) back[3 * H + 2 * H + j] = dnnl[3 * H + j];  // br_h
  EXPECT_EQ(back, k2);
}

// The weights go to the primitive as oneDNN's plain ldigo and are reordered
// into whatever layout the forward and backward primitives chose: that
// reorder and its inverse must give back the Keras kernel exactly.
TEST(OneDnnRnnLayout, PrimitiveWeightLayoutsRoundTrip) {
  using dnnl::memory;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const memory::dim B = 3, T = 4, F = 5, H = 6;
  for (DnnlCell cell : {DnnlCell::vanilla_rnn, DnnlCell::lstm, DnnlCell::gru, DnnlCell::lbr_gru}) {
    const memory::dim G = cell == DnnlCell::lstm ? 4 : cell == DnnlCell::vanilla_rnn ? 1 : 3;
    const memory::dim Gb = cell == DnnlCell::lbr_gru ? 4 : G;
    SCOPED_TRACE(static_cast<int>(cell));
    RnnMemoryDescs m;
    const memory::desc x({T, B, F}, dt::f32, tag::tnc), y({T, B, H}, dt::f32, tag::tnc);
    const memory::desc it({1, 1, B, H}, dt::f32, tag::ldnc);
    const memory::desc wl_user({1, 1, F, G, H}, dt::f32, tag::ldigo);
    const memory::desc wi_user({1, 1, H, G, H}, dt::f32, tag::ldigo);
    m.src_layer = m.diff_src_layer = x;
    m.dst_layer = m.diff_dst_layer = y;
    m.src_iter = m.dst_iter = m.diff_src_iter = m.diff_dst_iter = it;
    if (cell == DnnlCell::lstm) m.src_iter_c = m.dst_iter_c = m.diff_src_iter_c = m.diff_dst_iter_c = it;
    m.weights_layer = memory::desc({1, 1, F, G, H}, dt::f32, tag::any);
    m.weights_iter = memory::desc({1, 1, H, G, H}, dt::f32, tag::any);
    m.diff_weights_layer = wl_user;
    m.diff_weights_iter = wi_user;
    m.bias = m.diff_bias = memory::desc({1, 1, Gb, H}, dt::f32, tag::ldgo);
    const RnnPrimitiveDescs pds = make_rnn_primitive_descs(
        eng, cell, dnnl::algorithm::eltwise_tanh, dnnl::rnn_direction::unidirectional_left2right,
        true, m);
    for (const dnnl::primitive_desc* pd : {&pds.fwd, &pds.bwd})
      for (auto [arg, user] : {std::pair{DNNL_ARG_WEIGHTS_LAYER, wl_user},
                               std::pair{DNNL_ARG_WEIGHTS_ITER, wi_user}}) {
        const memory::desc chosen = pd->query_md(dnnl::query::exec_arg_md, arg);
        std::vector<float> keras = random_floats(user.get_size() / sizeof(float), 5);
        std::vector<float> back(keras.size(), -9.0f);
        memory src(user, eng, keras.data()), mid(chosen, eng), dst(user, eng, back.data());
        dnnl::reorder(src, mid).execute(s, src, mid);
        dnnl::reorder(mid, dst).execute(s, mid, dst);
        s.wait();
        EXPECT_EQ(back, keras) << (pd == &pds.fwd ? "forward" : "backward") << " arg " << arg;
      }
  }
}

}  // namespace
}  // namespace loom::onednn
