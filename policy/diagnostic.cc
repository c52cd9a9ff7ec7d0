#include "policy/diagnostic.h"

namespace portcullis::policy {

std::string Diagnostic::toString() const {
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
         message;
}

}  // namespace portcullis::policy
