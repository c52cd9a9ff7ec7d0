#include "datapath/nft_rule_dump.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "datapath/datapath_error.h"

namespace portcullis::datapath {
namespace {

constexpr std::string_view kTables[] = {"raw", "mangle"};

// Walks the netlink attributes packed in `data`: f(type, offset of the payload, payload length,
// offset of the attribute, its length). False when an attribute overruns the data.
template <typename F>
bool forEachAttribute(std::string_view data, F&& f) {
  size_t offset = 0;
  while (offset + NLA_HDRLEN <= data.size()) {
    nlattr attribute;
    std::memcpy(&attribute, data.data() + offset, sizeof attribute);
    if (attribute.nla_len < NLA_HDRLEN || offset + attribute.nla_len > data.size()) return false;
    f(static_cast<uint16_t>(attribute.nla_type & NLA_TYPE_MASK), offset + NLA_HDRLEN,
      attribute.nla_len - NLA_HDRLEN, offset, attribute.nla_len);
    offset += NLA_ALIGN(attribute.nla_len);
  }
  return true;
}

std::string_view cString(std::string_view payload) {
  const auto nul = payload.find('\0');
  return payload.substr(0, nul);
}

// NFTA_RULE_EXPRESSIONS with the values of every counter expression zeroed. Counters change
// with traffic; their presence (and every other expression) still has to match.
std::string withoutCounterValues(std::string_view attribute) {
  std::string out(attribute);
  const std::string_view expressions = attribute.substr(NLA_HDRLEN);
  forEachAttribute(expressions, [&](uint16_t, size_t element, size_t element_len, size_t, size_t) {
    const std::string_view body = expressions.substr(element, element_len);
    std::string_view name;
    size_t data = 0, data_len = 0;
    forEachAttribute(body, [&](uint16_t type, size_t at, size_t len, size_t, size_t) {
      if (type == NFTA_EXPR_NAME) name = cString(body.substr(at, len));
      if (type == NFTA_EXPR_DATA) data = at, data_len = len;
    });
    if (name == "counter" && data_len > 0)
      std::memset(out.data() + NLA_HDRLEN + element + data, 0, data_len);
  });
  return out;
}

struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

std::string attribute(uint16_t type, std::string_view text) {
  nlattr header{static_cast<uint16_t>(NLA_HDRLEN + text.size() + 1), type};
  std::string out(reinterpret_cast<const char*>(&header), sizeof header);
  out.append(text);
  out.push_back('\0');
  out.resize(NLA_ALIGN(out.size()), '\0');
  return out;
}

// One dump request; `on_message` gets the attributes of each reply message.
template <typename F>
Result<void> dump(int fd, uint32_t seq, uint16_t type, uint8_t family, std::string_view attributes,
                  F&& on_message) {
  nlmsghdr header{};
  header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(sizeof(nfgenmsg)) + attributes.size());
  header.nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
  header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  header.nlmsg_seq = seq;
  nfgenmsg body{family, NFNETLINK_V0, 0};
  std::string request(reinterpret_cast<const char*>(&header), NLMSG_HDRLEN);
  request.append(reinterpret_cast<const char*>(&body), sizeof body);
  request.resize(NLMSG_LENGTH(sizeof(nfgenmsg)), '\0');
  request.append(attributes);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(request.size()))
    return DatapathError::kNetlink;
  // The kernel fills dump replies up to 32 KiB; twice that never truncates.
  std::vector<char> buffer(65536);
  for (;;) {
    iovec io{buffer.data(), buffer.size()};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(fd, &message, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || (message.msg_flags & MSG_TRUNC) != 0) return DatapathError::kNetlink;
    const std::string_view received(buffer.data(), static_cast<size_t>(n));
    size_t offset = 0;
    while (offset + NLMSG_HDRLEN <= received.size()) {
      nlmsghdr reply;
      std::memcpy(&reply, received.data() + offset, sizeof reply);
      if (reply.nlmsg_len < NLMSG_HDRLEN || offset + reply.nlmsg_len > received.size())
        return DatapathError::kNetlink;
      const std::string_view payload =
          received.substr(offset + NLMSG_HDRLEN, reply.nlmsg_len - NLMSG_HDRLEN);
      offset += NLMSG_ALIGN(reply.nlmsg_len);
      if (reply.nlmsg_seq != seq) continue;
      // A ruleset change during the dump: what we read may be half old, half new.
      if ((reply.nlmsg_flags & NLM_F_DUMP_INTR) != 0) return DatapathError::kNetlink;
      if (reply.nlmsg_type == NLMSG_DONE) return ok();
      if (reply.nlmsg_type == NLMSG_ERROR) {
        int error = 0;
        if (payload.size() >= sizeof error) std::memcpy(&error, payload.data(), sizeof error);
        if (error == 0) continue;
        log::debug("nf_tables dump: ", std::strerror(-error));
        return DatapathError::kNetlink;
      }
      if (payload.size() < NLMSG_ALIGN(sizeof(nfgenmsg))) return DatapathError::kNetlink;
      if (!on_message(payload.substr(NLMSG_ALIGN(sizeof(nfgenmsg)))))
        return DatapathError::kNetlink;
    }
  }
}

}  // namespace

std::optional<DumpedRule> parseNftRule(std::string_view attributes) {
  DumpedRule out;
  const bool parsed = forEachAttribute(
      attributes, [&](uint16_t type, size_t at, size_t len, size_t start, size_t whole) {
        const std::string_view value = attributes.substr(at, len);
        if (type == NFTA_RULE_TABLE)
          out.table = cString(value);
        else if (type == NFTA_RULE_CHAIN)
          out.rule.chain = cString(value);
        else if (type == NFTA_RULE_EXPRESSIONS)
          out.rule.spec += withoutCounterValues(attributes.substr(start, whole));
        else if (type != NFTA_RULE_HANDLE && type != NFTA_RULE_POSITION)
          out.rule.spec.append(attributes.substr(start, whole));
      });
  if (!parsed) return std::nullopt;
  return out;
}

namespace {

IptablesTable* tableNamed(IptablesState& state, std::string_view name) {
  for (auto& t : state.tables)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace

Result<IptablesState> NetlinkNftRuleDump::read(Family family) {
  Socket socket;
  socket.fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (socket.fd < 0) return DatapathError::kNetlink;
  // A kernel that never answers must not stall the daemon's reconcile timer.
  const timeval timeout{2, 0};
  ::setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const uint8_t nf_family = family == Family::kV4 ? NFPROTO_IPV4 : NFPROTO_IPV6;

  IptablesState state;
  for (auto name : kTables) state.tables.push_back(IptablesTable{std::string(name), {}, {}});
  PC_TRY(dump(socket.fd, 1, NFT_MSG_GETCHAIN, nf_family, {}, [&](std::string_view attributes) {
    std::string_view table, chain;
    const bool parsed =
        forEachAttribute(attributes, [&](uint16_t type, size_t at, size_t len, size_t, size_t) {
          if (type == NFTA_CHAIN_TABLE) table = cString(attributes.substr(at, len));
          if (type == NFTA_CHAIN_NAME) chain = cString(attributes.substr(at, len));
        });
    if (IptablesTable* t = tableNamed(state, table)) t->chains.emplace_back(chain);
    return parsed;
  }));
  uint32_t seq = 2;
  for (auto name : kTables) {
    IptablesTable* t = tableNamed(state, name);
    // The table filter saves the kernel from dumping the host's filter and nat rules; the
    // check below still drops them should an old kernel ignore it.
    PC_TRY(dump(socket.fd, seq++, NFT_MSG_GETRULE, nf_family, attribute(NFTA_RULE_TABLE, name),
                [&](std::string_view attributes) {
                  auto rule = parseNftRule(attributes);
                  if (rule && rule->table == name) t->rules.push_back(std::move(rule->rule));
                  return rule.has_value();
                }));
  }
  return state;
}

}  // namespace portcullis::datapath
