// Calls libtorch operators that tch does not bind, through the dispatcher.
// Every entry point catches C++ exceptions and returns them as a message.
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <unistd.h>
#include <string>
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <mutex>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>
#include <string>

namespace {

char* copy_message(const char* what) {
  char* out = static_cast<char*>(std::malloc(std::strlen(what) + 1));
  if (out != nullptr) std::strcpy(out, what);
  return out;
}

std::optional<c10::OperatorHandle> linear_pointwise_op() {
  return c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
}

// y = x @ w^T + b through oneDNN's fused linear on dense tensors; `b` may be
// undefined.
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  static const auto op = linear_pointwise_op();
  TORCH_CHECK(op.has_value(), "mkldnn::_linear_pointwise is not registered");
  torch::jit::Stack stack;
  stack.reserve(6);
  stack.emplace_back(x);
  stack.emplace_back(w);
  if (b.defined()) {
    stack.emplace_back(b);
  } else {
    stack.emplace_back(c10::IValue());
  }
  stack.emplace_back(std::string("none"));
  stack.emplace_back(c10::List<std::optional<at::Scalar>>());
  stack.emplace_back(c10::IValue());
  op->callBoxed(&stack);
  return stack.at(0).toTensor();
}

// A linear layer for training whose three matrix products all run on
// oneDNN: y = x w^T + b forward; dx = dy w and dw = dy^T x backward, each
// as oneDNN's linear on contiguous operands (the transposes it needs are
// copied: a few MB against products of hundreds of MFLOP). libtorch's own
// autograd runs these products on MKL's sgemm, which reaches about half of
// what oneDNN does on AMD CPUs. The bias gradient is dy summed over rows.
struct OneDnnLinearFunction : public torch::autograd::Function<OneDnnLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b) {
    ctx->save_for_backward({x, w});
    return onednn_linear(x, w, b);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const int64_t out_features = w.size(0), in_features = w.size(1);
    const at::Tensor dy = grads[0].reshape({-1, out_features}).contiguous();
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = onednn_linear(dy, w.t().contiguous(), at::Tensor()).view(x.sizes());
    }
    if (ctx->needs_input_grad(1)) {
      const at::Tensor x2 = x.reshape({-1, in_features});
      dw = onednn_linear(dy.t().contiguous(), x2.t().contiguous(), at::Tensor());
    }
    if (ctx->needs_input_grad(2)) {
      db = dy.sum(0);
    }
    return {dx, dw, db};
  }
};


// Per-row symmetric int8 quantization of a [rows, k] matrix, one row at a
// time (the row stays in L1 between its abs-max and its rounding):
// q = round_half_even(x / s), s = max|x| / 127 (at least 1e-12 / 127).
// Scalar code, for CPUs without AVX-512; the AVX-512 versions below do the
// same arithmetic 16 lanes at a time.
inline float to_float(float v) { return v; }
inline float to_float(at::BFloat16 v) { return static_cast<float>(v); }

template <typename T>
void quantize_rows_scalar(const T* x, int8_t* q, float* scales, int64_t begin, int64_t end, int64_t k) {
  for (int64_t r = begin; r < end; ++r) {
    const T* row = x + r * k;
    float amax = 0.f;
    bool nan = false;
    for (int64_t i = 0; i < k; ++i) {
      const float v = to_float(row[i]);
      nan |= std::isnan(v);
      amax = std::max(amax, std::fabs(v));
    }
    const float scale = std::max(amax, 1e-12f) / 127.f;
    const float inv = 1.f / scale;
    for (int64_t i = 0; i < k; ++i) {
      q[r * k + i] = nan ? 0 : static_cast<int8_t>(std::nearbyint(to_float(row[i]) * inv));
    }
    // A NaN row gives NaN outputs, as the unquantized product would.
    scales[r] = nan ? NAN : scale;
  }
}

// y[r, c] = acc[r, c] * row_scales[r] * col_scales[c] + bias[c].
template <typename T>
void dequantize_scalar(const int32_t* acc, const float* row_scales, const float* col_scales, const float* bias,
                       T* y, int64_t begin, int64_t end, int64_t n) {
  for (int64_t r = begin; r < end; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      const float v = static_cast<float>(acc[r * n + c]) * row_scales[r] * col_scales[c];
      y[r * n + c] = static_cast<T>(bias != nullptr ? v + bias[c] : v);
    }
  }
}

#if defined(__x86_64__)
#define SMTL_AVX512 __attribute__((target("avx512f,avx512bw")))
#define SMTL_AVX512_DQ __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

SMTL_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
SMTL_AVX512 inline __m512 load16(const at::BFloat16* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
SMTL_AVX512 inline void store16(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
// fp32 -> bf16 rounding to nearest even (finite values; what at::BFloat16 does).
SMTL_AVX512 inline void store16(at::BFloat16* p, __m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
}

template <typename T>
SMTL_AVX512 void quantize_rows_avx512(const T* x, int8_t* q, float* scales, int64_t begin, int64_t end, int64_t k) {
  const int64_t body = k - k % 16;
  for (int64_t r = begin; r < end; ++r) {
    const T* row = x + r * k;
    __m512 vmax = _mm512_setzero_ps();
    __mmask16 nans = 0;
    for (int64_t i = 0; i < body; i += 16) {
      const __m512 v = load16(row + i);
      nans |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(v));
    }
    float amax = _mm512_reduce_max_ps(vmax);
    bool nan = nans != 0;
    for (int64_t i = body; i < k; ++i) {
      const float v = to_float(row[i]);
      nan |= std::isnan(v);
      amax = std::max(amax, std::fabs(v));
    }
    if (nan) {  // NaN outputs for this row, as the unquantized product would give.
      std::memset(q + r * k, 0, k);
      scales[r] = NAN;
      continue;
    }
    const float scale = std::max(amax, 1e-12f) / 127.f;
    const float inv = 1.f / scale;
    const __m512 vinv = _mm512_set1_ps(inv);
    int8_t* out = q + r * k;
    for (int64_t i = 0; i < body; i += 16) {
      // cvtps_epi32 rounds half to even (the default MXCSR mode).
      const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(load16(row + i), vinv));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtsepi32_epi8(v));
    }
    for (int64_t i = body; i < k; ++i) out[i] = static_cast<int8_t>(std::nearbyint(to_float(row[i]) * inv));
    scales[r] = scale;
  }
}

template <typename T>
SMTL_AVX512 void dequantize_avx512(const int32_t* acc, const float* row_scales, const float* col_scales,
                                   const float* bias, T* y, int64_t begin, int64_t end, int64_t n) {
  const int64_t body = n - n % 16;
  for (int64_t r = begin; r < end; ++r) {
    const int32_t* a = acc + r * n;
    T* out = y + r * n;
    const __m512 rs = _mm512_set1_ps(row_scales[r]);
    for (int64_t c = 0; c < body; c += 16) {
      const __m512 v = _mm512_cvtepi32_ps(_mm512_loadu_si512(a + c));
      __m512 o = _mm512_mul_ps(_mm512_mul_ps(v, rs), _mm512_loadu_ps(col_scales + c));
      if (bias != nullptr) o = _mm512_add_ps(o, _mm512_loadu_ps(bias + c));
      store16(out + c, o);
    }
    for (int64_t c = body; c < n; ++c) {
      const float v = static_cast<float>(a[c]) * row_scales[r] * col_scales[c];
      out[c] = static_cast<T>(bias != nullptr ? v + bias[c] : v);
    }
  }
}

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return yes;
}
// The dropout hash needs 64-bit lane multiplies (AVX-512 DQ).
bool has_avx512_dq() {
  static const bool yes = has_avx512() && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return yes;
}
#else
#define SMTL_AVX512_DQ
bool has_avx512() { return false; }
bool has_avx512_dq() { return false; }
#endif

template <typename T>
void quantize_rows(const T* x, int8_t* q, float* scales, int64_t begin, int64_t end, int64_t k) {
#if defined(__x86_64__)
  if (has_avx512()) return quantize_rows_avx512<T>(x, q, scales, begin, end, k);
#endif
  quantize_rows_scalar<T>(x, q, scales, begin, end, k);
}

template <typename T>
void dequantize(const int32_t* acc, const float* row_scales, const float* col_scales, const float* bias, T* y,
                int64_t begin, int64_t end, int64_t n) {
#if defined(__x86_64__)
  if (has_avx512()) return dequantize_avx512<T>(acc, row_scales, col_scales, bias, y, begin, end, n);
#endif
  dequantize_scalar<T>(acc, row_scales, col_scales, bias, y, begin, end, n);
}

// Rows per parallel task: enough work per task to amortise the fork.
int64_t grain(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1)); }

template <typename T>
at::Tensor int8_linear_impl(const at::Tensor& x2, const at::Tensor& w_t, const at::Tensor& col_scales,
                            const at::Tensor* bias) {
  const int64_t m = x2.size(0), k = x2.size(1), n = w_t.size(1);
  at::Tensor q = at::empty({m, k}, x2.options().dtype(at::kChar));
  at::Tensor row_scales = at::empty({m}, x2.options().dtype(at::kFloat));
  const T* xp = x2.const_data_ptr<T>();
  int8_t* qp = q.mutable_data_ptr<int8_t>();
  float* sp = row_scales.mutable_data_ptr<float>();
  at::parallel_for(0, m, grain(k), [&](int64_t b, int64_t e) { quantize_rows<T>(xp, qp, sp, b, e, k); });
  at::Tensor acc = at::_int_mm(q, w_t);
  at::Tensor y = at::empty({m, n}, x2.options());
  const int32_t* ap = acc.const_data_ptr<int32_t>();
  const float* cp = col_scales.const_data_ptr<float>();
  const float* bp = bias != nullptr ? bias->const_data_ptr<float>() : nullptr;
  T* yp = y.mutable_data_ptr<T>();
  at::parallel_for(0, m, grain(n), [&](int64_t b, int64_t e) { dequantize<T>(ap, sp, cp, bp, yp, b, e, n); });
  return y;
}

// ---- Dropout ----------------------------------------------------------
// libtorch's CPU dropout draws its mask with bernoulli_, which on AMD CPUs
// runs serially, one generator call per element (its parallel MKL path is
// taken on Intel CPUs only), then divides and multiplies in two more passes.
// Here each element's draw is a counter-based hash (splitmix64 of the seed
// plus the element's index), so the mask is made in parallel and in the
// same pass as the output; the seed comes from libtorch's default
// generator, so manual_seed still fixes every mask. The arithmetic is
// torch's: y = x * (keep ? 1/(1-p) : 0), dx = dy * the same factor.

inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// keep[i] = (24 random bits of element i) >= threshold; y = x * factor,
// the product in float and rounded once into T (fp32 or bf16).
#define SMTL_DROPOUT_BODY                                                                 \
  for (int64_t i = begin; i < end; ++i) {                                                 \
    const uint32_t r = static_cast<uint32_t>(                                             \
        splitmix64(seed + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL) >> 40);      \
    const bool k = r >= threshold;                                                        \
    keep[i] = k;                                                                          \
    y[i] = static_cast<T>(static_cast<float>(x[i]) * (k ? scale : 0.f));                  \
  }

template <typename T>
SMTL_AVX512_DQ void dropout_range_avx512(const T* x, T* y, uint8_t* keep, int64_t begin, int64_t end,
                                         uint64_t seed, uint32_t threshold, float scale) {
  SMTL_DROPOUT_BODY
}

template <typename T>
void dropout_range_scalar(const T* x, T* y, uint8_t* keep, int64_t begin, int64_t end, uint64_t seed,
                          uint32_t threshold, float scale) {
  SMTL_DROPOUT_BODY
}

template <typename T>
SMTL_AVX512_DQ void dropout_backward_avx512(const T* g, const uint8_t* keep, T* dx, int64_t begin,
                                            int64_t end, float scale) {
  for (int64_t i = begin; i < end; ++i) dx[i] = static_cast<T>(static_cast<float>(g[i]) * (keep[i] ? scale : 0.f));
}

template <typename T>
void dropout_backward_scalar(const T* g, const uint8_t* keep, T* dx, int64_t begin, int64_t end, float scale) {
  for (int64_t i = begin; i < end; ++i) dx[i] = static_cast<T>(static_cast<float>(g[i]) * (keep[i] ? scale : 0.f));
}

constexpr int64_t kDropoutGrain = 32768;  // libtorch's element-wise grain

struct DropoutFunction : public torch::autograd::Function<DropoutFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, double p) {
    const at::Tensor x = input.contiguous();
    at::Tensor y = at::empty_like(x);
    at::Tensor keep = at::empty(x.sizes(), x.options().dtype(at::kByte));
    uint64_t seed;
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      seed = at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
    }
    const uint32_t threshold = static_cast<uint32_t>(std::llround(p * 16777216.0));
    // As torch: noise.div_(1 - p) computes 1 / (1 - p) in float and rounds
    // it into the tensor's dtype (bf16 keeps 8 bits of it).
    float scale = 1.0f / static_cast<float>(1.0 - p);
    if (x.scalar_type() == at::kBFloat16) scale = static_cast<float>(static_cast<at::BFloat16>(scale));
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "smtl_dropout", [&] {
      const scalar_t* xp = x.const_data_ptr<scalar_t>();
      scalar_t* yp = y.mutable_data_ptr<scalar_t>();
      uint8_t* kp = keep.mutable_data_ptr<uint8_t>();
      const bool avx512 = has_avx512_dq();
      at::parallel_for(0, x.numel(), kDropoutGrain, [&](int64_t begin, int64_t end) {
        if (avx512) {
          dropout_range_avx512<scalar_t>(xp, yp, kp, begin, end, seed, threshold, scale);
        } else {
          dropout_range_scalar<scalar_t>(xp, yp, kp, begin, end, seed, threshold, scale);
        }
      });
    });
    ctx->save_for_backward({keep});
    ctx->saved_data["scale"] = static_cast<double>(scale);
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor keep = ctx->get_saved_variables()[0];
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const at::Tensor g = grads[0].contiguous();
    at::Tensor dx = at::empty_like(g);
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, g.scalar_type(), "smtl_dropout_backward", [&] {
      const scalar_t* gp = g.const_data_ptr<scalar_t>();
      const uint8_t* kp = keep.const_data_ptr<uint8_t>();
      scalar_t* dp = dx.mutable_data_ptr<scalar_t>();
      const bool avx512 = has_avx512_dq();
      at::parallel_for(0, g.numel(), kDropoutGrain, [&](int64_t begin, int64_t end) {
        if (avx512) {
          dropout_backward_avx512<scalar_t>(gp, kp, dp, begin, end, scale);
        } else {
          dropout_backward_scalar<scalar_t>(gp, kp, dp, begin, end, scale);
        }
      });
    });
    return {dx, at::Tensor()};
  }
};

// Runs `compute`: on success hands its tensor over through `out` and
// returns null; on any C++ exception returns the message (for Rust to free
// with smtl_free_message) and leaves `out` alone.
template <typename F>
char* tensor_or_message(at::Tensor** out, F compute) {
  try {
    *out = new at::Tensor(compute());
    return nullptr;
  } catch (const std::exception& e) {
    return copy_message(e.what());
  } catch (...) {
    return copy_message("unknown C++ exception");
  }
}

}  // namespace

extern "C" {

// 1 when libtorch has oneDNN's fused linear registered, else 0.
int smtl_onednn_linear_registered() {
  try {
    return linear_pointwise_op().has_value() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

// y = x @ w^T + b through oneDNN on ordinary dense tensors (no layout
// conversion). `b` may be null. On success writes a new tensor to `out` and
// returns null; on failure returns a message to free with smtl_free_message.
char* smtl_onednn_linear(const at::Tensor* x, const at::Tensor* w, const at::Tensor* b,
                         at::Tensor** out) {
  return tensor_or_message(out, [&] { return onednn_linear(*x, *w, b == nullptr ? at::Tensor() : *b); });
}

// Dynamically quantized linear: x (fp32 or bf16, any leading dimensions,
// last dimension k) is quantized per row to int8, multiplied by the int8
// weights `w_t` [k, n] (already transposed, quantized per output channel
// with scales `col_scales` [n], fp32) into int32 by `_int_mm`, and rescaled,
// plus the fp32 `bias` [n] (may be null), into a tensor of x's dtype.
char* smtl_int8_linear(const at::Tensor* x, const at::Tensor* w_t, const at::Tensor* col_scales,
                       const at::Tensor* bias, at::Tensor** out) {
  return tensor_or_message(out, [&] {
    TORCH_CHECK(x->device().is_cpu(), "int8 linear: CPU tensors only");
    TORCH_CHECK(w_t->dim() == 2 && w_t->scalar_type() == at::kChar, "int8 linear: weights must be int8 [k, n]");
    const int64_t k = w_t->size(0), n = w_t->size(1);
    TORCH_CHECK(x->dim() >= 1 && x->size(-1) == k, "int8 linear: input's last dimension is not ", k);
    TORCH_CHECK(col_scales->scalar_type() == at::kFloat && col_scales->numel() == n && col_scales->is_contiguous(),
                "int8 linear: scales must be fp32 [", n, "]");
    TORCH_CHECK(bias == nullptr || (bias->scalar_type() == at::kFloat && bias->numel() == n && bias->is_contiguous()),
                "int8 linear: bias must be fp32 [", n, "]");
    TORCH_CHECK(w_t->is_contiguous(), "int8 linear: weights must be contiguous");
    const at::Tensor x2 = x->reshape({-1, k}).contiguous();
    at::Tensor y;
    switch (x2.scalar_type()) {
      case at::kFloat: y = int8_linear_impl<float>(x2, *w_t, *col_scales, bias); break;
      case at::kBFloat16: y = int8_linear_impl<at::BFloat16>(x2, *w_t, *col_scales, bias); break;
      default: TORCH_CHECK(false, "int8 linear: input must be fp32 or bf16, not ", x2.scalar_type());
    }
    std::vector<int64_t> shape(x->sizes().begin(), x->sizes().end());
    shape.back() = n;
    return y.view(shape);
  });
}

// y = x @ w^T + b with autograd, all three products on oneDNN (see
// OneDnnLinearFunction). `b` may be null. CPU, fp32 or bf16.
char* smtl_onednn_linear_train(const at::Tensor* x, const at::Tensor* w, const at::Tensor* b,
                               at::Tensor** out) {
  return tensor_or_message(out, [&] {
    TORCH_CHECK(x->device().is_cpu() && w->device().is_cpu(), "oneDNN linear: CPU tensors only");
    TORCH_CHECK(x->scalar_type() == w->scalar_type(), "oneDNN linear: input and weight kinds differ");
    // Autograd functions take defined tensors only: no bias is a zero bias,
    // which needs no gradient.
    return OneDnnLinearFunction::apply(*x, *w, b == nullptr ? at::zeros({w->size(0)}, w->options()) : *b);
  });
}

// Training dropout of an fp32 or bf16 CPU tensor with autograd (DropoutFunction):
// each element kept with probability 1 - p and scaled by 1 / (1 - p).
char* smtl_dropout(const at::Tensor* x, double p, at::Tensor** out) {
  return tensor_or_message(out, [&] {
    TORCH_CHECK(x->device().is_cpu() && (x->scalar_type() == at::kFloat || x->scalar_type() == at::kBFloat16),
                "dropout kernel: fp32 or bf16 CPU tensors only");
    TORCH_CHECK(p >= 0.0 && p < 1.0, "dropout kernel: p must be in [0, 1), got ", p);
    return DropoutFunction::apply(*x, p);
  });
}

// Mixed precision, as torch.autocast(device, dtype=torch.bfloat16) does on
// entering: eligible operators (matrix products, attention) run in bf16 on
// fp32 inputs. `cuda` picks the device type. The previous state is written
// to `prev_enabled` / `prev_dtype` for smtl_autocast_exit.
char* smtl_autocast_enter(int cuda, int* prev_enabled, int* prev_dtype) {
  try {
    const at::DeviceType device = cuda ? at::kCUDA : at::kCPU;
    *prev_enabled = at::autocast::is_autocast_enabled(device) ? 1 : 0;
    *prev_dtype = static_cast<int>(at::autocast::get_autocast_dtype(device));
    at::autocast::set_autocast_enabled(device, true);
    at::autocast::set_autocast_dtype(device, at::kBFloat16);
    at::autocast::increment_nesting();
    return nullptr;
  } catch (const std::exception& e) {
    return copy_message(e.what());
  }
}

// As torch.autocast's exit: leaving the outermost region drops the cached
// bf16 copies of the weights (they would be stale after the optimizer
// step), then the previous state comes back.
void smtl_autocast_exit(int cuda, int prev_enabled, int prev_dtype) {
  const at::DeviceType device = cuda ? at::kCUDA : at::kCPU;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device, prev_enabled != 0);
  at::autocast::set_autocast_dtype(device, static_cast<at::ScalarType>(prev_dtype));
}

// 1 when autocast is on for the device type, else 0.
int smtl_autocast_enabled(int cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU) ? 1 : 0;
}

void smtl_free_message(char* message) { std::free(message); }

// Drops the gradient of `t`, as torch's zero_grad(set_to_none=True): the
// next backward pass then writes a fresh gradient instead of adding into a
// zero-filled one (one pass over the parameter saved, and the zero-fill).
char* smtl_reset_grad(const at::Tensor* t) {
  try {
    const_cast<at::Tensor*>(t)->mutable_grad().reset();
    return nullptr;
  } catch (const std::exception& e) {
    return copy_message(e.what());
  } catch (...) {
    return copy_message("unknown C++ exception");
  }
}

// One AdamW step over `n` parameters through libtorch's fused kernel
// (`_fused_adamw_`, what torch.optim.AdamW(fused=True) and the Hugging Face
// Trainer's default optimizer run): each parameter's decay, both moments and
// the update in one vectorised, multi-threaded pass instead of six tensor
// operations. `steps` are float32 scalars already holding the step number
// (torch increments them before the call, as the caller does). No amsgrad.
char* smtl_fused_adamw(const at::Tensor* const* params, const at::Tensor* const* grads,
                       const at::Tensor* const* exp_avgs, const at::Tensor* const* exp_avg_sqs,
                       const at::Tensor* const* steps, int64_t n, double lr, double beta1, double beta2,
                       double weight_decay, double eps) {
  try {
    std::vector<at::Tensor> p, g, m, v, s;
    for (auto* list : {&p, &g, &m, &v, &s}) list->reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      TORCH_CHECK(params[i]->is_contiguous() && grads[i]->is_contiguous(),
                  "fused AdamW: parameters and gradients must be contiguous");
      p.push_back(*params[i]);
      g.push_back(*grads[i]);
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      s.push_back(*steps[i]);
    }
    at::_fused_adamw_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps, /*amsgrad=*/false,
                      /*maximize=*/false);
    return nullptr;
  } catch (const std::exception& e) {
    return copy_message(e.what());
  } catch (...) {
    return copy_message("unknown C++ exception");
  }
}

}  // extern "C"

// On a machine with an NVIDIA driver, libtorch's CUDA backend is loaded when
// the process starts, before anything can query CUDA: libtorch fixes its
// CUDA hooks at the first query, and without libtorch_cuda.so loaded it
// would keep the stub hooks (no CUDA) for the life of the process. Without
// a driver nothing is loaded here (it would map ~265 MiB for nothing); an
// explicit `cuda` device loads it later through load_cuda_backend().
__attribute__((constructor)) static void smtl_load_cuda_at_start() {
  if (access("/dev/nvidiactl", F_OK) != 0 && access("/proc/driver/nvidia", F_OK) != 0) return;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&at::detail::getCUDAHooks), &info) == 0 || info.dli_fname == nullptr) return;
  std::string dir(info.dli_fname);
  const auto slash = dir.rfind('/');
  if (slash == std::string::npos) return;
  const std::string path = dir.substr(0, slash) + "/libtorch_cuda.so";
  dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);  // a CPU-only libtorch: no file, nothing happens
}

extern "C" {

// The CUDA runtime version libtorch's CUDA hooks report (e.g. 12080), or -1
// when only the stub hooks are registered: libtorch_cuda.so is not loaded
// into the process, so libtorch cannot use CUDA at all. Needs no GPU.
long smtl_cuda_runtime_version() {
  try {
    return at::detail::getCUDAHooks().versionCUDART();
  } catch (...) {
    return -1;
  }
}

}  // extern "C"
