// Json: a small JSON value for configs, checkpoint headers and parity case
// files.
//
//   Json j = Json::parse(text, "case.json");
//   int64_t units = j.at("layer").get_int("units");
//   NumericArray w = j.at("weights").at("kernel").to_numeric_array();  // w.shape, w.values
//
// Values: null, bool, number, string, array, object. Numbers keep an exact
// int64 when the text is an integer that fits (no '.', no exponent), so ids
// and sizes round-trip; every number is also available as a double. Objects
// keep insertion order (dump() writes keys in that order); a key that
// appears twice keeps its first position and its last value, as Python's
// json module does.
//
// Extensions beyond RFC 8259, for files written by Python's json module:
// NaN, Infinity and -Infinity are read and written as those bare words.
//
// Errors are loom::Error: parse errors name the source, line and column;
// accessors name the expected and the actual type, and the key or index.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loom/backends/types.h"

namespace loom {

// A nested numeric array read flat, row-major: shape (d0, d1, ...) and
// numel(shape) values. A bare number gives shape () and one value.
struct NumericArray {
  Shape shape;
  std::vector<double> values;
};

class Json {
 public:
  enum class Type : uint8_t { null, boolean, number, string, array, object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  // ---- construction -------------------------------------------------------------
  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::boolean), bool_(b) {}
  Json(double d) : type_(Type::number), num_(d) {}
  Json(float f) : Json(static_cast<double>(f)) {}
  Json(int i) : Json(static_cast<long long>(i)) {}
  Json(unsigned u) : Json(static_cast<long long>(u)) {}
  Json(long i) : Json(static_cast<long long>(i)) {}
  Json(long long i);
  Json(unsigned long u);
  Json(unsigned long long u);
  Json(const char* s);
  Json(std::string s);
  Json(const std::vector<int64_t>& ints);      // an array of integers (a shape)
  Json(const std::vector<double>& numbers);
  Json(const std::vector<std::string>& strings);

  static Json array(Array items = {});
  static Json object(std::initializer_list<Member> members = {});

  Json(const Json& o);
  Json(Json&& o) noexcept;
  Json& operator=(const Json& o);
  Json& operator=(Json&& o) noexcept;
  ~Json();

  // ---- parsing and writing ---------------------------------------------------------
  // Parses one JSON document (surrounding whitespace allowed). Errors read
  // "<source>:<line>:<col>: <problem>".
  static Json parse(const std::string& text, const std::string& source_name = "");
  static Json parse_file(const std::string& path);
  // Compact with indent < 0, else one member/element per line indented by
  // `indent` spaces. Arrays holding only numbers stay on one line.
  std::string dump(int indent = -1) const;

  // ---- type --------------------------------------------------------------------------
  Type type() const { return type_; }
  const char* type_name() const;
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_number() const { return type_ == Type::number; }
  // A number read from (or made from) an integer that fits in int64.
  bool is_integer() const { return type_ == Type::number && is_int_; }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  // ---- typed values (throw naming expected and actual type) --------------------------
  bool as_bool() const;
  double as_number() const;
  // Exact for integers; a double with an integral value that fits is accepted too.
  int64_t as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // ---- containers ----------------------------------------------------------------------
  // Elements of an array or members of an object; throws for other types.
  size_t size() const;
  bool empty() const { return size() == 0; }
  bool contains(const std::string& key) const;  // false for non-objects
  const Json& at(const std::string& key) const;  // throws naming the key and the keys present
  Json& at(const std::string& key);
  const Json& at(size_t index) const;            // throws naming the index and the size
  Json& at(size_t index);
  // Null when the key is absent (or this is not an object).
  const Json* find(const std::string& key) const;

  // Typed member access whose errors name the key.
  double get_number(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  // Member or a default when absent or null.
  double value(const std::string& key, double fallback) const;
  int64_t value(const std::string& key, int64_t fallback) const;
  int value(const std::string& key, int fallback) const { return static_cast<int>(value(key, int64_t{fallback})); }
  bool value(const std::string& key, bool fallback) const;
  std::string value(const std::string& key, const std::string& fallback) const;
  std::string value(const std::string& key, const char* fallback) const {
    return value(key, std::string(fallback));
  }

  // Iteration: elements of an array, members (key, value) of an object.
  // items() throws for a non-object, elements() for a non-array.
  const Array& elements() const { return as_array(); }
  const Object& items() const { return as_object(); }

  // ---- building --------------------------------------------------------------------------
  // Appends to an array (a null becomes an empty array first).
  void push_back(Json v);
  // Inserts or replaces a member (a null becomes an empty object first).
  void set(const std::string& key, Json v);
  // Member by key, inserted as null when absent (a null becomes an object).
  Json& operator[](const std::string& key);
  Json& operator[](const char* key) { return (*this)[std::string(key)]; }

  // ---- numeric arrays ----------------------------------------------------------------------
  // Reads a (nested, rectangular) array of numbers; throws naming the path
  // of the first ragged or non-numeric element ("[2][0]").
  NumericArray to_numeric_array() const;
  std::vector<int64_t> to_int_vector() const;  // a flat array of integers
  std::vector<std::string> to_string_vector() const;

  // Deep equality (integers and doubles compare by value; objects in order).
  bool operator==(const Json& o) const;
  bool operator!=(const Json& o) const { return !(*this == o); }

 private:
  // Members in order, plus a hash index once there are more than a few
  // (vocabularies can have tens of thousands of keys).
  struct ObjectData {
    Object members;
    std::unordered_map<std::string, size_t> index;
    long find(const std::string& key) const;  // -1 when absent
    void insert(std::string key, Json v);     // replaces an existing key's value
  };
  void destroy();
  void copy_from(const Json& o);
  void move_from(Json& o) noexcept;
  ObjectData& obj();
  const ObjectData& obj() const;
  [[noreturn]] void type_error(const char* expected) const;
  void dump_to(std::string& out, int indent, int depth) const;
  friend class JsonParser;

  Type type_ = Type::null;
  bool is_int_ = false;
  bool bool_ = false;
  double num_ = 0.0;
  int64_t int_ = 0;
  // Heap payloads: at most one is set, matching type_.
  std::unique_ptr<std::string> str_;
  std::unique_ptr<Array> arr_;
  std::unique_ptr<ObjectData> obj_;
};

// The JSON text of a string literal: quotes and escapes added.
std::string json_quote(const std::string& s);

}  // namespace loom
