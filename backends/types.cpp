#include "loom/backends/types.h"

#include "loom/backends/backend.h"

namespace loom {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
  }
  return "?";
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    try {
      size_t used = 0;
      int idx = std::stoi(s.substr(5), &used);
      if (used == s.size() - 5 && idx >= 0) return cuda(idx);
    } catch (const std::exception&) {
    }
  }
  fail("Device::parse: unknown device '{}' (expected cpu, cuda or cuda:N)", s);
}

std::string Device::str() const {
  return kind == DeviceKind::cpu ? std::string("cpu") : fmt::format("cuda:{}", index);
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  // Shapes can come from files (architectures, checkpoints): an overflowing
  // product is an error, not undefined behaviour.
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n))
      fail("shape {} has more elements than an int64 can count", shape_str(s));
  return n;
}

std::string shape_str(const Shape& s) {
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::copy: return "copy";
    case UnaryOp::neg: return "neg";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::hard_sigmoid: return "hard_sigmoid";
    case UnaryOp::relu: return "relu";
    case UnaryOp::softplus: return "softplus";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::square: return "square";
    case UnaryOp::abs: return "abs";
    case UnaryOp::sign: return "sign";
  }
  return "?";
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
    case BinaryOp::eq: return "eq";
    case BinaryOp::ne: return "ne";
    case BinaryOp::lt: return "lt";
    case BinaryOp::le: return "le";
    case BinaryOp::gt: return "gt";
    case BinaryOp::ge: return "ge";
  }
  return "?";
}

}  // namespace loom
