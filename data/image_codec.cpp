// JPEG and PNG decoding and encoding. libjpeg and libpng report errors by longjmp; each decoder
// keeps its setjmp in a small function whose own locals are never changed after setjmp, writes
// its results into a context owned by the caller, and the caller turns a failure into DataError.
#include <algorithm>
#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE and size_t
#include <cstdlib>
#include <cstring>
#include <memory>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "data/file_bytes.h"
#include "data/image.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr int64_t kMaxPixels = int64_t(1) << 22;  // keeps fuzzing fast
#else
constexpr int64_t kMaxPixels = int64_t(1) << 28;  // 268M pixels: refuse larger images
#endif

// ------------------------------------------------------------------------------------------ JPEG

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

// Warnings (extraneous bytes, odd markers) are ignored as PIL ignores them, except running out of
// data: libjpeg would fill the rest with gray; PIL refuses such truncated files, and so does nsal.
void jpeg_warning(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

struct JpegDecode {
  jpeg_decompress_struct cinfo;
  JpegError err;
  Image img;
  std::vector<uint8_t> row;  // CMYK scanline
  bool cmyk = false;
  bool too_large = false;
};

// Returns false with ctx->err.message set when libjpeg fails.
bool jpeg_decode(JpegDecode* ctx, const uint8_t* data, size_t n) {
  ctx->cinfo.err = jpeg_std_error(&ctx->err.mgr);
  ctx->err.mgr.error_exit = jpeg_fail;
  ctx->err.mgr.emit_message = jpeg_warning;
  if (setjmp(ctx->err.jump)) {
    jpeg_destroy_decompress(&ctx->cinfo);
    return false;
  }
  jpeg_create_decompress(&ctx->cinfo);
  jpeg_mem_src(&ctx->cinfo, data, static_cast<unsigned long>(n));
  jpeg_read_header(&ctx->cinfo, TRUE);
  ctx->cmyk = ctx->cinfo.jpeg_color_space == JCS_CMYK || ctx->cinfo.jpeg_color_space == JCS_YCCK;
  ctx->cinfo.out_color_space = ctx->cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&ctx->cinfo);
  int64_t w = ctx->cinfo.output_width, h = ctx->cinfo.output_height;
  if (w * h > kMaxPixels) {
    ctx->too_large = true;
    jpeg_destroy_decompress(&ctx->cinfo);
    return false;
  }
  ctx->img.width = static_cast<int>(w);
  ctx->img.height = static_cast<int>(h);
  ctx->img.channels = 3;
  ctx->img.pixels.resize(static_cast<size_t>(w * h * 3));
  ctx->row.resize(static_cast<size_t>(w * 4));
  while (ctx->cinfo.output_scanline < ctx->cinfo.output_height) {
    size_t y = ctx->cinfo.output_scanline;
    uint8_t* dst = ctx->img.pixels.data() + y * static_cast<size_t>(w) * 3;
    JSAMPROW rowp = ctx->cmyk ? ctx->row.data() : dst;
    jpeg_read_scanlines(&ctx->cinfo, &rowp, 1);
    if (ctx->cmyk) {
      // Adobe writes inverted CMYK; PIL's CMYK -> RGB is R = 255 - min(255, C + K) on the stored
      // values, which for inverted data is C * K / 255.
      bool inverted = ctx->cinfo.saw_Adobe_marker;
      for (int64_t x = 0; x < w; ++x) {
        const uint8_t* p = ctx->row.data() + 4 * x;
        for (int c = 0; c < 3; ++c) {
          int v = inverted ? p[c] * p[3] / 255 : 255 - std::min(255, p[c] + p[3]);
          dst[3 * x + c] = static_cast<uint8_t>(v);
        }
      }
    }
  }
  jpeg_finish_decompress(&ctx->cinfo);
  jpeg_destroy_decompress(&ctx->cinfo);
  return true;
}

// ------------------------------------------------------------------------------------------- PNG

struct PngReader {
  const uint8_t* data;
  size_t n, pos;
};

struct PngDecode {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngReader reader{};
  char message[256] = {0};
  bool labels = false;
  const char* refused = nullptr;  // a layout this mode does not accept
  int bit_depth = 0, color_type = 0;
  Image img;
  std::vector<png_bytep> rows;
};

void png_fail(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<PngDecode*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof ctx->message, "%s", msg);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

void png_read_mem(png_structp png, png_bytep out, png_size_t len) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (len > r->n - r->pos) png_error(png, "unexpected end of data (truncated file)");
  std::memcpy(out, r->data + r->pos, len);
  r->pos += len;
}

bool png_decode(PngDecode* ctx) {
  ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, png_fail, png_warn);
  if (!ctx->png) return false;
  ctx->info = png_create_info_struct(ctx->png);
  if (!ctx->info) {
    png_destroy_read_struct(&ctx->png, nullptr, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(ctx->png))) {
    png_destroy_read_struct(&ctx->png, &ctx->info, nullptr);
    return false;
  }
  png_set_read_fn(ctx->png, &ctx->reader, png_read_mem);
  png_set_user_limits(ctx->png, 1u << 16, 1u << 16);
  png_read_info(ctx->png, ctx->info);
  png_uint_32 w = png_get_image_width(ctx->png, ctx->info);
  png_uint_32 h = png_get_image_height(ctx->png, ctx->info);
  ctx->bit_depth = png_get_bit_depth(ctx->png, ctx->info);
  ctx->color_type = png_get_color_type(ctx->png, ctx->info);
  if (static_cast<int64_t>(w) * h > kMaxPixels) {
    ctx->refused = "more pixels than nsal accepts";
    png_destroy_read_struct(&ctx->png, &ctx->info, nullptr);
    return false;
  }
  if (ctx->labels) {
    // Values as stored: 8-bit gray or a palette index, nothing converted.
    bool ok = (ctx->color_type == PNG_COLOR_TYPE_GRAY && ctx->bit_depth == 8) ||
              ctx->color_type == PNG_COLOR_TYPE_PALETTE;
    if (!ok) {
      ctx->refused = "a label map must be an 8-bit gray or palette PNG";
      png_destroy_read_struct(&ctx->png, &ctx->info, nullptr);
      return false;
    }
    if (ctx->bit_depth < 8) png_set_packing(ctx->png);
    ctx->img.channels = 1;
  } else {
    // As PIL's convert('RGB'): palette expanded, gray replicated, 16 bits cut to 8, alpha
    // dropped, no gamma correction.
    if (ctx->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(ctx->png);
    if (ctx->color_type == PNG_COLOR_TYPE_GRAY && ctx->bit_depth < 8)
      png_set_expand_gray_1_2_4_to_8(ctx->png);
    if (ctx->bit_depth == 16) png_set_strip_16(ctx->png);
    if (png_get_valid(ctx->png, ctx->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(ctx->png);
    if (ctx->color_type == PNG_COLOR_TYPE_GRAY || ctx->color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
      png_set_gray_to_rgb(ctx->png);
    png_set_strip_alpha(ctx->png);
    ctx->img.channels = 3;
  }
  png_set_interlace_handling(ctx->png);
  png_read_update_info(ctx->png, ctx->info);
  size_t rowbytes = png_get_rowbytes(ctx->png, ctx->info);
  if (rowbytes != static_cast<size_t>(w) * ctx->img.channels) {
    std::snprintf(ctx->message, sizeof ctx->message, "unexpected row size %zu for width %u",
                  rowbytes, w);
    png_destroy_read_struct(&ctx->png, &ctx->info, nullptr);
    return false;
  }
  ctx->img.width = static_cast<int>(w);
  ctx->img.height = static_cast<int>(h);
  ctx->img.pixels.resize(rowbytes * h);
  ctx->rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y)
    ctx->rows[y] = ctx->img.pixels.data() + y * rowbytes;
  png_read_image(ctx->png, ctx->rows.data());
  png_read_end(ctx->png, nullptr);
  png_destroy_read_struct(&ctx->png, &ctx->info, nullptr);
  return true;
}

Image png_decode_checked(const uint8_t* data, size_t n, const std::string& name, bool labels) {
  NSAL_CHECK_AS(DataError, n >= 8 && png_sig_cmp(data, 0, 8) == 0,
                "{}: not a PNG file (wrong signature)", name);
  auto ctx = std::make_unique<PngDecode>();
  ctx->reader = {data, n, 0};
  ctx->labels = labels;
  if (png_decode(ctx.get())) return std::move(ctx->img);
  if (ctx->refused)
    throw DataError(fmt::format("{}: {} (color type {}, bit depth {})", name, ctx->refused,
                                ctx->color_type, ctx->bit_depth));
  throw DataError(
      fmt::format("{}: corrupt PNG: {}", name, ctx->message[0] ? ctx->message : "libpng failed"));
}

}  // namespace

Image decode_jpeg_rgb(const uint8_t* data, size_t n, const std::string& name) {
  NSAL_CHECK_AS(DataError, n >= 3 && data[0] == 0xFF && data[1] == 0xD8,
                "{}: not a JPEG file (wrong signature)", name);
  auto ctx = std::make_unique<JpegDecode>();
  if (jpeg_decode(ctx.get(), data, n)) return std::move(ctx->img);
  if (ctx->too_large)
    throw DataError(fmt::format("{}: more pixels than nsal accepts ({})", name, kMaxPixels));
  throw DataError(fmt::format("{}: corrupt JPEG: {}", name, ctx->err.message));
}

Image decode_png_rgb(const uint8_t* data, size_t n, const std::string& name) {
  return png_decode_checked(data, n, name, false);
}

Image decode_png_labels(const uint8_t* data, size_t n, const std::string& name) {
  return png_decode_checked(data, n, name, true);
}

Image decode_image_rgb(const uint8_t* data, size_t n, const std::string& name) {
  if (n >= 2 && data[0] == 0xFF && data[1] == 0xD8) return decode_jpeg_rgb(data, n, name);
  if (n >= 8 && png_sig_cmp(data, 0, 8) == 0) return decode_png_rgb(data, n, name);
  throw DataError(name + ": neither a JPEG nor a PNG file (unknown signature)");
}

Image read_image_rgb(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path, false);
  return decode_image_rgb(bytes.data(), bytes.size(), path);
}

Image read_png_labels(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path, false);
  return decode_png_labels(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> encode_png(const Image& img) {
  NSAL_CHECK(img.channels == 1 || img.channels == 3, "encode_png: {} channels", img.channels);
  png_image p{};
  p.version = PNG_IMAGE_VERSION;
  p.width = static_cast<png_uint_32>(img.width);
  p.height = static_cast<png_uint_32>(img.height);
  p.format = img.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  NSAL_CHECK(png_image_write_to_memory(&p, nullptr, &size, 0, img.pixels.data(), 0, nullptr),
             "encode_png: {}", p.message);
  std::vector<uint8_t> out(size);
  NSAL_CHECK(png_image_write_to_memory(&p, out.data(), &size, 0, img.pixels.data(), 0, nullptr),
             "encode_png: {}", p.message);
  out.resize(size);
  return out;
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality) {
  NSAL_CHECK(img.channels == 1 || img.channels == 3, "encode_jpeg: {} channels", img.channels);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);  // encoding our own buffers: libjpeg's default exit is fine
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(img.width);
  c.image_height = static_cast<JDIMENSION>(img.height);
  c.input_components = img.channels;
  c.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img.pixels.data()) +
                   static_cast<size_t>(c.next_scanline) * img.width * img.channels;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

}  // namespace nsal::data
