#include "datapath/port_allocator.h"

#include <algorithm>

#include "common/log.h"
#include "datapath/datapath_error.h"

namespace portcullis::datapath {

Result<std::map<std::string, uint16_t>> PortAllocator::allocate(
    const std::vector<PortRequest>& requests) {
  PC_TRY(taken, usage_->portsInUse());
  std::map<std::string, uint16_t> ports;
  auto usable = [&](uint16_t port, const PortRequest& r) {
    return port >= first_ && port <= last_ && !taken.count(port) && usage_->canBind(port, r.tcp, r.udp);
  };
  for (const auto& r : requests) {
    uint16_t chosen = 0;
    if (r.preferred != 0) {
      if (usable(r.preferred, r)) chosen = r.preferred;
      else log::info("leftover port ", r.preferred, " of ", r.listener, " is not usable, drawing anew");
    }
    // Random draws first (a restarted daemon should not race its predecessor for the same
    // port), then a scan from a random point, so a nearly full range still finds its holes.
    std::uniform_int_distribution<uint32_t> draw(first_, last_);
    for (int attempt = 0; chosen == 0 && attempt < 64; ++attempt) {
      const auto port = static_cast<uint16_t>(draw(random_));
      if (usable(port, r)) chosen = port;
    }
    const uint32_t span = uint32_t{last_} - first_ + 1;
    const uint32_t start = draw(random_) - first_;
    for (uint32_t i = 0; chosen == 0 && i < span; ++i) {
      const auto port = static_cast<uint16_t>(first_ + (start + i) % span);
      if (usable(port, r)) chosen = port;
    }
    if (chosen == 0) {
      log::error("no free port in ", first_, "-", last_, " for ", r.listener);
      return DatapathError::kNoFreePort;
    }
    taken.insert(chosen);
    ports[r.listener] = chosen;
  }
  return ports;
}

}  // namespace portcullis::datapath
