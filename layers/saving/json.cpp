#include "loom/layers/saving/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace loom {

namespace {
constexpr size_t kIndexFrom = 12;  // below this, a linear scan is faster than hashing
}  // namespace

long Json::ObjectData::find(const std::string& key) const {
  if (!index.empty()) {
    auto it = index.find(key);
    return it == index.end() ? -1 : static_cast<long>(it->second);
  }
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].first == key) return static_cast<long>(i);
  return -1;
}

void Json::ObjectData::insert(std::string key, Json v) {
  long at = find(key);
  if (at >= 0) {
    members[static_cast<size_t>(at)].second = std::move(v);
    return;
  }
  members.emplace_back(std::move(key), std::move(v));
  if (!index.empty()) {
    index.emplace(members.back().first, members.size() - 1);
  } else if (members.size() >= kIndexFrom) {
    for (size_t i = 0; i < members.size(); ++i) index.emplace(members[i].first, i);
  }
}

// ---- construction ---------------------------------------------------------------------

Json::Json(long long i) : type_(Type::number), is_int_(true), int_(i) {
  num_ = static_cast<double>(i);
}
Json::Json(unsigned long u) : Json(static_cast<unsigned long long>(u)) {}
Json::Json(unsigned long long u) : type_(Type::number) {
  num_ = static_cast<double>(u);
  if (u <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
    is_int_ = true;
    int_ = static_cast<int64_t>(u);
  }
}
Json::Json(const char* s) : Json(std::string(s)) {}
Json::Json(std::string s) : type_(Type::string), str_(std::make_unique<std::string>(std::move(s))) {}
Json::Json(const std::vector<int64_t>& ints) : Json(array()) {
  arr_->reserve(ints.size());
  for (int64_t v : ints) arr_->emplace_back(static_cast<long long>(v));
}
Json::Json(const std::vector<double>& numbers) : Json(array()) {
  arr_->reserve(numbers.size());
  for (double v : numbers) arr_->emplace_back(v);
}
Json::Json(const std::vector<std::string>& strings) : Json(array()) {
  arr_->reserve(strings.size());
  for (const auto& s : strings) arr_->emplace_back(s);
}

Json Json::array(Array items) {
  Json j;
  j.type_ = Type::array;
  j.arr_ = std::make_unique<Array>(std::move(items));
  return j;
}

Json Json::object(std::initializer_list<Member> members) {
  Json j;
  j.type_ = Type::object;
  j.obj_ = std::make_unique<ObjectData>();
  for (const auto& m : members) j.obj_->insert(m.first, m.second);
  return j;
}

void Json::destroy() {
  str_.reset();
  arr_.reset();
  obj_.reset();
  type_ = Type::null;
  is_int_ = false;
}

void Json::copy_from(const Json& o) {
  type_ = o.type_;
  is_int_ = o.is_int_;
  bool_ = o.bool_;
  num_ = o.num_;
  int_ = o.int_;
  if (o.str_) str_ = std::make_unique<std::string>(*o.str_);
  if (o.arr_) arr_ = std::make_unique<Array>(*o.arr_);
  if (o.obj_) obj_ = std::make_unique<ObjectData>(*o.obj_);
}

void Json::move_from(Json& o) noexcept {
  type_ = o.type_;
  is_int_ = o.is_int_;
  bool_ = o.bool_;
  num_ = o.num_;
  int_ = o.int_;
  str_ = std::move(o.str_);
  arr_ = std::move(o.arr_);
  obj_ = std::move(o.obj_);
  o.type_ = Type::null;
  o.is_int_ = false;
}

Json::Json(const Json& o) { copy_from(o); }
Json::Json(Json&& o) noexcept { move_from(o); }
Json& Json::operator=(const Json& o) {
  if (this != &o) {
    Json tmp(o);  // o may live inside *this
    destroy();
    move_from(tmp);
  }
  return *this;
}
Json& Json::operator=(Json&& o) noexcept {
  if (this != &o) {
    Json tmp(std::move(o));  // o may live inside *this
    destroy();
    move_from(tmp);
  }
  return *this;
}
Json::~Json() = default;

Json::ObjectData& Json::obj() {
  if (type_ != Type::object) type_error("object");
  return *obj_;
}
const Json::ObjectData& Json::obj() const {
  if (type_ != Type::object) type_error("object");
  return *obj_;
}

// ---- type errors -------------------------------------------------------------------------

const char* Json::type_name() const {
  switch (type_) {
    case Type::null: return "null";
    case Type::boolean: return "bool";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

namespace {
// A short excerpt of a value for error messages.
std::string preview(const Json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}
}  // namespace

void Json::type_error(const char* expected) const {
  fail("Json: expected {}, got {} {}", expected, type_name(), preview(*this));
}

// ---- typed values ------------------------------------------------------------------------

bool Json::as_bool() const {
  if (type_ != Type::boolean) type_error("bool");
  return bool_;
}

double Json::as_number() const {
  if (type_ != Type::number) type_error("number");
  return num_;
}

int64_t Json::as_int() const {
  if (type_ != Type::number) type_error("integer");
  if (is_int_) return int_;
  // 2^63 is exactly representable; anything at or past it does not fit.
  if (std::isfinite(num_) && num_ == std::floor(num_) && num_ >= -9223372036854775808.0 &&
      num_ < 9223372036854775808.0)
    return static_cast<int64_t>(num_);
  fail("Json: expected an integer, got number {}", preview(*this));
}

const std::string& Json::as_string() const {
  if (type_ != Type::string) type_error("string");
  return *str_;
}

const Json::Array& Json::as_array() const {
  if (type_ != Type::array) type_error("array");
  return *arr_;
}

const Json::Object& Json::as_object() const { return obj().members; }

// ---- containers ---------------------------------------------------------------------------

size_t Json::size() const {
  if (type_ == Type::array) return arr_->size();
  if (type_ == Type::object) return obj_->members.size();
  fail("Json: size() needs an array or object, got {} {}", type_name(), preview(*this));
}

bool Json::contains(const std::string& key) const {
  return type_ == Type::object && obj_->find(key) >= 0;
}

const Json* Json::find(const std::string& key) const {
  if (type_ != Type::object) return nullptr;
  long i = obj_->find(key);
  return i < 0 ? nullptr : &obj_->members[static_cast<size_t>(i)].second;
}

const Json& Json::at(const std::string& key) const {
  if (type_ != Type::object)
    fail("Json: cannot look up key '{}' in {} {}", key, type_name(), preview(*this));
  long i = obj_->find(key);
  if (i < 0) {
    std::string keys;
    for (size_t k = 0; k < obj_->members.size() && k < 20; ++k)
      keys += (k ? ", " : "") + obj_->members[k].first;
    if (obj_->members.size() > 20) keys += ", ...";
    fail("Json: key '{}' not found (keys: {})", key, keys.empty() ? "none" : keys);
  }
  return obj_->members[static_cast<size_t>(i)].second;
}

Json& Json::at(const std::string& key) {
  return const_cast<Json&>(static_cast<const Json&>(*this).at(key));
}

const Json& Json::at(size_t index) const {
  if (type_ != Type::array)
    fail("Json: cannot index [{}] into {} {}", index, type_name(), preview(*this));
  if (index >= arr_->size())
    fail("Json: index {} out of range for an array of {} elements", index, arr_->size());
  return (*arr_)[index];
}

Json& Json::at(size_t index) {
  return const_cast<Json&>(static_cast<const Json&>(*this).at(index));
}

namespace {
template <typename F>
auto with_key(const std::string& key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    fail("Json: member '{}': {}", key, e.what());
  }
}
}  // namespace

double Json::get_number(const std::string& key) const {
  const Json& v = at(key);
  return with_key(key, [&] { return v.as_number(); });
}
int64_t Json::get_int(const std::string& key) const {
  const Json& v = at(key);
  return with_key(key, [&] { return v.as_int(); });
}
const std::string& Json::get_string(const std::string& key) const {
  const Json& v = at(key);
  return with_key(key, [&]() -> const std::string& { return v.as_string(); });
}
bool Json::get_bool(const std::string& key) const {
  const Json& v = at(key);
  return with_key(key, [&] { return v.as_bool(); });
}

double Json::value(const std::string& key, double fallback) const {
  const Json* v = find(key);
  return (!v || v->is_null()) ? fallback : with_key(key, [&] { return v->as_number(); });
}
int64_t Json::value(const std::string& key, int64_t fallback) const {
  const Json* v = find(key);
  return (!v || v->is_null()) ? fallback : with_key(key, [&] { return v->as_int(); });
}
bool Json::value(const std::string& key, bool fallback) const {
  const Json* v = find(key);
  return (!v || v->is_null()) ? fallback : with_key(key, [&] { return v->as_bool(); });
}
std::string Json::value(const std::string& key, const std::string& fallback) const {
  const Json* v = find(key);
  return (!v || v->is_null()) ? fallback : with_key(key, [&] { return v->as_string(); });
}

// ---- building -----------------------------------------------------------------------------

void Json::push_back(Json v) {
  if (type_ == Type::null) *this = array();
  if (type_ != Type::array) type_error("array (push_back)");
  arr_->push_back(std::move(v));
}

void Json::set(const std::string& key, Json v) {
  if (type_ == Type::null) *this = object();
  if (type_ != Type::object) type_error("object (set)");
  obj_->insert(key, std::move(v));
}

Json& Json::operator[](const std::string& key) {
  if (type_ == Type::null) *this = object();
  if (type_ != Type::object) type_error("object (operator[])");
  long i = obj_->find(key);
  if (i < 0) {
    obj_->insert(key, Json());
    return obj_->members.back().second;
  }
  return obj_->members[static_cast<size_t>(i)].second;
}

// ---- numeric arrays -------------------------------------------------------------------------

namespace {
void flatten(const Json& j, size_t depth, NumericArray& out, std::string& path) {
  if (depth == out.shape.size()) {
    if (!j.is_number())
      fail("Json: numeric array element {} is {} {}, expected a number", path.empty() ? "(root)" : path,
           j.type_name(), preview(j));
    out.values.push_back(j.as_number());
    return;
  }
  if (!j.is_array() || static_cast<int64_t>(j.size()) != out.shape[depth])
    fail("Json: ragged numeric array: element {} is {}, expected an array of {} elements",
         path.empty() ? "(root)" : path,
         j.is_array() ? fmt::format("an array of {} elements", j.size()) : j.type_name(),
         out.shape[depth]);
  const auto& a = j.as_array();
  // Innermost level: a tight loop (parity files are mostly long number rows).
  if (depth + 1 == out.shape.size()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number())
        fail("Json: numeric array element {}[{}] is {} {}, expected a number", path, i,
             a[i].type_name(), preview(a[i]));
      out.values.push_back(a[i].as_number());
    }
    return;
  }
  size_t keep = path.size();
  for (size_t i = 0; i < a.size(); ++i) {
    path += '[';
    path += std::to_string(i);
    path += ']';
    flatten(a[i], depth + 1, out, path);
    path.resize(keep);
  }
}
}  // namespace

NumericArray Json::to_numeric_array() const {
  NumericArray out;
  // The shape follows the first element at each level; flatten() checks the rest.
  const Json* p = this;
  while (p->is_array()) {
    out.shape.push_back(static_cast<int64_t>(p->size()));
    if (p->size() == 0) break;
    p = &p->at(0);
  }
  // The shape is read off the first elements only, so a ragged document can
  // claim any size (5 levels of 100 is 10^10 values from 1 KB of text): the
  // product is checked for overflow and the reservation capped; flatten()
  // refuses the ragged rest before more values than the text holds arrive.
  int64_t numel = 1;
  for (int64_t d : out.shape) {
    LOOM_CHECK(d == 0 || numel <= INT64_MAX / d,
               "Json: numeric array of shape {} has more than {} elements", shape_str(out.shape),
               INT64_MAX);
    numel *= d;
  }
  constexpr int64_t kReserveCap = int64_t{1} << 20;
  out.values.reserve(static_cast<size_t>(std::min(numel, kReserveCap)));
  std::string path;
  if (numel > 0 || out.shape.empty()) flatten(*this, 0, out, path);
  return out;
}

std::vector<int64_t> Json::to_int_vector() const {
  const auto& a = as_array();
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    try {
      out.push_back(a[i].as_int());
    } catch (const Error& e) {
      fail("Json: element [{}]: {}", i, e.what());
    }
  }
  return out;
}

std::vector<std::string> Json::to_string_vector() const {
  const auto& a = as_array();
  std::vector<std::string> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) fail("Json: element [{}]: expected string, got {}", i, a[i].type_name());
    out.push_back(a[i].as_string());
  }
  return out;
}

// ---- equality ----------------------------------------------------------------------------------

bool Json::operator==(const Json& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::null: return true;
    case Type::boolean: return bool_ == o.bool_;
    case Type::number:
      if (is_int_ && o.is_int_) return int_ == o.int_;
      return num_ == o.num_;
    case Type::string: return *str_ == *o.str_;
    case Type::array: return *arr_ == *o.arr_;
    case Type::object: return obj_->members == o.obj_->members;
  }
  return false;
}

// ---- parsing ------------------------------------------------------------------------------------

class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& source)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), source_(source) {}

  Json document() {
    skip_ws();
    Json v = value(0);
    skip_ws();
    if (p_ != end_) error("unexpected '{}' after the document", describe(*p_));
    return v;
  }

 private:
  static constexpr int kMaxDepth = 512;  // deeper input is hostile, not data
  const char* begin_;
  const char* p_;
  const char* end_;
  const std::string& source_;

  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> f, Args&&... args) const {
    error_at(p_, fmt::format(f, std::forward<Args>(args)...));
  }
  [[noreturn]] void error_at(const char* where, const std::string& msg) const {
    // Line and column are computed only on failure, so parsing does not track them.
    int64_t line = 1;
    const char* line_start = begin_;
    for (const char* q = begin_; q < where; ++q)
      if (*q == '\n') {
        ++line;
        line_start = q + 1;
      }
    fail("{}:{}:{}: JSON parse error: {}", source_.empty() ? "<json>" : source_, line,
         where - line_start + 1, msg);
  }
  static std::string describe(char c) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    return std::string(1, c);
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\t' || *p_ == '\r')) ++p_;
  }

  bool match(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }

  Json value(int depth) {
    if (p_ == end_) error("unexpected end of input, expected a value");
    switch (*p_) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': {
        Json j;
        j.type_ = Json::Type::string;
        j.str_ = std::make_unique<std::string>();
        string(*j.str_);
        return j;
      }
      case 't':
        if (match("true")) return Json(true);
        break;
      case 'f':
        if (match("false")) return Json(false);
        break;
      case 'n':
        if (match("null")) return Json();
        break;
      case 'N':
        if (match("NaN")) return Json(std::numeric_limits<double>::quiet_NaN());
        break;
      case 'I':
        if (match("Infinity")) return Json(std::numeric_limits<double>::infinity());
        break;
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number();
    }
    error("unexpected '{}', expected a value", describe(*p_));
  }

  Json object(int depth) {
    if (depth >= kMaxDepth) error("nesting deeper than {} levels", kMaxDepth);
    ++p_;  // '{'
    Json j = Json::object();
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return j;
    }
    std::string key;
    while (true) {
      skip_ws();
      if (p_ == end_ || *p_ != '"')
        error("expected a string key{}", p_ == end_ ? " (unexpected end of input)" : "");
      key.clear();
      string(key);
      skip_ws();
      if (p_ == end_ || *p_ != ':') error("expected ':' after key \"{}\"", key);
      ++p_;
      skip_ws();
      j.obj_->insert(key, value(depth + 1));
      skip_ws();
      if (p_ == end_) error("unexpected end of input in an object (missing '}}')");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return j;
      }
      error("expected ',' or '}}' in an object, got '{}'", describe(*p_));
    }
  }

  Json array(int depth) {
    if (depth >= kMaxDepth) error("nesting deeper than {} levels", kMaxDepth);
    ++p_;  // '['
    Json j = Json::array();
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return j;
    }
    while (true) {
      skip_ws();
      j.arr_->push_back(value(depth + 1));
      skip_ws();
      if (p_ == end_) error("unexpected end of input in an array (missing ']')");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return j;
      }
      error("expected ',' or ']' in an array, got '{}'", describe(*p_));
    }
  }

  // RFC 8259 grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Json number() {
    const char* start = p_;
    if (*p_ == '-') {
      ++p_;
      if (match("Infinity")) return Json(-std::numeric_limits<double>::infinity());
    }
    auto digits = [&] {
      const char* s = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      return p_ - s;
    };
    if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) error("expected a digit in a number");
    if (*p_ == '0') {
      ++p_;
      if (p_ < end_ && *p_ >= '0' && *p_ <= '9') error_at(start, "a number may not have leading zeros");
    } else {
      digits();
    }
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      integral = false;
      if (digits() == 0) error("expected a digit after '.'");
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      integral = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (digits() == 0) error("expected a digit in the exponent");
    }
    if (integral) {
      int64_t v = 0;
      auto r = std::from_chars(start, p_, v);
      if (r.ec == std::errc() && r.ptr == p_) return Json(static_cast<long long>(v));
      // Too large for int64: fall through to a double.
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Overflow to +-inf, underflow to 0, as strtod does.
      d = std::strtod(std::string(start, p_).c_str(), nullptr);
    } else if (r.ec != std::errc() || r.ptr != p_) {
      error_at(start, "malformed number");
    }
    return Json(d);
  }

  unsigned hex4() {
    if (end_ - p_ < 4) error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else { --p_; error("bad hex digit '{}' in a \\u escape", describe(c)); }
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  void string(std::string& out) {
    const char* open = p_;
    ++p_;  // '"'
    while (true) {
      // Copy the run of plain characters in one go.
      const char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
      out.append(run, p_);
      if (p_ == end_) error_at(open, "unterminated string");
      char c = *p_;
      if (c == '"') {
        ++p_;
        return;
      }
      if (c != '\\') error("control character {} in a string (escape it)", describe(c));
      ++p_;
      if (p_ == end_) error_at(open, "unterminated string");
      char e = *p_++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const char* esc = p_ - 2;
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by \u and a low surrogate.
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
              error_at(esc, "unpaired high surrogate in a \\u escape");
            p_ += 2;
            unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error_at(esc, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            error_at(esc, "unpaired low surrogate in a \\u escape");
          }
          put_utf8(out, cp);
          break;
        }
        default:
          --p_;
          error("bad escape '\\{}' in a string", describe(e));
      }
    }
  }
};

Json Json::parse(const std::string& text, const std::string& source_name) {
  return JsonParser(text, source_name).document();
}

Json Json::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("Json: cannot open '{}' for reading", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

// ---- writing ----------------------------------------------------------------------------------------

std::string json_quote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;  // UTF-8 passes through
    }
  }
  out += '"';
  return out;
}

namespace {
void write_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    // Shortest text that reads back to the same double; keep a '.0' so a
    // double stays a double after a round trip.
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view sv(buf, static_cast<size_t>(r.ptr - buf));
    out += sv;
    if (sv.find_first_of(".e") == std::string_view::npos) out += ".0";
  }
}
void newline(std::string& out, int indent, int depth) {
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}
}  // namespace

void Json::dump_to(std::string& out, int indent, int depth) const {
  switch (type_) {
    case Type::null: out += "null"; return;
    case Type::boolean: out += bool_ ? "true" : "false"; return;
    case Type::number:
      if (is_int_) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, int_);
        out.append(buf, r.ptr);
      } else {
        write_number(out, num_);
      }
      return;
    case Type::string: out += json_quote(*str_); return;
    case Type::array: {
      const Array& a = *arr_;
      if (a.empty()) {
        out += "[]";
        return;
      }
      bool flat = indent < 0;
      if (!flat) {
        flat = true;  // rows of numbers stay on one line
        for (const auto& e : a)
          if (!e.is_number()) {
            flat = false;
            break;
          }
      }
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += flat && indent >= 0 ? ", " : ",";
        if (!flat) newline(out, indent, depth + 1);
        a[i].dump_to(out, indent, depth + 1);
      }
      if (!flat) newline(out, indent, depth);
      out += ']';
      return;
    }
    case Type::object: {
      const Object& m = obj_->members;
      if (m.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < m.size(); ++i) {
        if (i) out += ',';
        if (indent >= 0) newline(out, indent, depth + 1);
        out += json_quote(m[i].first);
        out += indent >= 0 ? ": " : ":";
        m[i].second.dump_to(out, indent, depth + 1);
      }
      if (indent >= 0) newline(out, indent, depth);
      out += '}';
      return;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

}  // namespace loom
