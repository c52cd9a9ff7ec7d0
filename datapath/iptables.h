// iptables-save and iptables-restore of one backend (nft or legacy) for both families.
// Debian ships both; rules must go where the host's other rules already are, or they would be
// evaluated in a different order than intended (and `iptables -L` would not show them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "datapath/command_runner.h"

namespace portcullis::datapath {

enum class IptablesBackend : uint8_t { kNft, kLegacy };
const char* toString(IptablesBackend b);

class Iptables {
 public:
  Iptables(CommandRunner& runner, IptablesBackend backend) : runner_(&runner), backend_(backend) {}

  // `auto`: the backend that already holds rules in raw/mangle/filter/nat (ours excluded);
  // when both or neither do, the one `iptables -V` names.
  static IptablesBackend detect(CommandRunner& runner);

  IptablesBackend backend() const { return backend_; }
  std::vector<std::string> saveArgv(Family family) const;
  std::vector<std::string> restoreArgv(Family family) const;

  Result<std::string> save(Family family);
  // One transaction: all of the payload or nothing. The error's detail is logged.
  Result<void> restore(Family family, std::string_view payload);

 private:
  std::string binary(Family family, std::string_view tool) const;
  CommandRunner* runner_;
  IptablesBackend backend_;
};

}  // namespace portcullis::datapath
