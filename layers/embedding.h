// Embedding: maps integer ids to rows of a trainable table (Keras Embedding).
//
// Shapes: ids (B, T) (any shape S, i32 or i64; integral floats are accepted
// and converted, as Keras casts them) -> y (S..., output_dim); embeddings
// (input_dim, output_dim).
//
// mask_zero: id 0 is padding; compute_mask gives ids != 0, shape S.
// sparse: the forward records the ids it read into the embeddings
// Parameter's touched_rows, so an optimizer can update only those rows
// (the gradient itself is still a dense (input_dim, output_dim) tensor).
#pragma once

#include <optional>

#include "loom/layers/weights/initializers.h"
#include "loom/layers/layer.h"
#include "loom/layers/weights/regularizers.h"

namespace loom {

class Embedding : public Layer {
 public:
  struct Options {
    int64_t input_dim = 0;   // vocabulary size: ids in [0, input_dim)
    int64_t output_dim = 0;  // E
    bool mask_zero = false;
    Initializer embeddings_initializer = initializers::random_uniform(-0.05, 0.05);
    Regularizer embeddings_regularizer;
    bool sparse = false;
    std::optional<uint64_t> seed;  // own weight generator, else default_generator()
  };

  explicit Embedding(Options options, std::string name = "");
  static LayerHandle<Embedding> make(Options options, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  // Keras Embedding does not accept an incoming mask.
  bool supports_masking() const override { return false; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config config() const override;

  const Options& options() const { return options_; }
  const ParameterPtr& embeddings() const { return embeddings_; }

 private:
  // ids as i32/i64, checked against [0, input_dim).
  Tensor checked_ids(const Tensor& ids) const;
  Options options_;
  std::optional<Generator> gen_;
  ParameterPtr embeddings_;
};

}  // namespace loom
