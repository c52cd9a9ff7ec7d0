// A parse or validation error with its place in the file: printed as FILE:LINE:COLUMN: reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/model.h"

namespace portcullis::policy {

struct Diagnostic {
  SourceLocation where;
  std::string message;
  std::string toString() const;  // "FILE:LINE:COLUMN: message"
};

// A parser's answer: a value when there were no errors, and every error found in one pass.
template <class T>
struct Parsed {
  std::optional<T> value;
  std::vector<Diagnostic> errors;
  bool ok() const { return value.has_value() && errors.empty(); }
};

}  // namespace portcullis::policy
