// Draws one port per listener at random from proxy.port-range, skipping ports in use, with
// the same port for a listener's TCP and UDP sockets (DNS listens on both).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"
#include "datapath/port_usage.h"

namespace portcullis::datapath {

struct PortRequest {
  std::string listener;
  bool tcp = true;
  bool udp = false;
  uint16_t preferred = 0;  // a leftover's port to adopt when it is free; 0: none
};

class PortAllocator {
 public:
  PortAllocator(PortUsage& usage, uint16_t first, uint16_t last, uint32_t seed)
      : usage_(&usage), first_(first), last_(last), random_(seed) {}

  // listener name -> port; kNoFreePort when the range runs out.
  Result<std::map<std::string, uint16_t>> allocate(const std::vector<PortRequest>& requests);

 private:
  PortUsage* usage_;
  uint16_t first_;
  uint16_t last_;
  std::mt19937 random_;
};

}  // namespace portcullis::datapath
