#include "datapath/system_port_usage.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "datapath/datapath_error.h"

namespace portcullis::datapath {
namespace {

bool bindable(const IpAddress& address, uint16_t port, int type) {
  const int fd = ::socket(address.isV4() ? AF_INET : AF_INET6, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // The listeners bind with IP_TRANSPARENT; the test must too, or a non-local bind address
  // would make every port look taken.
  const int one = 1;
  ::setsockopt(fd, address.isV4() ? SOL_IP : SOL_IPV6, address.isV4() ? IP_TRANSPARENT : IPV6_TRANSPARENT,
               &one, sizeof one);
  int rc = -1;
  if (address.isV4()) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    std::memcpy(&sa.sin_addr, address.bytes().data(), 4);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, address.bytes().data(), 16);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  ::close(fd);
  return rc == 0;
}

}  // namespace

std::set<uint16_t> parseProcNetPorts(std::string_view table) {
  std::set<uint16_t> ports;
  bool header = true;
  while (!table.empty()) {
    const auto eol = table.find('\n');
    const std::string_view line = table.substr(0, eol);
    table.remove_prefix(eol == std::string_view::npos ? table.size() : eol + 1);
    if (header) {  // the first line names the columns
      header = false;
      continue;
    }
    // "  0: 0100007F:1F90 00000000:0000 0A ...": the port is the hex after the first colon of
    // the second field.
    std::istringstream fields{std::string(line)};
    std::string slot, local;
    if (!(fields >> slot >> local)) continue;
    const auto colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    const unsigned long port = std::strtoul(local.c_str() + colon + 1, nullptr, 16);
    if (port > 0 && port <= 65535) ports.insert(static_cast<uint16_t>(port));
  }
  return ports;
}

Result<std::set<uint16_t>> SystemPortUsage::portsInUse() {
  std::set<uint16_t> all;
  for (const char* name : {"tcp", "tcp6", "udp", "udp6"}) {
    std::ifstream in(proc_net_ + "/" + name);
    if (!in) {
      // IPv6 may be disabled on the host; the IPv4 tables must exist.
      if (std::string_view(name).ends_with("6")) continue;
      log::error("cannot read ", proc_net_, "/", name);
      return DatapathError::kProcfs;
    }
    std::stringstream text;
    text << in.rdbuf();
    all.merge(parseProcNetPorts(text.str()));
  }
  return all;
}

bool SystemPortUsage::canBind(uint16_t port, bool tcp, bool udp) {
  for (const IpAddress* address : {&bind_v4_, &bind_v6_}) {
    if (address == &bind_v6_ && !ipv6_) continue;
    if (tcp && !bindable(*address, port, SOCK_STREAM)) return false;
    if (udp && !bindable(*address, port, SOCK_DGRAM)) return false;
  }
  return true;
}

}  // namespace portcullis::datapath
