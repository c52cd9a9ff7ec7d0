// NETLINK_SOCK_DIAG wrapped once (the only code that includes linux/inet_diag.h): a dump of
// TCP sockets in TIME_WAIT per family, then one acknowledged SOCK_DESTROY per selected socket.
#include "datapath/time_wait_sweeper.h"

#include <ifaddrs.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "datapath/datapath_error.h"

namespace portcullis::datapath {
namespace {

constexpr uint32_t kTimeWaitStates = 1u << TCP_TIME_WAIT;

struct Request {
  nlmsghdr header;
  inet_diag_req_v2 body;
};

std::vector<uint8_t> encode(uint16_t type, uint16_t flags, uint32_t seq, const inet_diag_req_v2& body) {
  Request r{};
  r.header.nlmsg_len = sizeof(Request);
  r.header.nlmsg_type = type;
  r.header.nlmsg_flags = flags;
  r.header.nlmsg_seq = seq;
  r.body = body;
  std::vector<uint8_t> out(sizeof(Request));
  std::memcpy(out.data(), &r, sizeof(Request));
  return out;
}

IpAddress fromDiag(uint8_t family, const __be32* words) {
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), words, 16);
  if (family == AF_INET6) return IpAddress::v6(bytes);
  uint32_t host = 0;
  for (int i = 0; i < 4; ++i) host = (host << 8) | bytes[i];
  return IpAddress::v4(host);
}

void toDiag(const IpAddress& a, __be32* words) {
  std::memcpy(words, a.bytes().data(), a.isV4() ? 4 : 16);
}

// An IPv4-mapped IPv6 address (a dual-stack socket's) is the IPv4 address it maps.
IpAddress unmapped(const IpAddress& a) {
  if (a.isV4()) return a;
  const auto& b = a.bytes();
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!std::equal(b.begin(), b.begin() + 12, kMapped)) return a;
  return IpAddress::v4(uint32_t{b[12]} << 24 | uint32_t{b[13]} << 16 | uint32_t{b[14]} << 8 | b[15]);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::set<IpAddress> ownAddresses() {
  std::set<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.insert(IpAddress::v4(ntohl(sin->sin_addr.s_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      std::array<uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), &sin6->sin6_addr, 16);
      out.insert(IpAddress::v6(bytes));
    }
  }
  ::freeifaddrs(list);
  return out;
}

// The complete messages of one netlink datagram (NLMSG_OK/NEXT without their mixed-sign
// comparisons, which clang rejects).
std::vector<const nlmsghdr*> messages(const uint8_t* data, size_t size) {
  std::vector<const nlmsghdr*> out;
  size_t at = 0;
  while (size - at >= sizeof(nlmsghdr)) {
    const auto* h = reinterpret_cast<const nlmsghdr*>(data + at);
    if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > size - at) break;
    out.push_back(h);
    at += NLMSG_ALIGN(h->nlmsg_len);
  }
  return out;
}

Result<void> sendAll(int fd, const std::vector<uint8_t>& message) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const ssize_t n = ::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                             sizeof(kernel));
  if (n == static_cast<ssize_t>(message.size())) return ok();
  log::error("sock_diag send: ", std::strerror(errno));
  return DatapathError::kNetlink;
}

// Reads the dump's replies until NLMSG_DONE.
Result<void> readDump(int fd, uint32_t seq, std::vector<TcpSocketId>& out) {
  alignas(nlmsghdr) static thread_local uint8_t buffer[32768];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("sock_diag dump: ", std::strerror(errno));
      return DatapathError::kNetlink;
    }
    for (const nlmsghdr* h : messages(buffer, static_cast<size_t>(n))) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return ok();
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        log::error("sock_diag dump refused: ", std::strerror(-e->error));
        return DatapathError::kNetlink;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      TcpSocketId s;
      s.local = fromDiag(m->idiag_family, m->id.idiag_src);
      s.local_port = ntohs(m->id.idiag_sport);
      s.remote = fromDiag(m->idiag_family, m->id.idiag_dst);
      s.remote_port = ntohs(m->id.idiag_dport);
      s.interface = m->id.idiag_if;
      std::memcpy(&s.cookie, m->id.idiag_cookie, sizeof(s.cookie));
      out.push_back(s);
    }
  }
}

// 0 when destroyed, ENOENT when it expired since the dump, else the errno of the refusal.
int destroyOne(int fd, const TcpSocketId& s, uint32_t seq) {
  if (!sendAll(fd, destroyRequest(s, seq))) return errno ? errno : EIO;
  alignas(nlmsghdr) uint8_t buffer[1024];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (const nlmsghdr* h : messages(buffer, static_cast<size_t>(n))) {
      if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR) continue;
      const int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      return error;
    }
  }
}

}  // namespace

bool TimeWaitFilter::matches(const TcpSocketId& s) const {
  if (ports && !ports->contains(s.local_port)) return false;
  return !own_addresses.contains(unmapped(s.local)) && !own_addresses.contains(s.local);
}

std::optional<std::set<uint16_t>> redirectedTcpPorts(const DatapathPlan& plan) {
  std::set<uint16_t> ports;
  for (const auto& c : plan.classifications) {
    if (c.protocol != IpProtocol::kTcp) continue;
    if (c.port == 0) return std::nullopt;
    ports.insert(c.port);
  }
  return ports;
}

std::optional<std::set<uint16_t>> droppedTcpPorts(const DatapathPlan& before, const DatapathPlan& after) {
  std::set<uint16_t> ports;
  for (const auto& c : before.classifications) {
    if (c.protocol != IpProtocol::kTcp) continue;
    if (std::find(after.classifications.begin(), after.classifications.end(), c) != after.classifications.end())
      continue;
    if (c.port == 0) return std::nullopt;
    ports.insert(c.port);
  }
  return ports;
}

std::vector<uint8_t> timeWaitDumpRequest(Family family, uint32_t seq) {
  inet_diag_req_v2 req{};
  req.sdiag_family = family == Family::kV4 ? AF_INET : AF_INET6;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = kTimeWaitStates;
  return encode(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, req);
}

std::vector<uint8_t> destroyRequest(const TcpSocketId& socket, uint32_t seq) {
  inet_diag_req_v2 req{};
  req.sdiag_family = socket.local.isV4() ? AF_INET : AF_INET6;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = kTimeWaitStates;
  toDiag(socket.local, req.id.idiag_src);
  toDiag(socket.remote, req.id.idiag_dst);
  req.id.idiag_sport = htons(socket.local_port);
  req.id.idiag_dport = htons(socket.remote_port);
  req.id.idiag_if = socket.interface;
  std::memcpy(req.id.idiag_cookie, &socket.cookie, sizeof(socket.cookie));
  return encode(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, seq, req);
}

Result<SweepResult> sweepTimeWait(const std::optional<std::set<uint16_t>>& ports, bool ipv6) {
  SweepResult result;
  if (ports && ports->empty()) return result;
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) {
    log::error("sock_diag socket: ", std::strerror(errno));
    return DatapathError::kNetlink;
  }
  // The kernel answers at once; the bound only keeps a lost reply from hanging exit or reload.
  const timeval timeout{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::vector<TcpSocketId> sockets;
  uint32_t seq = 0;
  for (Family family : {Family::kV4, Family::kV6}) {
    if (family == Family::kV6 && !ipv6) continue;
    PC_TRY(sendAll(fd.get(), timeWaitDumpRequest(family, ++seq)));
    PC_TRY(readDump(fd.get(), seq, sockets));
  }
  const TimeWaitFilter filter{ownAddresses(), ports};
  for (const auto& s : sockets) {
    if (!filter.matches(s)) continue;
    ++result.matched;
    const int error = destroyOne(fd.get(), s, ++seq);
    if (error == 0) {
      ++result.destroyed;
    } else if (error == ENOENT) {
      continue;
    } else {
      if (result.refused_errno == 0) result.refused_errno = error;
      // No CONFIG_INET_DIAG_DESTROY, or no answer: the others would fail alike.
      if (error == EOPNOTSUPP || error == EAGAIN) break;
    }
  }
  return result;
}

}  // namespace portcullis::datapath
