// The datapath layer's error codes (STYLE.md 7: each layer owns an enum and a category).
// The detail (stderr of iptables-restore, the netlink message) is logged where it happens;
// the code tells the caller which step failed.
#pragma once

#include <system_error>

namespace portcullis::datapath {

enum class DatapathError {
  kSpawnFailed = 1,   // the program could not be started (missing binary, fork failure)
  kCommandFailed,     // iptables-restore/-save exited non-zero
  kNetlink,           // a netlink request was refused
  kNoFreePort,        // the port range has no free port left
  kProcfs,            // /proc/net/* could not be read
  kUnknownListener,   // a classification names a listener the plan does not have
};

const std::error_category& datapathCategory();
std::error_code make_error_code(DatapathError e);

}  // namespace portcullis::datapath

template <>
struct std::is_error_code_enum<portcullis::datapath::DatapathError> : std::true_type {};
