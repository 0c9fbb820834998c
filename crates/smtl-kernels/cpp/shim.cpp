// Calls libtorch operators that tch does not bind, through the dispatcher.
// Every entry point catches C++ exceptions and returns them as a message.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <cstdlib>
#include <cstring>
#include <optional>
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
  try {
    static const auto op = linear_pointwise_op();
    if (!op.has_value()) return copy_message("mkldnn::_linear_pointwise is not registered");
    torch::jit::Stack stack;
    stack.reserve(6);
    stack.emplace_back(*x);
    stack.emplace_back(*w);
    if (b != nullptr) {
      stack.emplace_back(*b);
    } else {
      stack.emplace_back(c10::IValue());
    }
    stack.emplace_back(std::string("none"));
    stack.emplace_back(c10::List<std::optional<at::Scalar>>());
    stack.emplace_back(c10::IValue());
    op->callBoxed(&stack);
    *out = new at::Tensor(stack.at(0).toTensor());
    return nullptr;
  } catch (const std::exception& e) {
    return copy_message(e.what());
  } catch (...) {
    return copy_message("unknown C++ exception");
  }
}

void smtl_free_message(char* message) { std::free(message); }

}  // extern "C"
