// Embedding lookup: y[s] = embeddings[ids[s]].
//
// Shapes: ids (S) -> y (S..., E); embeddings (V, E) with V = input_dim.
#include "loom/layers/embedding.h"

#include <cmath>

#include "loom/autograd/tape.h"
#include "loom/layers/layer_factory.h"

namespace loom {

Embedding::Embedding(Options options, std::string name)
    : Layer("Embedding", std::move(name)), options_(std::move(options)) {
  LOOM_CHECK(options_.input_dim > 0 && options_.output_dim > 0,
             "{}: input_dim and output_dim must be positive, got input_dim {} and output_dim {}",
             describe(), options_.input_dim, options_.output_dim);
  if (options_.seed) gen_.emplace(*options_.seed);
}

LayerHandle<Embedding> Embedding::make(Options options, std::string name) {
  return std::make_shared<Embedding>(std::move(options), std::move(name));
}

void Embedding::build(const std::vector<Shape>& shapes) {
  LOOM_CHECK(shapes.size() == 1, "{}: expects 1 input, got {}", describe(), shapes.size());
  Tensor table;
  try {
    table = options_.embeddings_initializer({options_.input_dim, options_.output_dim}, dtype(),
                                            weights_generator(gen_));
  } catch (const Error& e) {
    // The table is the one allocation a vocabulary size can make impossible:
    // say which layer and which options asked for it.
    fail("{}: cannot create the embeddings table (input_dim {} x output_dim {}): {}", describe(),
         options_.input_dim, options_.output_dim, e.what());
  }
  embeddings_ = add_weight("embeddings", table);
  embeddings_->row_sparse_gradient = true;
  if (options_.sparse) embeddings_->touched_rows = std::make_shared<std::set<int64_t>>();
}

namespace {
// "(1, 2)": the multi-index of flat position `flat` in `shape`.
std::string position_str(const Shape& shape, int64_t flat) {
  Shape idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return fmt::format("({})", fmt::join(idx, ", "));
}
}  // namespace

Tensor Embedding::checked_ids(const Tensor& ids_in) const {
  // Validated on the host (ids from a GPU are copied over once).
  Tensor ids = ids_in.device().kind == DeviceKind::cpu ? ids_in.detach() : ids_in.detach().cpu();
  if (is_floating(ids.dtype())) {
    // Keras casts float ids to int; a fractional id is a bug worth reporting.
    Tensor as_double = contiguous(cast(ids, DType::f64));
    const double* p = as_double.data<double>();
    for (int64_t n = 0; n < as_double.numel(); ++n)
      LOOM_CHECK(p[n] == std::floor(p[n]),
                 "{}: id {} at position {} of ids {} is not an integer", describe(), p[n],
                 position_str(ids.shape(), n), shape_str(ids.shape()));
    ids = cast(ids, DType::i64);
  }
  LOOM_CHECK(ids.dtype() == DType::i32 || ids.dtype() == DType::i64,
             "{}: ids must be integers (i32 or i64), got {} of shape {}", describe(),
             dtype_name(ids.dtype()), shape_str(ids.shape()));
  ids = contiguous(ids);
  const int64_t V = options_.input_dim;
  auto check = [&](auto tag) {
    using I = decltype(tag);
    const I* p = ids.data<I>();
    for (int64_t n = 0; n < ids.numel(); ++n) {
      const int64_t id = static_cast<int64_t>(p[n]);
      LOOM_CHECK(id >= 0 && id < V,
                 "{}: id {} at position {} of ids {} is out of range for input_dim {} (valid ids "
                 "are 0 to {})",
                 describe(), id, position_str(ids.shape(), n), shape_str(ids.shape()), V, V - 1);
    }
  };
  if (ids.dtype() == DType::i32) check(int32_t{});
  else check(int64_t{});
  return ids;
}

std::vector<Tensor> Embedding::call(const std::vector<Tensor>& inputs,
                                    const std::vector<Tensor>& masks, const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  Tensor ids = checked_ids(inputs[0]);  // (S)
  const Tensor& table = embeddings_->value;  // (V, E)
  if (options_.sparse && embeddings_->touched_rows && grad_mode_enabled() &&
      table.requires_grad()) {
    auto& rows = *embeddings_->touched_rows;
    auto note = [&](auto tag) {
      using I = decltype(tag);
      const I* p = ids.data<I>();
      for (int64_t n = 0; n < ids.numel(); ++n) rows.insert(static_cast<int64_t>(p[n]));
    };
    if (ids.dtype() == DType::i32) note(int32_t{});
    else note(int64_t{});
  }
  if (options_.embeddings_regularizer.active())
    add_loss(options_.embeddings_regularizer.penalty(table));
  return {gather_rows(table, ids.to(table.device()))};  // (S..., E)
}

std::vector<Tensor> Embedding::compute_mask(const std::vector<Tensor>& inputs,
                                            const std::vector<Tensor>& masks) const {
  if (!options_.mask_zero) return {Tensor()};
  // (S) 1 where the id is not padding, in the layer's float dtype.
  // On the table's device, where the layers that consume the mask run.
  return {cast(compare(inputs[0].detach(), 0.0, Compare::ne), dtype()).to(embeddings_->value.device())};
}

std::vector<Shape> Embedding::compute_output_shape(const std::vector<Shape>& shapes) const {
  Shape s = shapes.at(0);
  s.push_back(options_.output_dim);
  return {s};
}

Config Embedding::config() const {
  Config c{{"input_dim", options_.input_dim},
           {"output_dim", options_.output_dim},
           {"mask_zero", options_.mask_zero},
           {"embeddings_initializer", options_.embeddings_initializer.str()},
           {"embeddings_regularizer", options_.embeddings_regularizer.str()},
           {"sparse", options_.sparse}};
  if (options_.seed) c["seed"] = static_cast<int64_t>(*options_.seed);
  return c;
}

LayerPtr Embedding::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Embedding", name);
  Options o;
  o.input_dim = r.require_int("input_dim");
  o.output_dim = r.require_int("output_dim");
  o.mask_zero = r.get_bool("mask_zero", o.mask_zero);
  o.embeddings_initializer = r.get_string("embeddings_initializer", o.embeddings_initializer.str());
  o.embeddings_regularizer = Regularizer::parse(r.get_string("embeddings_regularizer", "none"));
  o.sparse = r.get_bool("sparse", o.sparse);
  if (r.has("seed")) o.seed = static_cast<uint64_t>(r.get_int("seed", 0));
  r.finish();
  return std::make_shared<Embedding>(o, name);
}

}  // namespace loom
