// Zip archives (Keras 3's .keras files: config.json, metadata.json,
// model.weights.h5, assets/...), read and written whole through libzip.
// Built only with LOOM_WITH_HDF5.
//
//   for (const ZipEntry& e : read_zip("model.keras")) ...
//   write_zip("model.keras", {{"config.json", json}, {"model.weights.h5", h5.image()}});
//
// Every failure is a loom::Error naming the file and, where there is one,
// the entry.
#pragma once

#include <string>
#include <vector>

namespace loom::keras {

struct ZipEntry {
  std::string name;  // the path inside the archive, '/'-separated ("assets/vocabulary.txt")
  std::string data;
};

// Every entry in the archive's order, each fully read with its CRC-32
// checked. Refused: a file that is not a zip or is truncated, CRC or size
// mismatches, encrypted entries, compression other than stored and deflate
// (what Keras writes), an entry declaring more bytes than its compressed
// data can hold (checked before allocating), duplicate names, and names
// that could escape a folder when extracted ("../x", "/x", "C:\x").
std::vector<ZipEntry> read_zip(const std::string& path);

// Writes the entries in the given order: "*.h5" stored (as Keras does),
// the rest deflated, every timestamp fixed so the same entries give the same
// bytes. Atomic: written to a temporary file in the same folder, fsync'ed and
// renamed over `path`; nothing is left behind on failure. The names are
// checked as read_zip checks them; there must be at least one entry.
void write_zip(const std::string& path, const std::vector<ZipEntry>& entries);

}  // namespace loom::keras
