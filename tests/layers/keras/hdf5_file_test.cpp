// H5File (layers/keras/hdf5_file.h): round trips on disk and in memory,
// the types h5py writes, and the errors a damaged or hostile file gives.
#include "loom/layers/keras/hdf5_file.h"

#include <hdf5.h>

#include <cstdint>
#include <limits>
#include <thread>

#include "reliability/reliability_util.h"

namespace loom::keras {
namespace {

using test::bit_equal;
using test::loom_error;
using ::testing::HasSubstr;

class H5FileTest : public test::TempDirTest {};

// One of each kind of thing Keras files hold.
void write_sample(H5File& f) {
  Generator g(7);
  f.create_group("model_weights/dense");
  f.write_dataset("model_weights/dense/dense/kernel:0", Tensor::uniform({3, 4}, -1, 1, g));
  f.write_dataset("model_weights/dense/dense/bias:0", Tensor::uniform({4}, -1, 1, g, DType::f64));
  f.write_dataset("layers/lstm/vars/0", Tensor::arange(0, 24, 1, DType::i32).reshape({2, 3, 4}));
  f.write_dataset("scalars/i64", Tensor::scalar(-1234567890123.0, DType::i64));
  f.write_dataset("scalars/f32", Tensor::scalar(0.25));
  f.write_dataset("empty", Tensor::empty({0, 5}));
  f.write_string_attr("", "keras_version", "2.15.0", false);
  f.write_string_attr("/", "model_config", "{\"class_name\": \"Sequential\", \"name\": \"s\\u00e9q\"}", true);
  f.write_string_attr("model_weights", "backend", "", false);
  f.write_string_list_attr("model_weights", "layer_names", {"dense", "lstm_12", "x"});
  f.write_string_list_attr("model_weights/dense", "weight_names", {});
  f.write_string_attr("model_weights/dense/dense/kernel:0", "note", "on a dataset", true);
}

void check_sample(const H5File& f) {
  Generator g(7);
  Tensor kernel = Tensor::uniform({3, 4}, -1, 1, g);
  Tensor bias = Tensor::uniform({4}, -1, 1, g, DType::f64);
  EXPECT_TRUE(bit_equal(f.read_dataset("model_weights/dense/dense/kernel:0"), kernel));
  EXPECT_TRUE(bit_equal(f.read_dataset("/model_weights/dense/dense/bias:0"), bias));
  Tensor cube = f.read_dataset("layers/lstm/vars/0");
  EXPECT_TRUE(bit_equal(cube, Tensor::arange(0, 24, 1, DType::i32).reshape({2, 3, 4})));
  Tensor i64 = f.read_dataset("scalars/i64");
  EXPECT_EQ(i64.dtype(), DType::i64);
  EXPECT_EQ(i64.shape(), Shape{});
  EXPECT_EQ(i64.data<int64_t>()[0], -1234567890123);
  EXPECT_TRUE(bit_equal(f.read_dataset("scalars/f32"), Tensor::scalar(0.25)));
  EXPECT_EQ(f.read_dataset("empty").shape(), (Shape{0, 5}));
  EXPECT_EQ(f.dataset_shape("layers/lstm/vars/0"), (Shape{2, 3, 4}));
  EXPECT_EQ(f.read_string_attr("", "keras_version"), "2.15.0");
  EXPECT_EQ(f.read_string_attr("", "model_config"),
            "{\"class_name\": \"Sequential\", \"name\": \"s\\u00e9q\"}");
  EXPECT_EQ(f.read_string_attr("model_weights", "backend"), "");
  EXPECT_EQ(f.read_string_list_attr("model_weights", "layer_names"),
            (std::vector<std::string>{"dense", "lstm_12", "x"}));
  EXPECT_EQ(f.read_string_list_attr("model_weights/dense", "weight_names"), std::vector<std::string>{});
  EXPECT_EQ(f.read_string_attr("model_weights/dense/dense/kernel:0", "note"), "on a dataset");
  EXPECT_TRUE(f.has_attr("/", "keras_version"));
  EXPECT_FALSE(f.has_attr("model_weights", "keras_version"));
}

TEST_F(H5FileTest, RoundTripOnDisk) {
  {
    H5File f = H5File::create(path("m.h5"));
    write_sample(f);
    f.close();
    f.close();  // idempotent
  }
  H5File f = H5File::open(path("m.h5"));
  EXPECT_EQ(f.name(), path("m.h5"));
  check_sample(f);
}

TEST_F(H5FileTest, RoundTripInMemory) {
  H5File w = H5File::create_image("model.weights.h5");
  write_sample(w);
  std::string bytes = w.image();
  w.close();
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_EQ(bytes.substr(0, 8), "\x89HDF\r\n\x1a\n");
  H5File r = H5File::open_image(bytes, "m.keras:model.weights.h5");
  check_sample(r);
  // The image is a complete file: the same bytes on disk open too.
  test::write_bytes(path("image.h5"), bytes);
  check_sample(H5File::open(path("image.h5")));
}

TEST_F(H5FileTest, WrittenValuesAreContiguousCopies) {
  H5File f = H5File::create_image("t.h5");
  Tensor t = Tensor::arange(0, 6, 1, DType::f64).reshape({2, 3});
  t.set_requires_grad();
  f.write_dataset("transposed", t.transpose(0, 1));
  Tensor back = f.read_dataset("transposed");
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(back.to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST_F(H5FileTest, ChildrenAreSortedByName) {
  H5File f = H5File::create_image("c.h5");
  for (const char* g : {"dense_2", "dense", "lstm", "Dense", "dense_10"}) f.create_group(g);
  f.write_dataset("a_dataset", Tensor::scalar(1));
  f.create_group("dense");  // exists: no-op
  EXPECT_EQ(f.children(""),
            (std::vector<std::string>{"Dense", "a_dataset", "dense", "dense_10", "dense_2", "lstm"}));
  EXPECT_EQ(f.children("dense"), std::vector<std::string>{});
  EXPECT_THAT(loom_error([&] { f.children("a_dataset"); }),
              HasSubstr("c.h5: group 'a_dataset': is a dataset, not a group"));
  EXPECT_THAT(loom_error([&] { f.children("nope"); }), HasSubstr("c.h5: group 'nope': no such object"));
}

TEST_F(H5FileTest, ExistsIsFalseForMissingParents) {
  H5File f = H5File::create_image("e.h5");
  f.write_dataset("a/b/c", Tensor::scalar(1));
  EXPECT_TRUE(f.exists(""));
  EXPECT_TRUE(f.exists("/"));
  EXPECT_TRUE(f.is_group("/"));
  EXPECT_TRUE(f.exists("a/b"));
  EXPECT_TRUE(f.is_group("a/b"));
  EXPECT_FALSE(f.is_dataset("a/b"));
  EXPECT_TRUE(f.is_dataset("/a/b/c"));
  EXPECT_FALSE(f.is_group("a/b/c"));
  EXPECT_FALSE(f.exists("x"));
  EXPECT_FALSE(f.exists("x/y/z"));
  EXPECT_FALSE(f.exists("a/x/c"));
  EXPECT_FALSE(f.exists("a/b/c/d"));  // under a dataset
  EXPECT_FALSE(f.is_group("x/y"));
  EXPECT_FALSE(f.is_dataset("x/y"));
}

// ---- types h5py writes that Loom's writer does not ----------------------------------------

// Writes `values` (raw bytes of `type`) as a new dataset of `file`.
void raw_dataset(const std::string& file, const char* name, hid_t type, std::vector<hsize_t> dims,
                 const void* values) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t ds = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  if (values) EXPECT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
}

TEST_F(H5FileTest, IntegerTypesWidenToI32OrI64) {
  const std::string file = path("ints.h5");
  H5File::create(file).close();
  const uint8_t u8[] = {0, 255};
  const int8_t i8[] = {-128, 127};
  const int16_t i16[] = {-32768, 32767};
  const uint16_t u16[] = {0, 65535};
  const uint32_t u32[] = {0, 4294967295u};
  const uint64_t u64[] = {0, uint64_t{INT64_MAX}};
  const uint64_t too_big[] = {1, uint64_t{INT64_MAX} + 1};
  raw_dataset(file, "u8", H5T_STD_U8LE, {2}, u8);
  raw_dataset(file, "i8", H5T_STD_I8LE, {2}, i8);
  raw_dataset(file, "i16", H5T_STD_I16LE, {2}, i16);
  raw_dataset(file, "u16", H5T_STD_U16LE, {2}, u16);
  raw_dataset(file, "u32", H5T_STD_U32LE, {2}, u32);
  raw_dataset(file, "u64", H5T_STD_U64LE, {2}, u64);
  raw_dataset(file, "u64_big", H5T_STD_U64LE, {2}, too_big);
  H5File f = H5File::open(file);
  auto i32 = [&](const char* n) {
    Tensor t = f.read_dataset(n);
    EXPECT_EQ(t.dtype(), DType::i32) << n;
    return t.to_vector<int64_t>();
  };
  auto i64 = [&](const char* n) {
    Tensor t = f.read_dataset(n);
    EXPECT_EQ(t.dtype(), DType::i64) << n;
    return t.to_vector<int64_t>();
  };
  EXPECT_EQ(i32("u8"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(i32("i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(i32("i16"), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(i32("u16"), (std::vector<int64_t>{0, 65535}));
  EXPECT_EQ(i64("u32"), (std::vector<int64_t>{0, 4294967295}));
  EXPECT_EQ(i64("u64"), (std::vector<int64_t>{0, INT64_MAX}));
  EXPECT_THAT(loom_error([&] { f.read_dataset("u64_big"); }),
              HasSubstr("ints.h5: dataset 'u64_big': uint64 value 9223372036854775808 at element 1 "
                        "does not fit in int64"));
}

TEST_F(H5FileTest, BigEndianDataIsConverted) {
  const std::string file = path("be.h5");
  H5File::create(file).close();
  // HDF5 converts from the file's byte order to the machine's when reading.
  const double values[] = {1.5, -2.25};
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hsize_t dims[] = {2};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t ds = H5Dcreate2(f, "be", H5T_IEEE_F64BE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
  Tensor t = H5File::open(file).read_dataset("be");
  EXPECT_EQ(t.dtype(), DType::f64);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1.5, -2.25}));
}

TEST_F(H5FileTest, UnsupportedTypesAreNamed) {
  const std::string file = path("types.h5");
  H5File::create(file).close();
  // IEEE half precision, as numpy's float16 is stored.
  hid_t f16 = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(f16, 15, 10, 5, 0, 10);
  H5Tset_size(f16, 2);
  H5Tset_ebias(f16, 15);
  H5Tset_precision(f16, 16);
  const uint16_t halfs[] = {0x3c00, 0x4000};
  raw_dataset(file, "half", f16, {2}, halfs);
  H5Tclose(f16);
  hid_t s8 = H5Tcopy(H5T_C_S1);
  H5Tset_size(s8, 8);
  raw_dataset(file, "text", s8, {}, "abcdefgh");
  H5Tclose(s8);
  H5File f = H5File::open(file);
  EXPECT_THAT(loom_error([&] { f.read_dataset("half"); }),
              HasSubstr("types.h5: dataset 'half': has type float16, which Loom does not read"));
  EXPECT_THAT(loom_error([&] { f.read_dataset("text"); }),
              HasSubstr("types.h5: dataset 'text': has type string"));
}

// Strings as h5py writes them: fixed with and without padding, variable-length
// ASCII, space-padded (Fortran), and a 1-element array for a scalar.
TEST_F(H5FileTest, StringAttributeFlavours) {
  const std::string file = path("s.h5");
  H5File::create(file).close();
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  auto put = [&](const char* name, hid_t type, hid_t space, const void* data) {
    hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Awrite(a, type, data), 0);
    H5Aclose(a);
  };
  hid_t scalar = H5Screate(H5S_SCALAR);
  hsize_t three = 3, one = 1;
  hid_t list3 = H5Screate_simple(1, &three, nullptr), list1 = H5Screate_simple(1, &one, nullptr);
  hid_t exact = H5Tcopy(H5T_C_S1);  // NULLTERM, 5 bytes, no room for the NUL: HDF5 keeps all 5
  H5Tset_size(exact, 5);
  H5Tset_strpad(exact, H5T_STR_NULLPAD);
  put("exact", exact, scalar, "abcde");
  hid_t spaced = H5Tcopy(H5T_FORTRAN_S1);
  H5Tset_size(spaced, 6);
  put("spaced", spaced, scalar, "ab    ");
  hid_t vlen = H5Tcopy(H5T_C_S1);
  H5Tset_size(vlen, H5T_VARIABLE);
  const char* names[] = {"dense", "", "lstm"};
  put("vlen_list", vlen, list3, names);
  put("one", vlen, list1, names);
  hid_t fixed4 = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed4, 4);
  put("fixed_list", fixed4, list3, "ab\0\0abcdx\0\0\0");
  const double nums[] = {1, 2, 3};
  put("numbers", H5T_NATIVE_DOUBLE, list3, nums);
  for (hid_t id : {exact, spaced, vlen, fixed4}) H5Tclose(id);
  for (hid_t id : {scalar, list3, list1}) H5Sclose(id);
  H5Fclose(f);

  H5File h = H5File::open(file);
  EXPECT_EQ(h.read_string_attr("", "exact"), "abcde");
  EXPECT_EQ(h.read_string_attr("", "spaced"), "ab");
  EXPECT_EQ(h.read_string_attr("", "one"), "dense");
  EXPECT_EQ(h.read_string_list_attr("", "vlen_list"), (std::vector<std::string>{"dense", "", "lstm"}));
  EXPECT_EQ(h.read_string_list_attr("", "fixed_list"), (std::vector<std::string>{"ab", "abcd", "x"}));
  EXPECT_THAT(loom_error([&] { h.read_string_attr("", "vlen_list"); }),
              HasSubstr("s.h5: attribute 'vlen_list' of '/': holds 3 strings, expected one"));
  EXPECT_THAT(loom_error([&] { h.read_string_attr("", "numbers"); }),
              HasSubstr("s.h5: attribute 'numbers' of '/': is a float64, not a string"));
  EXPECT_THAT(loom_error([&] { h.read_string_list_attr("", "numbers"); }),
              HasSubstr("s.h5: attribute 'numbers' of '/': is a float64 array, not strings"));
}

TEST_F(H5FileTest, AttributesAreReplaced) {
  H5File f = H5File::create_image("r.h5");
  f.write_string_attr("", "v", "first, and longer", false);
  f.write_string_attr("", "v", "second", true);
  EXPECT_EQ(f.read_string_attr("", "v"), "second");
  f.write_string_list_attr("", "names", {"a"});
  f.write_string_list_attr("", "names", {});
  EXPECT_EQ(f.read_string_list_attr("", "names"), std::vector<std::string>{});
}

// ---- errors --------------------------------------------------------------------------------------

TEST_F(H5FileTest, NotAnHdf5File) {
  test::write_bytes(path("model.h5"), "{\"this is\": \"JSON\"}\n");
  EXPECT_THAT(loom_error([&] { H5File::open(path("model.h5")); }),
              HasSubstr(path("model.h5") + ": not an HDF5 file or damaged (HDF5 could not open it"));
  EXPECT_THAT(loom_error([&] { H5File::open_image("PK\3\4 not hdf5 either", "m.keras:model.weights.h5"); }),
              HasSubstr("m.keras:model.weights.h5: not an HDF5 file or damaged"));
  EXPECT_THAT(loom_error([&] { H5File::open_image("", "m.keras:model.weights.h5"); }),
              HasSubstr("m.keras:model.weights.h5: empty, not an HDF5 file"));
  EXPECT_THAT(loom_error([&] { H5File::open(path("missing.h5")); }),
              HasSubstr(path("missing.h5") + ": cannot open: No such file or directory"));
  EXPECT_THAT(loom_error([&] { H5File::open(dir_.string()); }), HasSubstr(": is a directory"));
  EXPECT_THAT(loom_error([&] { H5File::create(path("no/such/dir/m.h5")); }),
              HasSubstr(path("no/such/dir/m.h5") + ": cannot create the HDF5 file"));
}

TEST_F(H5FileTest, TruncatedFile) {
  H5File w = H5File::create_image("t.h5");
  Generator g(1);
  w.write_dataset("model_weights/dense/dense/kernel:0", Tensor::uniform({64, 64}, -1, 1, g));
  w.write_string_attr("", "keras_version", "2.15.0", false);
  const std::string bytes = w.image();
  test::write_bytes(path("cut.h5"), bytes.substr(0, bytes.size() / 2));
  const std::string msg = loom_error([&] {
    H5File f = H5File::open(path("cut.h5"));
    f.read_dataset("model_weights/dense/dense/kernel:0");
  });
  EXPECT_THAT(msg, HasSubstr(path("cut.h5") + ": not an HDF5 file or damaged"));
  EXPECT_THAT(msg, HasSubstr("truncated file"));
  EXPECT_THAT(loom_error([&] { H5File::open_image(bytes.substr(0, bytes.size() / 2), "img.h5"); }),
              HasSubstr("img.h5: not an HDF5 file or damaged"));
  EXPECT_THAT(loom_error([&] { H5File::open_image(bytes.substr(0, 100), "img.h5"); }),
              HasSubstr("img.h5: not an HDF5 file or damaged"));
}

TEST_F(H5FileTest, MissingObjectsAndAttributes) {
  H5File f = H5File::create_image("model.h5");
  f.write_dataset("model_weights/dense/dense/kernel:0", Tensor::zeros({2, 2}));
  f.write_string_attr("", "keras_version", "2.15.0", false);
  EXPECT_THAT(loom_error([&] { f.read_dataset("model_weights/dense/dense/bias:0"); }),
              HasSubstr("model.h5: dataset 'model_weights/dense/dense/bias:0': no such object"));
  EXPECT_THAT(loom_error([&] { f.read_dataset("model_weights/lstm/lstm/kernel:0"); }),
              HasSubstr("model.h5: dataset 'model_weights/lstm/lstm/kernel:0': no such object"));
  EXPECT_THAT(loom_error([&] { f.read_dataset("model_weights/dense"); }),
              HasSubstr("model.h5: dataset 'model_weights/dense': is a group, not a dataset"));
  EXPECT_THAT(loom_error([&] { f.dataset_shape("nope"); }), HasSubstr("model.h5: dataset 'nope'"));
  EXPECT_THAT(loom_error([&] { f.read_string_attr("", "backend"); }),
              HasSubstr("model.h5: attribute 'backend' of '/': no such attribute"));
  EXPECT_THAT(loom_error([&] { f.read_string_list_attr("model_weights", "layer_names"); }),
              HasSubstr("model.h5: attribute 'layer_names' of 'model_weights': no such attribute"));
  EXPECT_THAT(loom_error([&] { f.read_string_attr("nope", "backend"); }),
              HasSubstr("model.h5: attribute 'backend' of 'nope': no such object"));
  EXPECT_THAT(loom_error([&] { f.has_attr("nope", "backend"); }),
              HasSubstr("model.h5: object 'nope': no such object"));
}

TEST_F(H5FileTest, WriteErrors) {
  H5File f = H5File::create_image("w.h5");
  f.write_dataset("d", Tensor::zeros({2}));
  EXPECT_THAT(loom_error([&] { f.write_dataset("d", Tensor::zeros({2})); }),
              HasSubstr("w.h5: dataset 'd': already exists"));
  EXPECT_THAT(loom_error([&] { f.create_group("d"); }),
              HasSubstr("w.h5: group 'd': a dataset of that name exists"));
  EXPECT_THAT(loom_error([&] { f.write_dataset("d/x", Tensor::zeros({2})); }),
              HasSubstr("w.h5: dataset 'd/x': cannot create it"));
  EXPECT_THAT(loom_error([&] { f.write_dataset("u", Tensor()); }),
              HasSubstr("w.h5: dataset 'u': the tensor is undefined"));
  EXPECT_THAT(loom_error([&] { f.write_string_attr("missing", "a", "v", true); }),
              HasSubstr("w.h5: attribute 'a' of 'missing': no such object"));
  EXPECT_THAT(loom_error([&] { f.write_string_attr("", "a", std::string("a\0b", 3), false); }),
              HasSubstr("w.h5: attribute 'a' of '/': the value contains a NUL byte"));
}

TEST_F(H5FileTest, ClosedAndMoved) {
  H5File a = H5File::create_image("a.h5");
  a.create_group("g");
  H5File b = std::move(a);
  EXPECT_TRUE(b.is_group("g"));
  b.close();
  EXPECT_THAT(loom_error([&] { b.exists("g"); }), HasSubstr("a.h5: the HDF5 file is closed"));
  EXPECT_THAT(loom_error([&] { b.image(); }), HasSubstr("a.h5: the HDF5 file is closed"));
}

// A dataset whose declared shape is far larger than what the file stores:
// refused before allocating (4 TB here), with the shape still readable.
TEST_F(H5FileTest, DatasetLargerThanItsStorage) {
  const std::string file = path("huge.h5");
  H5File::create(file).close();
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hsize_t dims[] = {hsize_t{1} << 40}, chunk[] = {1024};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  hid_t ds = H5Dcreate2(f, "huge", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
  H5File h = H5File::open(file);
  EXPECT_EQ(h.dataset_shape("huge"), Shape{int64_t{1} << 40});
  EXPECT_THAT(loom_error([&] { h.read_dataset("huge"); }),
              HasSubstr("huge.h5: dataset 'huge': claims 4398046511104 bytes but the file stores 0"));
}

// Two in-memory files open at once under the same name stay two files.
TEST_F(H5FileTest, ImagesWithTheSameNameAreSeparate) {
  auto image_of = [](double v) {
    H5File w = H5File::create_image("same.h5");
    w.write_dataset("v", Tensor::scalar(v, DType::f64));
    return w.image();
  };
  H5File a = H5File::open_image(image_of(1), "m.keras:model.weights.h5");
  H5File b = H5File::open_image(image_of(2), "m.keras:model.weights.h5");
  EXPECT_EQ(a.read_dataset("v").item(), 1);
  EXPECT_EQ(b.read_dataset("v").item(), 2);
}

// HDF5 keeps its error-printing switch per thread; no thread prints.
TEST_F(H5FileTest, NoHdf5OutputFromAnyThread) {
  test::write_bytes(path("bad.h5"), "not hdf5");
  ::testing::internal::CaptureStderr();
  std::thread t([&] {
    try {
      H5File::open(path("bad.h5"));
    } catch (const Error&) {
    }
  });
  t.join();
  EXPECT_THROW(H5File::open(path("bad.h5")), Error);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace loom::keras
