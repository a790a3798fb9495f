// UTF-8 helpers for the text utilities: validation, repair, and the length
// of one encoded character. Loom keeps text as UTF-8 bytes in std::string;
// the vectorizer only ever rewrites ASCII bytes, which never occur inside a
// multi-byte character, so it cannot split one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace loom::text {

// What a reader does with bytes that are not valid UTF-8.
enum class Utf8Policy {
  keep,     // leave them as they are (the vectorizer treats them as opaque bytes)
  replace,  // replace each invalid sequence by U+FFFD, so every string is valid UTF-8
  error,    // throw loom::Error naming the file, line and column
};

// Length in bytes of the valid UTF-8 character starting at s[pos], or 0 when
// the bytes there are not one (bad lead byte, truncated, overlong, a
// surrogate, or above U+10FFFF).
size_t utf8_char_length(std::string_view s, size_t pos);

// Byte offset of the first invalid sequence, or std::string::npos.
size_t find_invalid_utf8(std::string_view s);

// `s` with each byte that does not start a valid character replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view s);

// Applies `policy` to `s` in place. Returns the offset of the first invalid
// byte when the policy is Utf8Policy::error and s is not valid (the caller
// throws, naming where s came from), std::string::npos otherwise.
size_t apply_utf8_policy(std::string& s, Utf8Policy policy);

// 1-based line and column (in bytes) of `offset` in `s`, counting the lines
// from `first_line`: for error messages about a byte inside a multi-line text.
struct TextPosition {
  long long line = 1;
  long long column = 1;
};
TextPosition position_of(std::string_view s, size_t offset, long long first_line = 1,
                         long long first_column = 1);

}  // namespace loom::text
