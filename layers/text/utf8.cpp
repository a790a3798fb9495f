#include "loom/layers/text/utf8.h"

namespace loom::text {

size_t utf8_char_length(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char c = p[pos];
  if (c < 0x80) return 1;
  size_t len;
  // The second byte's allowed range excludes overlongs (E0, F0), surrogates
  // (ED) and code points above U+10FFFF (F4).
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (pos + len > n) return 0;
  if (p[pos + 1] < lo || p[pos + 1] > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if ((p[pos + k] & 0xC0) != 0x80) return 0;
  return len;
}

size_t find_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Fast path over ASCII runs, which is most text.
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_char_length(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string::npos;
}

std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    size_t len = utf8_char_length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  return out;
}

size_t apply_utf8_policy(std::string& s, Utf8Policy policy) {
  if (policy == Utf8Policy::keep) return std::string::npos;
  size_t bad = find_invalid_utf8(s);
  if (bad == std::string::npos) return bad;
  if (policy == Utf8Policy::error) return bad;
  s = replace_invalid_utf8(s);
  return std::string::npos;
}

TextPosition position_of(std::string_view s, size_t offset, long long first_line,
                         long long first_column) {
  TextPosition pos{first_line, first_column};
  for (size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

}  // namespace loom::text
