#include "datapath/datapath_error.h"

#include <string>

namespace portcullis::datapath {
namespace {

class DatapathCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "datapath"; }
  std::string message(int code) const override {
    switch (static_cast<DatapathError>(code)) {
      case DatapathError::kSpawnFailed: return "could not start program";
      case DatapathError::kCommandFailed: return "command failed";
      case DatapathError::kNetlink: return "netlink request failed";
      case DatapathError::kNoFreePort: return "no free port in proxy.port-range";
      case DatapathError::kProcfs: return "cannot read /proc/net";
      case DatapathError::kUnknownListener: return "classification names an unknown listener";
    }
    return "unknown datapath error";
  }
};

}  // namespace

const std::error_category& datapathCategory() {
  static const DatapathCategory category;
  return category;
}

std::error_code make_error_code(DatapathError e) {
  return {static_cast<int>(e), datapathCategory()};
}

}  // namespace portcullis::datapath
